"""CSV and XLSX export of the Money page's lists (the same columns in both).

Text cells go through the one rule against spreadsheet formula injection
(fulfil.csvcell.neutralise) in both formats: openpyxl too writes a string starting with "="
as a formula. Money stays a number in XLSX.
"""
import csv
import io
from decimal import Decimal

from openpyxl import Workbook

from fulfil.csvcell import neutralise as neutralised
from fulfil.status import STATUS_LABELS
from fulfil.timeutil import to_local


def _day(value):
    return to_local(value).strftime("%Y-%m-%d") if value else ""


def _m(row, name):
    return getattr(row.money, name) if row.money else Decimal("0")


ORDER_COLUMNS = (
    ("Marketplace", lambda r: r.order.account.marketplace_label),
    ("Account", lambda r: r.order.account.name),
    ("Order", lambda r: r.order.external_id),
    ("Status", lambda r: STATUS_LABELS.get(r.order.status, r.order.status)),
    ("Delivered", lambda r: _day(r.order.delivered_at or r.order.shipped_at)),
    ("Currency", lambda r: r.order.currency),
    ("Total", lambda r: r.order.total),
    ("Expected", lambda r: r.expected),
    ("Accrued", lambda r: _m(r, "accrued")),
    ("Commission", lambda r: _m(r, "commission")),
    ("Fees", lambda r: _m(r, "fees")),
    ("Net", lambda r: _m(r, "net")),
    ("Paid", lambda r: _m(r, "paid")),
)
COLUMNS = {
    "unpaid": ORDER_COLUMNS + (("Days since delivery", lambda r: r.days),),
    "short": ORDER_COLUMNS + (("Missing", lambda r: r.missing),),
    "calendar": (
        ("Day", lambda p: p.day.isoformat()),
        ("Marketplace", lambda p: p.account.marketplace_label),
        ("Account", lambda p: p.account.name),
        ("State", lambda p: "paid" if p.done else "expected"),
        ("Amount", lambda p: p.amount),
        ("Currency", lambda p: p.currency),
    ),
}


def table(key, rows):
    columns = COLUMNS[key]
    return [name for name, _ in columns], [[value(row) for _, value in columns] for row in rows]


def as_csv(headers, rows):
    """UTF-8 with a byte-order mark, so Excel reads Cyrillic names."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(neutralised(value) for value in row)
    return buffer.getvalue()


def as_xlsx(title, headers, rows):
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(headers)
    for row in rows:
        sheet.append([value if isinstance(value, (int, Decimal)) else neutralised(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
