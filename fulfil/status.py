"""Unified order statuses and the one table that decides which actions an order allows.

Views, the bulk importer and the workers all ask `allowed_actions` / `check_action`; each
marketplace module narrows the table further with its own SUPPORTED_ACTIONS (e.g. Walmart
has no "delivered" call) — nothing else decides.
"""
from dataclasses import dataclass

STATUS_LABELS = {
    "new": "New",
    "to_pack": "To pack",
    "ready": "Ready to ship",
    "in_transit": "In transit",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "dispute": "Dispute",
    "not_accepted": "Not accepted",
    "on_hold": "On hold",
}
# What the sellers' guides call them (shown as a hint beside the label).
STATUS_HINTS = {
    "new": "new order",
    "to_pack": "waiting for stock / acknowledged",
    "ready": "waiting for shipment",
    "in_transit": "in transit",
    "delivered": "signed for",
    "cancelled": "cancelled",
    "dispute": "dispute",
    "not_accepted": "not accepted at the sorting centre",
    "on_hold": "the marketplace is still checking it",
}
STATUSES = tuple(STATUS_LABELS)
OPEN_STATUSES = frozenset({"new", "to_pack", "ready"})


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    from_statuses: frozenset
    to_status: str | None  # None: the status stays (e.g. tracking corrected)
    # True: the marketplace must allow it (its supported_actions). False: fulfil's own step,
    # always possible, which a marketplace with a call for it may still be told of (its
    # `pushes(order, action)`: an Ozon "not accepted" posting's dispute is filed at Ozon).
    pushes: bool = True


ACTIONS = {a.name: a for a in (
    Action("acknowledge", "Acknowledge", frozenset({"new"}), "to_pack"),
    Action("pack", "Mark packed", frozenset({"to_pack"}), "ready"),
    Action("ship", "Ship", frozenset({"to_pack", "ready"}), "in_transit"),
    Action("update_tracking", "Edit tracking", frozenset({"in_transit", "delivered", "dispute"}), None),
    Action("deliver", "Mark delivered", frozenset({"in_transit"}), "delivered"),
    Action("cancel", "Cancel order", frozenset({"new", "to_pack", "ready"}), "cancelled"),
    Action("open_dispute", "Open dispute", frozenset({"to_pack", "ready", "in_transit", "delivered",
                                                     "not_accepted", "dispute", "cancelled"}),
           None, pushes=False),
    Action("close_dispute", "Close dispute", frozenset(STATUSES), None, pushes=False),
    # A disputed parcel goes back to waiting for shipment (Ozon /v2/posting/fbs/awaiting-delivery).
    Action("hand_on", "Hand over again", frozenset({"dispute"}), "ready"),
)}


class ActionNotAllowed(Exception):
    """The order's state does not allow this action; the message says why, for a person."""


def is_open(status):
    return status in OPEN_STATUSES


def _why_not(order, action, supported):
    if order.is_read_only:
        return order.read_only_reason
    if action.name == "open_dispute" and order.dispute_open:
        return "A dispute is already open on this order."
    if action.name == "close_dispute" and not order.dispute_open:
        return "There is no open dispute on this order."
    if order.status not in action.from_statuses:
        return (f"{action.label} is not possible while the order is "
                f"“{STATUS_LABELS.get(order.status, order.status)}”.")
    if action.name == "update_tracking" and not order.shipments:
        return "There is no package with a tracking number on this order yet."
    if action.pushes and action.name not in supported(order):
        return _refusal(order, action.name) or \
            f"{order.account.marketplace_label} does not allow “{action.label}” for this order."
    return None


def _supported(order):
    from fulfil.marketplaces import supported_actions
    return supported_actions(order)


def _refusal(order, name):
    from fulfil.marketplaces import refusal
    return refusal(order, name)


def allowed_actions(order):
    """Names of the actions a person may take on this order now, in display order."""
    return [name for name, action in ACTIONS.items() if _why_not(order, action, _supported) is None]


def refusals(order):
    """What the marketplace says about actions the order's status would allow but it does
    not (marked goods Ozon packs only in its seller area, a carrier that takes no tracking
    number from the seller): one message each, to show beside the buttons."""
    if order.is_read_only:
        return []
    supported = _supported(order)
    messages = []
    for action in ACTIONS.values():
        if action.pushes and order.status in action.from_statuses and action.name not in supported:
            message = _refusal(order, action.name)
            if message and message not in messages:
                messages.append(message)
    return messages


def check_action(order, name):
    """Raise ActionNotAllowed with a person-readable reason unless `name` is allowed now."""
    action = ACTIONS.get(name)
    if action is None:
        raise ActionNotAllowed(f"Unknown action “{name}”.")
    reason = _why_not(order, action, _supported)
    if reason:
        raise ActionNotAllowed(reason)
    return action


def status_effects(status, shipped_at=None, delivered_at=None, now=None):
    """The fields that follow from an order taking `status`: whether it is open to ship
    and when it shipped / was delivered (kept once set). The one place these are decided,
    for a person's action, a bulk upload and the importer alike."""
    from fulfil.timeutil import utcnow
    now = now or utcnow()
    if status == "in_transit" and shipped_at is None:
        shipped_at = now
    if status == "delivered" and delivered_at is None:
        delivered_at = now
    return {"status": status, "open_to_ship": is_open(status), "shipped_at": shipped_at,
            "delivered_at": delivered_at}
