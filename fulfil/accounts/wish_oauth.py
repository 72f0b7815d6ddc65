"""Connecting a Wish account by OAuth (Wish's OAuth guide and specs/wish-oauth.openapi.yaml).

1. An admin clicks Connect: fulfil remembers, in that admin's session, which account and a
   random `state`, and sends the browser to Wish's authorize page for fulfil's app.
2. The seller authorises the app; Wish redirects to the app's redirect URI (fulfil's
   callback) with `code`, valid 5 minutes and once.
3. fulfil exchanges the code (POST /api/v3/oauth/access_token), checks the new token with
   GET /api/v3/oauth/test, and stores both tokens encrypted (fulfil.accounts.vault).

Wish's guide names only client_id on the authorize URL and only `code` on the way back, so
the callback is taken only for a connection this same session started within
PENDING_SECONDS, once; a `state` that comes back must be the one sent.
"""
import hmac
import logging
import secrets
import time

import requests
from flask import url_for

from fulfil.accounts.models import WishConnection
from fulfil.accounts.vault import encrypt, expiry
from fulfil.extensions import db
from fulfil.marketplaces import account_settings
from fulfil.marketplaces.base import MarketplaceError
from fulfil.marketplaces.wish import WishAdapter
from fulfil.models import MarketplaceAccount
from fulfil.timeutil import utcnow

log = logging.getLogger(__name__)

PENDING_KEY = "wish_oauth"
PENDING_SECONDS = 10 * 60
NEEDED_SCOPES = ("orders:read", "orders:write")


class ConnectError(Exception):
    """Why a connection could not be made, in words for the admin."""


def wish_accounts():
    return db.session.scalars(db.select(MarketplaceAccount).where(MarketplaceAccount.kind == "wish")
                              .order_by(MarketplaceAccount.name)).all()


def connections():
    """account id -> WishConnection, for the accounts page."""
    return {c.account_id: c for c in db.session.scalars(db.select(WishConnection))}


def wish_account(slug):
    return db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == slug,
                                                                  MarketplaceAccount.kind == "wish"))


def http_session():
    return requests.Session()


def _adapter(account):
    settings = account_settings(account)
    if not settings.get("client_id") or not settings.get("client_secret"):
        raise ConnectError(f"{account.name} has no client id and secret of fulfil's Wish app: set "
                           f"FULFIL_ACCOUNT_{account.slug.upper().replace('-', '_')}_CLIENT_ID and _CLIENT_SECRET "
                           "first (Wish shows them in the app's settings).")
    return WishAdapter(settings, session=http_session()), settings


def redirect_uri(settings):
    """fulfil's callback: the redirect URI registered with the Wish app (REDIRECT_URI when
    fulfil sits behind a proxy that changes its address)."""
    return settings.get("redirect_uri") or url_for("accounts.wish_callback", _external=True)


def start(account, session):
    """Remember the attempt in the admin's session; return Wish's authorize URL."""
    adapter, settings = _adapter(account)
    state = secrets.token_urlsafe(24)
    session[PENDING_KEY] = {"slug": account.slug, "state": state, "at": time.time()}
    return adapter.authorize_url(redirect_uri(settings), state)


def finish(args, session, user):
    """Take Wish's redirect back: exchange the code, test the token, store it. Commits."""
    pending = session.pop(PENDING_KEY, None)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        raise ConnectError("No Wish connection was started from this browser in the last 10 minutes: "
                           "click Connect again.")
    if args.get("error"):
        raise ConnectError(f"Wish did not authorise fulfil ({args['error'][:100]}): nothing was changed.")
    if "state" in args and not hmac.compare_digest(args["state"], pending["state"]):
        raise ConnectError("This answer from Wish belongs to another connection attempt: click Connect again.")
    code = (args.get("code") or "").strip()
    if not code:
        raise ConnectError("Wish sent no authorization code: click Connect again.")
    account = wish_account(pending["slug"])
    if account is None:
        raise ConnectError(f"The Wish account {pending['slug']} no longer exists.")
    adapter, settings = _adapter(account)
    try:
        data = adapter.exchange_code(code, redirect_uri(settings))
        merchant_id = adapter.test_token(data["access_token"])
    except MarketplaceError as exc:
        raise ConnectError(f"{exc.message}. Nothing was stored: click Connect to try again.") from None
    granted = data.get("scopes") or []
    missing = [scope for scope in NEEDED_SCOPES if scope not in granted]
    if missing:
        raise ConnectError(f"Wish granted fulfil {', '.join(granted) or 'no scope'}, without "
                           f"{', '.join(missing)}: authorise the app with order access.")
    connection = db.session.scalar(db.select(WishConnection).where(WishConnection.account_id == account.id))
    if connection is None:
        connection = WishConnection(account=account)
        db.session.add(connection)
    connection.merchant_id = str(merchant_id)[:40]
    connection.scopes = " ".join(granted)[:255]
    connection.access_token = encrypt(data["access_token"])
    connection.refresh_token = encrypt(data["refresh_token"])
    connection.expires_at = expiry(data)
    connection.connected_at, connection.connected_by, connection.refreshed_at = utcnow(), user, None
    db.session.commit()
    log.info("accounts=wish_connected account=%s merchant_id=%s", account.slug, connection.merchant_id)
    return connection


def disconnect(account):
    """Forget the stored tokens (the adapter falls back to the environment's, if any). Commits."""
    deleted = db.session.execute(db.delete(WishConnection).where(WishConnection.account_id == account.id)).rowcount
    db.session.commit()
    log.info("accounts=wish_disconnected account=%s", account.slug)
    return bool(deleted)
