"""A stock take from a CSV or Excel sheet: SKU and the units counted, one row per SKU.

Read by the bulk reader (fulfil.bulk.parsing.read_upload: CSV in any encoding, .xlsx
streamed with openpyxl's read-only mode). The whole sheet is checked first; when any row
is wrong nothing is saved and every wrong row is listed with its line number.
"""
from dataclasses import dataclass, field

from sqlalchemy import select

from fulfil.bulk.parsing import header_key
from fulfil.catalogue.models import Product
from fulfil.extensions import db
from fulfil.stock.models import StockLevel
from fulfil.stock.service import StockError, check_quantity, count

COLUMNS = {
    "sku": ("sku", "seller sku", "item sku", "product id", "offer id", "item code", "артикул"),
    "quantity": ("quantity", "qty", "on hand", "count", "counted", "stock", "units", "in stock",
                 "quantity on hand", "остаток", "количество", "кол-во", "наличие"),
    "lead_time": ("lead time", "lead time days", "lead days", "срок поставки"),
}
_NAMES = {header_key(name): column for column, names in COLUMNS.items() for name in names}


@dataclass
class TakeResult:
    counted: int = 0
    changed: int = 0  # SKUs whose on hand differed from the count
    errors: list = field(default_factory=list)


def map_headers(cells):
    mapping = {}
    for index, cell in enumerate(cells):
        column = _NAMES.get(header_key(cell))
        if column and column not in mapping:
            mapping[column] = index
    return mapping


def import_take(sheet, actor, note):
    """Check every row of a bulk.parsing.Sheet, then count each SKU (adds to the session).

    The caller commits when `errors` is empty and rolls back otherwise (all or nothing)."""
    result = TakeResult()
    mapping = map_headers(sheet.rows[0]["cells"]) if sheet.rows else {}
    if "sku" not in mapping or "quantity" not in mapping:
        result.errors.append("The first row must name the columns: SKU and Quantity (also: On hand, "
                             "Count, Stock; optional Lead time).")
        return result

    def cell(cells, column):
        index = mapping.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    rows, seen = [], {}
    for row in sheet.rows[1:]:
        cells, line = row["cells"], row["line"]
        sku = cell(cells, "sku")
        if not sku:
            result.errors.append(f"Line {line}: the SKU is empty.")
            continue
        if sku in seen:
            result.errors.append(f"Line {line}: SKU {sku} is also on line {seen[sku]}.")
            continue
        seen[sku] = line
        try:
            quantity = check_quantity(cell(cells, "quantity"), "The quantity")
            lead = cell(cells, "lead_time")
            lead_time = check_lead_time(lead) if lead else None
        except StockError as exc:
            result.errors.append(f"Line {line}: {sku}: {exc}")
            continue
        rows.append((line, sku, quantity, lead_time))
    known = set()
    skus = [sku for _, sku, _, _ in rows]
    for start in range(0, len(skus), 500):
        known.update(db.session.scalars(select(Product.sku).where(Product.sku.in_(skus[start:start + 500]))))
    for line, sku, _, _ in rows:
        if sku not in known:
            result.errors.append(f"Line {line}: there is no product with SKU {sku}: add it to the "
                                 "catalogue (or import the catalogue) first.")
    if not rows and not result.errors:
        result.errors.append("The sheet has no rows below the column names.")
    if result.errors:
        return result
    for _, sku, quantity, lead_time in rows:
        movement = count(sku, quantity, actor, note=note)
        if lead_time is not None:
            db.session.get(StockLevel, sku).lead_time_days = lead_time
        result.counted += 1
        result.changed += movement.quantity != 0
    return result


def check_lead_time(text):
    days = check_quantity(text, "The lead time")
    if not 1 <= days <= 365:
        raise StockError("The lead time must be 1 to 365 days.")
    return days

