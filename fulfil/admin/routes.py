"""Admin pages: people's accounts and the sign-in audit. Every view is for admins only
(tests/test_roles.py walks them); the rules of what may change live in fulfil/auth/accounts.py."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from fulfil.admin import bp
from fulfil.admin.forms import ActiveForm, NewUserForm, ResetPasswordForm, RoleForm
from fulfil.auth import accounts
from fulfil.auth.models import AuthEvent
from fulfil.auth.roles import ADMIN, roles_required
from fulfil.extensions import db
from fulfil.models import User

AUDIT_PAGE = 100
RECENT_EVENTS = 20
MAX_ID = 2**63 - 1


def _event_id(value):
    """?before=: an event number, or a 400 that says so."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        abort(400, "“before” must be an event number from this list.")
    return int(value)


def _user(user_id):
    user = db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        abort(404)
    return user


def _admin():
    return current_user._get_current_object()


@bp.route("/")
@bp.route("/users")
@roles_required(*ADMIN)
def users():
    people = db.session.scalars(db.select(User).order_by(User.active.desc(), User.username)).all()
    return render_template("admin/users.html", people=people)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(*ADMIN)
def new_user():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(form.username.data, form.role.data, form.password.data,
                                        display_name=form.display_name.data.strip(), actor=_admin())
            db.session.commit()
        except (accounts.AccountError, IntegrityError) as exc:
            db.session.rollback()
            message = str(exc) if isinstance(exc, accounts.AccountError) else \
                f"There is already a user called {form.username.data}."
            getattr(form, getattr(exc, "field", None) or "username").errors = [message]
        else:
            flash(f"{user.username} can sign in now, as {user.role}.", "success")
            return redirect(url_for(".user", user_id=user.id), 303)
    return render_template("admin/new_user.html", form=form), (422 if form.errors else 200)


def _user_page(user, status=200, **forms):
    """A person's page; a form that failed comes in `forms` with its errors."""
    forms.setdefault("role_form", RoleForm(formdata=None, role=user.role))
    forms.setdefault("password_form", ResetPasswordForm(formdata=None))
    forms.setdefault("active_form", ActiveForm(formdata=None, active="1" if not user.active else "0"))
    events = db.session.scalars(
        db.select(AuthEvent).where(db.or_(AuthEvent.user_id == user.id, AuthEvent.username == user.username))
        .order_by(AuthEvent.id.desc()).limit(RECENT_EVENTS)).all()
    return render_template("admin/user.html", user=user, events=events, **forms), status


@bp.route("/users/<int:user_id>")
@roles_required(*ADMIN)
def user(user_id):
    return _user_page(_user(user_id))


def _apply(user, form, form_name, change, field):
    """Validate, change through fulfil/auth/accounts.py, commit once, back to the person's
    page — or the page again with the refusal on the form, nothing saved."""
    if form.validate_on_submit():
        try:
            message = change(form)
        except accounts.AccountError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in form else field).errors = [str(exc)]
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for(".user", user_id=user.id), 303)
    return _user_page(user, 422, **{form_name: form})


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@roles_required(*ADMIN)
def set_role(user_id):
    user = _user(user_id)

    def change(form):
        if not accounts.set_role(user, form.role.data, actor=_admin()):
            return f"{user.username} already is {user.role}; nothing changed."
        return f"{user.username} is now {user.role}, and signed out everywhere."
    return _apply(user, RoleForm(), "role_form", change, "role")


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required(*ADMIN)
def reset_password(user_id):
    user = _user(user_id)

    def change(form):
        accounts.reset_password(user, form.password.data, actor=_admin())
        return f"New password set for {user.username}, who is signed out everywhere. Tell them in person."
    return _apply(user, ResetPasswordForm(), "password_form", change, "password")


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required(*ADMIN)
def set_active(user_id):
    user = _user(user_id)

    def change(form):
        active = form.active.data == "1"
        if not accounts.set_active(user, active, actor=_admin()):
            return f"{user.username} already is {'active' if active else 'deactivated'}; nothing changed."
        if active:
            return f"{user.username} can sign in again."
        return f"{user.username} is deactivated and signed out everywhere."
    return _apply(user, ActiveForm(), "active_form", change, "active")


@bp.route("/sign-ins")
@roles_required(*ADMIN)
def sign_ins():
    """The sign-in audit, newest first: sign-ins, failures, lock-outs, account changes."""
    before = _event_id(request.args.get("before"))
    name = request.args.get("user", "").strip()[:80]
    query = db.select(AuthEvent).order_by(AuthEvent.id.desc()).limit(AUDIT_PAGE + 1)
    if before:
        query = query.where(AuthEvent.id < before)
    if name and "\x00" not in name:
        query = query.where(AuthEvent.username == name)
    events = db.session.scalars(query).all()
    older = events[AUDIT_PAGE - 1].id if len(events) > AUDIT_PAGE else None
    return render_template("admin/sign_ins.html", events=events[:AUDIT_PAGE], older=older, name=name)
