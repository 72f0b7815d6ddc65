"""CSV export of the supervisor's lists: streamed, and safe to open in a spreadsheet."""
import csv
import io

from fulfil.status import STATUS_LABELS
from fulfil.supervisor.queries import order_batches
from fulfil.timeutil import lateness, time_left, to_local

# A spreadsheet runs a cell starting with these as a formula (CSV injection); tab and
# carriage return are how the same trick hides behind leading whitespace.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """The cell as text; a leading ' keeps a would-be formula as plain text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _local(value):
    local = to_local(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


# (header, cell(order, now, refund_risks)): the columns every list shares, then each list's own.
# Times are local; their headers name the time zone.
TIME_HEADERS = {"Ship by", "Dispute deadline", "Shipped"}
COMMON_COLUMNS = (
    ("Marketplace", lambda o, *_: o.account.marketplace_label),
    ("Account", lambda o, *_: o.account.name),
    ("Order", lambda o, *_: o.external_id),
    ("Order number", lambda o, *_: o.order_number),
    ("Status", lambda o, *_: STATUS_LABELS.get(o.status, o.status)),
    ("Marketplace status", lambda o, *_: o.raw_status),
    ("Ship by", lambda o, *_: _local(o.ship_by)),
    ("Buyer", lambda o, *_: o.buyer_name),
    ("Total", lambda o, *_: o.total),
    ("Currency", lambda o, *_: o.currency),
    ("Sync", lambda o, *_: o.sync_state),
)
LIST_COLUMNS = {
    "past_due": (("How late", lambda o, now, risks: lateness(o.ship_by, now)),),
    "due_today": (("Time left", lambda o, now, risks: time_left(o.ship_by, now)),),
    "disputes": (
        ("Dispute", lambda o, now, risks: o.dispute_note),
        ("Dispute deadline", lambda o, now, risks: _local(o.dispute_deadline)),
        ("Walmart refund risk", lambda o, now, risks: risks.get(o.id)),
    ),
    "stuck_in_transit": (
        ("Shipped", lambda o, now, risks: _local(o.shipped_at)),
        ("Days in transit", lambda o, now, risks: (now - o.shipped_at).days),
        ("Tracking", lambda o, now, risks: " ".join(s.tracking_number for s in o.shipments
                                                     if s.tracking_number)),
    ),
}


def csv_lines(work_list, now, zone_name):
    """The whole list as CSV text, a line at a time, header first (times in `zone_name`).

    It starts with a byte-order mark so Excel reads Cyrillic buyer names as UTF-8.
    """
    columns = COMMON_COLUMNS + LIST_COLUMNS[work_list.key]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells):
        writer.writerow([neutralise(cell) for cell in cells])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield "\ufeff" + line(f"{name} ({zone_name})" if name in TIME_HEADERS else name for name, _ in columns)
    for batch in order_batches(work_list):
        risks = work_list.refund_risks(batch, now)
        for order in batch:
            yield line(cell(order, now, risks) for _, cell in columns)

