"""Sync problems and each order's live sync state.

/sync/orders/<id>   the partial the order page loads: the order's changes on their way to
                    the marketplace; it replaces itself every second while one is moving
                    and stops polling once all are confirmed or failed.
/sync/problems      failed changes with the marketplace's own words and a Retry button,
                    changes still retrying, and import problems.
"""
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from fulfil import tracking
from fulfil.auth.roles import SUPERVISE, WORK_ORDERS, roles_required
from fulfil.extensions import db
from fulfil.models import ImportProblem, Order, OutboxEntry
from fulfil.outbox import enqueue_entries, retry
from fulfil.status import ACTIONS
from fulfil.sync import bp
from fulfil.templating import is_htmx, render
from fulfil.timeutil import utcnow

# Shown on the problems page among "still retrying" from this many attempts on.
RETRYING_FROM = 3
ROWS = 200


@dataclass
class EntryRow:
    entry: OutboxEntry
    state: str  # confirmed | failed | held (behind a failed one) | sending | retrying | waiting
    retry_in: int | None = None  # seconds until the next attempt

    @property
    def moving(self):
        return self.state in ("sending", "retrying", "waiting")


def describe(entry):
    """What the change says, in a few words: "Ship · UPS 1Z999…", "Cancel order · Out of stock"."""
    action = ACTIONS.get(entry.action)
    label = action.label if action else entry.action
    payload = entry.payload or {}
    if payload.get("tracking_number"):
        carrier = payload.get("carrier_name") or payload.get("carrier") or ""
        return f"{label} · {carrier} {payload['tracking_number']}".replace("  ", " ")
    if payload.get("reason"):
        return f"{label} · {payload['reason']}"
    return label


def entry_rows(entries, now=None):
    now = now or utcnow()
    rows, failed_before = [], False
    for entry in entries:
        if entry.state in ("confirmed", "failed"):
            state = entry.state
        elif failed_before:
            state = "held"
        elif entry.state == "sending":
            state = "sending"
        else:
            state = "retrying" if entry.last_error else "waiting"
        retry_in = None
        if state == "retrying" and entry.next_attempt_at:
            retry_in = max(0, round((entry.next_attempt_at - now).total_seconds()))
        rows.append(EntryRow(entry, state, retry_in))
        failed_before = failed_before or entry.state == "failed"
    return rows


def _order_sync(order_id):
    order = db.get_or_404(Order, order_id)
    entries = db.session.scalars(select(OutboxEntry).where(OutboxEntry.order_id == order.id)
                                 .order_by(OutboxEntry.id)).all()
    rows = entry_rows(entries)
    return render_template("sync/_order_sync.html", order=order, rows=rows,
                           moving=any(r.moving for r in rows), describe=describe)


@bp.route("/orders/<int:order_id>")
@roles_required(*WORK_ORDERS)
def order_sync(order_id):
    return _order_sync(order_id)


def _problems_context():
    failed_query = select(OutboxEntry).where(OutboxEntry.state == "failed")
    retrying_query = select(OutboxEntry).where(OutboxEntry.state.in_(("pending", "sending")),
                                               OutboxEntry.attempts >= RETRYING_FROM,
                                               OutboxEntry.last_error.is_not(None))
    imports_query = select(ImportProblem).where(ImportProblem.resolved_at.is_(None))
    options = (joinedload(OutboxEntry.order), joinedload(OutboxEntry.account))
    return {
        "failed": db.session.scalars(failed_query.options(*options)
                                     .order_by(OutboxEntry.updated_at.desc()).limit(ROWS)).all(),
        "failed_count": _count(failed_query),
        "retrying": db.session.scalars(retrying_query.options(*options)
                                       .order_by(OutboxEntry.attempts.desc()).limit(ROWS)).all(),
        "retrying_count": _count(retrying_query),
        "imports": db.session.scalars(imports_query.options(joinedload(ImportProblem.account))
                                      .order_by(ImportProblem.created_at.desc()).limit(ROWS)).all(),
        "imports_count": _count(imports_query),
        "describe": describe, "now": utcnow(), "ROWS": ROWS,
    }


def _count(query):
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


@bp.route("/problems")
@roles_required(*WORK_ORDERS)
def problems():
    return render("sync/problems.html", "sync/_problems.html", **_problems_context())


def payload_problem(entry):
    """Why an entry cannot be sent again as it is, or None. Its payload was checked when it
    was recorded, but by the rules of then: a tracking page stored before the one web
    address rule (tracking.url_problem) may be javascript:, and is not sent again."""
    problem = tracking.url_problem((entry.payload or {}).get("tracking_url"))
    return f"{describe(entry)}: {problem} Edit the tracking on the order instead of retrying." if problem else None


def _retry(entries):
    """Send failed entries again: pending now, commit, then enqueue (or leave it to the
    reconciler if Redis is away). Entries with a payload_problem are left as they are."""
    entries = [e for e in entries if e.state == "failed" and payload_problem(e) is None]
    if entries:
        retry(entries)
        db.session.commit()
        enqueue_entries([e.id for e in entries])
    return len(entries)


def _after_retry(message, order_id=None):
    if order_id is not None:  # from the order's own sync fragment
        if is_htmx():
            return _order_sync(order_id)
        flash(message, "success")
        return redirect(url_for("orders.order", order_id=order_id), 303)
    if is_htmx():
        return render_template("sync/_problems.html", notice=message, **_problems_context())
    flash(message, "success")
    return redirect(url_for(".problems"), 303)


@bp.route("/entries/<int:entry_id>/retry", methods=["POST"])
@roles_required(*WORK_ORDERS)
def retry_entry(entry_id):
    entry = db.get_or_404(OutboxEntry, entry_id)
    back = request.form.get("back", "problems")
    if back not in ("order", "problems"):  # checked before anything is sent again
        abort(400, "The Retry button was sent from an unknown page: reload the page and try again. "
                   "Nothing was sent.")
    if payload_problem(entry):
        abort(422, payload_problem(entry))
    label = describe(entry)
    sent = _retry([entry])
    message = f"{label}: sending again." if sent else f"{label}: already on its way."
    return _after_retry(message, order_id=entry.order_id if back == "order" else None)


@bp.route("/problems/retry-all", methods=["POST"])
@roles_required(*SUPERVISE)
def retry_all():
    failed = db.session.scalars(select(OutboxEntry).where(OutboxEntry.state == "failed")
                                .order_by(OutboxEntry.id)).all()
    sent = _retry(failed)
    kept = [problem for problem in map(payload_problem, failed) if problem]
    message = f"{sent} failed change{'s' if sent != 1 else ''}: sending again."
    if kept:
        message += f" {len(kept)} not sent again: " + " ".join(kept)
    return _after_retry(message)
