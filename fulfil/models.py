"""fulfil's data model (PRODUCT.md "Domain model").

Model methods add to the session but never commit: the view (or job) owns the
transaction, so a change, its audit event and its outbox entry commit together.
"""
import re
import secrets
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import Index, UniqueConstraint
from werkzeug.security import check_password_hash, generate_password_hash

from fulfil.extensions import db, login_manager
from fulfil.timeutil import utcnow

ROLES = ("warehouse", "seller", "supervisor", "admin")
MARKETPLACES = ("ozon", "walmart", "wish")
MARKETPLACE_LABELS = {"ozon": "Ozon", "walmart": "Walmart", "wish": "Wish", "amazon_mcf": "Amazon MCF"}


def new_session_token():
    return secrets.token_hex(16)


SESSION_TOKEN = re.compile(r"[0-9a-f]{32}")


class User(UserMixin, db.Model):
    """A person who signs in. Sessions and remember-me cookies name the user by
    `session_token`, not by id: a new token (sign-out, a password or role change,
    deactivation) ends every session the user has, on every device."""
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), nullable=False, unique=True)
    display_name = db.Column(db.String(120), nullable=False, default="")
    password_hash = db.Column(db.String(255), nullable=False)
    role = db.Column(db.String(20), nullable=False, default="warehouse")
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    session_token = db.Column(db.String(64), nullable=False, unique=True, default=new_session_token)

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def get_id(self):
        return self.session_token

    def end_sessions(self):
        """Sign this user out everywhere: cookies naming the old token no longer load anyone."""
        self.session_token = new_session_token()

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self):
        return self.active

    @property
    def label(self):
        return self.display_name or self.username


@login_manager.user_loader
def load_user(session_token):
    if not isinstance(session_token, str) or not SESSION_TOKEN.fullmatch(session_token):
        return None  # a cookie from before session tokens, or not ours: nobody
    return db.session.scalar(db.select(User).where(User.session_token == session_token, User.active))


class MarketplaceAccount(db.Model):
    """One seller account on a marketplace. Credentials stay in config, keyed by slug."""
    __tablename__ = "marketplace_accounts"
    id = db.Column(db.Integer, primary_key=True)
    slug = db.Column(db.String(60), nullable=False, unique=True)
    kind = db.Column(db.String(20), nullable=False)
    name = db.Column(db.String(120), nullable=False)
    base_url = db.Column(db.String(255), nullable=False, default="")
    rate_limit = db.Column(db.Float, nullable=False, default=5.0)  # requests per second
    enabled = db.Column(db.Boolean, nullable=False, default=True)
    import_cursor = db.Column(db.JSON)
    last_import_at = db.Column(db.DateTime)
    last_import_ok_at = db.Column(db.DateTime)
    last_import_error = db.Column(db.Text)
    last_import_count = db.Column(db.Integer)

    @property
    def marketplace_label(self):
        return MARKETPLACE_LABELS.get(self.kind, self.kind)


class Order(db.Model):
    """One unit of fulfilment: an Ozon posting, a Walmart purchase order, a Wish order."""
    __tablename__ = "orders"
    id = db.Column(db.Integer, primary_key=True)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id"), nullable=False)
    marketplace = db.Column(db.String(20), nullable=False)  # copy of account.kind, for filters
    external_id = db.Column(db.String(80), nullable=False)  # posting_number / purchaseOrderId / Wish id
    order_number = db.Column(db.String(80), nullable=False, default="")  # Ozon order_number / customerOrderId
    status = db.Column(db.String(20), nullable=False, default="new")
    # Orders still to be shipped (new, to_pack, ready): the working lists read this index.
    open_to_ship = db.Column(db.Boolean, nullable=False, default=True)
    raw_status = db.Column(db.String(60), nullable=False, default="")
    raw_substatus = db.Column(db.String(60))
    fulfilment_mode = db.Column(db.String(20), nullable=False, default="seller")  # FBS rFBS FBO seller
    # Who carries the parcel, in the marketplace's words (Ozon: tpl_integration_type): it
    # decides whether the seller gives a tracking number and reports delivery steps.
    delivery_scheme = db.Column(db.String(30))
    # What the marketplace itself says may be done now (Ozon: available_actions); None = not told.
    remote_actions = db.Column(db.JSON)
    ordered_at = db.Column(db.DateTime)
    ship_by = db.Column(db.DateTime, nullable=False)  # never NULL: lists sort and page by it
    shipped_at = db.Column(db.DateTime)
    delivered_at = db.Column(db.DateTime)
    buyer_name = db.Column(db.String(200), nullable=False, default="")
    buyer_email = db.Column(db.String(200))
    buyer_phone = db.Column(db.String(60))
    address_line1 = db.Column(db.String(255), nullable=False, default="")
    address_line2 = db.Column(db.String(255))
    city = db.Column(db.String(120), nullable=False, default="")
    region = db.Column(db.String(120))
    postal_code = db.Column(db.String(30))
    country = db.Column(db.String(60))  # ISO code where the marketplace gives one, else its name
    currency = db.Column(db.String(3), nullable=False, default="USD")
    total = db.Column(db.Numeric(12, 2), nullable=False, default=Decimal("0"))
    dispute_open = db.Column(db.Boolean, nullable=False, default=False)
    dispute_note = db.Column(db.Text)
    dispute_deadline = db.Column(db.DateTime)
    cancel_reason = db.Column(db.String(255))
    # 'synced' | 'pending' | 'failed': the worst state of the order's outbox entries.
    sync_state = db.Column(db.String(10), nullable=False, default="synced")
    remote_updated_at = db.Column(db.DateTime)
    # What the last import had to change in the marketplace's data to keep it (a cut name,
    # a removed NUL byte...): a list of sentences shown on the order page, or NULL.
    import_warnings = db.Column(db.JSON)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    account = db.relationship("MarketplaceAccount", lazy="joined")
    lines = db.relationship("OrderLine", back_populates="order", order_by="OrderLine.line_number",
                            cascade="all, delete-orphan")
    shipments = db.relationship("Shipment", back_populates="order", order_by="Shipment.id",
                                cascade="all, delete-orphan")

    # Optimistic lock: an UPDATE carries "WHERE version = <what this request loaded>".
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("account_id", "external_id", name="uq_orders_account_external"),
        Index("ix_orders_open_ship_by", "open_to_ship", "ship_by", "id"),
        Index("ix_orders_status_ship_by", "status", "ship_by", "id"),
        Index("ix_orders_ship_by", "ship_by", "id"),
        Index("ix_orders_account_ship_by", "account_id", "open_to_ship", "ship_by", "id"),
        Index("ix_orders_sync_state", "sync_state"),
        Index("ix_orders_order_number", "order_number"),
        # Supervisor: disputes by deadline; statistics over a period of received/shipped orders.
        Index("ix_orders_dispute", "dispute_open", "dispute_deadline"),
        Index("ix_orders_ordered_at", "ordered_at"),
        Index("ix_orders_shipped_at", "shipped_at"),
    )

    @property
    def is_read_only(self):
        return self.fulfilment_mode == "FBO"

    @property
    def read_only_reason(self):
        if self.fulfilment_mode == "FBO":
            return "Fulfilled by Ozon (FBO): Ozon packs and ships this order; nothing to do here."
        return None

    @property
    def line_total(self):
        return sum((line.cost for line in self.lines), Decimal("0"))


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    line_number = db.Column(db.String(20), nullable=False)
    sku = db.Column(db.String(120), nullable=False, default="")  # seller's product id / offer_id
    item_id = db.Column(db.String(120), nullable=False, default="")  # marketplace's id ("Ozon ID")
    name = db.Column(db.String(500), nullable=False, default="")
    price = db.Column(db.Numeric(12, 2), nullable=False, default=Decimal("0"))
    quantity = db.Column(db.Integer, nullable=False, default=1)
    status = db.Column(db.String(40))  # the marketplace's line status, where it has one (Walmart)

    order = db.relationship("Order", back_populates="lines")

    @property
    def cost(self):
        return (self.price or Decimal("0")) * self.quantity

    @property
    def quantity_shipped(self):
        return sum(sl.quantity for shipment in self.order.shipments for sl in shipment.lines
                   if sl.order_line_id == self.id)

    @property
    def quantity_left(self):
        return max(self.quantity - self.quantity_shipped, 0)


class Shipment(db.Model):
    """One package: its own shipment id, carrier and tracking number."""
    __tablename__ = "shipments"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    shipment_ref = db.Column(db.String(80))  # marketplace's package/shipment id where it has one
    carrier = db.Column(db.String(40))  # fulfil's carrier code, see fulfil.tracking.CARRIERS
    carrier_name = db.Column(db.String(80))  # the name in the form the marketplace accepts
    tracking_number = db.Column(db.String(80), index=True)
    tracking_url = db.Column(db.String(500))
    shipped_at = db.Column(db.DateTime)
    delivered_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    order = db.relationship("Order", back_populates="shipments")
    lines = db.relationship("ShipmentLine", back_populates="shipment", cascade="all, delete-orphan")


class ShipmentLine(db.Model):
    __tablename__ = "shipment_lines"
    id = db.Column(db.Integer, primary_key=True)
    shipment_id = db.Column(db.Integer, db.ForeignKey("shipments.id", ondelete="CASCADE"), nullable=False, index=True)
    order_line_id = db.Column(db.Integer, db.ForeignKey("order_lines.id", ondelete="CASCADE"), nullable=False)
    quantity = db.Column(db.Integer, nullable=False)

    shipment = db.relationship("Shipment", back_populates="lines")
    order_line = db.relationship("OrderLine")


class SearchKey(db.Model):
    """Lower-cased words a person may search an order by (numbers, SKUs, tracking, names).

    Search is a prefix match on an indexed column, so it costs the same at 2,000 and at
    200,000 orders, on SQLite and PostgreSQL alike.
    """
    __tablename__ = "search_keys"
    key = db.Column(db.String(120), primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    __table_args__ = (Index("ix_search_keys_order", "order_id"),)


class Event(db.Model):
    """Audit trail: who changed what on an order, when, from where."""
    __tablename__ = "events"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    actor = db.Column(db.String(120), nullable=False, default="system")
    source = db.Column(db.String(20), nullable=False)  # ui | bulk | marketplace | system
    action = db.Column(db.String(40), nullable=False)
    old_value = db.Column(db.Text)
    new_value = db.Column(db.Text)
    note = db.Column(db.Text)
    upload_id = db.Column(db.Integer)  # bulk upload that caused it, when source == 'bulk'
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User")
    order = db.relationship("Order")
    __table_args__ = (Index("ix_events_order_created", "order_id", "created_at"),)


class OutboxEntry(db.Model):
    """One change the marketplace must learn; written in the same transaction as the change."""
    __tablename__ = "outbox_entries"
    id = db.Column(db.Integer, primary_key=True)
    order_id = db.Column(db.Integer, db.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id"), nullable=False)
    action = db.Column(db.String(40), nullable=False)  # acknowledge pack ship update_tracking deliver cancel
    payload = db.Column(db.JSON, nullable=False, default=dict)
    state = db.Column(db.String(12), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime)
    last_error = db.Column(db.Text)  # the marketplace's own words
    error_kind = db.Column(db.String(20))  # retryable | rate_limited | permanent | cancelled (at the marketplace)
    idempotency_key = db.Column(db.String(80), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    sent_at = db.Column(db.DateTime)
    confirmed_at = db.Column(db.DateTime)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"))

    order = db.relationship("Order")
    account = db.relationship("MarketplaceAccount")
    __table_args__ = (
        Index("ix_outbox_state_next", "state", "next_attempt_at"),
        Index("ix_outbox_order", "order_id", "id"),
    )


class ImportProblem(db.Model):
    """A marketplace record an import could not take; shown to a supervisor, never blocks the rest."""
    __tablename__ = "import_problems"
    id = db.Column(db.Integer, primary_key=True)
    account_id = db.Column(db.Integer, db.ForeignKey("marketplace_accounts.id"), nullable=False)
    external_id = db.Column(db.String(80))
    error = db.Column(db.Text, nullable=False)
    raw = db.Column(db.Text)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    resolved_at = db.Column(db.DateTime)

    account = db.relationship("MarketplaceAccount")


from fulfil.catalogue.models import Product, ProductBarcode  # noqa: E402,F401  (catalogue tables)
from fulfil.floor.models import PackPhoto, PackScan, PickList, PickListOrder  # noqa: E402,F401  (floor tables)
from fulfil.mcf.models import McfOrder, McfSku  # noqa: E402,F401  (Amazon MCF)
from fulfil.auth.models import AuthEvent  # noqa: E402,F401  (sign-in audit)
from fulfil.aftersales.models import Recall  # noqa: E402,F401  (after-sales)
from fulfil.accounts.models import WishConnection  # noqa: E402,F401  (Wish OAuth tokens)
from fulfil.money.models import MoneyTransaction  # noqa: E402,F401  (payouts)
from fulfil.stock.models import ForecastRun, StockElsewhere, StockForecast, StockLevel, StockMovement  # noqa: E402,F401  (stock)
