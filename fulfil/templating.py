"""Template helpers: fragment-or-page, filters, globals."""
from flask import render_template, request

from fulfil import timeutil
from fulfil.models import MARKETPLACE_LABELS
from fulfil.status import STATUS_HINTS, STATUS_LABELS
from fulfil.tracking import CARRIERS
from fulfil.wording import changed_by, plural


def is_htmx():
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def render(page, partial, **context):
    """The full page for a normal request; just the partial for an HTMX request.

    The page template includes the same partial, so both always show the same thing.
    """
    return render_template(partial if is_htmx() else page, **context)


def _local(value, fmt="%d %b %H:%M"):
    local = timeutil.to_local(value)
    return local.strftime(fmt) if local else ""


def _money(value, currency=""):
    if value is None:
        return ""
    symbol = {"USD": "$", "RUB": "₽", "EUR": "€", "CNY": "¥"}.get(currency)
    amount = f"{value:,.2f}"
    return f"{symbol}{amount}" if symbol and currency != "RUB" else f"{amount} {symbol or currency}".strip()


def init_app(app):
    app.jinja_env.filters["local"] = _local
    app.jinja_env.filters["money"] = _money
    app.jinja_env.filters["lateness"] = timeutil.lateness
    app.jinja_env.filters["plural"] = plural
    app.jinja_env.filters["time_left"] = timeutil.time_left
    app.jinja_env.globals.update(
        STATUS_LABELS=STATUS_LABELS, STATUS_HINTS=STATUS_HINTS, CARRIERS=CARRIERS,
        MARKETPLACE_LABELS=MARKETPLACE_LABELS, is_htmx=is_htmx, changed_by=changed_by,
    )
