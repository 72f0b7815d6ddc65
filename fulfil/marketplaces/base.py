"""The one small interface every marketplace adapter implements.

Adapters speak HTTP to a marketplace and translate in both directions: answers become
`RemoteOrder`s in fulfil's terms (through the module's STATUS_MAP table) and every failure
becomes one of four `MarketplaceError` kinds, carrying the marketplace's own message.
Workers and the importer only ever see this interface.

Outbox payloads (written by fulfil.actions, read by `push`):
    acknowledge      {"external_id"}
    pack             {"external_id", "packages": [{"lines": [LINE, ...]}]}
    ship             {"external_id", "shipment_id", "carrier", "carrier_name", "tracking_number",
                      "tracking_url", "shipped_at" (ISO UTC), "method_code", "lines": [LINE, ...],
                      "delivery_scheme" (the order's, may be null)}
    update_tracking  as ship, plus "old_tracking_number"
    deliver          {"external_id"}
    cancel           {"external_id", "reason", "reason_code", "lines": [LINE, ...],
                      "cancel_reason_id" (only when the person chose one of the marketplace's
                      own reasons for this order, see CancelReason)}
    LINE = {"line_number", "item_id", "sku", "quantity"}
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class MarketplaceError(Exception):
    """A failed call, classified. `message` is the marketplace's own words."""
    kind = "permanent"

    def __init__(self, message, *, status_code=None, code=None, retry_after=None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after  # seconds to wait, when the marketplace said so


class Retryable(MarketplaceError):
    """Timeouts, connection errors, 5xx, 'Circle is open': try again with backoff."""
    kind = "retryable"


class RateLimited(MarketplaceError):
    """429: wait `retry_after` seconds (from Retry-After / X-Next-Replenishment-Time / ...)."""
    kind = "rate_limited"


class AlreadyDone(MarketplaceError):
    """The marketplace already holds this change (e.g. POSTING_ALREADY_SHIPPED): success."""
    kind = "already_done"


class Permanent(MarketplaceError):
    """Validation or auth failures: a person must act; never retried automatically."""
    kind = "permanent"


@dataclass
class RemoteLine:
    line_number: str
    sku: str
    item_id: str
    name: str
    price: Decimal
    quantity: int
    status: str | None = None


@dataclass
class RemoteShipment:
    tracking_number: str | None
    carrier_name: str | None = None
    tracking_url: str | None = None
    shipment_ref: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    line_quantities: dict = field(default_factory=dict)  # line_number -> quantity


@dataclass
class RemoteOrder:
    """One marketplace order in fulfil's terms. Datetimes are naive UTC."""
    external_id: str
    order_number: str
    raw_status: str
    status: str  # unified, via the module's STATUS_MAP; unknown raw statuses map to 'on_hold'
    fulfilment_mode: str = "seller"
    delivery_scheme: str | None = None  # who carries it, in the marketplace's words
    remote_actions: list | None = None  # what the marketplace allows now, in its words
    raw_substatus: str | None = None
    ordered_at: datetime | None = None
    ship_by: datetime | None = None
    updated_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    buyer_name: str = ""
    buyer_email: str | None = None
    buyer_phone: str | None = None
    address_line1: str = ""
    address_line2: str | None = None
    city: str = ""
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    currency: str = "USD"
    total: Decimal = Decimal("0")
    cancel_reason: str | None = None
    dispute: bool = False
    lines: list = field(default_factory=list)  # RemoteLine
    shipments: list = field(default_factory=list)  # RemoteShipment
    # Set by the adapter when it had to interpret something (kept for the audit trail).
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CancelReason:
    """A reason a person may give for cancelling an order: fulfil's own, or one the
    marketplace lists for this very order (`remote_id` = the marketplace's id for it)."""
    code: str  # what the cancel form sends
    label: str
    needs_note: bool = False
    remote_id: int | None = None


@dataclass
class ImportPage:
    orders: list  # RemoteOrder
    cursor: object  # JSON-able; pass back to list_changed to continue
    has_more: bool
    problems: list = field(default_factory=list)  # (external_id, message, raw_text)


# check() answers
APPLIED = "applied"  # the marketplace holds the change
IN_PROGRESS = "in_progress"  # asynchronous processing not finished yet: look again shortly
NOT_APPLIED = "not_applied"  # safe to (re)send the write


class Adapter(ABC):
    """Base for Ozon, Walmart and Wish adapters.

    `settings` is the account's config (fulfil.marketplaces.account_settings): base_url and
    credentials. `token_store` is a dict-like shared cache (Redis-backed, see fulfil.ratelimit)
    for access tokens, so processes do not each fetch a token.
    """
    kind = ""
    # Writes the marketplace processes asynchronously: the worker confirms with check().
    ASYNC_ACTIONS = frozenset()
    # Actions that may be sent many-at-once: action -> max items per call.
    BATCH_LIMITS = {}

    def __init__(self, settings, token_store=None, session=None):
        self.settings = settings
        self.token_store = token_store if token_store is not None else {}
        self.session = session

    # -- reads ---------------------------------------------------------------
    @abstractmethod
    def list_changed(self, cursor):
        """One page of orders created or changed since `cursor` (None: the start)."""

    @abstractmethod
    def get_order(self, external_id):
        """The order as the marketplace has it now -> RemoteOrder."""

    # -- writes --------------------------------------------------------------
    def push(self, action, payload):
        """Send one outbox entry's change. Returns None; raises MarketplaceError kinds."""
        method = getattr(self, "push_" + action, None)
        if method is None:
            raise Permanent(f"{self.kind} does not support {action}")
        return method(payload)

    def push_batch(self, action, payloads):
        """Send several entries of one action; returns one result per payload, in order:
        None for success or the MarketplaceError for that item. Default: one by one."""
        results = []
        for payload in payloads:
            try:
                self.push(action, payload)
                results.append(None)
            except MarketplaceError as exc:
                results.append(exc)
        return results

    @abstractmethod
    def check(self, action, payload):
        """Read the marketplace and say whether this change is APPLIED, IN_PROGRESS or
        NOT_APPLIED. Used to confirm asynchronous writes and, before repeating a write
        whose outcome is unknown, to avoid sending it twice."""
