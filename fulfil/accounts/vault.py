"""Marketplace tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
the app's SECRET_KEY with HKDF, so the database alone never gives a token away. Changing
SECRET_KEY makes stored tokens unreadable: the account must then be connected again.

StoredWishTokens is the `token_vault` a Wish adapter uses for an account connected by OAuth
(fulfil.marketplaces.wish): it reads and writes the row in transactions of its own, so a
refreshed token is kept even when the caller's transaction rolls back (Wish revokes the old
token on every refresh: losing the new one would cut the account off).
"""
import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select, update

from fulfil.accounts.models import WishConnection
from fulfil.extensions import db
from fulfil.marketplaces.base import Permanent
from fulfil.marketplaces.wish import parse_time
from fulfil.timeutil import to_utc_naive, utcnow

UNREADABLE = ("fulfil cannot read the stored Wish tokens (was SECRET_KEY changed?): an admin "
              "connects the Wish account again on the Accounts page.")


def _fernet(app=None):
    secret = (app or current_app).config["SECRET_KEY"]
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fulfil-token-vault",
               info=b"marketplace tokens").derive(secret.encode() if isinstance(secret, str) else secret)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(text, app=None):
    return _fernet(app).encrypt(text.encode()).decode()


def decrypt(token, app=None):
    try:
        return _fernet(app).decrypt(token.encode()).decode()
    except InvalidToken:
        raise Permanent(UNREADABLE) from None


def expiry(data):
    """AccessToken.expiry_time -> naive UTC, or None when Wish sent none we can read."""
    try:
        return to_utc_naive(parse_time(data["expiry_time"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class StoredWishTokens:
    """Tokens of one connected Wish account, read fresh on every call (another worker may
    have refreshed them)."""

    def __init__(self, account_id):
        self.account_id = account_id
        self.table = WishConnection.__table__

    def _stored(self, column):
        with db.engine.connect() as conn:
            value = conn.execute(select(column).where(self.table.c.account_id == self.account_id)).scalar()
        return decrypt(value) if value else None

    def current(self):
        return self._stored(self.table.c.access_token)

    def refresh_token(self):
        return self._stored(self.table.c.refresh_token)

    def keep(self, data):
        values = {"access_token": encrypt(data["access_token"]), "expires_at": expiry(data),
                  "refreshed_at": utcnow()}
        if data.get("refresh_token"):
            values["refresh_token"] = encrypt(data["refresh_token"])
        with db.engine.begin() as conn:
            conn.execute(update(self.table).where(self.table.c.account_id == self.account_id).values(**values))


def token_vault(account):
    """The vault of a Wish account connected by OAuth, or None (it uses its settings' tokens)."""
    if account.kind != "wish" or account.id is None:
        return None
    connected = db.session.scalar(select(WishConnection.id).where(WishConnection.account_id == account.id))
    return StoredWishTokens(account.id) if connected else None
