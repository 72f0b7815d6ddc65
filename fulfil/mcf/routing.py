"""Routing rules: an order whose every SKU lives at Amazon (McfSku with auto_route) goes to
Amazon MCF as it arrives, so it never reaches the warehouse's pick lists. Off unless a SKU
rule says so; an order the rules do not fully cover stays in the warehouse."""
import logging

from fulfil.actions import Actor, InvalidInput
from fulfil.extensions import db
from fulfil.mcf.models import McfSku
from fulfil.mcf.service import send, why_not_send
from fulfil.models import MarketplaceAccount

log = logging.getLogger(__name__)


def rule_for(order):
    """(MCF account, shipping speed) when auto-routing rules cover every line, else None."""
    skus = {line.sku for line in order.lines if line.quantity_left}
    if not skus or "" in skus:
        return None
    rows = db.session.scalars(db.select(McfSku).join(MarketplaceAccount, MarketplaceAccount.id == McfSku.account_id).where(
        McfSku.auto_route, McfSku.sku.in_(skus), MarketplaceAccount.enabled,
        (McfSku.source_account_id == order.account_id) | McfSku.source_account_id.is_(None))).all()
    for account_id in {row.account_id for row in rows}:
        covered = {row.sku: row for row in rows if row.account_id == account_id}
        if set(covered) == skus:
            speeds = {row.shipping_speed for row in covered.values()}
            # The fastest speed any of the SKUs asks for.
            speed = next(s for s in ("Priority", "Expedited", "Standard") if s in speeds or s == "Standard")
            return db.session.get(MarketplaceAccount, account_id), speed
    return None


def route_new_order(order):
    """Called by the importer for each order it creates. Returns the McfOrder or None."""
    found = rule_for(order)
    if found is None or why_not_send(order) is not None:
        return None
    account, speed = found
    try:
        mcf = send(order, account, Actor(source="system"), shipping_speed=speed, routed_by="rule")
    except InvalidInput as exc:
        log.info("mcf=route_skipped order=%s reason=%r", order.external_id, str(exc))
        return None
    log.info("mcf=routed order=%s account=%s id=%s", order.external_id, account.slug, mcf.seller_fulfillment_order_id)
    return mcf
