"""Follow the orders at Amazon: read what changed since the last run (listAllFulfillmentOrders
with queryStartDate, paged with nextToken), then read each changed order of ours in full
and apply it (fulfil.mcf.service.apply_state). Orders still being sent, and orders the buyer
cancelled on the marketplace, are read every run whether Amazon lists them or not.

The list cursor is kept in the MCF account's import_cursor; one order is committed at a
time, so a failure part-way keeps what was applied. Running it twice changes nothing.
"""
import logging

from fulfil.extensions import db
from fulfil.marketplaces.base import MarketplaceError
from fulfil.mcf.models import McfOrder
from fulfil.mcf.service import apply_state
from fulfil.models import MarketplaceAccount, Order
from fulfil.timeutil import utcnow

log = logging.getLogger(__name__)


def follow_account(account, adapter, max_pages=20):
    """Returns the number of fulfillment orders read in full and applied."""
    account.last_import_at = utcnow()
    try:
        changed, cursor = set(), account.import_cursor
        for _ in range(max_pages):
            page = adapter.list_changed(cursor)
            changed.update(o.seller_fulfillment_order_id for o in page.orders)
            cursor = page.cursor
            if not page.has_more:
                break
        ids = db.session.scalars(db.select(McfOrder.id).join(Order, Order.id == McfOrder.order_id).where(
            McfOrder.account_id == account.id, McfOrder.active,
            McfOrder.seller_fulfillment_order_id.in_(changed) | (McfOrder.status == "Sending")
            | (Order.status == "cancelled"))).all()
        count = 0
        for mcf_id in ids:
            count += _follow_one(mcf_id, adapter)
    except MarketplaceError as exc:
        db.session.rollback()
        account = db.session.get(MarketplaceAccount, account.id)
        account.last_import_at, account.last_import_error = utcnow(), f"{exc.kind}: {exc.message}"
        db.session.commit()
        log.warning("mcf=follow_failed account=%s kind=%s error=%r", account.slug, exc.kind, exc.message)
        raise
    account = db.session.get(MarketplaceAccount, account.id)
    account.import_cursor = cursor
    account.last_import_ok_at, account.last_import_error, account.last_import_count = utcnow(), None, count
    db.session.commit()
    log.info("mcf=follow_ok account=%s changed=%d applied=%d", account.slug, len(changed), count)
    return count


def _follow_one(mcf_id, adapter):
    mcf = db.session.get(McfOrder, mcf_id)
    try:
        state = adapter.get_order(mcf.seller_fulfillment_order_id)
    except MarketplaceError as exc:
        if exc.status_code == 404 and mcf.status == "Sending":
            return 0  # the create is still on its way through the outbox
        raise
    apply_state(mcf, state)
    db.session.commit()
    return 1
