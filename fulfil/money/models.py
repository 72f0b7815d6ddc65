"""What the marketplaces pay: their money movements, one row each, matched to orders."""
from decimal import Decimal

from sqlalchemy import Index, UniqueConstraint

from fulfil.extensions import db
from fulfil.timeutil import utcnow

ZERO = Decimal("0")


class MoneyTransaction(db.Model):
    """One movement a marketplace reports (fulfil.marketplaces.base.RemoteMoney).

    kind "sale": an order's money: accrued (what it earned), commission and fees (what the
    marketplace kept, negative), amount (what it added to the seller's balance); `paid_on`
    the day of the payout that sent it to the bank, NULL while not paid yet.
    kind "payout": money sent to the seller's bank on `paid_on` (amount positive)."""
    __tablename__ = "money_transactions"
    id = db.Column(db.Integer, primary_key=True)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id"), nullable=False)
    external_id = db.Column(db.String(120), nullable=False)
    kind = db.Column(db.String(10), nullable=False)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="SET NULL"))
    order_external_id = db.Column(db.String(80))  # as the marketplace names it, matched or not
    occurred_at = db.Column(db.DateTime, nullable=False)
    accrued = db.Column(db.Numeric(12, 2), nullable=False, default=ZERO)
    commission = db.Column(db.Numeric(12, 2), nullable=False, default=ZERO)
    fees = db.Column(db.Numeric(12, 2), nullable=False, default=ZERO)
    amount = db.Column(db.Numeric(12, 2), nullable=False, default=ZERO)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    description = db.Column(db.String(200), nullable=False, default="")
    paid_on = db.Column(db.Date)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    account = db.relationship("MarketplaceAccount")

    __table_args__ = (
        UniqueConstraint("account_id", "external_id", name="uq_money_transactions_account_external"),
        Index("ix_money_transactions_order_id", "order_id"),
        Index("ix_money_transactions_account_kind_paid", "account_id", "kind", "paid_on"),
    )
