"""Admin pages. Every view here is for admins only (the role walk test checks it)."""
from flask import abort, render_template, request

from fulfil.admin import bp
from fulfil.auth.models import AuthEvent
from fulfil.auth.roles import ADMIN, roles_required
from fulfil.extensions import db

AUDIT_PAGE = 100
MAX_ID = 2**63 - 1


def _event_id(value):
    """?before=: an event number, or a 400 that says so."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        abort(400, "“before” must be an event number from this list.")
    return int(value)


@bp.route("/sign-ins")
@roles_required(*ADMIN)
def sign_ins():
    """The sign-in audit, newest first: sign-ins, failures, lock-outs, account changes."""
    before = _event_id(request.args.get("before"))
    name = request.args.get("user", "").strip()[:80]
    query = db.select(AuthEvent).order_by(AuthEvent.id.desc()).limit(AUDIT_PAGE + 1)
    if before:
        query = query.where(AuthEvent.id < before)
    if name and "\x00" not in name:
        query = query.where(AuthEvent.username == name)
    events = db.session.scalars(query).all()
    older = events[AUDIT_PAGE - 1].id if len(events) > AUDIT_PAGE else None
    return render_template("admin/sign_ins.html", events=events[:AUDIT_PAGE], older=older, name=name)
