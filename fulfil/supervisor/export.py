"""CSV export of the supervisor's lists: streamed, and safe to open in a spreadsheet."""
import csv
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fulfil.csvcell import neutralise
from fulfil.status import STATUS_LABELS
from fulfil.supervisor.queries import order_batches
from fulfil.timeutil import lateness, time_left, to_local

FLUSH_AT = 64 * 1024  # send the CSV in chunks of about this size, not a write per line


@dataclass(frozen=True)
class Context:
    """What cells need besides the order: the moment of the export, the zone, refund risks."""
    now: datetime
    zone: ZoneInfo
    refund_risks: dict


def _local(value, context):
    return to_local(value, context.zone).strftime("%Y-%m-%d %H:%M") if value else ""


# (header, cell(order, context)): the columns every list shares, then each list's own.
# Times are local; their headers name the time zone.
TIME_HEADERS = {"Ship by", "Dispute deadline", "Shipped"}
COMMON_COLUMNS = (
    ("Marketplace", lambda o, c: o.account.marketplace_label),
    ("Account", lambda o, c: o.account.name),
    ("Order", lambda o, c: o.external_id),
    ("Order number", lambda o, c: o.order_number),
    ("Status", lambda o, c: STATUS_LABELS.get(o.status, o.status)),
    ("Marketplace status", lambda o, c: o.raw_status),
    ("Ship by", lambda o, c: _local(o.ship_by, c)),
    ("Buyer", lambda o, c: o.buyer_name),
    ("Total", lambda o, c: o.total),
    ("Currency", lambda o, c: o.currency),
    ("Sync", lambda o, c: o.sync_state),
)
LIST_COLUMNS = {
    "past_due": (("How late", lambda o, c: lateness(o.ship_by, c.now)),),
    "due_today": (("Time left", lambda o, c: time_left(o.ship_by, c.now)),),
    "disputes": (
        ("Dispute", lambda o, c: o.dispute_note),
        ("Dispute deadline", lambda o, c: _local(o.dispute_deadline, c)),
        ("Walmart refund risk", lambda o, c: c.refund_risks.get(o.id)),
    ),
    "stuck_in_transit": (
        ("Shipped", lambda o, c: _local(o.shipped_at, c)),
        ("Days in transit", lambda o, c: (c.now - o.shipped_at).days),
        ("Tracking", lambda o, c: " ".join(s.tracking_number for s in o.shipments if s.tracking_number)),
    ),
}


def csv_chunks(work_list, now, zone):
    """The whole list as CSV text in chunks, header first (times in `zone`).

    It starts with a byte-order mark so Excel reads Cyrillic buyer names as UTF-8.
    """
    columns = COMMON_COLUMNS + LIST_COLUMNS[work_list.key]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(f"{name} ({zone.key})" if name in TIME_HEADERS else name for name, _ in columns)
    for batch in order_batches(work_list):
        context = Context(now, zone, work_list.refund_risks(batch, now))
        for order in batch:
            writer.writerow(neutralise(value(order, context)) for _, value in columns)
        if buffer.tell() > FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
