"""Stop-ship: no order the marketplace cancelled leaves the warehouse unnoticed.

Three moments, one rule ("what does the marketplace say now?"):
- before packing and before shipping, `check_live` asks the marketplace for the order
  (one call under the account's shared rate limit, a short timeout) and, if it was
  cancelled there, applies the cancellation at once and answers STOP;
- after a marketplace refused a ship or tracking change, `after_refusal` reads the order
  back: refused because it was cancelled means "cancelled at the marketplace — recall the
  parcel", with a Recall task for the warehouse, never "in transit";
- the import brings marketplace-side cancellations in within one interval anyway.
"""
import logging
from dataclasses import dataclass

from flask import current_app

from fulfil import importer, marketplaces
from fulfil.aftersales.models import Recall
from fulfil.extensions import db
from fulfil.models import Event
from fulfil.timeutil import utcnow

log = logging.getLogger(__name__)

SHIP_ACTIONS = ("ship", "update_tracking")


def stop_message(order):
    reason = f" ({order.cancel_reason})" if order.cancel_reason else ""
    return (f"STOP — {order.account.marketplace_label} cancelled this order{reason}. "
            "Do not ship it: put the goods back on the shelf.")


def recall_message(order):
    return (f"{order.account.marketplace_label}: the order was cancelled — do not deliver. "
            "Recall the parcel from the carrier and put the goods back.")


@dataclass
class LiveCheck:
    cancelled: bool = False
    unchecked: str | None = None  # why the marketplace could not be asked (work goes on)


# A person stands at the pack station waiting: ask briefly or not at all.
LIVE_TIMEOUT = 3.0  # seconds for the marketplace to answer
LIVE_MAX_WAIT = 1.0  # seconds the account's shared rate limit may make us wait for a slot


class _Busy(Exception):
    """The account's rate limit is booked up by the workers: not worth a wait at the tablet."""


def _remote(order):
    from fulfil.ratelimit import limited_adapter, limiter  # the account's shared rate limit and token
    account = order.account
    if limiter().wait_time(account.id, account.rate_limit) > LIVE_MAX_WAIT:
        raise _Busy(account.slug)
    adapter = limited_adapter(account)
    adapter.timeout = min(adapter.timeout, LIVE_TIMEOUT)
    return adapter.get_order(order.external_id)


def check_live(order, fetch=None):
    """Ask the marketplace whether `order` is still wanted. Commits an applied cancellation."""
    if order.status == "cancelled":
        return LiveCheck(cancelled=True)
    if not current_app.config.get("LIVE_CANCEL_CHECK", True) or order.account.kind not in marketplaces.KINDS:
        return LiveCheck()
    try:
        remote = (fetch or _remote)(order)
    except Exception as exc:  # marketplace, network or Redis down: a check must never stop the floor
        log.info("live check of order %s failed: %r", order.id, exc)
        return LiveCheck(unchecked=f"Could not ask {order.account.marketplace_label} just now; "
                                   "the next import will tell if it was cancelled.")
    if remote is None or remote.status != "cancelled":
        return LiveCheck()
    importer.upsert_order(order.account, remote)
    db.session.commit()
    return LiveCheck(cancelled=order.status == "cancelled")


def after_refusal(order, action, remote):
    """A ship/tracking push of `order` was refused; `remote` is the order as the marketplace
    has it now. Returns the message for the entry when the refusal was a cancellation."""
    if action not in SHIP_ACTIONS or remote is None or remote.status != "cancelled":
        return None
    shipment = order.shipments[-1] if order.shipments else None
    was_shipped = order.status in ("in_transit", "delivered")
    importer.upsert_order(order.account, remote)
    if order.status != "cancelled":  # a local change still pending kept it: cancel it here
        old = order.status
        order.status, order.open_to_ship = "cancelled", False
        order.cancel_reason = order.cancel_reason or remote.cancel_reason
        db.session.add(Event(order=order, actor="marketplace", source="marketplace", action="marketplace_status",
                             old_value=old, new_value="cancelled", note="Cancelled on the marketplace"))
    message = recall_message(order)
    if was_shipped and db.session.scalar(db.select(Recall.id).where(Recall.order_id == order.id)) is None:
        db.session.add(Recall(order=order, reason=message[:500],
                              tracking_number=shipment.tracking_number if shipment else None))
        db.session.add(Event(order=order, actor="system", source="system", action="recall",
                             note=message))
    return message


def open_recalls(limit=200):
    return db.session.scalars(db.select(Recall).where(Recall.done_at.is_(None))
                              .order_by(Recall.created_at).limit(limit)).all()


def recall_done(recall, user, note=""):
    recall.done_at, recall.done_by, recall.done_note = utcnow(), user, (note or "")[:500]
    db.session.add(Event(order=recall.order, user=user, actor=user.label, source="ui", action="recall_done",
                         note=f"Parcel recalled{': ' + note if note else ''}"))
