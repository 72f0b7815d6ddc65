"""The warehouse floor: the day's orders with batch actions, pick lists, the pack station,
slips for any printer, and the one place a scan of anything is resolved.

Every page works as plain form posts (no JavaScript needed); with HTMX a post answers
with just the part it changed. Status changes go through fulfil.actions.perform.
"""
from flask import (Response, abort, current_app, flash, redirect, render_template, request, url_for)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from fulfil.aftersales import stopship
from fulfil.aftersales.models import Recall
from fulfil.actions import Actor, Conflict, InvalidInput, Package, perform
from fulfil.auth.roles import SUPERVISE, WORK_ORDERS, roles_required
from fulfil.catalogue.service import products_by_sku
from fulfil.extensions import db
from fulfil.floor import bp, packing, picking, productivity, scanning
from fulfil.floor.models import PackPhoto, PickList
from fulfil.models import Order, Shipment
from fulfil.orders import barcode
from fulfil.orders.forms import carrier_choices
from fulfil.orders.queries import Clock
from fulfil.status import ActionNotAllowed, allowed_actions
from fulfil.templating import is_htmx, render

SLIP_SIZES = {"a4": "A4", "letter": "Letter", "4x6": "4×6 label"}
MAX_BATCH = 200
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic"}
MAX_PHOTO = 8 * 1024 * 1024

bp.add_app_template_global(barcode.svg, "barcode_svg")
bp.add_app_template_global(SLIP_SIZES, "SLIP_SIZES")


def _user():
    return current_user._get_current_object()


def _ids(values):
    """Order ids from checkboxes or a query string; anything else is dropped."""
    ids = []
    for value in values:
        for part in str(value).split(","):
            if part.strip().isdigit() and len(part.strip()) < 12:
                ids.append(int(part))
    return list(dict.fromkeys(ids))[:MAX_BATCH]


# -- the floor: today's orders, batch actions ------------------------------------------

FLOOR_VIEWS = {"today": "Due today and late", "new": "New", "all": "All open"}


@bp.route("/")
@roles_required(*WORK_ORDERS)
def index():
    view = request.args.get("view", "today")
    view = view if view in FLOOR_VIEWS else "today"
    clock = Clock.current()
    query = select(Order).where(Order.open_to_ship.is_(True), Order.fulfilment_mode != "FBO")
    if view == "today":
        query = query.where(Order.ship_by < clock.today_end)
    elif view == "new":
        query = query.where(Order.status == "new")
    orders = db.session.scalars(query.order_by(Order.ship_by, Order.id).limit(MAX_BATCH)
                                .options(selectinload(Order.lines))).all()
    picks = db.session.scalars(select(PickList).order_by(PickList.id.desc()).limit(10)).all()
    return render_template("floor/index.html", orders=orders, view=view, FLOOR_VIEWS=FLOOR_VIEWS,
                           picks=picks, capped=len(orders) == MAX_BATCH, recalls=stopship.open_recalls())


@bp.route("/recalls/<int:recall_id>/done", methods=["POST"])
@roles_required(*WORK_ORDERS)
def recall_done(recall_id):
    """The parcel is back (or stopped at the carrier) and the goods are on the shelf."""
    recall = db.session.get(Recall, recall_id) or abort(404)
    if recall.done_at is None:
        stopship.recall_done(recall, _user(), request.form.get("note", "").strip())
        db.session.commit()
        flash(f"Recall of order {recall.order.external_id} done.", "ok")
    return redirect(url_for("floor.index"), 303)


@bp.route("/batch", methods=["POST"])
@roles_required(*WORK_ORDERS)
def batch():
    """Selected orders → acknowledge, a pick list, or their packing slips in one document."""
    ids = _ids(request.form.getlist("order"))
    what = request.form.get("do", "")
    back = url_for(".index", view=request.form.get("view", "today"))
    if what not in ("acknowledge", "pick", "slips"):
        flash("Choose what to do with the selected orders.", "error")
        return redirect(back, 303)
    if not ids:
        flash("Select at least one order first (tick the boxes).", "error")
        return redirect(back, 303)
    if what == "slips":
        return redirect(url_for(".slips", ids=",".join(map(str, ids)),
                                size=request.form.get("size", "a4")), 303)
    if what == "pick":
        return _make_pick_list(ids, back)
    return _acknowledge_all(ids, back)


def _acknowledge_all(ids, back):
    orders = db.session.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.ship_by, Order.id)).all()
    done, refused = 0, []
    actor = Actor(_user())
    for order in orders:
        try:
            with db.session.begin_nested():  # one refusal never undoes the others
                perform(order, "acknowledge", actor)
            done += 1
        except (ActionNotAllowed, InvalidInput) as exc:
            refused.append(f"{order.external_id}: {exc}")
    db.session.commit()
    if done:
        flash(f"Acknowledged {_n(done, 'order')}: the marketplaces learn it within seconds "
              "(see each order's sync).", "success")
    if refused:
        flash(f"Not acknowledged ({len(refused)}): " + "; ".join(refused[:20]), "error")
    return redirect(back, 303)


def _n(count, noun):
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _make_pick_list(ids, back):
    try:
        pick_list = picking.create(ids, _user())
        db.session.commit()
    except picking.PickRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(back, 303)
    return redirect(url_for(".pick_list", pick_id=pick_list.id), 303)


@bp.route("/picks/due-today", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pick_due_today():
    """Everything due today (and late): one wave."""
    ids = picking.due_today_ids()
    if len(ids) > picking.MAX_ORDERS:
        flash(f"More than {picking.MAX_ORDERS} orders are due today: select them in smaller waves below.",
              "error")
        return redirect(url_for(".index"), 303)
    return _make_pick_list(ids, url_for(".index"))


# -- pick lists ----------------------------------------------------------------------

def _pick_or_404(pick_id):
    pick_list = db.session.get(PickList, pick_id)
    if pick_list is None:
        abort(404)
    return pick_list


def _pick_page(pick_list, status=200, message=None, kind="ok"):
    return render("floor/pick.html", "floor/_pick.html", pick=pick_list, sheet=picking.sheet(pick_list),
                  message=message, kind=kind), status


@bp.route("/picks/<int:pick_id>")
@roles_required(*WORK_ORDERS)
def pick_list(pick_id):
    return _pick_page(_pick_or_404(pick_id))


@bp.route("/picks/<int:pick_id>/claim", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pick_claim(pick_id):
    pick_list = _pick_or_404(pick_id)
    try:
        picking.claim(pick_list, _user(), take_over=request.form.get("take_over") == "1")
        db.session.commit()
    except picking.PickRefused as exc:
        db.session.rollback()
        return _pick_page(pick_list, 409, str(exc), "error")
    return _pick_page(pick_list, message="You are picking this list.")


@bp.route("/picks/<int:pick_id>/pick", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pick_row(pick_id):
    pick_list = _pick_or_404(pick_id)
    quantity = request.form.get("quantity", "")
    if not quantity.strip().isdigit():
        return _pick_page(pick_list, 422, "Say how many were picked (a whole number).", "error")
    try:
        row = picking.set_picked(pick_list, request.form.get("key", "")[:200], int(quantity[:6]), _user())
        db.session.commit()
    except picking.PickRefused as exc:
        db.session.rollback()
        return _pick_page(pick_list, 409, str(exc), "error")
    return _pick_page(pick_list, message=f"{row.sku}: {row.picked} of {row.quantity} picked.")


@bp.route("/picks/<int:pick_id>/scan", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pick_scan(pick_id):
    pick_list = _pick_or_404(pick_id)
    code = request.form.get("code", "").strip()[:120]
    try:
        row, sku = picking.pick_scan(pick_list, code, _user())
        db.session.commit()
    except picking.PickRefused as exc:
        db.session.rollback()
        return _pick_page(pick_list, 422, str(exc), "error")
    return _pick_page(pick_list, message=f"✓ {sku}{' · bin ' + row.bin_location if row.bin_location else ''}: "
                                         f"{row.picked} of {row.quantity} picked.")


# -- pack station --------------------------------------------------------------------

def _order_or_404(order_id):
    order = db.session.get(Order, order_id, options=[
        selectinload(Order.lines), selectinload(Order.shipments).selectinload(Shipment.lines)])
    if order is None:
        abort(404)
    return order


def _station(order, status=200, outcome=None, notice=None, ship_error=None, entered=None, unchecked=None):
    photos = db.session.scalars(select(PackPhoto.id).where(PackPhoto.order_id == order.id)
                                .order_by(PackPhoto.id)).all()
    return render("floor/pack.html", "floor/_pack.html", order=order, state=packing.state(order),
                  outcome=outcome, notice=notice, ship_error=ship_error, entered=entered or {},
                  carriers=carrier_choices(order), can_override=_user().role in packing.OVERRIDE_ROLES,
                  allowed=allowed_actions(order), photos=photos, unchecked=unchecked,
                  stop=stopship.stop_message(order) if order.status == "cancelled" else None), status


def _stopped(order):
    """Ask the marketplace before the parcel is closed or handed over: cancelled there = STOP."""
    return stopship.check_live(order).cancelled


@bp.route("/pack/<int:order_id>")
@roles_required(*WORK_ORDERS)
def pack(order_id):
    order = _order_or_404(order_id)
    return _station(order, unchecked=stopship.check_live(order).unchecked)


@bp.route("/pack/<int:order_id>/scan", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pack_scan(order_id):
    order = _order_or_404(order_id)
    try:
        outcome = packing.record_scan(order, request.form.get("code", ""), _user())
        db.session.commit()
    except packing.PackRefused as exc:
        db.session.rollback()
        return _station(order, 409, outcome=packing.ScanOutcome("unknown", str(exc)))
    return _station(order, 422 if outcome.is_error else 200, outcome=outcome)


@bp.route("/pack/<int:order_id>/reset", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pack_reset(order_id):
    order = _order_or_404(order_id)
    packing.start_over(order, _user())
    db.session.commit()
    return _station(order, notice=("ok", "Scans cleared: scan every item again."))


def _version():
    value = request.form.get("version", "")
    return int(value) if value.isdigit() else None


@bp.route("/pack/<int:order_id>/packed", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pack_done(order_id):
    order = _order_or_404(order_id)
    if _stopped(order):
        return _station(order, 409)
    try:
        packing.mark_packed(order, _user(), _version(), request.form.get("reason", "")[:500])
        db.session.commit()
    except (packing.PackRefused, ActionNotAllowed, InvalidInput) as exc:
        db.session.rollback()
        return _station(order, 409, notice=("error", str(exc)), entered={"reason": request.form.get("reason", "")})
    except (Conflict, StaleDataError):
        db.session.rollback()
        order = _order_or_404(order_id)
        return _station(order, 409, notice=("error", "Someone else changed this order while you were packing "
                                                     "it: check it below and try again."))
    return _station(order, notice=("ok", "Packed. Scan or type the tracking number to ship it."))


@bp.route("/pack/<int:order_id>/ship", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pack_ship(order_id):
    order = _order_or_404(order_id)
    entered = {"tracking_number": request.form.get("tracking_number", "")[:100],
               "carrier": request.form.get("carrier", "")[:40]}
    if _stopped(order):
        return _station(order, 409, entered=entered)
    current = packing.state(order)
    if order.status in packing.PACKABLE and not current.complete:
        return _station(order, 409, ship_error="Verify every item (or have a supervisor override) before shipping.",
                        entered=entered)
    try:
        perform(order, "ship", Actor(_user()), expected_version=_version(),
                packages=[Package(entered["carrier"] or None, entered["tracking_number"])])
        db.session.commit()
    except InvalidInput as exc:
        db.session.rollback()
        return _station(order, 422, ship_error=" ".join(exc.errors.values()), entered=entered)
    except ActionNotAllowed as exc:
        db.session.rollback()
        return _station(order, 409, ship_error=str(exc), entered=entered)
    except (Conflict, StaleDataError):
        db.session.rollback()
        order = _order_or_404(order_id)
        return _station(order, 409, ship_error="Someone else changed this order meanwhile: check it and "
                                               "ship again.", entered=entered)
    return _station(order, notice=("ok", f"Shipped with {entered['tracking_number'].strip()}: the marketplace "
                                         "learns it within seconds (see Sync on the order)."))


@bp.route("/pack/<int:order_id>/photo", methods=["POST"])
@roles_required(*WORK_ORDERS)
def pack_photo(order_id):
    order = _order_or_404(order_id)
    upload = request.files.get("photo")
    data = upload.read(MAX_PHOTO + 1) if upload else b""
    kind = (upload.mimetype if upload else "") or ""
    if not data:
        return _station(order, 422, notice=("error", "Take or choose a photo first."))
    if len(data) > MAX_PHOTO:
        return _station(order, 422, notice=("error", "The photo is larger than 8 MB: take it again at a "
                                                     "lower resolution."))
    if kind not in PHOTO_TYPES or not _looks_like_image(data):
        return _station(order, 422, notice=("error", "That file is not a photo (JPEG, PNG, WebP or HEIC)."))
    db.session.add(PackPhoto(order_id=order.id, user_id=_user().id, content_type=kind, data=data))
    from fulfil.models import Event
    db.session.add(Event(order=order, user=_user(), actor=_user().label, source="ui", action="photo",
                         old_value=order.status, new_value=order.status, note="Photo of the packed parcel"))
    db.session.commit()
    return _station(order, notice=("ok", "Photo saved with the order."))


def _looks_like_image(data):
    return (data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or data[4:12] in (b"ftypheic", b"ftypmif1"))


@bp.route("/photos/<int:photo_id>")
@roles_required(*WORK_ORDERS)
def photo(photo_id):
    found = db.session.get(PackPhoto, photo_id)
    if found is None:
        abort(404)
    # A parcel photo can show the label with the buyer's address: never kept on a shared tablet.
    return Response(found.data, mimetype=found.content_type, headers={"Cache-Control": "no-store"})


# -- slips -----------------------------------------------------------------------------

@bp.route("/slips")
@roles_required(*WORK_ORDERS)
def slips():
    """Packing slips of many orders as one document: one printed page (or label) per order."""
    ids = _ids([request.args.get("ids", "")])
    size = request.args.get("size", "a4")
    size = size if size in SLIP_SIZES else "a4"
    orders = db.session.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.ship_by, Order.id)
                                .options(selectinload(Order.lines))).all() if ids else []
    if not orders:
        return render_template("error.html", status=404, message="None of those orders exists any more."), 404
    products = products_by_sku(line.sku for o in orders for line in o.lines)
    return render_template("floor/slips.html", orders=orders, size=size, products=products,
                           ids=",".join(str(o.id) for o in orders), **slip_context())


def slip_context():
    text = current_app.config["RETURN_ADDRESS"]
    lines = [part.strip() for part in text.replace("|", "\n").splitlines() if part.strip()]
    return {"seller_name": current_app.config["SELLER_NAME"], "return_address": lines}


# -- the scanner -----------------------------------------------------------------------

@bp.route("/scan")
@roles_required(*WORK_ORDERS)
def scan():
    """Whatever was scanned on a page without a scan box: open the order, or the product."""
    code = request.args.get("code", "").strip()[:120]
    target = scanning.resolve(code)
    if target.message:
        flash(target.message, "error")
    return redirect(target.url, 303)


# -- productivity ----------------------------------------------------------------------

PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days"}


@bp.route("/packers")
@roles_required(*SUPERVISE)
def packers():
    """Per packer: orders packed, per hour, and how many scans were wrong."""
    from datetime import timedelta

    from fulfil.timeutil import today_bounds, utcnow
    period = request.args.get("period", "today")
    period = period if period in PERIODS else "today"
    now = utcnow()
    since = today_bounds(now)[0] if period == "today" else now - timedelta(days=int(period[:-1]))
    return render_template("floor/packers.html", stats=productivity.packers(since, now + timedelta(seconds=1)),
                           period=period, PERIODS=PERIODS)
