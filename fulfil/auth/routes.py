from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from fulfil.auth import bp, throttle
from fulfil.auth.accounts import AccountError, authenticate, change_own_password, record, sign_out, start_session
from fulfil.auth.forms import ChangePasswordForm, LoginForm
from fulfil.auth.roles import roles_required
from fulfil.extensions import db, login_manager
from fulfil.models import ROLES

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."


@login_manager.unauthorized_handler
def unauthorized():
    """Send people to the sign-in page. An HTMX request (a poll on a wall screen, an inline
    save after the session expired) is told to load the page whole, instead of swapping
    the sign-in form into a table cell."""
    flash(login_manager.login_message, "info")
    target = url_for("auth.login", next=_safe_next(request.full_path.rstrip("?")))
    if request.headers.get("HX-Request") == "true":
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def _safe_next(target):
    """Only same-site paths: never redirect a sign-in to another host. Backslashes count as
    slashes to browsers ("/\\evil.example" is another host), and a control character
    (a newline) cannot go into a Location header at all."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if "\\" in target or any(ch < " " or ch == "\x7f" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _failed(username, why):
    """A refused password: counted by the throttle, written to the audit with any lock-out."""
    for what, key, minutes in throttle.count_failure():
        record("locked_out", username=username, detail=f"{what} {key} locked for {minutes} minutes")
    record("failed", username=username, detail=why)
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@throttle.throttled
def login():
    if current_user.is_authenticated:
        return redirect(url_for("orders.index"))
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip()
        user, why = authenticate(username, form.password.data)
        if user is None:
            _failed(username, why)
            flash("Wrong user name or password.", "error")
        else:
            start_session(user, remember=form.remember.data)
            record("signed_in", user=user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) or url_for("orders.index"))
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@roles_required(*ROLES)
def logout():
    sign_out(current_user._get_current_object())
    db.session.commit()
    logout_user()
    flash("You are signed out on every device.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*ROLES)
@throttle.throttled
def change_password():
    """Any user changes their own password; sessions on other devices end, this one goes on."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_own_password(user, form.current.data, form.password.data)
        except AccountError as exc:
            db.session.rollback()
            if exc.field == "current":
                _failed(user.username, "wrong current password")
            getattr(form, exc.field or "password").errors = [str(exc)]
        else:
            db.session.commit()
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            start_session(user, remember=remembered)
            flash("Password changed. You are signed out on every other device.", "success")
            return redirect(url_for("orders.index"), 303)
    return render_template("auth/change_password.html", form=form), (422 if form.errors else 200)
