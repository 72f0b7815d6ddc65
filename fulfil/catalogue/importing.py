"""Products from a CSV or Excel sheet, read by the same reader as bulk tracking.

The whole sheet is checked first; when any row is wrong nothing is saved and every wrong
row is listed with its line number, so the seller fixes the sheet once and uploads again.
"""
from dataclasses import dataclass, field

from fulfil.bulk.parsing import header_key
from fulfil.catalogue.models import Product
from fulfil.catalogue.service import CatalogueError, ProductInput, save_product, split_barcodes
from fulfil.extensions import db

COLUMNS = {
    "sku": ("sku", "seller sku", "item sku", "product id", "offer id", "артикул"),
    "name": ("name", "product", "product name", "title", "item name", "description", "название", "наименование"),
    "bin_location": ("bin", "bin location", "location", "shelf", "place", "ячейка", "место хранения"),
    "image_url": ("image", "image url", "picture", "photo", "изображение", "фото"),
    "barcode": ("barcode", "barcodes", "ean", "ean13", "ean 13", "upc", "gtin", "штрихкод", "штрих-код"),
}
_NAMES = {header_key(name): column for column, names in COLUMNS.items() for name in names}


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    errors: list = field(default_factory=list)  # ["Line 4: ...", ...]


def map_headers(cells):
    """{column: [indexes]} from a header row; barcodes may come in several columns."""
    mapping = {}
    for index, cell in enumerate(cells):
        column = _NAMES.get(header_key(cell))
        if column:
            mapping.setdefault(column, []).append(index)
    return mapping


def import_sheet(sheet):
    """Check every row of a bulk.parsing.Sheet and add them to the session.

    The caller commits when `errors` is empty and rolls back otherwise (all or nothing)."""
    result = ImportResult()
    if not sheet.rows:
        result.errors.append("The sheet is empty.")
        return result
    mapping = map_headers(sheet.rows[0]["cells"])
    if "sku" not in mapping:
        result.errors.append("The first row must name the columns, one of them SKU (also: Name, Barcode, "
                             "Bin location, Image).")
        return result

    def cell(cells, column):
        return " ".join(cells[i] for i in mapping.get(column, ()) if i < len(cells) and cells[i]).strip()

    seen, plans = {}, []
    for row in sheet.rows[1:]:
        cells, line = row["cells"], row["line"]
        data = ProductInput(sku=cell(cells, "sku"), name=cell(cells, "name"),
                            bin_location=cell(cells, "bin_location"), image_url=cell(cells, "image_url"),
                            barcodes=tuple(split_barcodes(",".join(
                                cells[i] for i in mapping.get("barcode", ()) if i < len(cells)))))
        if data.sku in seen:
            result.errors.append(f"Line {line}: SKU {data.sku} is also on line {seen[data.sku]}.")
            continue
        seen[data.sku] = line
        plans.append((line, data))
    if result.errors:
        return result
    with db.session.no_autoflush:
        existing = {p.sku: p for p in db.session.scalars(db.select(Product).where(
            Product.sku.in_([d.sku for _, d in plans if d.sku])))}
    for line, data in plans:
        product = existing.get(data.sku)
        if product is not None:  # a column left out keeps what the product has
            data.name = data.name if "name" in mapping else product.name
            data.bin_location = data.bin_location if "bin_location" in mapping else product.bin_location
            data.image_url = data.image_url if "image_url" in mapping else (product.image_url or "")
            if "barcode" not in mapping:
                data.barcodes = tuple(b.code for b in product.barcodes)
        try:
            save_product(data, product, source="import")
            db.session.flush()
        except CatalogueError as exc:
            result.errors.append(f"Line {line}: " + " ".join(exc.errors.values()))
            continue
        if product is None:
            result.added += 1
        else:
            result.updated += 1
    return result
