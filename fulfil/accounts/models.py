"""A Wish account connected by OAuth: Wish's tokens for it, encrypted (fulfil.accounts.vault)."""
from fulfil.extensions import db
from fulfil.timeutil import utcnow


class WishConnection(db.Model):
    """The tokens Wish issued when the seller authorised fulfil's app for this account.

    `access_token` and `refresh_token` hold Fernet tokens, never the plain values; the
    adapter uses these instead of the environment's and stores every refresh here, so all
    workers share it. Disconnecting deletes the row.
    """
    __tablename__ = "wish_connections"
    id = db.Column(db.Integer, primary_key=True)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    merchant_id = db.Column(db.String(40), nullable=False)  # the Wish store the tokens work for
    scopes = db.Column(db.String(255), nullable=False, default="")  # space-separated, as granted
    access_token = db.Column(db.Text, nullable=False)
    refresh_token = db.Column(db.Text, nullable=False)
    expires_at = db.Column(db.DateTime)  # Wish's expiry_time of the access token (naive UTC)
    connected_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    connected_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    refreshed_at = db.Column(db.DateTime)

    account = db.relationship("MarketplaceAccount")
    connected_by = db.relationship("User")
