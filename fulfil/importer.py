"""Import: pull new and changed orders from each account and upsert them.

Marketplace-side changes (cancelled, delivered, dispute, shipped elsewhere) are applied
and audited with source "marketplace". Marketplace data is input too: each order is
checked first (fulfil.marketplaces._sanitize) — text cleaned and cut with a data warning
on the order, unfit ids, quantities or amounts refused. A record that cannot be taken
becomes an ImportProblem a supervisor sees, in words; it never stops the rest of the
import. Running the import twice changes nothing the second time.
"""
import json
import logging
from dataclasses import asdict

from flask import current_app
from sqlalchemy import exc as sa_exc

from fulfil import marketplaces, outages
from fulfil.catalogue.service import learn_from_lines
from fulfil.extensions import db
from fulfil.marketplaces._sanitize import UnfitOrder, check_order, clean_text
from fulfil.marketplaces.base import MarketplaceError
from fulfil.models import Event, ImportProblem, MarketplaceAccount, Order, OrderLine, Shipment, ShipmentLine
from fulfil.outbox import refresh_sync_state
from fulfil.search import index_order
from fulfil.status import STATUS_LABELS, is_open, status_effects
from fulfil.timeutil import utcnow

log = logging.getLogger(__name__)

# How far along an order is; the marketplace moving an order forward is always taken.
PROGRESS = {"on_hold": 0, "new": 1, "to_pack": 2, "ready": 3, "in_transit": 4, "delivered": 5}
# Statuses only the marketplace decides: always taken, even over unsent local changes.
MARKETPLACE_DECIDES = {"cancelled", "dispute", "not_accepted", "delivered"}
ORDER_FIELDS = ("order_number", "raw_status", "raw_substatus", "fulfilment_mode", "delivery_scheme",
                "remote_actions", "ordered_at",
                "ship_by", "buyer_name", "buyer_email", "buyer_phone", "address_line1",
                "address_line2", "city", "region", "postal_code", "country", "currency", "total",
                "remote_updated_at")


def sync_accounts_from_config(app=None):
    """Create or update a MarketplaceAccount row for each account in config (no secrets)."""
    app = app or current_app
    for slug, settings in app.config["MARKETPLACE_ACCOUNTS"].items():
        kind = settings.get("kind")
        if kind not in marketplaces.KINDS + marketplaces.CHANNELS:
            log.error("import=account_skipped slug=%s reason='unknown kind %s'", slug, kind)
            continue
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == slug))
        if account is None:
            account = MarketplaceAccount(slug=slug, kind=kind)
            db.session.add(account)
        account.kind = kind
        account.name = settings.get("name", slug)
        account.base_url = settings.get("base_url", "")
        account.rate_limit = float(settings.get("rate_limit") or account.rate_limit or 5.0)
    db.session.commit()


def import_account(account, adapter=None, max_pages=200):
    """Pull every page of changes for one account. Returns the number of orders upserted.

    Workers pass an adapter whose calls count against the account's shared rate limit."""
    adapter = adapter or marketplaces.adapter_for(account)
    account.last_import_at = utcnow()
    cursor, count = account.import_cursor, 0
    try:
        for _ in range(max_pages):
            page = adapter.list_changed(cursor)
            for remote in page.orders:
                count += _upsert_isolated(account, remote)
            for external_id, message, raw in page.problems:
                _record_problem(account, external_id, message, raw)
            cursor = account.import_cursor = page.cursor
            db.session.commit()  # a page at a time: a later failure keeps what was imported
            if not page.has_more:
                break
    except MarketplaceError as exc:
        db.session.rollback()
        account = db.session.get(MarketplaceAccount, account.id)
        account.last_import_at = utcnow()
        account.last_import_error = f"{exc.kind}: {exc.message}"
        db.session.commit()
        log.warning("import=failed account=%s kind=%s error=%r", account.slug, exc.kind, exc.message)
        raise
    account.last_import_ok_at = utcnow()
    account.last_import_error = None
    account.last_import_count = count
    db.session.commit()
    log.info("import=ok account=%s orders=%d", account.slug, count)
    return count


def _upsert_isolated(account, remote):
    """Check one order's data, then upsert it in a savepoint: one bad record never spoils
    the page. A refused or failed record becomes an import problem in words; the exception
    itself (SQL and bound parameters included) goes to the log only."""
    raw = json.dumps(asdict(remote), default=str)[:20000]  # before check_order cleans it
    try:
        warnings = check_order(remote, account.marketplace_label)
        with db.session.begin_nested():
            changed = upsert_order(account, remote, warnings)
        return 1 if changed else 0
    except UnfitOrder as exc:
        log.warning("import=record_refused account=%s external_id=%r reason=%r",
                    account.slug, remote.external_id, str(exc))
        _record_problem(account, remote.external_id, str(exc), raw)
        return 0
    except Exception as exc:  # a poison record: keep it for a person, go on with the rest
        if outages.cause(exc):
            raise  # the database or Redis is away: not this record's fault, the job retries
        log.warning("import=record_failed account=%s external_id=%r", account.slug,
                    remote.external_id, exc_info=exc)
        _record_problem(account, remote.external_id, _failure_message(exc, account), raw)
        return 0


def _failure_message(exc, account):
    """What the Sync problems page says about a record that could not be saved."""
    if isinstance(exc, sa_exc.DataError):
        what = "the database refused one of its values (too long, out of range or not storable)"
    elif isinstance(exc, sa_exc.IntegrityError):
        what = "the database refused it, as it conflicts with data already saved"
    else:
        what = f"an unexpected error ({type(exc).__name__})"
    return (f"fulfil could not save this {account.marketplace_label} order: {what}. The details are in "
            "the import log (import=record_failed).")


def _record_problem(account, external_id, message, raw):
    # Whatever the marketplace sent is stored cleaned: the problem must save even when the
    # order could not (a NUL byte, a 10,000-character id).
    external_id = clean_text(external_id)[:ImportProblem.external_id.type.length] if external_id else external_id
    message = clean_text(message)
    raw = clean_text(raw if isinstance(raw, str) else json.dumps(raw, default=str))
    exists = db.session.scalar(db.select(ImportProblem.id).where(
        ImportProblem.account_id == account.id, ImportProblem.external_id == external_id,
        ImportProblem.error == message, ImportProblem.resolved_at.is_(None)))
    if exists is None:
        db.session.add(ImportProblem(account_id=account.id, external_id=external_id, error=message, raw=raw))


def upsert_order(account, remote, warnings=()):
    """Create or update the order for `remote` (a RemoteOrder, checked by check_order, whose
    `warnings` it keeps on the order). Returns True if anything changed."""
    order = db.session.scalar(db.select(Order).where(Order.account_id == account.id,
                                                     Order.external_id == remote.external_id))
    created = order is None
    if created:
        # Imported already shipped or delivered: the order-level dates too (the stuck-in-transit
        # list and the statistics read them).
        first_shipped = min((s.shipped_at for s in remote.shipments if s.shipped_at), default=None)
        order = Order(account=account, marketplace=account.kind, external_id=remote.external_id,
                      **status_effects(remote.status, remote.shipped_at or first_shipped, remote.delivered_at,
                                       now=remote.updated_at or remote.ordered_at))
        db.session.add(order)
    changed = created
    for name in ORDER_FIELDS:
        value = remote.updated_at if name == "remote_updated_at" else getattr(remote, name)
        if value is not None and getattr(order, name) != value:
            setattr(order, name, value)
            changed = True
    if (order.import_warnings or []) != list(warnings):
        order.import_warnings = list(warnings) or None
        changed = True
    if order.ship_by is None:
        # FBO and on-hold orders may come without a deadline; lists still need one to sort by.
        order.ship_by = remote.ordered_at or utcnow()
    changed |= _sync_lines(order, remote)
    if created:  # the catalogue learns SKUs and names it lacks; what a person typed stays
        learn_from_lines(order.lines)
    db.session.flush()
    changed |= _sync_shipments(order, remote)
    if created:
        _audit(order, "imported", None, remote.status, f"Imported from {account.marketplace_label}")
        if remote.dispute:
            order.dispute_open = True
    else:
        changed |= _apply_remote_status(order, remote)
    if created:
        from fulfil.mcf.routing import route_new_order  # SKUs that live at Amazon go there
        route_new_order(order)
    if changed:
        index_order(order)
        from fulfil.actions import Actor  # packages shipped (or dropped) on the marketplace move stock
        from fulfil.stock.service import apply_orders
        apply_orders([order.id], Actor(source="marketplace"))
    return changed


def _apply_remote_status(order, remote):
    local, wanted = order.status, remote.status
    changed = False
    if remote.dispute and not order.dispute_open:
        order.dispute_open = True
        _audit(order, "open_dispute", local, local, "Dispute opened on the marketplace")
        changed = True
    if wanted == local:
        return changed
    unsent = order.sync_state != "synced"
    ahead = PROGRESS.get(wanted, -1) > PROGRESS.get(local, -1)
    reopened = PROGRESS.get(wanted, -1) < PROGRESS.get(local, -1) and not is_open(local) and not unsent
    if wanted in MARKETPLACE_DECIDES or (ahead and not unsent) or reopened or (
            local in MARKETPLACE_DECIDES and not unsent):
        note = "Reopened by the marketplace" if reopened else f"Marketplace status {remote.raw_status}"
        if reopened:
            _drop_shipments_the_marketplace_dropped(order, remote)
        order.status = wanted
        order.open_to_ship = is_open(wanted)
        if wanted == "cancelled" and remote.cancel_reason:
            order.cancel_reason = remote.cancel_reason
        if wanted == "delivered":
            order.delivered_at = remote.delivered_at or order.delivered_at or utcnow()
        if wanted == "in_transit" and order.shipped_at is None:
            order.shipped_at = remote.shipped_at or utcnow()
        if wanted == "dispute":
            order.dispute_open = True
        _audit(order, "marketplace_status", local, wanted, note)
        if unsent:
            refresh_sync_state(order)
        return True
    return changed


def _sync_lines(order, remote):
    existing = {line.line_number: line for line in order.lines}
    changed = False
    for r in remote.lines:
        line = existing.get(r.line_number)
        if line is None:
            order.lines.append(OrderLine(line_number=r.line_number, sku=r.sku or "", item_id=r.item_id or "",
                                         name=r.name or "", price=r.price, quantity=r.quantity, status=r.status))
            changed = True
            continue
        for name in ("sku", "item_id", "name", "price", "quantity", "status"):
            value = getattr(r, name)
            if value is not None and getattr(line, name) != value:
                setattr(line, name, value)
                changed = True
    return changed


def _drop_shipments_the_marketplace_dropped(order, remote):
    """A re-released order (Wish: SHIPPED -> APPROVED) must be shippable again."""
    remote_numbers = {(r.tracking_number or "").upper() for r in remote.shipments}
    for shipment in list(order.shipments):
        if shipment.tracking_number not in remote_numbers:
            order.shipments.remove(shipment)


def _sync_shipments(order, remote):
    """Add packages the marketplace knows and fulfil does not (shipped outside fulfil)."""
    if _tracking_replaced_on_marketplace(order, remote):
        return True
    known = {s.tracking_number for s in order.shipments if s.tracking_number}
    lines = {line.line_number: line for line in order.lines}
    changed = False
    for r in remote.shipments:
        if not r.tracking_number or r.tracking_number.upper() in known:
            if r.delivered_at:
                for s in order.shipments:
                    if s.tracking_number == r.tracking_number and s.delivered_at is None:
                        s.delivered_at, changed = r.delivered_at, True
            continue
        shipment = Shipment(order=order, tracking_number=r.tracking_number.upper(),
                            carrier_name=r.carrier_name, carrier=_carrier_code(order.marketplace, r.carrier_name),
                            tracking_url=r.tracking_url, shipment_ref=r.shipment_ref,
                            shipped_at=r.shipped_at, delivered_at=r.delivered_at)
        quantities = r.line_quantities or {n: line.quantity_left for n, line in lines.items()}
        for number, quantity in quantities.items():
            line = lines.get(str(number))
            if line is not None and quantity:
                shipment.lines.append(ShipmentLine(order_line=line, quantity=min(int(quantity), line.quantity)))
        db.session.add(shipment)
        known.add(shipment.tracking_number)
        changed = True
    return changed


def _tracking_replaced_on_marketplace(order, remote):
    """Where an order has one tracking number (Ozon posting, Wish order), a different number
    on the marketplace means someone changed it there: take it over, do not add a package."""
    if marketplaces.module_for(order.marketplace).MULTI_PACKAGE or order.sync_state != "synced":
        return False
    if len(order.shipments) != 1 or not remote.shipments or not remote.shipments[0].tracking_number:
        return False
    shipment, newest = order.shipments[0], remote.shipments[0]
    number = newest.tracking_number.upper()
    if shipment.tracking_number == number:
        return False
    _audit(order, "update_tracking", order.status, order.status,
           f"Tracking changed on the marketplace: {shipment.tracking_number} → {number}")
    shipment.tracking_number = number
    shipment.carrier_name = newest.carrier_name or shipment.carrier_name
    shipment.carrier = _carrier_code(order.marketplace, newest.carrier_name) or shipment.carrier
    shipment.tracking_url = newest.tracking_url
    return True


def _carrier_code(kind, carrier_name):
    names = marketplaces.module_for(kind).CARRIER_NAMES
    return next((code for code, name in names.items() if name == carrier_name), "other") if carrier_name else None


def _audit(order, action, old, new, note):
    db.session.add(Event(order=order, actor="marketplace", source="marketplace", action=action,
                         old_value=STATUS_LABELS.get(old, old) if old else None,
                         new_value=STATUS_LABELS.get(new, new), note=note))
