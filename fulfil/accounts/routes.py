"""Accounts page (admins): connect a Wish account by OAuth, see what it is connected as,
disconnect it. The service is fulfil.accounts.wish_oauth."""
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from fulfil.accounts import wish_oauth
from fulfil.auth.roles import ADMIN, roles_required

bp = Blueprint("accounts", __name__, url_prefix="/accounts", template_folder="templates")


def _page(error=None, status=200):
    return render_template("accounts/wish.html", accounts=wish_oauth.wish_accounts(),
                           connections=wish_oauth.connections(), error=error), status


def _account_or_404(slug):
    account = wish_oauth.wish_account(slug)
    if account is None:
        abort(404)
    return account


@bp.get("/wish")
@roles_required(*ADMIN)
def wish():
    return _page()


@bp.post("/wish/<slug>/connect")
@roles_required(*ADMIN)
def wish_connect(slug):
    try:
        return redirect(wish_oauth.start(_account_or_404(slug), session), 303)
    except wish_oauth.ConnectError as exc:
        return _page(str(exc), 400)


@bp.get("/wish/callback")
@roles_required(*ADMIN)
def wish_callback():
    try:
        connection = wish_oauth.finish(request.args, session, current_user)
    except wish_oauth.ConnectError as exc:
        return _page(str(exc), 400)
    flash(f"{connection.account.name} is connected to Wish store {connection.merchant_id}.", "ok")
    return redirect(url_for("accounts.wish"), 303)


@bp.post("/wish/<slug>/disconnect")
@roles_required(*ADMIN)
def wish_disconnect(slug):
    account = _account_or_404(slug)
    if wish_oauth.disconnect(account):
        flash(f"{account.name} is disconnected: fulfil forgot its Wish tokens.", "ok")
    return redirect(url_for("accounts.wish"), 303)
