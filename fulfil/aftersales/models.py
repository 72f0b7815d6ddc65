"""A parcel to get back: the marketplace cancelled an order fulfil had already shipped."""
from fulfil.extensions import db
from fulfil.timeutil import utcnow


class Recall(db.Model):
    """The warehouse's task for an order cancelled at the marketplace after it was shipped
    (or while its ship was on the way): stop the parcel at the carrier, put the goods back."""
    __tablename__ = "recalls"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, unique=True)
    reason = db.Column(db.String(500), nullable=False)
    tracking_number = db.Column(db.String(100))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    done_at = db.Column(db.DateTime)
    done_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    done_note = db.Column(db.String(500))

    order = db.relationship("Order")
    done_by = db.relationship("User")
