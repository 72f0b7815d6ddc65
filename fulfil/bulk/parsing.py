"""Turn what a seller pastes or uploads into rows of cells, and find which column is which.

Sellers paste from Excel or Google Sheets (tabs), save CSV from Excel in whatever their
locale uses (commas or semicolons; UTF-8, "Unicode text" = UTF-16, or Windows-1251 on a
Russian Windows), or upload the .xlsx itself. Nothing here touches the database: the
result is a `Sheet` that the preview checks row by row.
"""
import codecs
import csv
import io
import re
import time
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime

from fulfil import tracking
from fulfil.csvcell import restore

MAX_COLUMNS = 60
MAX_CELL = 500  # longer cells are cut: no order, carrier or tracking number is that long
MB = 1024 * 1024
SHARED_STRINGS = "xl/sharedStrings.xml"
# Members smaller than this are not held to the ratio: tiny parts compress wildly and cost nothing.
RATIO_GRACE = MB

# The columns fulfil understands, in the order the mapping form lists them.
FIELDS = {
    "order": "Order number (PO#, posting number, Wish order id)",
    "carrier": "Carrier",
    "tracking": "Tracking number",
    "tracking_url": "Tracking page (URL)",
    "sku": "SKU or line number",
    "quantity": "Quantity",
    "ship_date": "Ship date",
}
REQUIRED = ("order", "tracking")
# Header names a person or a marketplace export uses for each field, compared after
# `header_key` (case, spaces and punctuation do not matter). "reason" is the column fulfil
# adds to its error report: recognised so a fixed report uploads without questions.
HEADER_NAMES = {
    "order": ("order", "order number", "order no", "order id", "order #", "po", "po#", "po number",
              "purchase order", "purchase order number", "purchase order id", "posting number",
              "posting", "shipment id", "customer order id", "customer order number", "external id",
              "wish order id", "номер заказа", "заказ", "номер отправления", "№ отправления",
              "отправление"),
    "carrier": ("carrier", "carrier name", "courier", "provider", "shipping provider",
                "shipping carrier", "logistics provider", "shipping company", "перевозчик",
                "служба доставки", "курьер", "курьерская служба"),
    "tracking": ("tracking", "tracking number", "tracking no", "tracking #", "tracking id",
                 "tracking code", "track", "track number", "track #", "shipment tracking number",
                 "трек-номер", "трек номер", "трек", "трек-код", "трекинг", "номер отслеживания"),
    "tracking_url": ("tracking url", "tracking link", "tracking page", "ссылка для отслеживания"),
    "sku": ("sku", "seller sku", "item sku", "product id", "offer id", "line", "line number",
            "line #", "line no", "артикул"),
    "quantity": ("quantity", "qty", "quantity shipped", "shipped quantity", "ship qty",
                 "количество", "кол-во"),
    "ship_date": ("ship date", "shipping date", "shipped date", "shipped at", "date shipped",
                  "дата отгрузки", "дата отправки"),
    "reason": ("reason", "error", "problem", "причина", "ошибка"),
}


class ParseError(ValueError):
    """The input cannot be read as a table; the message says what to do about it."""


@dataclass(frozen=True)
class Limits:
    """What one upload may cost the web worker reading it (config.py holds the numbers).

    An .xlsx is a zip of XML. openpyxl streams the sheet itself (read_only), but reads the
    shared-strings table — every distinct text in the workbook — whole into memory before
    the first row: that is where a 238 KB file unpacking to 93 MB spent 67 s and 941 MB.
    So the archive's own directory is checked before anything is unpacked: the total,
    the shared strings, and each part's packing ratio. Python's zipfile never inflates a
    part beyond the size the directory declares (a lie ends in a CRC error), so these
    sizes bound what parsing can cost. Reading rows stops at `seconds`.
    """
    xlsx_unpacked: int = 50 * MB
    xlsx_shared_strings: int = 5 * MB
    xlsx_ratio: int = 100  # Apache POI's zip-bomb guard uses the same 1:100 minimum
    seconds: float = 20.0

    @classmethod
    def from_config(cls, config):
        return cls(xlsx_unpacked=config["XLSX_MAX_UNPACKED"],
                   xlsx_shared_strings=config["XLSX_MAX_SHARED_STRINGS"],
                   xlsx_ratio=config["XLSX_MAX_RATIO"], seconds=config["UPLOAD_PARSE_SECONDS"])


def megabytes(size):
    """1.5 MB, 93 MB, 8 MB: what a person reads; never "0.0 MB" for a small limit."""
    if size < 1024:
        return f"{size:,} bytes"
    if size < MB:
        return f"{round(size / 1024):,} KB"
    value = size / MB
    return f"{value:,.0f} MB" if value >= 10 or value.is_integer() else f"{value:.1f} MB"


def too_large(limit):
    """The one answer to an upload or paste over BULK_MAX_BYTES, wherever it is caught."""
    return (f"This is more than {megabytes(limit)}, the most one upload or paste can hold: split "
            "the rows into parts and send them one by one.")


@dataclass
class Sheet:
    """What was read: every non-blank row (the first may be headers) and how it was read."""
    rows: list  # [{"line": row number as the seller sees it, "cells": [str, ...]}]
    encoding: str = ""
    delimiter: str = ""
    has_header: bool = False
    mapping: dict = field(default_factory=dict)  # field -> column index
    recognised: bool = False  # the headers named the columns (else the mapping is a guess)


def header_key(text):
    """'Tracking #' -> 'tracking', 'Трек-номер' -> 'трекномер', '№ отправления' -> 'noотправления'."""
    text = unicodedata.normalize("NFKC", str(text)).casefold().replace("ё", "е")
    return "".join(ch for ch in text if ch.isalnum())


_HEADER_FIELDS = {header_key(name): name_field for name_field, names in HEADER_NAMES.items()
                  for name in names}


def recognise_headers(cells):
    """{field: column index} for the cells that are known header names (first one wins)."""
    found = {}
    for index, cell in enumerate(cells):
        name_field = _HEADER_FIELDS.get(header_key(cell))
        if name_field and name_field not in found:
            found[name_field] = index
    return found


def guess_columns(rows):
    """A mapping guessed from the values, for a sheet without recognisable headers.

    The tracking column is the one whose cells most often fit a carrier's format, the
    carrier column the one holding carrier names; the order number is the first column
    left that has values. The seller confirms it on the mapping form.
    """
    width = max((len(r) for r in rows), default=0)
    sample = rows[:50]

    def share(test, index):
        values = [r[index] for r in sample if index < len(r) and r[index]]
        return sum(1 for v in values if test(v)) / len(values) if values else 0

    mapping = {}
    scores = {i: share(tracking.guess_carriers, i) for i in range(width)}
    best = max(scores, key=scores.get, default=None)
    if best is not None and scores[best] >= 0.5:
        mapping["tracking"] = best
    carriers = {i: share(carrier_from_text, i) for i in range(width) if i not in mapping.values()}
    best = max(carriers, key=carriers.get, default=None)
    if best is not None and carriers[best] >= 0.5:
        mapping["carrier"] = best
    for i in range(width):
        if i not in mapping.values() and share(bool, i):
            mapping["order"] = i
            break
    return mapping


def _squash(text):
    return re.sub(r"[\W_]+", "", text.casefold())


@lru_cache(maxsize=1)
def _carrier_words():
    """Every way fulfil or a marketplace spells a carrier, squashed: 'RussianPost' too."""
    from fulfil.marketplaces import KINDS, module_for

    words = {}
    for code, carrier in tracking.CARRIERS.items():
        for word in (code, carrier.label, *carrier.aliases):
            words.setdefault(_squash(word), code)
    for kind in KINDS:
        for code, name in module_for(kind).CARRIER_NAMES.items():
            words.setdefault(_squash(name), code)
    return words


def carrier_from_text(text):
    """A carrier code from what a person or an export wrote ('Fed Ex', 'ChinaAirPost'), or None."""
    return tracking.carrier_code(text) or _carrier_words().get(_squash(text or ""))


# -- reading ------------------------------------------------------------------------------

def read_limited(storage, limit):
    """At most `limit` bytes of an uploaded file (a werkzeug FileStorage); ParseError beyond."""
    data = storage.read(limit + 1)
    if len(data) > limit:
        raise ParseError(too_large(limit))
    return data


def read_upload(data, filename, max_rows, limits=Limits()):
    """Bytes of an uploaded file -> Sheet. Raises ParseError."""
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, max_rows, limits)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ParseError("This is an old Excel .xls file. In Excel choose File → Save As → "
                         "Excel Workbook (.xlsx) or CSV, then upload that.")
    text, encoding = decode(data)
    return _read_text(text, encoding, max_rows, limits)


def read_pasted(text, max_rows, limits=Limits()):
    """Text pasted into the page (the browser already sent it as Unicode) -> Sheet."""
    return _read_text(text, "", max_rows, limits)


def decode(data):
    """Bytes -> (text, encoding name shown to the seller).

    A BOM decides; then UTF-16 without a BOM (every other byte zero); then UTF-8. Anything
    else is taken line by line — a line that is valid UTF-8 stays UTF-8, the rest is
    Windows-1251 — so a file glued together from two sources still reads.
    """
    for bom, codec, name in ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
                             (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
                             (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace"), name
    sample = data[:4000]
    if len(sample) >= 4:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) * 0.4 and even == 0:
            return data.decode("utf-16-le", errors="replace"), "UTF-16"
        if even > len(sample) * 0.4 and odd == 0:
            return data.decode("utf-16-be", errors="replace"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    parts, kinds = [], set()
    for line in data.splitlines(keepends=True):
        try:
            parts.append(line.decode("utf-8"))
            kinds.add("UTF-8" if not line.isascii() else None)
        except UnicodeDecodeError:
            parts.append(line.decode("cp1251", errors="replace"))
            kinds.add("Windows-1251")
    kinds.discard(None)
    return "".join(parts), " and ".join(sorted(kinds, reverse=True))


def sniff_delimiter(text):
    """Tab, semicolon or comma: the one that splits most of the first lines into two or
    more columns, then the one that splits them most evenly. Ties go to tab, then
    semicolon, because a comma is also a decimal point in Russian numbers."""
    # Split lines as csv does (str.splitlines also breaks on \x1e, \u2028 and others).
    lines = [line for line in re.split(r"\r\n?|\n", text)[:50] if line.strip()]
    best, best_score = None, (0, 0)
    for delimiter in ("\t", ";", ","):
        widths = [w for w in (_width(line, delimiter) for line in lines) if w >= 2]
        if not widths:
            continue
        score = (len(widths) / len(lines), Counter(widths).most_common(1)[0][1] / len(widths))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _width(line, delimiter):
    try:
        return len(next(csv.reader([line], delimiter=delimiter)))
    except csv.Error:  # an unreadable line does not vote; reading the sheet will report it
        return 0


DELIMITER_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma"}


def _read_text(text, encoding, max_rows, limits):
    # NULs are never meaningful in a sheet (they come from a mis-saved file) and
    # PostgreSQL cannot store them.
    text = text.replace("\x00", "")
    if not text.strip():
        raise ParseError("There is nothing to read: paste the rows or choose a file.")
    delimiter = sniff_delimiter(text)
    if delimiter is None:
        raise ParseError("We found only one column. Put the order number and the tracking number "
                         "in separate columns (copy them from a spreadsheet, or separate them with "
                         "tabs, commas or semicolons).")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = _collect(((reader.line_num, cells) for cells in reader), max_rows, limits)
    except csv.Error as exc:
        raise ParseError(f"Row {reader.line_num} cannot be read ({exc}). Check its quotes, or "
                         "save the sheet again as CSV.") from None
    return _sheet(rows, encoding, DELIMITER_NAMES[delimiter])


def check_archive(data, limits):
    """Refuse an .xlsx that would unpack beyond `limits`, from its directory alone."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        raise ParseError("This file looks like a damaged Excel file: open it in Excel, save it "
                         "again as .xlsx or CSV and upload that.") from None
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.xlsx_unpacked:
        raise ParseError(f"This spreadsheet unpacks to {megabytes(unpacked)}; the limit is "
                         f"{megabytes(limits.xlsx_unpacked)}. Save just the columns fulfil needs as "
                         "CSV (or split the rows into several files) and upload that.")
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_GRACE and ratio > limits.xlsx_ratio:
            raise ParseError(f"This spreadsheet unpacks to {ratio:,.0f} times its size ({part.filename}: "
                             f"{megabytes(part.compress_size)} → {megabytes(part.file_size)}); real "
                             f"spreadsheets stay under {limits.xlsx_ratio} times. Open it in Excel, save "
                             "it again as .xlsx or CSV and upload that.")
        if part.filename == SHARED_STRINGS and part.file_size > limits.xlsx_shared_strings:
            raise ParseError(f"The text in this spreadsheet unpacks to {megabytes(part.file_size)}; "
                             f"the limit is {megabytes(limits.xlsx_shared_strings)}. Save just the "
                             "columns fulfil needs as CSV and upload that.")


def _read_xlsx(data, max_rows, limits):
    from openpyxl import load_workbook

    check_archive(data, limits)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = next((ws for ws in workbook.worksheets if ws.max_row), workbook.worksheets[0])
            # Formatting can claim a million rows; read only the rows the file holds.
            sheet.reset_dimensions()
            rows = _collect(((number, [_xlsx_cell(v) for v in values])
                             for number, values in enumerate(sheet.iter_rows(values_only=True), 1)),
                            max_rows, limits)
        finally:
            workbook.close()
    except ParseError:
        raise
    except Exception:  # openpyxl raises many kinds (KeyError, XML errors...) on damaged files
        raise ParseError("This Excel file cannot be read: open it in Excel, save it again as "
                         ".xlsx or CSV and upload that.") from None
    return _sheet(rows, "", "")


def _xlsx_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))  # a tracking number stored as a number, e.g. 123456789012.0
    return str(value)


def _cell(value):
    # A fixed error report reads back as the seller typed it (fulfil.csvcell).
    value = restore(value.strip())
    return value if len(value) <= MAX_CELL else value[:MAX_CELL - 1] + "…"


def _collect(numbered_rows, max_rows, limits):
    rows, deadline = [], time.monotonic() + limits.seconds
    for line, cells in numbered_rows:
        if time.monotonic() > deadline:
            raise ParseError(f"Reading this file took longer than {limits.seconds:g} seconds, the limit "
                             f"(stopped at row {line:,}). Save just the columns fulfil needs as CSV, "
                             "or split the rows into several files, and upload that.")
        cells = [_cell(c) for c in cells]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if len(cells) > MAX_COLUMNS:
            raise ParseError(f"Row {line} has {len(cells)} columns; fulfil reads at most "
                             f"{MAX_COLUMNS}. Keep just the order, carrier and tracking columns.")
        rows.append({"line": line, "cells": cells})
        if len(rows) > max_rows + 1:  # + the header row
            raise ParseError(f"There are more than {max_rows:,} rows. Split the file and upload "
                             "the parts one by one.")
    if not rows:
        raise ParseError("There is nothing to read: every row is empty.")
    return rows


def _sheet(rows, encoding, delimiter):
    header = recognise_headers(rows[0]["cells"])
    if header and len(rows) == 1:
        raise ParseError("There are only column names: copy the rows below them too.")
    mapping = header or guess_columns([r["cells"] for r in rows])
    mapping.pop("reason", None)
    return Sheet(rows=rows, encoding=encoding, delimiter=delimiter, mapping=mapping,
                 has_header=bool(header) or _looks_like_names(rows, mapping), recognised=bool(header))


def _looks_like_names(rows, mapping):
    """Unknown first-row words over a column of tracking numbers are column names."""
    column = mapping.get("tracking")
    first = rows[0]["cells"]
    return (len(rows) > 1 and column is not None
            and not (column < len(first) and tracking.guess_carriers(first[column])))


def mapping_complete(mapping):
    return all(name in mapping for name in REQUIRED)
