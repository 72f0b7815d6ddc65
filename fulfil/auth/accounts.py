"""Accounts: checking a password, starting a session, and every change to a user — each one
ends the user's sessions where it should and leaves a line in the sign-in audit.

Functions add to the session but never commit: the view (or CLI command) owns the
transaction, so a change and its audit line commit together.
"""
from functools import lru_cache
import secrets

from flask import has_request_context, request, session
from flask_login import login_user
from werkzeug.security import check_password_hash, generate_password_hash

from fulfil.auth.models import AuthEvent, printable
from fulfil.extensions import db
from fulfil.models import ROLES, User

PASSWORD_MIN = 10
PASSWORD_MAX = 200


class AccountError(Exception):
    """A change to an account that is not allowed, in a person's words; `field` names the
    form field it is about, where there is one."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


@lru_cache(maxsize=1)
def _dummy_hash():
    # Hashed with the same method and cost as real passwords, so checking it costs the same.
    return generate_password_hash(secrets.token_hex(16))


def authenticate(username, password):
    """(user, None) when the password is right and the account active, else (None, why).

    An unknown name costs one password check too, against a dummy hash: the answer takes as
    long as for a wrong password, so timing does not tell which names exist.
    """
    user = None
    if "\x00" not in username:  # PostgreSQL refuses NUL in text; such a name is nobody's
        user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None, "unknown user name"
    if not user.check_password(password):
        return None, "wrong password"
    if not user.active:
        return None, "account deactivated"
    return user, None


def start_session(user, remember=False):
    """A fresh session for this user: nothing from before sign-in survives (no fixation;
    the CSRF token is new too)."""
    session.clear()
    login_user(user, remember=remember)


def record(kind, *, user=None, username=None, actor=None, detail=""):
    """One line in the sign-in audit, for this request's address."""
    address = (request.remote_addr or "") if has_request_context() else "command line"
    db.session.add(AuthEvent(kind=kind, user=user, actor=actor, address=printable(address, 64),
                             username=printable(username if username is not None else user.username, 80),
                             detail=printable(detail, 255)))


def check_password_rules(password, username=""):
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"A password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters.", "password")
    if username and password.strip().lower() == username.strip().lower():
        raise AccountError("A password must not be the user name.", "password")


def create_user(username, role, password, *, display_name="", actor=None):
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}.")
    if db.session.scalar(db.select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"There is already a user called {username}.", "username")
    check_password_rules(password, username)
    user = User(username=username, role=role, display_name=display_name or username)
    user.set_password(password)
    db.session.add(user)
    record("created", user=user, actor=actor, detail=f"role {role}")
    return user


def _not_yourself(user, actor, what):
    if actor is not None and actor.id == user.id:
        raise AccountError(f"You cannot {what} your own account here; ask another admin.")


def set_role(user, role, *, actor=None):
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}.")
    _not_yourself(user, actor, "change the role of")
    if role == user.role:
        return False
    old, user.role = user.role, role
    user.end_sessions()  # what the old role allowed must not live on in an open tab
    record("role_changed", user=user, actor=actor, detail=f"{old} → {role}")
    return True


def reset_password(user, password, *, actor=None):
    """An admin sets a new password; the user is signed out everywhere."""
    _not_yourself(user, actor, "reset the password of")
    check_password_rules(password, user.username)
    user.set_password(password)
    user.end_sessions()
    record("password_reset", user=user, actor=actor)


def change_own_password(user, current, new):
    """The user changes their own password: every other session ends; the caller starts a
    new one on this device."""
    if not user.check_password(current):
        raise AccountError("The current password is not right.", "current")
    check_password_rules(new, user.username)
    user.set_password(new)
    user.end_sessions()
    record("password_changed", user=user)


def set_active(user, active, *, actor=None):
    _not_yourself(user, actor, "deactivate or reactivate")
    if user.active == active:
        return False
    user.active = active
    user.end_sessions()
    record("reactivated" if active else "deactivated", user=user, actor=actor)
    return True


def sign_out(user):
    """Signing out on one device ends the user's sessions on all of them."""
    user.end_sessions()
    record("signed_out", user=user)
