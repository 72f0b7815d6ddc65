from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

from fulfil.auth.forms import new_password_fields
from fulfil.models import ROLES

ROLE_CHOICES = [SelectChoice(role, role.title()) for role in ROLES]


class NewUserForm(FlaskForm):
    username = StringField("User name (to sign in with)", validators=[
        DataRequired("Enter a user name."), Length(max=80, message="A user name has at most 80 characters."),
        Regexp(r"^[A-Za-z0-9._-]+$", message="Use letters, digits, dots, dashes and underscores only.")])
    display_name = StringField("Name shown to others", validators=[
        Length(max=120, message="A name has at most 120 characters."),
        Regexp(r"^[^\x00-\x1f\x7f]*$", message="A name cannot hold control characters.")])
    role = SelectField("Role", choices=ROLE_CHOICES, default="warehouse")
    password, confirm = new_password_fields("Password")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ResetPasswordForm(FlaskForm):
    password, confirm = new_password_fields()


class ActiveForm(FlaskForm):
    active = HiddenField(validators=[AnyOf(("0", "1"), message="Say whether to deactivate or reactivate.")])
