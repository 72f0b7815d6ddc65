"""The warehouse floor's own records: every pack-station scan, pick lists, parcel photos."""
from sqlalchemy import Index

from fulfil.extensions import db
from fulfil.timeutil import utcnow

SCAN_RESULTS = ("ok", "wrong", "extra", "unknown")


class PackScan(db.Model):
    """One scan at the pack station. 'ok' scans count an item verified; the others are the
    mismatches a supervisor counts per packer. Starting an order over voids its scans."""
    __tablename__ = "pack_scans"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    order_line_id = db.Column(db.Integer, db.ForeignKey("order_lines.id", ondelete="CASCADE"))
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    code = db.Column(db.String(120), nullable=False)
    result = db.Column(db.String(10), nullable=False)
    voided = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User")
    __table_args__ = (Index("ix_pack_scans_order", "order_id", "id"),
                      Index("ix_pack_scans_user_created", "user_id", "created_at"))


class PickList(db.Model):
    """A wave: orders picked together. `picked` maps a pick-row key to the quantity picked."""
    __tablename__ = "pick_lists"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False, default="")
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    claimed_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    claimed_at = db.Column(db.DateTime)
    picked = db.Column(db.JSON, nullable=False, default=dict)

    created_by = db.relationship("User", foreign_keys=[created_by_id])
    claimed_by = db.relationship("User", foreign_keys=[claimed_by_id])
    orders = db.relationship("Order", secondary="pick_list_orders", order_by="Order.ship_by")


class PickListOrder(db.Model):
    __tablename__ = "pick_list_orders"
    pick_list_id = db.Column(db.Integer, db.ForeignKey("pick_lists.id", ondelete="CASCADE"), primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    __table_args__ = (Index("ix_pick_list_orders_order", "order_id"),)


class PackPhoto(db.Model):
    """A photo of the packed parcel, taken on the tablet: evidence in an Ozon dispute."""
    __tablename__ = "pack_photos"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    content_type = db.Column(db.String(40), nullable=False)
    data = db.Column(db.LargeBinary, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User")
