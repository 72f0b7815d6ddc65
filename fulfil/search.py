"""Search keys: what a person may type to find an order (see models.SearchKey)."""
import re
import sys

from fulfil.extensions import db
from fulfil.models import SearchKey

MAX_KEY = 120


def order_keys(order):
    words = {order.external_id, order.order_number}
    words.update(line.sku for line in order.lines)
    words.update(line.item_id for line in order.lines)
    words.update(s.tracking_number for s in order.shipments)
    words.update(s.shipment_ref for s in order.shipments)
    name = (order.buyer_name or "").strip()
    if name:
        words.add(name)
        words.update(re.split(r"\s+", name))
    return {w.strip().lower()[:MAX_KEY] for w in words if w and w.strip()}


def index_order(order):
    """Bring the order's search keys in line with its fields (call after changing them)."""
    wanted = order_keys(order)
    if order.id is None:
        db.session.flush()
    existing = set(db.session.scalars(db.select(SearchKey.key).where(SearchKey.order_id == order.id)))
    stale = existing - wanted
    if stale:
        db.session.execute(db.delete(SearchKey).where(SearchKey.order_id == order.id,
                                                      SearchKey.key.in_(stale)))
    for key in wanted - existing:
        db.session.add(SearchKey(key=key, order_id=order.id))


def prefix_bounds(text):
    """('abc', 'abd'): keys starting with text are key >= lo and key < hi (index-friendly).

    hi is None when no string is above every key starting with lo (lo is all U+10FFFF, the
    last code point); the code points after U+D7FF skip the surrogates, which neither
    database driver can send."""
    lo = text.strip().lower()[:MAX_KEY]
    if not lo:
        return None
    head = lo.rstrip(chr(sys.maxunicode))
    if not head:
        return lo, None
    following = ord(head[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000
    return lo, head[:-1] + chr(following)
