"""Error pages: clear words, never a stack trace; HTMX requests get a fragment."""
import logging

from flask import render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from fulfil.extensions import db
from fulfil.templating import is_htmx

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood. Check what you entered and try again.",
    403: "Your role does not allow this. Ask a supervisor or an admin.",
    404: "There is nothing at this address. The order may have been removed or mistyped.",
    405: "That action cannot be done this way.",
    409: "Someone else changed this while you were working. Reload and try again.",
    413: "The file is too large. Split it into smaller files and upload them one by one.",
    422: "Some of what you entered is not valid.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. Nothing was saved; try again.",
}


def _render(status, message):
    template = "_error.html" if is_htmx() else "error.html"
    response = render_template(template, status=status, message=message)
    headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"} if is_htmx() else {}
    return response, status, headers


def init_app(app):
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _render(400, "Your session form expired or was sent from elsewhere. Reload the page "
                            "and try again; nothing was saved.")

    @app.errorhandler(StaleDataError)
    def stale(exc):
        db.session.rollback()
        return _render(409, MESSAGES[409])

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return _render(exc.code, MESSAGES.get(exc.code, exc.description))

    @app.errorhandler(Exception)
    def unexpected(exc):
        db.session.rollback()
        log.exception("error=unhandled")
        return _render(500, MESSAGES[500])
