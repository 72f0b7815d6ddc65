"""/healthz: is the database reachable, is Redis reachable (JSON, for load balancers)."""
from flask import Blueprint, jsonify
from sqlalchemy import text

from fulfil.extensions import db
from fulfil.redis_conn import get_redis

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:  # report, do not crash the probe
        checks["database"] = {"ok": False, "error": exc.__class__.__name__}
    try:
        get_redis().ping()
        checks["redis"] = {"ok": True}
    except Exception as exc:
        checks["redis"] = {"ok": False, "error": exc.__class__.__name__}
    ok = all(c["ok"] for c in checks.values())
    return jsonify(status="ok" if ok else "degraded", checks=checks), (200 if ok else 503)
