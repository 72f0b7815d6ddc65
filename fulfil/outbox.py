"""Outbox: each change a marketplace must learn becomes a row in the same transaction.

After the transaction commits, the new entries are handed to RQ (job id derived from the
entry id, so enqueuing twice is a no-op). If Redis is down at that moment nothing is lost:
the reconciler finds entries left pending and enqueues them again.
"""
import logging
import uuid
from types import SimpleNamespace

from flask import current_app, has_app_context
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from fulfil import outages
from fulfil.extensions import db
from fulfil.jobs import enqueue_push
from fulfil.models import Order, OutboxEntry
from fulfil.timeutil import utcnow

log = logging.getLogger(__name__)
_NEW_IDS = "fulfil_new_outbox_ids"


def record(order, action, payload, user=None):
    """Add an outbox entry for `order` (not committed: the caller owns the transaction)."""
    entry = OutboxEntry(order=order, account_id=order.account_id, action=action, payload=payload,
                        state="pending", next_attempt_at=utcnow(),
                        idempotency_key=f"{order.id}-{action}-{uuid.uuid4().hex}",
                        user_id=getattr(user, "id", None))
    db.session.add(entry)
    order.sync_state = "pending"
    return entry


def refresh_sync_state(order):
    """Order's sync_state = the worst state among its unfinished entries."""
    states = set(db.session.scalars(
        db.select(OutboxEntry.state).where(OutboxEntry.order_id == order.id,
                                           OutboxEntry.state != "confirmed")))
    order.sync_state = "failed" if "failed" in states else ("pending" if states else "synced")


def store_sync_state(order_ids):
    """Set each order's sync_state (refresh_sync_state decides it).

    Written with a plain UPDATE rather than through the ORM, which would bump the order's
    version: a tablet showing the order would then get a false "changed by someone else"
    on its next save just because a push finished.
    """
    for order_id in order_ids:
        holder = SimpleNamespace(id=order_id, sync_state=None)
        refresh_sync_state(holder)
        db.session.execute(update(Order.__table__).where(Order.__table__.c.id == order_id)
                           .values(sync_state=holder.sync_state,
                                   updated_at=Order.__table__.c.updated_at))


def retry(entries):
    """A person asks to send failed entries again (not committed: the caller commits, then
    calls enqueue_entries). Their error stays visible until the next attempt replaces it."""
    now = utcnow()
    for entry in entries:
        entry.state, entry.next_attempt_at = "pending", now
    store_sync_state({e.order_id for e in entries})


@event.listens_for(Session, "after_flush")
def _collect_new_entries(session, flush_context):
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxEntry)]
    if ids:
        session.info.setdefault(_NEW_IDS, []).extend(ids)


def enqueue_after_commit(entry_ids, session=None):
    """Entries written without the ORM (bulk apply's multi-row INSERTs): enqueue them
    with the session's other new entries once it commits, all in one go."""
    if entry_ids:
        (session or db.session()).info.setdefault(_NEW_IDS, []).extend(entry_ids)


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session):
    ids = session.info.pop(_NEW_IDS, None)
    if ids and has_app_context() and current_app.config.get("OUTBOX_ENQUEUE"):
        enqueue_entries(ids)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session):
    session.info.pop(_NEW_IDS, None)


def enqueue_entries(entry_ids):
    """Hand entries to the push workers; a failure here is logged, never raised (the
    reconciler will pick the entries up)."""
    try:
        enqueue_push(entry_ids)
    except Exception as exc:  # Redis down, etc.: the reconciler re-enqueues later
        if outages.report(exc, "outbox enqueue") is None:
            log.warning("outbox=enqueue_failed ids=%s error=%r", entry_ids, exc)
    else:
        outages.answered("redis")
