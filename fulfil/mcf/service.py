"""Amazon MCF as a channel: send an order to Amazon, follow it, pass Amazon's tracking on.

The one place that decides whether an order may go to Amazon (`why_not_send`), builds
Amazon's request from the order, records the create in the outbox (so it is sent, retried
and read back like every other change) and turns what Amazon says into fulfil's terms:
packages shipped → the ordinary "ship" action towards the marketplace that sold the order;
Unfulfillable/Invalid → a sync problem in Amazon's words and the order back in the queue.
Like fulfil.actions it adds to the session and never commits.
"""
import hashlib
import logging

from fulfil import marketplaces, tracking
from fulfil.actions import Actor, InvalidInput, Package, perform
from fulfil.extensions import db
from fulfil.marketplaces.amazon_mcf import CANCELLABLE, SHIPPING_SPEEDS, STATUS_LABELS
from fulfil.mcf.models import McfOrder, McfSku
from fulfil.models import Event, ImportProblem, MarketplaceAccount, OutboxEntry
from fulfil.outbox import record
from fulfil.status import ActionNotAllowed, allowed_actions, is_open
from fulfil.timeutil import utcnow

log = logging.getLogger(__name__)

KIND = "amazon_mcf"
# sellerFulfillmentOrderId = prefix + the marketplace's order id (+ "-2", "-3" when sent again).
ID_PREFIX = {"walmart": "WM", "wish": "WI", "ozon": "OZ"}
# Amazon's own descriptions (Fulfillment Outbound model, FulfillmentOrderStatus).
AMAZON_SAYS = {
    "Unfulfillable": "No item quantities in the fulfillment order could be fulfilled because the Amazon "
                     "fulfillment center workers found no inventory for those items or found no inventory "
                     "that was in sellable (undamaged) condition.",
    "Invalid": "The fulfillment order was received but could not be validated. The reasons for this include "
               "an invalid destination address or Amazon's records indicating that the seller does not have "
               "enough sellable inventory to fulfill the order.",
    "CompletePartialled": "Some item quantities in the fulfillment order were fulfilled; the rest were either "
                          "cancelled or unfulfillable.",
}
# The SOP's workaround, offered only as an explicit, warned choice.
PLACEHOLDER_CARRIER, PLACEHOLDER_TRACKING = "usps", "12345"


class NotSendable(InvalidInput):
    """The order cannot go to Amazon now; the message says why."""


def mcf_accounts():
    return db.session.scalars(db.select(MarketplaceAccount).where(
        MarketplaceAccount.kind == KIND, MarketplaceAccount.enabled).order_by(MarketplaceAccount.name)).all()


def third_party_rule(order):
    """None when the selling marketplace lets a third party fulfil this order, else why not."""
    if order.marketplace == "ozon":
        if order.fulfilment_mode == "rFBS":
            return None
        return (f"Ozon {order.fulfilment_mode} orders are shipped by the seller through Ozon's own "
                "logistics; only rFBS orders may be fulfilled by a third party.")
    if order.marketplace in ("walmart", "wish"):
        return None
    return f"{order.account.marketplace_label} orders cannot be fulfilled by Amazon."


def active_mcf(order):
    return db.session.scalar(db.select(McfOrder).where(McfOrder.order_id == order.id, McfOrder.active))


def mcf_history(order):
    return db.session.scalars(db.select(McfOrder).where(McfOrder.order_id == order.id)
                              .order_by(McfOrder.id.desc())).all()


def why_not_send(order):
    if order.is_read_only:
        return order.read_only_reason
    reason = third_party_rule(order)
    if reason:
        return reason
    if not is_open(order.status):
        return "Only orders still to be shipped can go to Amazon."
    if any(line.quantity_shipped for line in order.lines):
        return "Part of this order is already shipped: ship the rest from the warehouse."
    if active_mcf(order) is not None:
        return "This order is already at Amazon."
    if not mcf_accounts():
        return "No Amazon MCF account is configured."
    return None


def sku_map(account, order):
    """Our SKU -> the MCF seller SKU for this order's lines (the same SKU where none is set)."""
    skus = {line.sku for line in order.lines}
    rows = db.session.scalars(db.select(McfSku).where(
        McfSku.account_id == account.id, McfSku.sku.in_(skus),
        (McfSku.source_account_id == order.account_id) | McfSku.source_account_id.is_(None))).all()
    # A rule for this selling account beats one for every account.
    rows.sort(key=lambda r: r.source_account_id is not None)
    return {row.sku: row.mcf_sku for row in rows}


def destination(order):
    address = {"name": order.buyer_name or "Customer", "addressLine1": order.address_line1,
               "city": order.city, "postalCode": order.postal_code or "", "countryCode": order.country or ""}
    for key, value in (("addressLine2", order.address_line2), ("stateOrRegion", order.region),
                       ("phone", order.buyer_phone)):
        if value:
            address[key] = value
    return address


def items(order, mapping):
    return [{"sellerSku": mapping.get(line.sku, line.sku)[:50], "sellerFulfillmentOrderItemId": line.line_number,
             "quantity": line.quantity_left} for line in order.lines if line.quantity_left]


def seller_fulfillment_order_id(order, attempt=1):
    """Stable per order and attempt: a retried create repeats the id, and Amazon refuses a
    second order with it. At most 40 characters (long ids keep a hash of the whole)."""
    base = f"{ID_PREFIX.get(order.marketplace, 'FO')}-{order.external_id}" + (f"-{attempt}" if attempt > 1 else "")
    if len(base) <= 40:
        return base
    digest = hashlib.sha1(base.encode()).hexdigest()[:10]
    return base[:29] + "-" + digest


def account_or_error(account_id):
    account = db.session.get(MarketplaceAccount, int(account_id)) if str(account_id).isdigit() else None
    if account is None or account.kind != KIND or not account.enabled:
        raise InvalidInput({"account": "Choose an Amazon MCF account."})
    return account


def preview(order, account, adapter, block_amzl=False):
    """Amazon's preview per shipping speed (PreviewOption list). Raises NotSendable or
    MarketplaceError (Amazon's words)."""
    reason = why_not_send(order)
    if reason:
        raise NotSendable(reason)
    return adapter.preview(destination(order), items(order, sku_map(account, order)), block_amzl=block_amzl)


def send(order, account, actor, shipping_speed="Standard", block_amzl=False, routed_by="person", chosen=None):
    """Record the order's fulfillment order at Amazon and its create in the outbox.

    `chosen` (a PreviewOption) keeps the fees and arrival date the person confirmed.
    Raises NotSendable or InvalidInput; adds to the session, never commits."""
    reason = why_not_send(order)
    if reason:
        raise NotSendable(reason)
    if shipping_speed not in SHIPPING_SPEEDS:
        raise InvalidInput({"shipping_speed": "Choose a shipping speed: Standard, Expedited or Priority."})
    if "acknowledge" in allowed_actions(order):
        # The seller accepts the order on the marketplace before Amazon ships it.
        perform(order, "acknowledge", actor)
    attempt = 1 + (db.session.scalar(db.select(db.func.count(McfOrder.id)).where(McfOrder.order_id == order.id)) or 0)
    mcf = McfOrder(order=order, account=account, attempt=attempt, shipping_speed=shipping_speed,
                   block_amzl=bool(block_amzl), routed_by=routed_by, status="Sending",
                   seller_fulfillment_order_id=seller_fulfillment_order_id(order, attempt),
                   user_id=getattr(actor.user, "id", None))
    if chosen is not None:
        mcf.estimated_fees, mcf.currency, mcf.estimated_arrival = chosen.fees, chosen.currency, chosen.arrive_by
    db.session.add(mcf)
    request = {
        "sellerFulfillmentOrderId": mcf.seller_fulfillment_order_id,
        "displayableOrderId": (order.order_number or order.external_id)[:40],
        "displayableOrderDate": (order.ordered_at or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "displayableOrderComment": f"Thank you for your {order.account.marketplace_label} order.",
        "shippingSpeedCategory": shipping_speed, "destinationAddress": destination(order),
        "items": items(order, sku_map(account, order)), "fulfillmentAction": "Ship",
    }
    if block_amzl:
        request["featureConstraints"] = [{"featureName": "BLOCK_AMZL", "featureFulfillmentPolicy": "Required"}]
    entry = record(order, "mcf_create", {"request": request}, actor.user)
    entry.account_id = account.id  # sent with the MCF account's adapter and rate limit
    order.open_to_ship = False  # Amazon ships it: out of the warehouse's lists
    _audit(order, actor, "mcf_send", f"Sent to Amazon MCF ({shipping_speed}"
                                     f"{', no Amazon Logistics' if block_amzl else ''}) as "
                                     f"{mcf.seller_fulfillment_order_id}" + (" by a routing rule" if routed_by == "rule" else ""))
    return mcf


def request_cancel(mcf, actor, why):
    """Ask Amazon to cancel (through the outbox). Raises InvalidInput when Amazon no longer can."""
    if not mcf.active:
        raise InvalidInput({"": "This order is not at Amazon any more."})
    if mcf.status not in CANCELLABLE and mcf.status != "Sending":
        raise InvalidInput({"": f"Amazon can no longer cancel it: the order is “{mcf.status}” "
                                f"({STATUS_LABELS.get(mcf.status, mcf.status)})."})
    pending = db.session.scalar(db.select(OutboxEntry.id).where(
        OutboxEntry.order_id == mcf.order_id, OutboxEntry.action == "mcf_cancel",
        OutboxEntry.state.in_(("pending", "sending"))))
    if pending is None:
        entry = record(mcf.order, "mcf_cancel", {"seller_fulfillment_order_id": mcf.seller_fulfillment_order_id},
                       actor.user)
        entry.account_id = mcf.account_id
    _audit(mcf.order, actor, "mcf_cancel", why)


def placeholder_ship(order, actor, confirmed):
    """The SOP's workaround: mark shipped now with USPS / 12345. Only when the person ticked
    that they understand the marketplace will never get the real tracking number."""
    if not confirmed:
        raise InvalidInput({"confirm": "Tick that you understand the placeholder cannot be changed later."})
    if active_mcf(order) is not None:
        raise InvalidInput({"": "Cancel the order at Amazon first, or wait for Amazon's tracking."})
    url = tracking.tracking_url(PLACEHOLDER_CARRIER, PLACEHOLDER_TRACKING)
    # "12345" is no real USPS number, so it goes in as "other" and is then named USPS, as
    # the SOP does by hand; the marketplace receives carrier USPS and number 12345.
    entries = perform(order, "ship", actor, packages=[Package("other", PLACEHOLDER_TRACKING, url)])
    name = marketplaces.carrier_name(order.marketplace, PLACEHOLDER_CARRIER) or "USPS"
    for entry in entries:
        entry.payload = {**entry.payload, "carrier": PLACEHOLDER_CARRIER, "carrier_name": name}
    for shipment in order.shipments:
        if shipment.tracking_number == PLACEHOLDER_TRACKING:
            shipment.carrier, shipment.carrier_name = PLACEHOLDER_CARRIER, name
    _audit(order, actor, "placeholder_tracking", "Marked shipped with the placeholder USPS 12345 "
                                                 "(cannot be changed later); the buyer gets no real tracking")
    return entries


# -- following Amazon --------------------------------------------------------------------

def apply_state(mcf, state):
    """Take Amazon's view of one fulfillment order (McfOrderState with shipments)."""
    order, system = mcf.order, Actor(source="system")
    old = mcf.status
    mcf.status, mcf.status_updated_at, mcf.last_checked_at = state.status, state.status_updated_at, utcnow()
    mcf.shipments = [_shipment_json(s) for s in state.shipments]
    if old != state.status:
        _audit(order, system, "mcf_status", f"Amazon MCF: {state.status} — {STATUS_LABELS.get(state.status, '')}")
    _pass_on_packages(mcf, state)
    outcome = state.outcome
    if outcome == "refused":
        mcf.active = False
        mcf.problem = f"Amazon MCF {state.status}: {AMAZON_SAYS[state.status]}" + _item_words(state)
        _problem(order, mcf.problem)
        _back_to_warehouse(order, system, mcf.problem)
    elif outcome == "cancelled":
        mcf.active = False
        if order.status != "cancelled":
            _back_to_warehouse(order, system, "Cancelled at Amazon: the order is back in the warehouse queue.")
    elif outcome == "shipped":
        mcf.active = False
        if state.status == "CompletePartialled":
            mcf.problem = f"Amazon MCF CompletePartialled: {AMAZON_SAYS['CompletePartialled']}" + _item_words(state)
            _problem(order, mcf.problem)
            _back_to_warehouse(order, system, mcf.problem)
    elif order.status == "cancelled":
        _cancel_after_buyer(mcf, system)
    else:
        order.open_to_ship = False


def _pass_on_packages(mcf, state):
    """Each shipped package that has not been passed on goes to the selling marketplace
    through the ordinary ship action (outbox, retries, read-back)."""
    order = mcf.order
    if order.status == "cancelled":
        return
    done = set(mcf.pushed_packages or [])
    lines = {line.line_number: line for line in order.lines}
    for shipment in state.shipments:
        if shipment.status != "SHIPPED":
            continue
        for index, package in enumerate(shipment.packages):
            if package.package_number in done or not package.tracking_number:
                continue
            carried = {lines[i].id: q for i, q in shipment.items.items() if i in lines} if index == 0 else {}
            carried = {line_id: min(q, next(l for l in order.lines if l.id == line_id).quantity_left)
                       for line_id, q in carried.items()}
            carried = {k: v for k, v in carried.items() if v > 0}
            if not carried:
                done.add(package.package_number)
                continue
            try:
                _ship_package(order, package, carried, shipment.shipped_at)
            except (InvalidInput, ActionNotAllowed) as exc:
                message = f"Amazon shipped package {package.package_number} ({package.carrier_code} " \
                          f"{package.tracking_number}), but it could not be passed on: {exc}"
                _problem(order, message)
                mcf.problem = message
            done.add(package.package_number)
    mcf.pushed_packages = sorted(done)


def _ship_package(order, package, carried, shipped_at):
    system = Actor(source="system")
    attempts = [(package.carrier, package.tracking_url)]
    if package.carrier != "other":
        attempts.append(("other", f"https://www.swiship.com/track?id={package.tracking_number}"))
    last = None
    for carrier, url in attempts:
        try:
            with db.session.begin_nested():
                perform(order, "ship", system, packages=[Package(carrier, package.tracking_number, url, carried)],
                        shipped_at=shipped_at)
            return
        except InvalidInput as exc:
            last = exc  # e.g. a number outside the carrier's format: pass it on as "other"
    raise last


def _cancel_after_buyer(mcf, system):
    """The buyer cancelled on the marketplace: cancel at Amazon if Amazon still can,
    otherwise flag it for a person."""
    if mcf.status in CANCELLABLE or mcf.status == "Sending":
        already = db.session.scalar(db.select(OutboxEntry.id).where(
            OutboxEntry.order_id == mcf.order_id, OutboxEntry.action == "mcf_cancel"))
        if already is None:
            request_cancel(mcf, system, "The order was cancelled on the marketplace: cancelling at Amazon.")
        return
    message = (f"The order was cancelled on {mcf.order.account.marketplace_label}, but Amazon is already "
               f"“{mcf.status}” and can no longer cancel it: stop the parcel or arrange a return.")
    if mcf.problem != message:
        mcf.problem = message
        _problem(mcf.order, message)


def _back_to_warehouse(order, actor, note):
    order.open_to_ship = is_open(order.status)
    _audit(order, actor, "mcf_returned", note)


def _problem(order, message):
    exists = db.session.scalar(db.select(ImportProblem.id).where(
        ImportProblem.account_id == order.account_id, ImportProblem.external_id == order.external_id,
        ImportProblem.error == message, ImportProblem.resolved_at.is_(None)))
    if exists is None:
        db.session.add(ImportProblem(account_id=order.account_id, external_id=order.external_id, error=message))


def _item_words(state):
    short = [f"{item['sku']}: {item['unfulfillable']} unfulfillable" for item in state.items.values()
             if item["unfulfillable"]]
    short += [f"{item['sku']}: {item['cancelled']} cancelled" for item in state.items.values() if item["cancelled"]]
    return (" (" + "; ".join(short) + ")") if short else ""


def _shipment_json(shipment):
    return {"shipment_id": shipment.shipment_id, "status": shipment.status,
            "shipped_at": shipment.shipped_at.isoformat() if shipment.shipped_at else None,
            "items": shipment.items,
            "packages": [{"package_number": p.package_number, "carrier_code": p.carrier_code,
                          "tracking_number": p.tracking_number} for p in shipment.packages]}


def _audit(order, actor, action, note):
    db.session.add(Event(order=order, user=actor.user, actor=actor.name, source=actor.source, action=action,
                         old_value=None, new_value=None, note=note))
