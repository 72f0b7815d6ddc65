from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from fulfil.auth.accounts import PASSWORD_MAX, PASSWORD_MIN


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired("Enter your user name."), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=200)])
    remember = BooleanField("Keep me signed in on this device")


def new_password_fields(label="New password"):
    """A new password and its confirmation, with the rules of fulfil/auth/accounts.py."""
    password = PasswordField(label, validators=[
        DataRequired("Enter the new password."),
        Length(min=PASSWORD_MIN, max=PASSWORD_MAX,
               message=f"A password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters.")])
    confirm = PasswordField("Type it again", validators=[
        DataRequired("Type the new password again."), EqualTo("password", "The two passwords differ.")])
    return password, confirm


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired("Enter your current password."),
                                                            Length(max=PASSWORD_MAX)])
    password, confirm = new_password_fields()
