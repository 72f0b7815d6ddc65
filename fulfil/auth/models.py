"""The sign-in audit: who signed in, who failed, which names and addresses were locked out,
and what admins changed about accounts. Admins read it at /admin/sign-ins."""
import re

from fulfil.extensions import db
from fulfil.timeutil import utcnow

# What happened, in an admin's words. The list page and the audit writers share this table.
AUTH_EVENTS = {
    "signed_in": "Signed in",
    "failed": "Sign-in failed",
    "locked_out": "Locked out",
    "signed_out": "Signed out",
    "password_changed": "Changed own password",
    "password_reset": "Password reset",
    "role_changed": "Role changed",
    "deactivated": "Deactivated",
    "reactivated": "Reactivated",
    "created": "Account created",
}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


class AuthEvent(db.Model):
    __tablename__ = "auth_events"
    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    kind = db.Column(db.String(20), nullable=False)
    # The name as typed at sign-in (it may belong to nobody), else the account's name.
    username = db.Column(db.String(80), nullable=False, default="")
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id"))  # the admin who changed the account
    address = db.Column(db.String(64), nullable=False, default="")
    detail = db.Column(db.String(255), nullable=False, default="")

    user = db.relationship("User", foreign_keys=[user_id])
    actor = db.relationship("User", foreign_keys=[actor_id])
    __table_args__ = (db.Index("ix_auth_events_user", "user_id", "id"),)

    @property
    def label(self):
        return AUTH_EVENTS.get(self.kind, self.kind)


def printable(text, length):
    """What a person typed, safe to store on any database and show in a list."""
    return _UNPRINTABLE.sub("\N{REPLACEMENT CHARACTER}", text or "")[:length]
