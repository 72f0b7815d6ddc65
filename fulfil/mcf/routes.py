"""Amazon MCF pages: the panel on the order page (preview → confirm → at Amazon → shipped),
sending many orders at once, cancelling at Amazon, the SOP's placeholder as an explicit
choice, and the SKUs that live at Amazon (mapping and routing rules)."""
from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from fulfil.actions import Actor, InvalidInput
from fulfil.auth.roles import BULK_UPLOAD, WORK_ORDERS, roles_required
from fulfil.extensions import db
from fulfil.marketplaces.amazon_mcf import STATUS_LABELS
from fulfil.marketplaces.base import MarketplaceError
from fulfil.mcf import service
from fulfil.mcf.forms import BulkForm, PlaceholderForm, SendForm, SkuForm
from fulfil.mcf.models import McfSku
from fulfil.models import MarketplaceAccount, Order
from fulfil.status import ActionNotAllowed
from fulfil.templating import is_htmx

bp = Blueprint("mcf", __name__, url_prefix="/mcf", template_folder="templates")
SEND_ROLES = BULK_UPLOAD  # sending to Amazon costs the seller fees
BULK_MAX_ORDERS = 100


@dataclass
class Panel:
    order: Order
    mcf: object = None  # the latest McfOrder
    why_not: str | None = None
    form: object = None
    options: list = field(default_factory=list)  # PreviewOption
    error: str | None = None
    notice: str | None = None
    placeholder: object = None


def panel_for(order, **extra):
    history = service.mcf_history(order)
    return Panel(order=order, mcf=history[0] if history else None, why_not=service.why_not_send(order), **extra)


@bp.app_template_global("mcf_panel")
def mcf_panel(order):
    """The order page includes the MCF panel when there is an MCF account or an MCF history."""
    panel = panel_for(order)
    if panel.mcf is None and not service.mcf_accounts():
        return None
    panel.form = SendForm(service.mcf_accounts(), formdata=None)
    panel.placeholder = PlaceholderForm(formdata=None)
    return panel


@bp.app_context_processor
def _labels():
    return {"MCF_STATUS_LABELS": STATUS_LABELS}


def _order_or_404(order_id):
    order = db.session.get(Order, order_id)
    if order is None:
        abort(404)
    return order


def _panel(panel, status=200):
    if not is_htmx():
        if panel.error:
            flash(panel.error, "error")
        elif panel.notice:
            flash(panel.notice, "ok")
        return redirect(url_for("orders.order", order_id=panel.order.id), 303)
    return render_template("mcf/_panel.html", panel=panel), status


def _adapter(account):
    from fulfil.ratelimit import limited_adapter  # shared rate limit and token, as workers use
    return limited_adapter(account)


def _message(exc):
    if isinstance(exc, InvalidInput):
        return " ".join(exc.errors.values())
    if isinstance(exc, MarketplaceError):
        return f"Amazon: {exc.message}"
    return str(exc)


@bp.route("/orders/<int:order_id>/panel")
@roles_required(*WORK_ORDERS)
def panel(order_id):
    order = _order_or_404(order_id)
    found = mcf_panel(order)
    if found is None:
        abort(404)
    return render_template("mcf/_panel.html", panel=found)


@bp.route("/orders/<int:order_id>/preview", methods=["POST"])
@roles_required(*SEND_ROLES)
def preview(order_id):
    order = _order_or_404(order_id)
    form = SendForm(service.mcf_accounts())
    found = panel_for(order, form=form, placeholder=PlaceholderForm(formdata=None))
    if not form.validate():
        found.error = " ".join(e for errors in form.errors.values() for e in errors)
        return _panel(found, 422)
    try:
        account = service.account_or_error(form.account.data)
        found.options = service.preview(order, account, _adapter(account), block_amzl=form.block_amzl.data)
    except (InvalidInput, MarketplaceError) as exc:
        found.error = _message(exc)
        return _panel(found, 422 if isinstance(exc, InvalidInput) else 502)
    fulfillable = [o.speed for o in found.options if o.fulfillable]
    if fulfillable and form.shipping_speed.data not in fulfillable:
        form.shipping_speed.data = fulfillable[0]
    return _panel(found)


@bp.route("/orders/<int:order_id>/send", methods=["POST"])
@roles_required(*SEND_ROLES)
def send(order_id):
    order = _order_or_404(order_id)
    form = SendForm(service.mcf_accounts())
    found = panel_for(order, form=form, placeholder=PlaceholderForm(formdata=None))
    if not form.validate():
        found.error = " ".join(e for errors in form.errors.values() for e in errors)
        return _panel(found, 422)
    try:
        account = service.account_or_error(form.account.data)
        chosen = _confirmed_option(order, account, form)
        mcf = service.send(order, account, Actor(current_user._get_current_object()),
                           shipping_speed=form.shipping_speed.data, block_amzl=form.block_amzl.data, chosen=chosen)
        db.session.commit()
    except (InvalidInput, ActionNotAllowed) as exc:
        db.session.rollback()
        found = panel_for(order, form=form, placeholder=PlaceholderForm(formdata=None), error=_message(exc))
        return _panel(found, 422)
    done = panel_for(order, form=SendForm(service.mcf_accounts(), formdata=None),
                     placeholder=PlaceholderForm(formdata=None),
                     notice=f"Sent to Amazon as {mcf.seller_fulfillment_order_id}: Amazon ships it, "
                            "and its tracking goes to the marketplace by itself.")
    return _panel(done)


def _confirmed_option(order, account, form):
    """Amazon's preview of the chosen speed, read again at confirmation: an order Amazon
    cannot fulfil is refused here, in Amazon's words. When Amazon cannot be asked right now,
    the create still goes (the outbox sends it when Amazon answers)."""
    try:
        options = service.preview(order, account, _adapter(account), block_amzl=form.block_amzl.data)
    except MarketplaceError:
        return None
    chosen = next((o for o in options if o.speed == form.shipping_speed.data), None)
    if chosen is not None and not chosen.fulfillable:
        raise InvalidInput({"shipping_speed": f"Amazon cannot fulfil it with {chosen.speed} shipping: "
                                              + ("; ".join(chosen.reasons) or "not fulfillable")})
    return chosen


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@roles_required(*SEND_ROLES)
def cancel(order_id):
    order = _order_or_404(order_id)
    mcf = service.active_mcf(order)
    found = panel_for(order, form=SendForm(service.mcf_accounts(), formdata=None),
                      placeholder=PlaceholderForm(formdata=None))
    if mcf is None:
        found.error = "This order is not at Amazon."
        return _panel(found, 409)
    try:
        service.request_cancel(mcf, Actor(current_user._get_current_object()), "Cancel at Amazon asked for")
        db.session.commit()
    except InvalidInput as exc:
        db.session.rollback()
        found.error = _message(exc)
        return _panel(found, 409)
    found = panel_for(order, form=SendForm(service.mcf_accounts(), formdata=None),
                      placeholder=PlaceholderForm(formdata=None),
                      notice="Cancellation sent to Amazon; the order returns to the warehouse once Amazon confirms.")
    return _panel(found)


@bp.route("/orders/<int:order_id>/placeholder", methods=["POST"])
@roles_required(*SEND_ROLES)
def placeholder(order_id):
    order = _order_or_404(order_id)
    form = PlaceholderForm()
    found = panel_for(order, form=SendForm(service.mcf_accounts(), formdata=None), placeholder=form)
    try:
        service.placeholder_ship(order, Actor(current_user._get_current_object()), bool(form.confirm.data))
        db.session.commit()
    except (InvalidInput, ActionNotAllowed) as exc:
        db.session.rollback()
        found.error = _message(exc)
        return _panel(found, 422)
    found = panel_for(order, form=SendForm(service.mcf_accounts(), formdata=None),
                      placeholder=PlaceholderForm(formdata=None),
                      notice="Marked shipped with the placeholder USPS 12345.")
    return _panel(found)


# -- many orders at once -------------------------------------------------------------------

@dataclass
class BulkRow:
    number: str
    order: Order | None = None
    options: list = field(default_factory=list)
    problem: str | None = None
    sent: str | None = None  # sellerFulfillmentOrderId once sent


def _bulk_rows(text):
    numbers = list(dict.fromkeys(n.strip() for n in text.splitlines() if n.strip()))
    if len(numbers) > BULK_MAX_ORDERS:
        raise InvalidInput({"numbers": f"At most {BULK_MAX_ORDERS} orders at once ({len(numbers)} pasted)."})
    rows = []
    for number in numbers:
        order = db.session.scalar(db.select(Order).where(
            (Order.external_id == number) | (Order.order_number == number)).order_by(Order.id).limit(1))
        row = BulkRow(number[:80], order)
        row.problem = "No order with this number." if order is None else service.why_not_send(order)
        rows.append(row)
    return rows


@bp.route("/send", methods=["GET", "POST"])
@roles_required(*SEND_ROLES)
def bulk():
    """Paste order numbers → Amazon's preview for each → confirm → all sendable ones go."""
    accounts = service.mcf_accounts()
    form = BulkForm(accounts, formdata=request.form if request.method == "POST" else None)
    if request.method == "GET" and request.args.get("numbers"):
        form.numbers.data = request.args["numbers"][:20000]
    rows, error, confirming = [], None, request.form.get("step") == "confirm"
    if request.method == "POST":
        if not accounts:
            error = "No Amazon MCF account is configured."
        elif not form.validate():
            error = " ".join(e for errors in form.errors.values() for e in errors)
        else:
            try:
                account = service.account_or_error(form.account.data)
                rows = _bulk_rows(form.numbers.data)
                if confirming:
                    _bulk_send(rows, account, form)
                else:
                    _bulk_preview(rows, account, form)
            except InvalidInput as exc:
                db.session.rollback()
                error = _message(exc)
    status = 422 if error else 200
    return render_template("mcf/bulk.html", form=form, rows=rows, error=error, confirmed=confirming,
                           sendable=sum(1 for r in rows if not r.problem)), status


def _bulk_preview(rows, account, form):
    adapter = _adapter(account)
    for row in rows:
        if row.problem:
            continue
        try:
            row.options = service.preview(row.order, account, adapter, block_amzl=form.block_amzl.data)
        except (InvalidInput, MarketplaceError) as exc:
            row.problem = _message(exc)
            continue
        chosen = next((o for o in row.options if o.speed == form.shipping_speed.data), None)
        if chosen is not None and not chosen.fulfillable:
            row.problem = f"Amazon cannot fulfil it with {chosen.speed} shipping: " + "; ".join(chosen.reasons)


def _bulk_send(rows, account, form):
    """Each order in its own savepoint: one that cannot go leaves the others sent."""
    actor = Actor(current_user._get_current_object())
    for row in rows:
        if row.problem:
            continue
        try:
            with db.session.begin_nested():
                mcf = service.send(row.order, account, actor, shipping_speed=form.shipping_speed.data,
                                   block_amzl=form.block_amzl.data)
            row.sent = mcf.seller_fulfillment_order_id
        except (InvalidInput, ActionNotAllowed) as exc:
            row.problem = _message(exc)
    db.session.commit()


# -- SKUs at Amazon ------------------------------------------------------------------------

@bp.route("/skus", methods=["GET", "POST"])
@roles_required(*SEND_ROLES)
def skus():
    accounts = service.mcf_accounts()
    sources = db.session.scalars(db.select(MarketplaceAccount).where(
        MarketplaceAccount.kind != service.KIND).order_by(MarketplaceAccount.name)).all()
    form = SkuForm(accounts, sources, formdata=request.form if request.method == "POST" else None)
    error = None
    if request.method == "POST":
        if not accounts:
            error = "No Amazon MCF account is configured."
        elif form.validate():
            source_id = int(form.source_account.data) if form.source_account.data else None
            row = db.session.scalar(db.select(McfSku).where(
                McfSku.account_id == int(form.account.data), McfSku.sku == form.sku.data,
                McfSku.source_account_id.is_(None) if source_id is None else McfSku.source_account_id == source_id))
            if row is None:
                row = McfSku(account_id=int(form.account.data), source_account_id=source_id, sku=form.sku.data)
                db.session.add(row)
            row.mcf_sku = form.mcf_sku.data or form.sku.data
            row.auto_route, row.shipping_speed = bool(form.auto_route.data), form.shipping_speed.data
            db.session.commit()
            flash(f"{row.sku} saved.", "ok")
            return redirect(url_for(".skus"), 303)
        else:
            error = " ".join(e for errors in form.errors.values() for e in errors)
    rows = db.session.scalars(db.select(McfSku).order_by(McfSku.sku)).all()
    return render_template("mcf/skus.html", form=form, rows=rows, error=error), 422 if error else 200


@bp.route("/skus/<int:sku_id>/delete", methods=["POST"])
@roles_required(*SEND_ROLES)
def delete_sku(sku_id):
    row = db.session.get(McfSku, sku_id)
    if row is None:
        abort(404)
    db.session.delete(row)
    db.session.commit()
    flash(f"{row.sku} removed.", "ok")
    return redirect(url_for(".skus"), 303)
