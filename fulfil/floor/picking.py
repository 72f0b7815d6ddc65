"""Pick lists and waves: what to take from which bin, in the order a picker walks.

Single-item orders are grouped by SKU (one trip to the bin for all of them, and the
parcels are interchangeable at the pack station); multi-item orders are picked order by
order (into a tote each), so nothing of one order ends up in another's parcel.
"""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fulfil.catalogue.service import find_product, products_by_sku
from fulfil.extensions import db
from fulfil.floor.models import PickList
from fulfil.models import Order
from fulfil.orders.queries import Clock
from fulfil.timeutil import utcnow
from fulfil.wording import plural

MAX_ORDERS = 500  # a wave bigger than this is more than one picker walks; the list says so


class PickRefused(Exception):
    """Cannot make or change the list; the message says why."""


@dataclass
class PickRow:
    key: str  # "sku:<SKU>" or "order:<id>:<line id>": what `picked` counts against
    sku: str
    name: str
    bin_location: str
    quantity: int
    order_count: int
    picked: int = 0
    orders: list = field(default_factory=list)  # the external ids, for the printed list

    @property
    def done(self):
        return self.picked >= self.quantity


@dataclass
class OrderGroup:
    order: object
    rows: list


@dataclass
class PickSheet:
    by_sku: list  # PickRow, single-item orders
    by_order: list  # OrderGroup, multi-item orders
    skipped: list  # orders no longer open to ship (shipped or cancelled since the list was made)

    @property
    def rows(self):
        return self.by_sku + [row for group in self.by_order for row in group.rows]

    @property
    def total(self):
        return sum(r.quantity for r in self.rows)

    @property
    def picked(self):
        return sum(min(r.picked, r.quantity) for r in self.rows)


def _bin_key(bin_location, sku):
    # Unknown bins last, so the picker walks the known aisles first.
    return (bin_location == "", bin_location, sku)


def sheet(pick_list):
    orders = db.session.scalars(select(Order).where(Order.id.in_([o.id for o in pick_list.orders]))
                                .options(selectinload(Order.lines), selectinload(Order.shipments))).all()
    live = [o for o in orders if o.open_to_ship and not o.is_read_only]
    skipped = [o for o in orders if o not in live]
    products = products_by_sku(line.sku for o in live for line in o.lines)
    picked = pick_list.picked or {}

    def info(line):
        product = products.get(line.sku)
        return (product.name if product and product.name else line.name), (product.bin_location if product else "")

    singles, groups = {}, []
    for order in sorted(live, key=lambda o: (o.ship_by, o.id)):
        lines = [line for line in order.lines if line.quantity_left > 0]
        if len(lines) == 1:
            line = lines[0]
            name, bin_location = info(line)
            row = singles.setdefault(line.sku, PickRow(f"sku:{line.sku}", line.sku, name, bin_location, 0, 0))
            row.quantity += line.quantity_left
            row.order_count += 1
            row.orders.append(order.external_id)
        elif lines:
            rows = []
            for line in lines:
                name, bin_location = info(line)
                key = f"order:{order.id}:{line.id}"
                rows.append(PickRow(key, line.sku, name, bin_location, line.quantity_left, 1,
                                    int(picked.get(key, 0)), [order.external_id]))
            rows.sort(key=lambda r: _bin_key(r.bin_location, r.sku))
            groups.append(OrderGroup(order, rows))
    by_sku = sorted(singles.values(), key=lambda r: _bin_key(r.bin_location, r.sku))
    for row in by_sku:
        row.picked = int(picked.get(row.key, 0))
    groups.sort(key=lambda g: _bin_key(g.rows[0].bin_location, g.rows[0].sku))
    return PickSheet(by_sku, groups, skipped)


def open_orders(order_ids):
    return db.session.scalars(select(Order).where(Order.id.in_(order_ids), Order.open_to_ship.is_(True))
                              .order_by(Order.ship_by, Order.id)).all()


def due_today_ids():
    """Every open order due by the end of today (past due included): the day's wave."""
    clock = Clock.current()
    return list(db.session.scalars(select(Order.id).where(Order.open_to_ship.is_(True),
                                                          Order.fulfilment_mode != "FBO",
                                                          Order.ship_by < clock.today_end)
                                   .order_by(Order.ship_by, Order.id).limit(MAX_ORDERS + 1)))


def create(order_ids, user, name=""):
    order_ids = list(dict.fromkeys(int(i) for i in order_ids))
    if not order_ids:
        raise PickRefused("Choose at least one order to pick.")
    if len(order_ids) > MAX_ORDERS:
        raise PickRefused(f"That is more than {MAX_ORDERS} orders: make smaller waves.")
    orders = [o for o in open_orders(order_ids) if not o.is_read_only]
    if not orders:
        raise PickRefused("None of those orders is waiting to be shipped: nothing to pick.")
    pick_list = PickList(name=name[:120] or plural(len(orders), "order"), created_by=user, orders=orders, picked={})
    db.session.add(pick_list)
    return pick_list


def claim(pick_list, user, take_over=False):
    if pick_list.claimed_by_id not in (None, user.id) and not take_over:
        raise PickRefused(f"{pick_list.claimed_by.label} is picking this list. Take it over only if they "
                          "have stopped.")
    pick_list.claimed_by = user
    pick_list.claimed_at = utcnow()


def set_picked(pick_list, key, quantity, user):
    rows = {row.key: row for row in sheet(pick_list).rows}
    row = rows.get(key)
    if row is None:
        raise PickRefused("That line is no longer on the list (its order was shipped or cancelled).")
    if pick_list.claimed_by_id not in (None, user.id):
        raise PickRefused(f"{pick_list.claimed_by.label} is picking this list: claim it first.")
    if pick_list.claimed_by_id is None:
        claim(pick_list, user)
    picked = dict(pick_list.picked or {})
    picked[key] = row.picked = max(0, min(int(quantity), row.quantity))
    pick_list.picked = picked  # a new dict: the JSON column sees the change
    return row


def pick_scan(pick_list, code, user):
    """A scan on the pick list: one more of the first unfinished row of that SKU or barcode."""
    product = find_product(code)
    sku = product.sku if product is not None else (code or "").strip()
    rows = [row for row in sheet(pick_list).rows if row.sku == sku]
    for row in rows:
        if not row.done:
            return set_picked(pick_list, row.key, row.picked + 1, user), sku
    if rows:
        raise PickRefused(f"Every {sku} on this list is already picked: put this one back.")
    raise PickRefused(f"{code} is not on this pick list." + ("" if product else " No product has that barcode."))
