"""Apply an upload's good rows, a batch of orders at a time, in one transaction per batch.

Each batch's rows are checked once (preview.check_rows) against its orders as they are
now (someone may have shipped or cancelled one since the preview), read once. Orders that
only ship are planned in memory and written together with multi-row statements
(fulfil.bulk.write); orders whose rows change a tracking number go through
actions.perform, each in a savepoint. Either way one refused order never holds back the
others and nothing of it is written. Actor(source="bulk", upload_id=...) makes the audit
trail name the upload; the batch's outbox entries are handed to the push workers together
once the batch commits.

Small uploads apply inside the request; larger ones in the background (fulfil.jobs.BULK_APPLY).
Both run `apply_upload`, which is safe to run again: rows with an outcome are skipped and
re-checking turns rows applied by an interrupted run into "already so".
"""
import logging
from collections import defaultdict

from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from fulfil.actions import Actor, Conflict, InvalidInput, Package, perform
from fulfil.bulk.models import Upload
from fulfil.bulk import lookup
from fulfil.bulk.lookup import lookup_key
from fulfil.bulk.write import CHANGED_MEANWHILE, BatchWrite, plan_for_the_values_given, plan_order
from fulfil.bulk.write import load_orders_for_writing as load_orders
from fulfil.bulk.preview import GOOD, check_rows, gc_paused, rows_from
from fulfil.extensions import db
from fulfil.jobs import enqueue_bulk_apply
from fulfil.outbox import enqueue_after_commit
from fulfil.status import ActionNotAllowed
from fulfil.timeutil import utcnow

log = logging.getLogger(__name__)
ORDERS_PER_BATCH = 1000  # loaded together; the session is emptied between batches
OUTCOMES = {"shipped": "Shipped", "updated": "Tracking updated", "unchanged": "Already so",
            "error": "Not applied"}
_REFUSED = (ActionNotAllowed, InvalidInput, Conflict)
_CHANGED_MEANWHILE = (StaleDataError, IntegrityError)


def begin(upload, user):
    """Claim a previewed upload for applying and apply it here or in the background.

    Returns False when it was already claimed (a double click, a second tab). The claim
    is one conditional UPDATE, so two requests can never both start applying.
    """
    good = sum(1 for verdict in upload.verdicts if verdict["verdict"] in GOOD)
    background = good > current_app.config["BULK_INLINE_MAX_ROWS"]
    claimed = db.session.execute(
        db.update(Upload).where(Upload.id == upload.id, Upload.state.in_(("preview", "failed")))
        .values(state="queued" if background else "applying", applied_by_id=user.id,
                applied_at=utcnow(), to_apply=good, error=None)).rowcount
    db.session.commit()
    if not claimed:
        return False
    if background:
        _enqueue(upload.id)
    else:
        apply_upload(upload.id)
    return True


def _enqueue(upload_id):
    from redis.exceptions import RedisError

    try:
        enqueue_bulk_apply(upload_id)
    except RedisError as exc:
        log.warning("bulk=enqueue_failed upload=%s error=%r", upload_id, exc)
        _stop(upload_id, "The background worker could not be reached, so nothing was applied. "
                         "Press Apply again in a minute.")


def _stop(upload_id, message):
    db.session.rollback()
    upload = db.session.get(Upload, upload_id)
    upload.state, upload.error = "failed", message
    db.session.commit()


def apply_upload(upload_id):
    """Apply every row of the upload that has no outcome yet; record outcomes and progress."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.state not in ("queued", "applying"):
        return
    upload.state = "applying"
    db.session.commit()
    session = db.session()
    expire_on_commit = session.expire_on_commit
    # Orders of a batch are loaded once; committing one must not reload the others.
    session.expire_on_commit = False
    try:
        _apply(upload)
    except Exception:
        log.exception("bulk=apply_failed upload=%s", upload_id)
        _stop(upload_id, "Applying stopped on an unexpected error. The rows already applied are "
                         "saved; press Apply again to finish the rest.")
        raise
    finally:
        session.expire_on_commit = expire_on_commit


def _apply(upload):
    actor_user = upload.applied_by
    outcomes = list(upload.outcomes or [None] * len(upload.verdicts))
    held = list(db.session.identity_map.values())  # strong references while ids are compared
    kept = {id(obj) for obj in held}
    for index, verdict in enumerate(upload.verdicts):
        if outcomes[index] is None and verdict["verdict"] not in GOOD:
            outcomes[index] = _nothing_to_do(verdict["verdict"], verdict["reason"])
    for batch in _batches(row for row in rows_from(upload) if outcomes[row.index] is None):
        with gc_paused():
            _apply_batch(batch, upload, actor_user, outcomes)
        upload.outcomes = list(outcomes)  # a new list: SQLAlchemy sees the JSON changed
        upload.done += len(batch)
        db.session.commit()
        # Keep memory flat on 10,000-row uploads: forget the orders this batch loaded
        # (the caller's own objects stay in its session).
        for obj in list(db.session.identity_map.values()):
            if id(obj) not in kept:
                db.session.expunge(obj)
    upload.outcomes = list(outcomes)
    upload.state, upload.finished_at = "done", utcnow()
    db.session.commit()


def _apply_batch(batch, upload, actor_user, outcomes):
    """Check the batch's rows once, against its orders read once; write the orders that
    only ship in a few multi-row statements, the ones with tracking changes through
    actions.perform, each in a savepoint of the batch's transaction."""
    plan_for_the_values_given()
    check_rows(batch, upload.acknowledge, load=load_orders)
    actor = Actor(actor_user, source="bulk", upload_id=upload.id)
    by_order = defaultdict(list)
    for row in batch:
        if row.verdict in GOOD:
            by_order[row.order].append(row)
        else:
            outcomes[row.index] = _nothing_to_do(row.verdict, row.reason)
    writes = BatchWrite(utcnow(), actor)
    through_actions = {}
    for order, rows in by_order.items():
        if any(row.verdict == "update" for row in rows):
            through_actions[order] = rows
            continue
        refusal = _apply_order(order, rows, writes)
        if refusal:
            for row, outcome in refusal.items():
                outcomes[row.index] = outcome
    for plan in writes.write():
        for row in plan.rows:
            outcomes[row.index] = _error(CHANGED_MEANWHILE)
    for plan in writes.plans:
        for row in plan.rows:
            outcomes[row.index] = {"outcome": "shipped", "reason": row.reason,
                                   "entries": [i for i, number in plan.entry_ids
                                               if number is None or number == row.number]}
    from fulfil.stock.service import apply_orders  # shipped units leave the shelf
    apply_orders([plan.order.id for plan in writes.plans], actor)
    enqueue_after_commit(writes.entry_ids())
    if through_actions:
        orm_orders = lookup.load_orders({order.id for order in through_actions})
        for order, rows in through_actions.items():
            current = orm_orders.get(order.id)
            if current is None or current.version != order.version:
                results = {row: _error(CHANGED_MEANWHILE) for row in rows}
            else:
                results = _apply_order_through_actions(current, rows, actor)
            for row, outcome in results.items():
                outcomes[row.index] = outcome


def _apply_order(order, rows, writes):
    """Plan one order's acknowledge and ship into `writes`; {row: outcome} when refused
    (then nothing of this order is written), else None."""
    try:
        writes.add(plan_order(order, rows, writes.actor, _packages(rows),
                              min((r.shipped_at for r in rows if r.shipped_at), default=None), writes.now))
    except _REFUSED as exc:
        return {row: _error(str(exc)) for row in rows}
    return None


def _batches(rows):
    """Rows grouped so all rows of one order fall in the same batch.

    Each batch's rows are let go once handed out, and with them the orders they hold:
    memory stays flat however long the upload.
    """
    by_key = defaultdict(list)
    for row in rows:
        by_key[lookup_key(row.order_key)].append(row)
    batch, orders = [], 0
    for key in list(by_key):
        batch.extend(by_key.pop(key))
        orders += 1
        if orders == ORDERS_PER_BATCH:
            yield batch
            batch, orders = [], 0
    if batch:
        yield batch


def _apply_order_through_actions(order, rows, actor):
    """Change one order through actions.perform in a savepoint; {row: outcome}. A refusal
    rolls back this order only."""
    shipping = [row for row in rows if row.verdict == "ship"]
    entries = []
    try:
        with db.session.begin_nested():
            if any(row.acknowledge for row in shipping):
                entries += perform(order, "acknowledge", actor)
            if shipping:
                entries += perform(order, "ship", actor, packages=_packages(shipping),
                                   shipped_at=min((r.shipped_at for r in shipping if r.shipped_at),
                                                  default=None))
            for row in rows:
                if row.verdict == "update":
                    entries += perform(order, "update_tracking", actor, shipment_id=row.shipment.id,
                                       carrier=row.carrier, tracking_number=row.number,
                                       tracking_url=row.url or None)
    except _REFUSED as exc:
        return {row: _error(str(exc)) for row in rows}
    except _CHANGED_MEANWHILE:
        return {row: _error(CHANGED_MEANWHILE) for row in rows}
    return {row: {"outcome": "shipped" if row.verdict == "ship" else "updated", "reason": row.reason,
                  "entries": [e.id for e in entries if _entry_is_for(e, row)]}
            for row in rows}


def _error(reason):
    return {"outcome": "error", "reason": reason, "entries": []}


def _nothing_to_do(verdict, reason):
    """The outcome of a row that is already so, or that has an error."""
    return {"outcome": "unchanged" if verdict == "same" else "error", "reason": reason, "entries": []}


def _packages(rows):
    """One Package per tracking number; rows naming a line add it with their quantity."""
    packages = {}
    for row in rows:
        package = packages.setdefault(row.number, Package(row.carrier, row.number, row.url or None))
        if row.order_line is not None:
            package.lines[row.order_line.id] = row.quantity
    return list(packages.values())


def _entry_is_for(entry, row):
    """An acknowledge belongs to every row of the order; a ship or tracking change to the
    rows of its tracking number."""
    number = entry.payload.get("tracking_number")
    return number is None or number == row.number
