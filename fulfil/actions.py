"""Order actions: the one place where an order changes hands.

Every change (from a tablet, a bulk upload or the importer) goes through `perform`, which
checks the action is allowed (fulfil.status), validates the input, applies the change,
writes an audit Event and — when the marketplace must learn it — an OutboxEntry. It adds
to the session and never commits: the caller commits once, so all three land together.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from fulfil import marketplaces, tracking
from fulfil.extensions import db
from fulfil.marketplaces.base import CancelReason, MarketplaceError
from fulfil.models import Event, Shipment, ShipmentLine
from fulfil.outbox import record
from fulfil.search import index_order
from fulfil.status import ACTIONS, STATUS_LABELS, check_action, status_effects
from fulfil.timeutil import utcnow

CANCEL_REASONS = {
    "out_of_stock": "Out of stock",
    "buyer_request": "The buyer asked to cancel",
    "cannot_ship": "Cannot ship to this address",
    "pricing_error": "Pricing error",
    "other": "Other reason",
}
FULFIL_CANCEL_REASONS = tuple(CancelReason(code, label, needs_note=code == "other")
                              for code, label in CANCEL_REASONS.items())

# A dispute's answer-by time: one a little in the past (a dispute recorded late) up to a
# year ahead. Anything else is a typo in the year (9999, 2205, 0025).
DEADLINE_PAST, DEADLINE_AHEAD = timedelta(days=30), timedelta(days=365)
DEADLINE_RANGE = ("Enter an answer-by time between 30 days ago and a year from now: "
                  "check the year.")


class InvalidInput(Exception):
    """Input a person must correct; `errors` maps a field name to a message."""

    def __init__(self, errors):
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        super().__init__("; ".join(self.errors.values()))


class Conflict(Exception):
    """The order changed since the person loaded it (another tablet saved first)."""

    def __init__(self, order):
        self.order = order
        super().__init__("This order was changed by someone else while you were working on it.")


@dataclass
class Package:
    """One package to ship: carrier + tracking number, and the lines it carries.

    `lines` maps OrderLine.id -> quantity; empty means "everything still left to ship".
    """
    carrier: str | None
    tracking_number: str
    tracking_url: str | None = None
    lines: dict = field(default_factory=dict)


@dataclass
class Actor:
    user: object = None
    source: str = "ui"  # ui | bulk | marketplace | system
    upload_id: int | None = None

    @property
    def name(self):
        return self.user.label if self.user is not None else self.source


def perform(order, action_name, actor, expected_version=None, **params):
    """Apply `action_name` to `order`. Raises ActionNotAllowed, InvalidInput or Conflict."""
    if expected_version is not None and int(expected_version) != order.version:
        raise Conflict(order)
    action = check_action(order, action_name)
    handler = _HANDLERS[action_name]
    old_status = order.status
    pushed = marketplaces.is_pushed(order, action_name)  # decided on the order as it was
    note, payloads = handler(order, actor, **params)
    if action.to_status and (action_name != "ship" or _all_shipped(order)):
        _set_status(order, action.to_status)
    _audit(order, actor, action_name, old_status, order.status, note)
    if action_name == "ship":
        from fulfil.stock.service import apply_orders  # (imported here: stock imports the models)
        apply_orders([order.id], actor)  # the packages' units leave the shelf
    entries = []
    if pushed:
        entries = [record(order, action_name, payload, actor.user) for payload in payloads]
    order.updated_at = utcnow()  # every action bumps the order's version (optimistic lock)
    index_order(order)
    return entries


def _set_status(order, status):
    for name, value in status_effects(status, order.shipped_at, order.delivered_at).items():
        setattr(order, name, value)


def _audit(order, actor, action, old, new, note):
    db.session.add(Event(order=order, user=actor.user, actor=actor.name, source=actor.source,
                         action=action, old_value=STATUS_LABELS.get(old, old),
                         new_value=STATUS_LABELS.get(new, new), note=note,
                         upload_id=actor.upload_id))


def _line_payload(line, quantity):
    return {"line_number": line.line_number, "item_id": line.item_id, "sku": line.sku,
            "quantity": quantity}


def _all_shipped(order):
    return all(line.quantity_left == 0 for line in order.lines)


# -- handlers: validate, change, return (audit note, [outbox payloads]) ----------------

def _acknowledge(order, actor):
    return None, [{"external_id": order.external_id}]


def _pack(order, actor):
    lines = [_line_payload(line, line.quantity) for line in order.lines]
    return None, [{"external_id": order.external_id, "packages": [{"lines": lines}]}]


def check_tracking(order, carrier, tracking_number, tracking_url=None, shipment=None):
    """Validate one package's carrier and number for this order's marketplace.

    Returns (TrackingCheck, carrier name the marketplace accepts); raises InvalidInput.
    """
    result = tracking.check(tracking_number, carrier or None)
    if not result.ok:
        raise InvalidInput({"tracking_number": result.error})
    if tracking.url_problem(tracking_url):
        raise InvalidInput({"tracking_url": tracking.url_problem(tracking_url)})
    name = marketplaces.carrier_name(order.marketplace, result.carrier)
    if name is None:
        label = tracking.CARRIERS[result.carrier].label
        raise InvalidInput({"carrier": f"{order.account.marketplace_label} does not accept {label} "
                                       "as a carrier: choose another carrier."})
    if result.carrier == "other" and order.marketplace == "walmart" and not tracking_url:
        raise InvalidInput({"tracking_url": "Walmart needs a tracking page address (URL) "
                                            "for a carrier outside its list."})
    taken = db.session.scalar(
        db.select(Shipment).where(Shipment.tracking_number == result.number,
                                  Shipment.order_id != order.id).limit(1))
    if taken is not None:
        raise InvalidInput({"tracking_number": f"{result.number} is already the tracking number "
                                               f"of order {taken.order.external_id}."})
    same_order = [s for s in order.shipments if s.tracking_number == result.number and s is not shipment]
    if same_order:
        raise InvalidInput({"tracking_number": f"{result.number} is already on this order."})
    return result, name


def _ship(order, actor, packages, shipped_at=None, method_code="Standard"):
    if not packages:
        raise InvalidInput({"": "Add at least one package with a tracking number."})
    module = marketplaces.module_for(order.marketplace)
    if len(packages) > 1 and not module.MULTI_PACKAGE:
        raise InvalidInput({"": f"{order.account.marketplace_label} takes one tracking number per "
                                "order: ship it as one package."})
    shipped_at = shipped_at or utcnow()
    lines_by_id = {line.id: line for line in order.lines}
    left = {line.id: line.quantity_left for line in order.lines}
    payloads, notes, seen = [], [], set()
    for index, package in enumerate(packages, start=1):
        where = f"Package {index}: " if len(packages) > 1 else ""
        try:
            result, name = check_tracking(order, package.carrier, package.tracking_number,
                                          package.tracking_url)
        except InvalidInput as exc:
            raise InvalidInput({k: where + v for k, v in exc.errors.items()})
        if result.number in seen:
            raise InvalidInput({"tracking_number": f"{where}{result.number} is used for two packages."})
        seen.add(result.number)
        wanted = package.lines or {line_id: qty for line_id, qty in left.items() if qty > 0}
        carried = {}
        for line_id, quantity in wanted.items():
            line = lines_by_id.get(int(line_id))
            quantity = int(quantity or 0)
            if line is None:
                raise InvalidInput({"": f"{where}line {line_id} is not on this order."})
            if quantity < 0 or quantity > left[line.id]:
                raise InvalidInput({"": f"{where}{line.sku or line.name}: {quantity} is more than the "
                                        f"{left[line.id]} left to ship."})
            if quantity:
                carried[line] = quantity
                left[line.id] -= quantity
        if not carried:
            raise InvalidInput({"": f"{where}the package carries nothing: every line is already shipped."})
        url = package.tracking_url or tracking.tracking_url(result.carrier, result.number)
        shipment = Shipment(order=order, carrier=result.carrier, carrier_name=name,
                            tracking_number=result.number, tracking_url=url, shipped_at=shipped_at,
                            shipment_ref=order.external_id if not module.MULTI_PACKAGE else None)
        for line, quantity in carried.items():
            shipment.lines.append(ShipmentLine(order_line=line, quantity=quantity))
        db.session.add(shipment)
        db.session.flush()
        payloads.append({
            "external_id": order.external_id, "shipment_id": shipment.id,
            "carrier": result.carrier, "carrier_name": name, "tracking_number": result.number,
            "tracking_url": url, "shipped_at": shipped_at.isoformat() + "Z",
            "method_code": method_code,
            "lines": [_line_payload(line, qty) for line, qty in carried.items()],
            "delivery_scheme": order.delivery_scheme,
        })
        notes.append(f"{tracking.CARRIERS[result.carrier].label} {result.number}")
    return "Shipped: " + ", ".join(notes), payloads


def _update_tracking(order, actor, shipment_id, carrier, tracking_number, tracking_url=None):
    shipment = next((s for s in order.shipments if s.id == int(shipment_id)), None)
    if shipment is None:
        raise InvalidInput({"": "That package is not on this order."})
    result, name = check_tracking(order, carrier, tracking_number, tracking_url, shipment=shipment)
    if result.number == shipment.tracking_number and result.carrier == shipment.carrier:
        raise InvalidInput({"tracking_number": "That is already the tracking number of this package."})
    old = shipment.tracking_number
    shipment.carrier, shipment.carrier_name, shipment.tracking_number = result.carrier, name, result.number
    shipment.tracking_url = tracking_url or tracking.tracking_url(result.carrier, result.number)
    payload = {
        "external_id": order.external_id, "shipment_id": shipment.id, "carrier": result.carrier,
        "carrier_name": name, "tracking_number": result.number, "tracking_url": shipment.tracking_url,
        "shipped_at": (shipment.shipped_at or utcnow()).isoformat() + "Z", "method_code": "Standard",
        "old_tracking_number": old,
        "lines": [_line_payload(sl.order_line, sl.quantity) for sl in shipment.lines],
    }
    return f"Tracking {old} → {result.number}", [payload]


def _deliver(order, actor):
    now = utcnow()
    for shipment in order.shipments:
        shipment.delivered_at = shipment.delivered_at or now
    return None, [{"external_id": order.external_id}]


def cancel_reasons(order):
    """The reasons to offer for cancelling `order` -> (reasons, problem or None).

    Where the marketplace lists its own reasons per order (Ozon), those — asked now;
    should it not answer, fulfil's, with `problem` saying so (the adapter then picks the
    marketplace's reason of the same meaning when it sends the cancel)."""
    label = order.account.marketplace_label
    try:
        remote = marketplaces.cancel_reasons(order)
    except MarketplaceError as exc:
        return FULFIL_CANCEL_REASONS, (f"{label} did not list its cancel reasons for this order "
                                       f"({exc.message}): fulfil's reasons are shown, and the closest "
                                       f"of {label}'s is sent.")
    if remote is None:
        return FULFIL_CANCEL_REASONS, None
    if not remote:
        return (), f"{label} allows no cancellation of this order now."
    return tuple(remote), None


def _cancel(order, actor, reason_code, note="", reasons=FULFIL_CANCEL_REASONS):
    """`reasons`: what the person was offered (cancel_reasons); the chosen one must be among them."""
    chosen = next((r for r in reasons if r.code == reason_code), None)
    if chosen is None:
        raise InvalidInput({"reason_code": "That reason is no longer offered for this order: choose "
                                           "one of those shown." if reason_code else
                                           "Choose why the order is cancelled."})
    note = (note or "").strip()
    if chosen.needs_note and not note:
        raise InvalidInput({"note": "Say why the order is cancelled."})
    reason = chosen.label + (f": {note}" if note else "")
    order.cancel_reason = reason
    lines = [_line_payload(line, line.quantity_left) for line in order.lines if line.quantity_left]
    payload = {"external_id": order.external_id, "reason_code": reason_code, "reason": reason, "lines": lines}
    if chosen.remote_id is not None:
        payload["cancel_reason_id"] = chosen.remote_id
    return reason, [payload]


def check_deadline(deadline, now=None):
    """A dispute's answer-by time (naive UTC) is None or within the range above."""
    now = now or utcnow()
    if deadline is not None and not now - DEADLINE_PAST <= deadline <= now + DEADLINE_AHEAD:
        raise InvalidInput({"deadline": DEADLINE_RANGE})


def _open_dispute(order, actor, note, deadline=None):
    """Kept in fulfil; where the marketplace takes disputes for the order (an Ozon posting
    not accepted at the sorting centre), also filed there: the order is then in dispute."""
    if not (note or "").strip():
        raise InvalidInput({"note": "Describe the dispute: what the buyer or marketplace says."})
    check_deadline(deadline)
    if marketplaces.is_pushed(order, "open_dispute"):
        _set_status(order, "dispute")
    order.dispute_open = True
    order.dispute_note = note.strip()
    order.dispute_deadline = deadline
    return note.strip(), [{"external_id": order.external_id, "reason": note.strip()}]


def _hand_on(order, actor):
    """The disputed parcel is handed over again: the dispute ends here."""
    order.dispute_open = False
    order.dispute_deadline = None
    return "Handed over again: the parcel waits for shipment", [{"external_id": order.external_id}]


def _close_dispute(order, actor, note=""):
    order.dispute_open = False
    order.dispute_deadline = None
    return (note or "").strip() or None, []


_HANDLERS = {
    "acknowledge": _acknowledge,
    "pack": _pack,
    "ship": _ship,
    "update_tracking": _update_tracking,
    "deliver": _deliver,
    "cancel": _cancel,
    "open_dispute": _open_dispute,
    "close_dispute": _close_dispute,
    "hand_on": _hand_on,
}
assert set(_HANDLERS) == set(ACTIONS)
