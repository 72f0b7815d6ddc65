"""Batched reads for the bulk checks: orders by the numbers sellers type, their lines and
packages, tracking numbers already in use — CHUNK keys per IN query, never one per row.

Two ways to load an order. `load_orders` gives ORM Orders, which actions.perform can
change (the apply). `load_order_facts` gives OrderFacts: the same attributes read with
plain queries, a fraction of the cost for the thousands of orders of a preview. The facts
borrow the models' own properties (is_read_only, quantity_left, ...), so fulfil.status and
the checks read both alike and there is one rule for each.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import selectinload

from fulfil.extensions import db
from fulfil.models import MarketplaceAccount, Order, OrderLine, SearchKey, Shipment, ShipmentLine
from fulfil.search import MAX_KEY

CHUNK = 500


def lookup_key(order_key):
    """How an order number is looked up: trimmed, any case, as long as a search key."""
    return order_key.strip().lower()[:MAX_KEY]


def chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def among(column, values):
    """`column IN values` — on PostgreSQL `= ANY(array)`: one parameter instead of
    hundreds makes each batch's query four times cheaper to parse and plan."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def find_orders(order_keys, load):
    """{key: [order, ...]} for order numbers as sellers type them, in any case; `load`
    reads the orders found (load_orders or load_order_facts).

    Search keys are the indexed way to an order by external id or order number. A key
    may also be a SKU or a buyer's name, so only orders whose external id or order number
    is the key count (compared here, lowered as the search index lowers them).
    """
    keys = {lookup_key(k) for k in order_keys if k.strip()}
    candidates = defaultdict(set)  # order id -> keys that found it
    for chunk in chunks(sorted(keys)):
        query = db.select(SearchKey.key, SearchKey.order_id).where(among(SearchKey.key, chunk))
        for key, order_id in db.session.execute(query):
            candidates[order_id].add(key)
    matches = defaultdict(set)
    for chunk in chunks(sorted(candidates)):
        query = db.select(Order.id, Order.external_id, Order.order_number).where(among(Order.id, chunk))
        for order_id, external_id, order_number in db.session.execute(query):
            for key in candidates[order_id] & {lookup_key(external_id), lookup_key(order_number)}:
                matches[key].add(order_id)
    orders = load({order_id for ids in matches.values() for order_id in ids})
    return {key: [orders[i] for i in sorted(ids)] for key, ids in matches.items()}


def load_orders(order_ids):
    """{id: Order} with lines and packages loaded."""
    orders = {}
    for chunk in chunks(sorted(order_ids)):
        query = (db.select(Order).where(among(Order.id, chunk))
                 .options(selectinload(Order.lines),
                          selectinload(Order.shipments).selectinload(Shipment.lines)))
        # .all(): iterating the result lazily would run the selectin loads per 100 rows.
        orders.update((order.id, order) for order in db.session.scalars(query).all())
    return orders


@dataclass(eq=False)
class AccountFacts:
    kind: str
    marketplace_label = MarketplaceAccount.marketplace_label


@dataclass(eq=False)
class OrderFacts:
    id: int
    external_id: str
    order_number: str
    marketplace: str
    status: str
    raw_status: str
    fulfilment_mode: str
    delivery_scheme: str | None
    remote_actions: list | None
    dispute_open: bool
    account: AccountFacts
    lines: list = field(default_factory=list)
    shipments: list = field(default_factory=list)
    is_read_only = Order.is_read_only
    read_only_reason = Order.read_only_reason


@dataclass(eq=False)
class LineFacts:
    id: int
    order: OrderFacts
    line_number: str
    sku: str
    item_id: str
    name: str
    quantity: int
    quantity_shipped = OrderLine.quantity_shipped
    quantity_left = OrderLine.quantity_left


@dataclass(eq=False)
class ShipmentFacts:
    id: int
    carrier: str
    tracking_number: str
    lines: list = field(default_factory=list)


@dataclass(eq=False)
class ShipmentLineFacts:
    order_line_id: int
    quantity: int


def load_order_facts(order_ids):
    """{id: OrderFacts} with lines and packages, four plain queries per CHUNK orders."""
    orders, accounts = {}, {}
    for chunk in chunks(sorted(order_ids)):
        query = (db.select(Order.id, Order.external_id, Order.order_number, Order.marketplace, Order.status,
                           Order.raw_status, Order.fulfilment_mode, Order.delivery_scheme, Order.remote_actions,
                           Order.dispute_open, MarketplaceAccount.kind)
                 .join(MarketplaceAccount, MarketplaceAccount.id == Order.account_id)
                 .where(among(Order.id, chunk)))
        for *columns, kind in db.session.execute(query):
            account = accounts.setdefault(kind, AccountFacts(kind))
            orders[columns[0]] = OrderFacts(*columns, account=account)
        lines = (db.select(OrderLine.id, OrderLine.order_id, OrderLine.line_number, OrderLine.sku,
                           OrderLine.item_id, OrderLine.name, OrderLine.quantity)
                 .where(among(OrderLine.order_id, chunk)).order_by(OrderLine.order_id, OrderLine.line_number))
        for line_id, order_id, *columns in db.session.execute(lines):
            orders[order_id].lines.append(LineFacts(line_id, orders[order_id], *columns))
        packages = {}
        shipments = (db.select(Shipment.id, Shipment.order_id, Shipment.carrier, Shipment.tracking_number)
                     .where(among(Shipment.order_id, chunk)).order_by(Shipment.id))
        for shipment_id, order_id, carrier, number in db.session.execute(shipments):
            packages[shipment_id] = ShipmentFacts(shipment_id, carrier, number)
            orders[order_id].shipments.append(packages[shipment_id])
        shipment_lines = (db.select(ShipmentLine.shipment_id, ShipmentLine.order_line_id, ShipmentLine.quantity)
                          .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
                          .where(among(Shipment.order_id, chunk)))
        for shipment_id, *columns in db.session.execute(shipment_lines):
            packages[shipment_id].lines.append(ShipmentLineFacts(*columns))
    return orders


def numbers_in_use(numbers):
    """{tracking number: {order id: order's external id}} for numbers already on packages."""
    used = defaultdict(dict)
    for chunk in chunks(sorted(n for n in numbers if n)):
        query = (db.select(Shipment.tracking_number, Order.id, Order.external_id)
                 .join(Order, Order.id == Shipment.order_id).where(among(Shipment.tracking_number, chunk)))
        for number, order_id, external_id in db.session.execute(query):
            used[number][order_id] = external_id
    return used
