"""CSV export of a list: written row by row as the keyset batches arrive (memory stays flat)."""
import csv
import io

from fulfil.csvcell import neutralise
from fulfil.orders.labels import package_label
from fulfil.status import STATUS_LABELS
from fulfil.timeutil import lateness, to_local

_FLUSH_AT = 64 * 1024


def _time(value):
    local = to_local(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


COLUMNS = (
    ("Marketplace", lambda o: o.account.marketplace_label),
    ("Account", lambda o: o.account.name),
    ("Posting / PO# / order id", lambda o: o.external_id),
    ("Order number", lambda o: o.order_number),
    ("Status", lambda o: STATUS_LABELS.get(o.status, o.status)),
    ("Marketplace status", lambda o: " / ".join(filter(None, (o.raw_status, o.raw_substatus)))),
    ("Fulfilment", lambda o: o.fulfilment_mode),
    ("Buyer", lambda o: o.buyer_name),
    ("Goods", lambda o: "; ".join(f"{line.quantity} × {line.sku or line.name}" for line in o.lines)),
    ("Total", lambda o: o.total),
    ("Currency", lambda o: o.currency),
    ("Ordered at", lambda o: _time(o.ordered_at)),
    ("Ship by", lambda o: _time(o.ship_by)),
    ("Late", lambda o: lateness(o.ship_by) if o.open_to_ship else ""),
    ("Packages", lambda o: "; ".join(package_label(s) for s in o.shipments)),
    ("Sync", lambda o: o.sync_state),
)


def csv_chunks(orders):
    """Yield the CSV text in chunks: a header, then one line per order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so spreadsheet programs read UTF-8 (Cyrillic names from Ozon)
    writer.writerow(name for name, _ in COLUMNS)
    for order in orders:
        writer.writerow(neutralise(value(order)) for _, value in COLUMNS)
        if buffer.tell() > _FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
