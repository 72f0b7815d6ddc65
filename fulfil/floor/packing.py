"""Scan-to-verify packing: each item scanned against the order's lines, loud on a mismatch.

Verified counts are the order's non-voided 'ok' scans, so two tablets at one order add
up instead of overwriting each other, and a supervisor can count mismatches per packer.
Status changes still go through fulfil.actions.perform (outbox included).
"""
from dataclasses import dataclass

from sqlalchemy import func, select, update

from fulfil.actions import Actor, perform
from fulfil.catalogue.service import find_product, products_by_sku, scan_forms
from fulfil.extensions import db
from fulfil.floor.models import PackScan
from fulfil.models import Event, SearchKey
from fulfil.status import allowed_actions
from fulfil.tracking import normalise
from fulfil.wording import plural

PACKABLE = ("new", "to_pack")  # an order the station may still verify and mark packed
OVERRIDE_ROLES = ("supervisor", "admin")


class PackRefused(Exception):
    """The station cannot do that now; the message says why and what to do."""


@dataclass
class LineCheck:
    line: object
    product: object
    expected: int
    verified: int

    @property
    def done(self):
        return self.verified >= self.expected

    @property
    def bin_location(self):
        return self.product.bin_location if self.product is not None else ""


@dataclass
class PackState:
    order: object
    lines: list
    mismatches: int

    @property
    def expected(self):
        return sum(c.expected for c in self.lines)

    @property
    def verified(self):
        return sum(min(c.verified, c.expected) for c in self.lines)

    @property
    def complete(self):
        return all(c.done for c in self.lines)

    @property
    def packable(self):
        return self.order.status in PACKABLE and not self.order.is_read_only


@dataclass(frozen=True)
class ScanOutcome:
    kind: str  # ok | wrong | extra | unknown | done
    message: str
    order_url_id: int | None = None  # another order's slip was scanned: offer to open it

    @property
    def is_error(self):
        return self.kind not in ("ok", "done")


def state(order):
    counts = dict(db.session.execute(
        select(PackScan.order_line_id, func.count()).where(
            PackScan.order_id == order.id, PackScan.result == "ok", PackScan.voided.is_(False))
        .group_by(PackScan.order_line_id)).all())
    mismatches = db.session.scalar(select(func.count()).select_from(PackScan).where(
        PackScan.order_id == order.id, PackScan.result != "ok", PackScan.voided.is_(False)))
    products = products_by_sku(line.sku for line in order.lines)
    lines = [LineCheck(line, products.get(line.sku), line.quantity_left, counts.get(line.id, 0))
             for line in order.lines if line.quantity_left > 0]
    return PackState(order, lines, mismatches)


def _line_matches(check, forms, product):
    line = check.line
    if line.sku and (line.sku in forms or line.sku.lower() in {f.lower() for f in forms}):
        return True
    if line.item_id and line.item_id in forms:
        return True
    return product is not None and product.sku == line.sku


def record_scan(order, code, user):
    """Check one scanned code against the order; adds a PackScan, returns a ScanOutcome."""
    code = (code or "").strip()[:120]
    if not code:
        return ScanOutcome("unknown", "Nothing was scanned: scan the item's barcode or type its SKU.")
    current = state(order)
    if not current.packable:
        raise PackRefused(f"This order is {order.status.replace('_', ' ')}: there is nothing to verify.")
    forms = scan_forms(code)
    product = find_product(code)
    matching = [c for c in current.lines if _line_matches(c, forms, product)]
    open_line = next((c for c in matching if not c.done), None)
    if open_line is not None:
        _add(order, open_line.line, user, code, "ok")
        open_line.verified += 1
        what = (open_line.product.name if open_line.product is not None and open_line.product.name
                else open_line.line.name or open_line.line.sku)
        left = current.expected - current.verified
        tail = "Every item is verified: mark it packed." if left == 0 else f"{left} more to scan."
        return ScanOutcome("ok", f"✓ {what}: {open_line.verified} of {open_line.expected}. {tail}")
    if matching:
        _add(order, matching[0].line, user, code, "extra")
        c = matching[0]
        return ScanOutcome("extra", f"EXTRA ITEM: all {c.expected} × {c.line.sku} are already verified. "
                                    "Take this one out of the parcel.")
    if product is not None:
        _add(order, None, user, code, "wrong")
        return ScanOutcome("wrong", f"WRONG ITEM: {product.sku} {product.name} is not on this order. "
                                    "Take it out of the parcel and put it back"
                                    + (f" in bin {product.bin_location}." if product.bin_location else "."))
    other = _other_order(code, order)
    _add(order, None, user, code, "unknown")
    if other is not None:
        return ScanOutcome("unknown", f"That is the slip of another order ({code}), not an item of this one.",
                           order_url_id=other)
    return ScanOutcome("unknown", f"UNKNOWN BARCODE {code}: no product in the catalogue has it and no line "
                                  "of this order has that SKU. Check the item, or ask for it to be added "
                                  "to the catalogue.")


def _other_order(code, order):
    keys = {code.lower(), normalise(code).lower()} - {""}
    return db.session.scalar(select(SearchKey.order_id).where(SearchKey.key.in_(keys),
                                                              SearchKey.order_id != order.id).limit(1))


def _add(order, line, user, code, result):
    db.session.add(PackScan(order_id=order.id, order_line_id=line.id if line is not None else None,
                            user_id=user.id if user is not None else None, code=code, result=result))


def start_over(order, user):
    """Void the order's scans (the parcel was emptied to count again); audited."""
    db.session.execute(update(PackScan).where(PackScan.order_id == order.id, PackScan.voided.is_(False))
                       .values(voided=True))
    db.session.add(Event(order=order, user=user, actor=user.label, source="ui", action="verify_reset",
                         old_value=order.status, new_value=order.status,
                         note="Scans cleared to verify the parcel again."))


def mark_packed(order, user, expected_version, override_reason=None):
    """Mark the order packed once every line is verified, or with a supervisor's reason.

    An order still 'new' is acknowledged first: the marketplace must accept it before a
    pack or a ship. Returns the outbox entries written.
    """
    current = state(order)
    if not current.packable:
        raise PackRefused("This order cannot be packed now: it is no longer waiting to be packed.")
    reason = (override_reason or "").strip()
    if not current.complete:
        if user.role not in OVERRIDE_ROLES:
            raise PackRefused(f"{current.verified} of {plural(current.expected, 'item')} verified: scan the rest, "
                              "or ask a supervisor to override.")
        if not reason:
            raise PackRefused("Say why the parcel goes without every item verified (the override is audited).")
    actor = Actor(user)
    entries = []
    if order.status == "new":
        entries += perform(order, "acknowledge", actor, expected_version=expected_version)
        expected_version = None  # acknowledge bumped the version within this same request
    if current.complete:
        note = (f"All {plural(current.expected, 'item')} verified by scan" if current.expected != 1 else "The item verified by scan")
        action = "verified"
    else:
        note = f"Override: {current.verified} of {current.expected} verified. Reason: {reason[:500]}"
        action = "verify_override"
    db.session.add(Event(order=order, user=user, actor=user.label, source="ui", action=action,
                         old_value=order.status, new_value=order.status, note=note))
    if "pack" in allowed_actions(order):
        entries += perform(order, "pack", actor, expected_version=expected_version)
    return entries
