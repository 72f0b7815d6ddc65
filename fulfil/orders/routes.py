"""The order console: inbox lists, the order page, inline actions, packing slip, CSV export.

An action re-renders the part of the page it was started from — the order's row in a list
(`view=row`) or the order page's body — so a tablet never reloads the page. Views keep to
validate → fulfil.actions.perform → commit once → render.
"""
from dataclasses import dataclass

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from fulfil import marketplaces, tracking
from fulfil.aftersales import stopship
from fulfil.actions import Actor, Conflict, InvalidInput, check_tracking, perform
from fulfil.auth.roles import WORK_ORDERS, roles_required
from fulfil.extensions import db
from fulfil.models import Event, MarketplaceAccount, Order, Shipment
from fulfil.orders import bp, labels, queries
from fulfil.orders.export import csv_chunks
from fulfil.orders.forms import ACTION_FORMS, ListForm, carrier_choices, form_prefix
from fulfil.status import ACTIONS, ActionNotAllowed, allowed_actions, check_action, refusals
from fulfil.templating import is_htmx, render

for _name, _value in {
    "ACTIONS": ACTIONS, "ACTION_FORMS": ACTION_FORMS, "allowed_actions": allowed_actions, "refusals": refusals,
    "form_prefix": form_prefix, "TABS": queries.TABS, "count_label": queries.count_label,
    "NUMBER_LABELS": labels.NUMBER_LABELS, "ORDER_NUMBER_LABELS": labels.ORDER_NUMBER_LABELS,
    "ITEM_ID_LABELS": labels.ITEM_ID_LABELS, "package_label": labels.package_label,
}.items():
    bp.add_app_template_global(_value, _name)  # globals, so the partials' macros see them too

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Notice:
    kind: str  # ok | error | stop-ship (the marketplace cancelled the order)
    text: str


# -- lists ---------------------------------------------------------------------------

def _list_form():
    accounts = db.session.scalars(select(MarketplaceAccount).order_by(MarketplaceAccount.name)).all()
    form = ListForm(request.args, accounts)
    return form, form.problems()


def _listing(form, with_counts=True):
    order_filter = form.order_filter()
    clock = queries.Clock.current()
    found = queries.search(order_filter.q)
    orders, next_cursor = queries.page(order_filter, clock, found, form.cursor(),
                                       limit=current_app.config["PAGE_SIZE"])
    return {"filter": order_filter, "found": found, "orders": orders, "next_cursor": next_cursor,
            "counts": queries.counts(order_filter, clock, found) if with_counts else None}


@bp.route("/")
@roles_required(*WORK_ORDERS)
def index():
    """The inbox: tabs with counts, filters and search; an HTMX request gets just the list."""
    form, problems = _list_form()
    return render("orders/index.html", "orders/_order_list.html", list_form=form, problems=problems,
                  **_listing(form)), (400 if problems else 200)


@bp.route("/orders/rows")
@roles_required(*WORK_ORDERS)
def rows():
    """"Load more": the next page of a list, after the (ship_by, id) its button carries."""
    form, problems = _list_form()
    if problems:
        return render_template("_error.html", message="; ".join(problems) + ". Reload the list."), 400
    return render_template("orders/_order_rows.html", **_listing(form, with_counts=False))


@bp.route("/orders/export.csv")
@roles_required(*WORK_ORDERS)
def export_csv():
    """The current list and filter as CSV, streamed in keyset batches."""
    form, problems = _list_form()
    if problems:
        return render_template("error.html", status=400, message="; ".join(problems) + "."), 400
    order_filter = form.order_filter()
    orders = queries.iter_orders(order_filter, queries.Clock.current(), queries.search(order_filter.q))
    filename = f"orders-{order_filter.tab}.csv"
    return Response(stream_with_context(csv_chunks(orders)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/orders/scan")
@roles_required(*WORK_ORDERS)
def scan():
    """A barcode scanner typed a number and pressed Enter: open the order when exactly one
    has it, otherwise show what the search finds."""
    text = request.args.get("q", "").strip()[:120]
    matches = queries.scan(text) if text else []
    if len(matches) == 1:
        return redirect(url_for(".order", order_id=matches[0]))
    if text and not matches:  # a product's barcode, or a loud "not found" with an empty box
        from fulfil.floor.scanning import resolve
        target = resolve(text)
        if target.message:
            flash(target.message, "error")
        return redirect(target.url)
    return redirect(url_for(".index", tab="all", q=text) if text else url_for(".index"))


# -- one order -----------------------------------------------------------------------

def _order_or_404(order_id):
    order = db.session.get(Order, order_id, options=[
        selectinload(Order.lines), selectinload(Order.shipments).selectinload(Shipment.lines)])
    if order is None:
        abort(404)
    return order


def _view():
    """Where the request came from: 'row' (a list) or 'page' (the order page)."""
    return "row" if is_htmx() and request.args.get("view") == "row" else "page"


def _container(order, view, status=200, **context):
    """Render the part of the page that shows `order`: its list row or the order page."""
    if view == "row":
        return render_template("orders/_order_row.html", order=order, **context), status
    return render("orders/order.html", "orders/_order_detail.html", **_page_context(order), **context), status


def _page_context(order):
    siblings = []
    if order.order_number:
        siblings = db.session.scalars(
            select(Order).where(Order.account_id == order.account_id, Order.order_number == order.order_number,
                                Order.id != order.id).order_by(Order.id).limit(50)).all()
    events = db.session.scalars(select(Event).where(Event.order_id == order.id)
                                .order_by(Event.created_at.desc(), Event.id.desc()).limit(HISTORY_LIMIT)).all()
    return {"order": order, "siblings": siblings, "events": events}


@bp.route("/orders/<int:order_id>")
@roles_required(*WORK_ORDERS)
def order(order_id):
    return _container(_order_or_404(order_id), _view())


@bp.route("/orders/<int:order_id>/slip")
@roles_required(*WORK_ORDERS)
def slip(order_id):
    """Packing slip to print: goods, quantities, address and the number as a barcode."""
    from fulfil.catalogue.service import products_by_sku
    from fulfil.floor.routes import SLIP_SIZES, slip_context
    order = _order_or_404(order_id)
    size = request.args.get("size", "a4")
    return render_template("orders/slip.html", order=order, size=size if size in SLIP_SIZES else "a4",
                           products=products_by_sku(line.sku for line in order.lines), **slip_context())


# -- actions -------------------------------------------------------------------------

def _form_class(action):
    form_class = ACTION_FORMS.get(action)
    if form_class is None:
        abort(404)
    return form_class


def _conflict(order, action, view, form):
    """409: the order changed after the person loaded it. Show it as it is now; offer the
    action again with what they typed when it is still possible, else list what they typed."""
    last = db.session.scalar(select(Event).where(Event.order_id == order.id)
                             .order_by(Event.created_at.desc(), Event.id.desc()).limit(1))
    if form.template and action in allowed_actions(order):
        form.rebase(order.version)
        return _container(order, view, 409, action_form=form, conflict={"last": last, "entered": []})
    return _container(order, view, 409, conflict={"last": last, "entered": form.entered()})


# Before these, the marketplace is asked whether the order was cancelled meanwhile.
STOP_SHIP_ACTIONS = ("pack", "ship")


@bp.route("/orders/<int:order_id>/<action>")
@roles_required(*WORK_ORDERS)
def action_form(order_id, action):
    """Open the form of an action that needs details (ship, cancel, ...) in place."""
    order = _order_or_404(order_id)
    form_class = _form_class(action)
    if form_class.template is None:
        abort(404)  # one-tap actions post straight away
    view = _view()
    seen = request.args.get("version", default=order.version, type=int)
    form = form_class.opened(order, seen, request.args)
    if seen != order.version:
        return _conflict(order, action, view, form)
    if action in STOP_SHIP_ACTIONS and stopship.check_live(order).cancelled:
        return _container(order, view, 409, notice=Notice("stop-ship", stopship.stop_message(order)))
    try:
        check_action(order, action)
    except ActionNotAllowed as exc:
        return _container(order, view, 409, notice=Notice("error", str(exc)))
    return _container(order, view, action_form=form)


@bp.route("/orders/<int:order_id>/<action>", methods=["POST"])
@roles_required(*WORK_ORDERS)
def act(order_id, action):
    order = _order_or_404(order_id)
    form = _form_class(action)(order)
    view = _view()
    if form.rearranged():
        return _container(order, view, action_form=form)
    if not form.validate():
        return _container(order, view, 422, action_form=form)
    if action in STOP_SHIP_ACTIONS and stopship.check_live(order).cancelled:
        return _container(order, view, 409, notice=Notice("stop-ship", stopship.stop_message(order)))
    try:
        perform(order, action, Actor(current_user._get_current_object()), expected_version=form.version.data,
                **form.params())
        db.session.commit()
    except InvalidInput as exc:
        db.session.rollback()
        form.show_errors(exc.errors)
        return _container(order, view, 422, action_form=form)
    except ActionNotAllowed as exc:
        db.session.rollback()
        return _container(order, view, 409, notice=Notice("error", str(exc)))
    except (Conflict, StaleDataError):  # StaleDataError: the other save won the race at commit
        db.session.rollback()
        return _conflict(order, action, view, form)
    if not is_htmx():
        return redirect(url_for(".order", order_id=order.id), 303)
    # Saved here is not yet accepted there: say so, the sync line and the top alert follow.
    sending = (f" Sending to {order.account.marketplace_label}…"
               if order.sync_state == "pending" and marketplaces.is_pushed(order, action) else "")
    return _container(order, view, notice=Notice("ok", f"{ACTIONS[action].label}: saved.{sending}"))


def _field(name):
    """A field of the package being typed; its form names it with a prefix (order5-packages-0-...)."""
    return next((value for key, value in request.args.items() if key == name or key.endswith("-" + name)), "")


@bp.route("/orders/<int:order_id>/tracking-check")
@roles_required(*WORK_ORDERS)
def tracking_check(order_id):
    """As-you-type check of a tracking number for this order's marketplace: a hint fragment."""
    order = _order_or_404(order_id)
    number, carrier = _field("tracking_number")[:100], _field("carrier")
    if not tracking.normalise(number):
        return render_template("orders/_tracking_hint.html")
    shipment = next((s for s in order.shipments if str(s.id) == _field("shipment_id")), None)
    try:
        result, _ = check_tracking(order, carrier or None, number, _field("tracking_url") or None, shipment)
        error, recognised = None, result.carrier
    except InvalidInput as exc:
        error, recognised = next(iter(exc.errors.values())), None
    suggestion = next((code for code in tracking.guess_carriers(number) if code in carrier_choices(order)), None)
    return render_template("orders/_tracking_hint.html", error=error, recognised=recognised, chosen=carrier,
                           suggestion=suggestion if suggestion != carrier else None)
