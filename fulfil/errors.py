"""Error pages: clear words, never a stack trace; HTMX requests get a fragment.

What an error answer says must be true, and drawing it must not need what may be down:
- A request whose change was committed before something failed (most often: drawing the
  result after the database dropped its connection) is answered "saved", with a reload.
  A failure during the COMMIT itself leaves the outcome unknown, and says so.
- The database or Redis not answering gets its own words and a 503, drawn without a
  template (templates load the signed-in user from the database); HTMX requests get a
  fragment retargeted to #flash, so the row the person tapped stays as it was.
- Any other error page is drawn from its template, and falls back to the static answer if
  that fails too. Outages are logged in a line (fulfil.outages), bugs with their traceback.
"""
import logging
from urllib.parse import urlsplit

from flask import current_app, g, has_request_context, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from fulfil import outages
from fulfil.bulk.parsing import too_large as upload_too_large  # the one wording of the upload limit
from fulfil.extensions import db
from fulfil.templating import is_htmx

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood. Check what you entered and try again.",
    403: "Your role does not allow this. Ask a supervisor or an admin.",
    404: "There is nothing at this address. The order may have been removed or mistyped.",
    405: "That action cannot be done this way.",
    409: "Someone else changed this while you were working. Reload and try again.",
    422: "Some of what you entered is not valid.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. Nothing was saved; try again.",
}
NOT_ANSWERING = {"db": "The database is not answering", "redis": "The job queue (Redis) is not answering"}
STOPPED = {"db": "the database stopped answering", "redis": "the job queue (Redis) stopped answering"}
SAVED_BUT = ("Your change was saved, but the result could not be shown: {what}. "
             "Reload to see the order as it is now.")
MAYBE_SAVED = ("{what} while your change was being saved: it may or may not have been saved. "
               "Reload to check before doing it again.")
NOT_SAVED = "{what} — your change was not saved. Try again in a moment."
NOT_SHOWN = "{what} — this could not be shown. Try again in a moment."
HEADINGS = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Changed meanwhile",
            413: "Too large", 503: "Not answering"}
_COMMITTING, _COMMITTED = "fulfil_commit_started", "fulfil_committed"


@event.listens_for(Engine, "commit")
def _commit_starting(conn):
    # Fired just before the database is asked to COMMIT.
    if has_request_context():
        setattr(g, _COMMITTING, True)


@event.listens_for(Session, "after_commit")
def _committed(session):
    if has_request_context() and g.pop(_COMMITTING, False):
        setattr(g, _COMMITTED, True)


def _render(status, message):
    template = "_error.html" if is_htmx() else "error.html"
    try:
        response = render_template(template, status=status, message=message)
    except Exception as exc:  # the page itself needs what is down (the signed-in user, ...)
        outages.report(exc, f"{request.method} {request.path} (error page)")
        return static_answer(status, message)
    headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"} if is_htmx() else {}
    return response, status, headers


def _reload_url():
    """Where "Reload" goes: the page the person is on (HTMX names it), on this site only."""
    current = urlsplit(request.headers.get("HX-Current-URL", "")) if is_htmx() else None
    if current and current.path.startswith("/"):
        return current.path + (f"?{current.query}" if current.query else "")
    return request.full_path.rstrip("?") if request.method == "GET" else url_for("orders.index")


def static_answer(status, message, kind="error"):
    """An answer built from strings only: no template, no database, no Redis."""
    reload = f'<a class="btn small" href="{escape(_reload_url())}">Reload</a>'
    fragment = f'<div class="flash {kind}" role="alert">{escape(message)} {reload}</div>'
    if is_htmx():
        return fragment, status, {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
    links = "".join(f'<a href="{url_for(endpoint)}">{label}</a>' for endpoint, label in (
        ("orders.index", "Orders"), ("bulk.index", "Bulk tracking"), ("supervisor.index", "Supervisor"),
        ("sync.problems", "Sync problems")))
    heading = "Saved" if kind == "success" else HEADINGS.get(status, "Error")
    page = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading} · fulfil</title><link rel="stylesheet" href="{url_for('static', filename='app.css')}"></head>
<body>
<header class="topbar"><a class="brand" href="{url_for('orders.index')}">fulfil</a><nav class="mainnav">{links}</nav></header>
<div id="flash">{fragment}</div>
<main><section class="card error-page"><h1>{heading}</h1>
<p><a class="btn" href="{url_for('orders.index')}">Back to orders</a></p></section></main>
</body>
</html>"""
    return page, status, {}


def _rollback():
    try:
        db.session.rollback()
    except Exception as exc:  # a dead connection may fail its rollback too; it is discarded
        outages.report(exc, f"{request.method} {request.path} (rollback)")


def unexpected_answer(exc):
    """The answer to an exception no view handled: what happened to the change, in words."""
    _rollback()
    where = f"{request.method} {request.path}"
    dependency = outages.report(exc, where)
    if dependency is None:
        log.exception('error=unhandled where="%s"', where)
    what = NOT_ANSWERING.get(dependency)
    if g.pop(_COMMITTED, False):
        detail = STOPPED.get(dependency, "something went wrong on our side")
        return static_answer(200, SAVED_BUT.format(what=detail), kind="success")
    if g.pop(_COMMITTING, False):
        return static_answer(503 if what else 500, MAYBE_SAVED.format(
            what=what or "Something went wrong on our side"))
    if what is None:
        return static_answer(500, MESSAGES[500])
    changing = request.method not in ("GET", "HEAD", "OPTIONS")
    return static_answer(503, (NOT_SAVED if changing else NOT_SHOWN).format(what=what))


def init_app(app):
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _render(400, "Your session form expired or was sent from elsewhere. Reload the page "
                            "and try again; nothing was saved.")

    @app.errorhandler(StaleDataError)
    def stale(exc):
        db.session.rollback()
        return _render(409, MESSAGES[409])

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        return _render(413, upload_too_large(current_app.config["BULK_MAX_BYTES"]))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        # abort(400, "what exactly is wrong") says that; a bare abort(400) the words above.
        specific = exc.description if exc.description != type(exc).description else None
        return _render(exc.code, specific or MESSAGES.get(exc.code, exc.description))

    @app.errorhandler(Exception)
    def unexpected(exc):
        return unexpected_answer(exc)
