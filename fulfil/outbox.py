"""Outbox: each change a marketplace must learn becomes a row in the same transaction.

After the transaction commits, the new entries are handed to RQ (job id derived from the
entry id, so enqueuing twice is a no-op). If Redis is down at that moment nothing is lost:
the reconciler finds entries left pending and enqueues them again.
"""
import logging
import uuid

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from fulfil import outages
from fulfil.extensions import db
from fulfil.models import OutboxEntry
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
        from workers.push import enqueue_push
        enqueue_push(entry_ids)
    except Exception as exc:  # Redis down, etc.: the reconciler re-enqueues later
        if outages.report(exc, "outbox enqueue") is None:
            log.warning("outbox=enqueue_failed ids=%s error=%r", entry_ids, exc)
    else:
        outages.answered("redis")
