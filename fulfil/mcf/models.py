"""Amazon MCF: which orders went to Amazon, what Amazon says about them, and which SKUs
live at Amazon (with their MCF seller SKU, and whether orders for them go there by themselves)."""
from fulfil.extensions import db
from fulfil.timeutil import utcnow


class McfOrder(db.Model):
    """One fulfillment order at Amazon for one fulfil order.

    `seller_fulfillment_order_id` is derived from the order (and the attempt number, for an
    order sent again after Amazon refused it), so a retried create can never make a second
    Amazon order. `status` is Amazon's own, or "Sending" until Amazon holds it.
    """
    __tablename__ = "mcf_orders"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id"), nullable=False)
    seller_fulfillment_order_id = db.Column(db.String(40), nullable=False, unique=True)
    attempt = db.Column(db.Integer, nullable=False, default=1)
    shipping_speed = db.Column(db.String(20), nullable=False, default="Standard")
    block_amzl = db.Column(db.Boolean, nullable=False, default=False)
    routed_by = db.Column(db.String(10), nullable=False, default="person")  # person | rule
    # Still Amazon's to fulfil (not refused, cancelled or finished): at most one per order.
    active = db.Column(db.Boolean, nullable=False, default=True)
    status = db.Column(db.String(30), nullable=False, default="Sending")
    status_updated_at = db.Column(db.DateTime)
    problem = db.Column(db.Text)  # Amazon's words when it refused or could not cancel
    estimated_fees = db.Column(db.Numeric(12, 2))
    currency = db.Column(db.String(3))
    estimated_arrival = db.Column(db.DateTime)
    shipments = db.Column(db.JSON, nullable=False, default=list)  # Amazon's shipments, as last read
    pushed_packages = db.Column(db.JSON, nullable=False, default=list)  # package numbers passed on
    last_checked_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"))

    order = db.relationship("Order")
    account = db.relationship("MarketplaceAccount")
    __table_args__ = (db.Index("ix_mcf_orders_active", "active", "account_id"),)


class McfSku(db.Model):
    """A SKU that lives at Amazon for one MCF account: its MCF seller SKU when it differs,
    and whether orders carrying only such SKUs go to Amazon automatically (off by default)."""
    __tablename__ = "mcf_skus"
    id = db.Column(db.Integer, primary_key=True)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id"), nullable=False)
    # The selling account whose orders this applies to; NULL means every eligible account.
    source_account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id"))
    sku = db.Column(db.String(120), nullable=False)
    mcf_sku = db.Column(db.String(50), nullable=False)
    auto_route = db.Column(db.Boolean, nullable=False, default=False)
    shipping_speed = db.Column(db.String(20), nullable=False, default="Standard")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    account = db.relationship("MarketplaceAccount", foreign_keys=[account_id])
    source_account = db.relationship("MarketplaceAccount", foreign_keys=[source_account_id])
    __table_args__ = (db.UniqueConstraint("account_id", "source_account_id", "sku", name="uq_mcf_skus_account_sku"),
                      db.Index("ix_mcf_skus_sku", "sku"))
