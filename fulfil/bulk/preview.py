"""Check every row of an upload against the orders without changing anything.

Each row gets a verdict — ship, update (tracking), same (already so) or error with the
reason — by the same rules `fulfil.actions.perform` applies (fulfil.status decides what
is allowed, fulfil.tracking checks numbers, the marketplace modules name the carriers they
take). The preview and the apply both run `check_rows`: the apply re-checks against the
orders as they are then, and `perform` checks once more as it changes each order.

Orders, their lines and packages and the tracking numbers already in use are loaded in
batches (fulfil.bulk.lookup), never one query per row.
"""
import gc
import re
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time

from fulfil import marketplaces, tracking
from fulfil.bulk.lookup import find_orders, load_order_facts, lookup_key, numbers_in_use
from fulfil.bulk.models import Upload
from fulfil.bulk.parsing import carrier_from_text, mapping_complete
from fulfil.extensions import db
from fulfil.status import ActionNotAllowed, check_action
from fulfil.timeutil import local_zone, to_utc_naive, utcnow

VERDICTS = {"ship": "Will ship", "update": "Will update tracking", "same": "Already so",
            "error": "Error"}
GOOD = frozenset({"ship", "update"})
# Excel shows long numbers as 9.40011E+21 and, once saved, keeps only 15 digits of them.
# Always with "E+": a real order id such as Wish's hex "5123E4567..." has no plus sign.
_SCIENTIFIC = re.compile(r"^\d+([.,]\d+)?E\+\d+$", re.IGNORECASE)
_DATE_FORMATS = ("%d.%m.%Y", "%d.%m.%y", "%m/%d/%Y", "%Y/%m/%d", "%d/%m/%Y")


@dataclass(eq=False)
class Row:
    """One data row of an upload, as the checks see it."""
    index: int  # position among the upload's data rows
    line: int  # row number as the seller sees it in the file
    order_key: str = ""
    carrier_text: str = ""
    number_text: str = ""
    url: str = ""
    sku: str = ""
    quantity_text: str = ""
    ship_date_text: str = ""
    # What the checks found:
    verdict: str | None = None
    reason: str | None = None
    carrier: str | None = None
    detected: bool = False  # carrier taken from the number's format
    number: str = ""
    quantity: int | None = None
    shipped_at: datetime | None = None
    order: object = None  # an Order, or its OrderFacts in a preview
    order_line: object = None
    shipment: object = None  # the package an 'update' or 'same' row is about
    acknowledge: bool = False  # acknowledge the order before shipping it

    def fail(self, reason):
        if self.verdict != "error":  # the first problem found is the one to fix first
            self.verdict, self.reason = "error", reason

    def settle(self, verdict, reason):
        if self.verdict is None:
            self.verdict, self.reason = verdict, reason

    def as_json(self):
        order = self.order
        return {"verdict": self.verdict, "reason": self.reason,
                "order_id": order.id if order else None,
                "order": order.external_id if order else None,
                "marketplace": order.marketplace if order else None,
                "carrier": self.carrier, "detected": self.detected, "number": self.number,
                "acknowledge": self.acknowledge}


def rows_from(upload):
    """The upload's data rows as Rows, read through its column mapping."""
    def cell(cells, name):
        index = upload.mapping.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    return [Row(index=i, line=raw["line"], order_key=cell(raw["cells"], "order"),
                carrier_text=cell(raw["cells"], "carrier"), number_text=cell(raw["cells"], "tracking"),
                url=cell(raw["cells"], "tracking_url"), sku=cell(raw["cells"], "sku"),
                quantity_text=cell(raw["cells"], "quantity"),
                ship_date_text=cell(raw["cells"], "ship_date"))
            for i, raw in enumerate(upload.data_rows)]


def receive(sheet, user, filename=""):
    """Store what was read as a new upload, checked at once when its headers named the
    columns; a guess from the values waits for the seller to confirm it."""
    upload = Upload(user=user, filename=filename, encoding=sheet.encoding, delimiter=sheet.delimiter,
                    rows=sheet.rows, row_count=len(sheet.rows) - sheet.has_header,
                    has_header=sheet.has_header, mapping=sheet.mapping, state="mapping")
    db.session.add(upload)
    if sheet.recognised and mapping_complete(sheet.mapping):
        preview(upload)
    return upload


@contextmanager
def gc_paused():
    """Checking 10,000 rows builds some 100,000 objects at once, and Python's cycle
    collector would walk all of them again and again meanwhile (a third of the time).
    Nothing here needs it: pause it for the batch, it resumes on its own afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def preview(upload):
    """Check every row and store the verdicts on the upload (not committed)."""
    rows = rows_from(upload)
    with gc_paused():
        check_rows(rows, upload.acknowledge, load=load_order_facts)
    upload.verdicts = [row.as_json() for row in rows]
    upload.row_count, upload.state = len(rows), "preview"
    return rows


def check_rows(rows, acknowledge, load):
    """Give every row a verdict. `acknowledge`: new orders may be acknowledged and shipped.

    `load` reads the orders: lookup.load_orders for Orders that actions.perform can
    change, lookup.load_order_facts when nothing will change.
    """
    for row in rows:
        _check_cells(row)
    orders = find_orders((row.order_key for row in rows if row.verdict is None), load)
    by_order = defaultdict(list)
    for row in rows:
        if row.verdict is not None:
            continue
        matches = orders.get(lookup_key(row.order_key), [])
        if not matches:
            row.fail(f"Order {row.order_key} not found: check the number (Ozon posting number, "
                     "Walmart PO#, Wish order id).")
        elif len(matches) > 1:
            row.fail(f"{row.order_key} matches {len(matches)} orders "
                     f"({', '.join(o.external_id for o in matches[:5])}): use the posting number or "
                     "PO# of the one you shipped.")
        else:
            row.order = matches[0]
            by_order[row.order].append(row)
    _check_numbers_across_orders(rows)
    in_use = numbers_in_use({row.number for row in rows if row.verdict is None})
    for order, order_rows in by_order.items():
        _check_order(order, [r for r in order_rows if r.verdict is None], acknowledge, in_use)
    return rows


def counts(verdicts):
    tally = dict.fromkeys(VERDICTS, 0)
    for verdict in verdicts:
        tally[verdict["verdict"]] += 1
    return tally


# -- one row on its own -----------------------------------------------------------------

def _check_cells(row):
    if not row.order_key:
        return row.fail("No order number in this row.")
    if not row.number_text:
        return row.fail("No tracking number in this row.")
    for what, value in (("order number", row.order_key), ("tracking number", row.number_text)):
        if _SCIENTIFIC.match(value):
            return row.fail(f"Excel turned the {what} into {value} and lost its last digits: format "
                            "that column as Text, type the numbers again and upload again.")
    given = None
    if row.carrier_text:
        given = carrier_from_text(row.carrier_text)
        if given is None:
            known = ", ".join(c.label for c in tracking.CARRIERS.values())
            return row.fail(f"Carrier “{row.carrier_text}” is not one we know: write one of {known}.")
    result = tracking.check(row.number_text, given)
    row.number, row.carrier, row.detected = result.number, result.carrier, given is None
    if not result.ok:
        return row.fail(result.error)
    if tracking.url_problem(row.url):
        return row.fail(f"Tracking URL “{row.url[:80]}”: {tracking.url_problem(row.url)}")
    if row.quantity_text:
        row.quantity = _whole_number(row.quantity_text)
        if row.quantity is None or row.quantity < 1:
            return row.fail(f"Quantity “{row.quantity_text}” is not a whole number of 1 or more.")
    if row.ship_date_text:
        shipped_at = _ship_time(row.ship_date_text)
        if shipped_at is None:
            return row.fail(f"Ship date “{row.ship_date_text}” is not a date we can read: write it "
                            "as 2025-03-31 or 31.03.2025.")
        if shipped_at > utcnow():
            return row.fail(f"Ship date {row.ship_date_text} is in the future.")
        row.shipped_at = shipped_at


def _whole_number(text):
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _ship_time(text):
    """Naive UTC. A day without a time means midday in the seller's time zone that day —
    or now, when that day is today."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
        for fmt in _DATE_FORMATS:
            try:
                value = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if value is None or value.year < 2000:
        return None
    zone = local_zone()
    if value.time() != time.min or len(text) > 10:
        return to_utc_naive(value.replace(tzinfo=value.tzinfo or zone))
    if value.date() == datetime.now(zone).date():
        return utcnow()
    return to_utc_naive(datetime.combine(value.date(), time(12), tzinfo=zone))


# -- rows against each other and against their order ---------------------------------------

def _check_numbers_across_orders(rows):
    """One package belongs to one order: a number given for two orders is wrong on both
    rows (which one is right only the seller knows)."""
    orders_by_number = defaultdict(dict)
    for row in rows:
        if row.verdict is None:
            orders_by_number[row.number].setdefault(row.order.id, []).append(row)
    for number, by_order in orders_by_number.items():
        if len(by_order) > 1:
            clashing = [row for order_rows in by_order.values() for row in order_rows]
            lines = ", ".join(str(row.line) for row in sorted(clashing, key=lambda r: r.line))
            for row in clashing:
                row.fail(f"The same tracking number {number} is on rows {lines} for different "
                         "orders: a package belongs to one order.")


class _AsIf:
    """The order as if it had another status: asks fulfil.status "allowed after that step?"."""

    def __init__(self, order, status):
        self._order, self.status = order, status

    def __getattr__(self, name):
        return getattr(self._order, name)


def _allowed(order, action):
    try:
        check_action(order, action)
        return True
    except ActionNotAllowed:
        return False


def _why_not_ship(order, acknowledge):
    """(acknowledge first?, reason shipping is not possible or None)."""
    try:
        check_action(order, "ship")
        return False, None
    except ActionNotAllowed as exc:
        reason = str(exc)
    label = order.account.marketplace_label
    if order.status == "new" and _allowed(order, "acknowledge") and _allowed(_AsIf(order, "to_pack"), "ship"):
        if acknowledge:
            return True, None
        return False, (f"Not acknowledged yet: {label} ships acknowledged orders only. Tick "
                       "“Acknowledge new orders too” to acknowledge and ship in one go.")
    if order.status in ("new", "to_pack") and _allowed(_AsIf(order, "ready"), "ship"):
        return False, f"{label} takes a tracking number once the order is packed: mark it packed first."
    return False, reason


def _find_line(order, sku):
    wanted = sku.strip().lower()
    for attribute in ("sku", "line_number", "item_id"):
        for line in order.lines:
            if (getattr(line, attribute) or "").lower() == wanted:
                return line
    return None


def _check_order(order, rows, acknowledge, in_use):
    if order.is_read_only:
        return _fail_all(rows, order.read_only_reason)
    if order.status == "cancelled":
        return _fail_all(rows, f"Order {order.external_id} is cancelled: nothing to ship.")
    label = order.account.marketplace_label
    packages = {s.tracking_number: s for s in order.shipments}
    new_rows = []
    for row in rows:
        elsewhere = [ext for order_id, ext in in_use.get(row.number, {}).items() if order_id != order.id]
        if elsewhere:
            row.fail(f"{row.number} is already the tracking number of order {elsewhere[0]}.")
        elif marketplaces.carrier_name(order.marketplace, row.carrier) is None:
            row.fail(f"{label} does not accept {_carrier_label(row.carrier)} as a carrier: "
                     "choose another carrier.")
        elif row.carrier == "other" and order.marketplace == "walmart" and not row.url:
            row.fail("Walmart needs a tracking page address (URL) for a carrier outside its list: "
                     "add a tracking URL column.")
        elif row.sku and _find_line(order, row.sku) is None:
            skus = ", ".join(line.sku or line.line_number for line in order.lines)
            row.fail(f"{row.sku} is not on order {order.external_id} (it has {skus}).")
        elif row.quantity and not row.sku and len(order.lines) > 1:
            row.fail("Say which line the quantity is for: add a SKU column.")
        elif row.number in packages:
            _settle_known_number(row, packages[row.number], order)
        else:
            # A quantity without a SKU is for the order's only line.
            row.order_line = _find_line(order, row.sku) if row.sku else (
                order.lines[0] if row.quantity else None)
            new_rows.append(row)
    if not new_rows:
        return
    if any(line.quantity_left for line in order.lines):
        _plan_packages(order, new_rows, acknowledge)
    else:
        _plan_updates(order, new_rows, rows)


def _fail_all(rows, reason):
    for row in rows:
        row.fail(reason)


def _settle_known_number(row, package, order):
    """The number is already on this order: nothing to do, unless the carrier is corrected."""
    row.shipment = package
    if row.detected or package.carrier == row.carrier:
        row.settle("same", f"Already on order {order.external_id}.")
    elif _allowed(order, "update_tracking"):
        row.settle("update", f"Carrier {_carrier_label(package.carrier)} → {_carrier_label(row.carrier)}.")
    else:
        row.fail(_reason(order, "update_tracking"))


def _carrier_label(code):
    carrier = tracking.CARRIERS.get(code)
    return carrier.label if carrier else (code or "none")


def _reason(order, action):
    try:
        check_action(order, action)
    except ActionNotAllowed as exc:
        return str(exc)
    return None


def _plan_packages(order, rows, acknowledge):
    """Rows with new numbers on an order with something left to ship: one package per
    number, carrying the rows' lines (or everything left), checked the way _ship does."""
    acknowledge_first, why_not = _why_not_ship(order, acknowledge)
    if why_not:
        return _fail_all(rows, why_not)
    by_number = defaultdict(list)
    for row in rows:
        by_number[row.number].append(row)
    label = order.account.marketplace_label
    if len(by_number) > 1 and not marketplaces.module_for(order.marketplace).MULTI_PACKAGE:
        lines = ", ".join(str(row.line) for row in rows)
        return _fail_all(rows, f"{label} takes one tracking number per order, and rows {lines} give "
                               f"{len(by_number)} different ones: keep one.")
    left = {line.id: line.quantity_left for line in order.lines}
    for package_rows in by_number.values():
        first = package_rows[0]
        for row in package_rows:
            if row is not first and (row.order_line is None or first.order_line is None):
                row.fail(f"Row {first.line} already gives this tracking number for this order: one "
                         "row per line of a package, each with its SKU.")
            elif row.order_line is None:
                carried = {line_id: qty for line_id, qty in left.items() if qty}
                if not carried:
                    row.fail(f"Nothing left to ship on order {order.external_id}: the rows above "
                             "already ship everything.")
                left.update(dict.fromkeys(carried, 0))
            else:
                line = row.order_line
                quantity = row.quantity or left[line.id]
                name = line.sku or line.name
                if left[line.id] == 0:
                    row.fail(f"Nothing left to ship of {name} on order {order.external_id}.")
                elif quantity > left[line.id]:
                    row.fail(f"Quantity {quantity} is more than the {left[line.id]} left to ship of {name}.")
                else:
                    row.quantity = quantity
                    left[line.id] -= quantity
            row.acknowledge = acknowledge_first
            row.settle("ship", "Acknowledge, then ship." if acknowledge_first else None)


def _plan_updates(order, rows, all_rows):
    """Rows with new numbers on an order with nothing left to ship: each replaces the
    number of one package — the only one, or the one carrying the row's SKU."""
    why_not = _reason(order, "update_tracking")
    if why_not:
        return _fail_all(rows, why_not)
    claimed = {row.shipment.id: row.line for row in all_rows if row.shipment is not None}
    for row in rows:
        package = _package_for(order, row)
        if package is None:
            numbers = ", ".join(s.tracking_number for s in order.shipments)
            row.fail(f"Order {order.external_id} has {len(order.shipments)} packages ({numbers}): "
                     "add a SKU column to say which package this number replaces.")
        elif package.id in claimed:
            row.fail(f"Row {claimed[package.id]} already gives the tracking number of this package.")
        else:
            claimed[package.id] = row.line
            row.shipment = package
            row.settle("update", f"Replaces {package.tracking_number}.")


def _package_for(order, row):
    if len(order.shipments) == 1:
        return order.shipments[0]
    if row.order_line is None:
        return None
    carrying = [s for s in order.shipments if any(sl.order_line_id == row.order_line.id for sl in s.lines)]
    return carrying[0] if len(carrying) == 1 else None
