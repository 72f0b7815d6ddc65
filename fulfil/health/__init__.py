"""/healthz: is the database reachable, is Redis reachable (JSON, for load balancers).

A load balancer needs only "ok" or "degraded" (and 200/503), so that is all an anonymous
caller learns: the database backend, error class names and queue lengths tell a stranger
on the shop's network what runs here and how busy it is. A signed-in admin gets the
details, to see which part is down (while the database answers: it says who is asking).
"""
from flask import Blueprint, current_app, jsonify
from flask_login import current_user
from rq import Queue
from sqlalchemy import text

from fulfil.auth.roles import ADMIN
from fulfil.extensions import db
from fulfil.models import OutboxEntry
from fulfil.redis_conn import get_redis

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    checks = {"database": _check_database(), "redis": _check_redis()}
    ok = all(c["ok"] for c in checks.values())
    answer = {"status": "ok" if ok else "degraded"}
    # Who is asking is known only from the database: while it is down, nobody gets details.
    if checks["database"]["ok"] and current_user.is_authenticated and current_user.role in ADMIN:
        answer["checks"] = checks
        answer["outbox"] = _outbox_backlog()
        if checks["redis"]["ok"]:
            answer["queues"] = _queue_lengths()
    return jsonify(answer), (200 if ok else 503)


def _check_database():
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:  # report, do not crash the probe
        db.session.rollback()
        return {"ok": False, "error": exc.__class__.__name__}


def _check_redis():
    try:
        get_redis().ping()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}


def _outbox_backlog():
    """Changes not yet confirmed by the marketplace, per state."""
    rows = db.session.execute(db.select(OutboxEntry.state, db.func.count())
                              .where(OutboxEntry.state != "confirmed").group_by(OutboxEntry.state))
    return dict(rows.all())


def _queue_lengths():
    """Jobs waiting on each of fulfil's RQ queues (the ones Redis knows of)."""
    prefix = current_app.config["RQ_QUEUE_PREFIX"] + "-"
    try:
        queues = Queue.all(connection=get_redis())
    except Exception as exc:
        return {"error": exc.__class__.__name__}
    return {q.name: q.count for q in sorted(queues, key=lambda q: q.name) if q.name.startswith(prefix)}
