from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from fulfil.auth import bp
from fulfil.auth.forms import LoginForm
from fulfil.extensions import db, login_manager
from fulfil.auth.roles import roles_required
from fulfil.models import ROLES, User

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


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("orders.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).where(User.username == form.username.data.strip()))
        if user is None or not user.check_password(form.password.data) or not user.active:
            flash("Wrong user name or password.", "error")
        else:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("orders.index"))
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@roles_required(*ROLES)
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
