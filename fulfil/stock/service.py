"""Stock arithmetic, in one place: on hand, reserved by open orders, available; counts,
adjustments, shipments and returns as audited movements.

    on hand    what the shelf holds (stock_levels.on_hand, changed only with a movement)
    reserved   units of open orders fulfilled from the shelf, not shipped yet
    available  on hand − reserved (negative: the open orders want more than the shelf has)

An order is fulfilled from the shelf unless Ozon ships it (FBO) or Amazon does (an MCF
order that is still Amazon's or that Amazon completed). Shipping takes stock off through
`apply_orders`, which makes the movements agree with what the orders' shipments say:
applying it again, or after any other change of the order, moves nothing twice. Like
fulfil.actions it adds to the session and never commits.
"""
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, not_, or_, select

from fulfil.catalogue.models import Product
from fulfil.extensions import db
from fulfil.mcf.models import McfOrder
from fulfil.models import Order, OrderLine, Shipment, ShipmentLine
from fulfil.stock.models import StockLevel, StockMovement
from fulfil.timeutil import utcnow

MAX_QUANTITY = 10_000_000
AMAZON_DONE = ("Complete", "CompletePartialled")


class StockError(ValueError):
    """Input a person must correct; the message says what."""


def from_our_shelf():
    """SQL condition on Order: the seller's warehouse ships it (not Ozon FBO, not Amazon)."""
    at_amazon = exists().where(McfOrder.order_id == Order.id,
                               or_(McfOrder.active, McfOrder.status.in_(AMAZON_DONE)))
    return and_(Order.fulfilment_mode != "FBO", not_(at_amazon))


def _shipped_of_line(since=None):
    """Correlated: units of the current OrderLine in shipments (shipped at/after `since`)."""
    query = (select(func.coalesce(func.sum(ShipmentLine.quantity), 0))
             .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
             .where(Shipment.order_id == OrderLine.order_id, ShipmentLine.order_line_id == OrderLine.id))
    if since is not None:
        query = query.where(func.coalesce(Shipment.shipped_at, Shipment.created_at) >= since)
    return query.correlate_except(ShipmentLine, Shipment).scalar_subquery()


def open_lines(skus):
    """[(sku, order id, ship_by, units left)] of open orders from the shelf, soonest first."""
    skus = sorted({s for s in skus if s})
    if not skus:
        return []
    left = OrderLine.quantity - _shipped_of_line()
    rows = db.session.execute(
        select(OrderLine.sku, Order.id, Order.ship_by, left)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.open_to_ship.is_(True), from_our_shelf(), OrderLine.sku.in_(skus))
        .order_by(Order.ship_by, Order.id)).all()
    return [(sku, order_id, ship_by, int(units)) for sku, order_id, ship_by, units in rows if units > 0]


def reserved_by_sku(skus):
    reserved = defaultdict(int)
    for sku, _, _, units in open_lines(skus):
        reserved[sku] += units
    return dict(reserved)


@dataclass
class Stock:
    sku: str
    on_hand: int
    reserved: int
    level: object  # StockLevel

    @property
    def available(self):
        return self.on_hand - self.reserved


def stock_for(skus):
    """{sku: Stock} for the SKUs among `skus` whose stock fulfil keeps."""
    skus = {s for s in skus if s}
    if not skus:
        return {}
    levels = db.session.scalars(select(StockLevel).where(StockLevel.sku.in_(skus))).all()
    reserved = reserved_by_sku([level.sku for level in levels])
    return {level.sku: Stock(level.sku, level.on_hand, reserved.get(level.sku, 0), level) for level in levels}


# -- movements -----------------------------------------------------------------------

def _move(level, quantity, kind, actor, note=None, key=None, order_id=None, order_line_id=None):
    """Change on hand by `quantity` in SQL (two tablets at once never lose one) with its
    movement row."""
    level.on_hand = StockLevel.on_hand + quantity
    db.session.flush()
    movement = StockMovement(sku=level.sku, kind=kind, quantity=quantity, on_hand_after=level.on_hand,
                             order_id=order_id, order_line_id=order_line_id, key=key, note=note,
                             source=actor.source, actor=actor.name, user_id=getattr(actor.user, "id", None))
    db.session.add(movement)
    return movement


def _level_for(sku, create=False):
    level = db.session.get(StockLevel, sku)
    if level is None and create:
        if db.session.get(Product, sku) is None:
            raise StockError(f"There is no product with SKU {sku}: add it to the catalogue first.")
        level = StockLevel(sku=sku, on_hand=0, tracked_since=utcnow())
        db.session.add(level)
        db.session.flush()
    return level


def check_quantity(text, what="The count"):
    """A whole number of units, 0 or more, from what a person typed."""
    value = str(text if text is not None else "").strip().replace(" ", "").replace("\u00a0", "")
    if not value:
        raise StockError(f"{what} is empty: enter a whole number of units.")
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise StockError(f"{what} “{value[:20]}” is not a number of units.") from None
    if number != int(number):
        raise StockError(f"{what} {value} is not a whole number of units.")
    if number < 0:
        raise StockError(f"{what} cannot be negative.")
    if number > MAX_QUANTITY:
        raise StockError(f"{what} {value} is more than any shelf holds: check the number.")
    return int(number)


def count(sku, quantity, actor, note=None):
    """A person counted `quantity` units of `sku` on the shelf: on hand becomes that."""
    level = _level_for(sku, create=True)
    quantity = check_quantity(quantity)
    level.counted_at = utcnow()
    return _move(level, quantity - level.on_hand, "count", actor, note=note)


def adjust(sku, change, actor, note):
    """Found, damaged, written off: on hand changes by `change` (never below zero)."""
    if not (note or "").strip():
        raise StockError("Say why the stock changes (found, damaged, written off…).")
    level = _level_for(sku)
    if level is None:
        raise StockError(f"{sku} has no stock count yet: count it first.")
    if not isinstance(change, int) or change == 0 or abs(change) > MAX_QUANTITY:
        raise StockError("Enter how many units to add (e.g. 5) or take off (e.g. -2).")
    if level.on_hand + change < 0:
        raise StockError(f"There are {level.on_hand} on hand: you cannot take off {-change}.")
    return _move(level, change, "adjust", actor, note=note.strip()[:255])


def receive_return(order_line, quantity, actor, ref="", note=None):
    """A returned item came back to the shelf. The same (line, ref) received again adds
    nothing: `ref` tells two returns of one line apart (the return's id or RMA number)."""
    quantity = check_quantity(quantity, "The quantity returned")
    if quantity == 0:
        raise StockError("The quantity returned is 0: nothing comes back.")
    shipped = db.session.scalar(select(func.coalesce(func.sum(ShipmentLine.quantity), 0))
                                .where(ShipmentLine.order_line_id == order_line.id))
    returned = db.session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
        StockMovement.order_line_id == order_line.id, StockMovement.kind == "return"))
    key = f"return:{order_line.id}:{(ref or '').strip()[:40]}"
    existing = db.session.scalar(select(StockMovement).where(StockMovement.key == key))
    if existing is not None:
        return existing
    if quantity > shipped - returned:
        raise StockError(f"{order_line.sku}: {quantity} is more than the {shipped - returned} shipped "
                         "and not yet returned.")
    level = _level_for(order_line.sku)
    if level is None:
        raise StockError(f"{order_line.sku} has no stock count yet: count it first.")
    return _move(level, quantity, "return", actor, note=note or "Return received", key=key,
                 order_id=order_line.order_id, order_line_id=order_line.id)


def apply_orders(order_ids, actor):
    """Make the shelf agree with these orders' shipments; returns the movements added.

    A line's shipped units (packages shipped since its SKU's stock is kept, of an order
    from the shelf) should have left the shelf; the line's "ship" movements say how many
    did. Any difference — a package shipped, a marketplace re-releasing an order and
    dropping its package — becomes one more movement, keyed by the line and the number of
    its movements so far: applied twice, or by two workers at once, it is written once.
    """
    order_ids = sorted(set(order_ids))
    if not order_ids:
        return []
    rows = db.session.execute(
        select(OrderLine.id, OrderLine.order_id, OrderLine.sku,
               case((from_our_shelf(), _shipped_of_line(StockLevel.tracked_since)), else_=0))
        .join(Order, Order.id == OrderLine.order_id)
        .join(StockLevel, StockLevel.sku == OrderLine.sku)
        .where(OrderLine.order_id.in_(order_ids))).all()
    if not rows:
        return []
    booked = {line_id: (int(total), n) for line_id, total, n in db.session.execute(
        select(StockMovement.order_line_id, func.sum(StockMovement.quantity), func.count())
        .where(StockMovement.order_line_id.in_([r[0] for r in rows]), StockMovement.kind == "ship")
        .group_by(StockMovement.order_line_id))}
    movements = []
    for line_id, order_id, sku, shipped in rows:
        taken, n = booked.get(line_id, (0, 0))
        change = -int(shipped) - taken
        if change:
            note = "Shipped" if change < 0 else "Shipment undone on the marketplace"
            movements.append(_move(db.session.get(StockLevel, sku), change, "ship", actor, note=note,
                                   key=f"ship:{line_id}:{n}", order_id=order_id, order_line_id=line_id))
    return movements


def history(sku, limit=50):
    return db.session.scalars(select(StockMovement).where(StockMovement.sku == sku)
                              .order_by(StockMovement.id.desc()).limit(limit)).all()
