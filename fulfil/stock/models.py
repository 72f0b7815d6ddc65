"""Stock: what is on the shelf per SKU, every change to it, what is held elsewhere, and the
demand forecast the scheduled job stores.

On hand is kept on `stock_levels` and changed only together with a `stock_movements` row
(the audit trail). Reserved and available are never stored: they are counted from the open
orders when asked (fulfil.stock.service), so they cannot drift.
"""
from sqlalchemy import Index, UniqueConstraint

from fulfil.extensions import db
from fulfil.timeutil import utcnow

MOVEMENT_KINDS = {"count": "Counted", "adjust": "Adjusted", "ship": "Shipped", "return": "Returned"}


class StockLevel(db.Model):
    """A SKU whose stock fulfil keeps. Lead time and service level: None = the defaults."""
    __tablename__ = "stock_levels"
    sku = db.Column(db.String(120), db.ForeignKey("products.sku", ondelete="CASCADE", onupdate="CASCADE"),
                    primary_key=True)
    on_hand = db.Column(db.Integer, nullable=False, default=0)
    # Shipments from this moment on take stock off the shelf; earlier ones left before the
    # first count and are in no count.
    tracked_since = db.Column(db.DateTime, nullable=False, default=utcnow)
    counted_at = db.Column(db.DateTime)
    lead_time_days = db.Column(db.Integer)
    service_level = db.Column(db.Float)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    product = db.relationship("Product")


class StockMovement(db.Model):
    """One change of on hand. `key` makes a movement that follows an order's own change
    (a shipped line, a received return) happen once however often it is applied."""
    __tablename__ = "stock_movements"
    id = db.Column(db.Integer, primary_key=True)
    sku = db.Column(db.String(120), db.ForeignKey("stock_levels.sku", ondelete="CASCADE", onupdate="CASCADE"),
                    nullable=False)
    kind = db.Column(db.String(10), nullable=False)  # count | adjust | ship | return
    quantity = db.Column(db.Integer, nullable=False)  # the change: negative takes stock off
    on_hand_after = db.Column(db.Integer, nullable=False)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="SET NULL"))
    order_line_id = db.Column(db.Integer, db.ForeignKey("order_lines.id", ondelete="SET NULL"))
    key = db.Column(db.String(80))  # e.g. "ship:<order line id>:<n>", "return:<line id>:<ref>"
    source = db.Column(db.String(20), nullable=False, default="ui")  # ui | import | system | marketplace | bulk
    actor = db.Column(db.String(120), nullable=False, default="system")
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    note = db.Column(db.String(255))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    order = db.relationship("Order")
    __table_args__ = (UniqueConstraint("key", name="uq_stock_movements_key"),
                      Index("ix_stock_movements_sku", "sku", "id"),
                      Index("ix_stock_movements_line", "order_line_id", "kind"))


class StockElsewhere(db.Model):
    """Stock a marketplace or Amazon holds for the seller (Ozon FBO, Amazon MCF), as last read."""
    __tablename__ = "stock_elsewhere"
    id = db.Column(db.Integer, primary_key=True)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id", ondelete="CASCADE"), nullable=False)
    sku = db.Column(db.String(120), nullable=False)  # the seller's SKU (Ozon offer_id / Amazon sellerSku)
    place = db.Column(db.String(120), nullable=False, default="")  # warehouse name, "" for a marketplace total
    available = db.Column(db.Integer, nullable=False, default=0)  # free to sell / fulfillable
    reserved = db.Column(db.Integer, nullable=False, default=0)
    inbound = db.Column(db.Integer, nullable=False, default=0)  # on its way to that warehouse
    read_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    account = db.relationship("MarketplaceAccount")
    __table_args__ = (UniqueConstraint("account_id", "sku", "place", name="uq_stock_elsewhere_place"),
                      Index("ix_stock_elsewhere_sku", "sku"))


class StockForecast(db.Model):
    """The latest forecast of one SKU's daily demand and how good its model was."""
    __tablename__ = "stock_forecasts"
    sku = db.Column(db.String(120), primary_key=True)
    model = db.Column(db.String(30), nullable=False)
    intermittent = db.Column(db.Boolean, nullable=False, default=False)
    start = db.Column(db.Date, nullable=False)  # the first day forecast
    mean = db.Column(db.JSON, nullable=False, default=list)  # units a day, one per day from start
    lo = db.Column(db.JSON, nullable=False, default=list)
    hi = db.Column(db.JSON, nullable=False, default=list)
    daily_mean = db.Column(db.Float, nullable=False, default=0.0)
    sigma = db.Column(db.Float, nullable=False, default=0.0)  # typical daily error
    history_days = db.Column(db.Integer, nullable=False, default=0)
    mase = db.Column(db.Float)
    baseline_mase = db.Column(db.Float)
    rmsse = db.Column(db.Float)
    baseline_rmsse = db.Column(db.Float)
    scores = db.Column(db.JSON, nullable=False, default=dict)  # model -> {"mase", "rmsse"}
    computed_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class ForecastRun(db.Model):
    """One run of the forecast job: when, how many SKUs, how long, what went wrong."""
    __tablename__ = "stock_forecast_runs"
    id = db.Column(db.Integer, primary_key=True)
    started_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime)
    sku_count = db.Column(db.Integer, nullable=False, default=0)
    seconds = db.Column(db.Float)
    error = db.Column(db.Text)
