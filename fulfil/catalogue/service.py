"""Catalogue rules, asked by the pages, the CSV/XLSX import, the importer and the floor.

One place decides what a valid barcode is and how a scan finds a product, so the pack
station and the catalogue pages never disagree.
"""
import re
from dataclasses import dataclass

from sqlalchemy import or_, select

from fulfil.catalogue.models import BARCODE_KINDS, Product, ProductBarcode
from fulfil.extensions import db
from fulfil.inputs import MAX_URL, is_web_address

MAX_SKU, MAX_NAME, MAX_BIN, MAX_CODE = 120, 500, 60, 64
GS1_LENGTHS = {8: "ean8", 12: "upc", 13: "ean13", 14: "gtin14"}
_CODE_TEXT = re.compile(r"^[\x21-\x7e]+$")  # what a scanner types: printable ASCII, no spaces


class CatalogueError(ValueError):
    """Input a person must correct; `errors` maps a field name to a message."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def gs1_check_digit(digits):
    """The GS1 mod-10 check digit for the digits before it (EAN-8/13, UPC-A, GTIN-14)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def classify_barcode(text):
    """(normalised code, kind) or raises ValueError with a message for a person.

    Digits of an EAN/UPC/GTIN length must carry the right check digit: a misread or a typo
    is far likelier than an in-house code that happens to be 13 digits long.
    """
    code = re.sub(r"[\s-]", "", text or "") if re.fullmatch(r"[\d\s-]+", (text or "").strip()) else (text or "").strip()
    if not code:
        raise ValueError("The barcode is empty.")
    if len(code) > MAX_CODE:
        raise ValueError(f"{code[:20]}… is longer than {MAX_CODE} characters: that is not a barcode.")
    if not _CODE_TEXT.match(code):
        raise ValueError(f"“{code}” has characters a barcode cannot have (spaces or letters outside ASCII).")
    kind = GS1_LENGTHS.get(len(code)) if code.isdigit() else None
    if kind is None:
        return code, "other"
    expected = gs1_check_digit(code[:-1])
    if code[-1] != expected:
        raise ValueError(f"{code} looks like an {BARCODE_KINDS[kind]} but its check digit is wrong "
                         f"(it should end in {expected}): check the number on the label.")
    return code, kind


def scan_forms(code):
    """The spellings one printed code can arrive in: a UPC-A read as EAN-13 gains a leading 0."""
    code = (code or "").strip()
    forms = {code}
    if code.isdigit():
        if len(code) == 12:
            forms.add("0" + code)
        if len(code) == 13 and code.startswith("0"):
            forms.add(code[1:])
        if len(code) == 14 and code.startswith("0"):
            forms.add(code[1:])
    return forms


def find_product(code):
    """The product a scan or a typed SKU names: its SKU (as typed, then upper-cased) or a barcode."""
    code = (code or "").strip()[:MAX_CODE * 2]
    if not code:
        return None
    product = db.session.get(Product, code) or db.session.get(Product, code.upper())
    if product is not None:
        return product
    return db.session.scalar(select(Product).join(ProductBarcode)
                             .where(ProductBarcode.code.in_(scan_forms(code))).limit(1))


def split_barcodes(text):
    """'4006381333931, 0123 4567 8905' or one per line -> list of strings."""
    return [part.strip() for part in re.split(r"[,;\n|]+", text or "") if part.strip()]


@dataclass
class ProductInput:
    sku: str
    name: str = ""
    bin_location: str = ""
    image_url: str = ""
    barcodes: tuple = ()


def check_input(data, current_sku=None):
    """Validate a ProductInput -> (cleaned ProductInput, [(code, kind)]); raises CatalogueError."""
    errors = {}
    sku = (data.sku or "").strip()
    if not sku:
        errors["sku"] = "Enter the SKU (the seller's product id on the orders)."
    elif len(sku) > MAX_SKU:
        errors["sku"] = f"The SKU is longer than {MAX_SKU} characters."
    name = (data.name or "").strip()
    if len(name) > MAX_NAME:
        errors["name"] = f"The name is longer than {MAX_NAME} characters."
    bin_location = (data.bin_location or "").strip().upper()
    if len(bin_location) > MAX_BIN:
        errors["bin_location"] = f"The bin location is longer than {MAX_BIN} characters."
    image_url = (data.image_url or "").strip()
    if image_url and not is_web_address(image_url):
        errors["image_url"] = (f"The image address must be a web address starting with https:// or "
                               f"http://, at most {MAX_URL} characters.")
    codes, problems = [], []
    for text in data.barcodes:
        try:
            code = classify_barcode(text)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if code[0] not in {c for c, _ in codes}:
            codes.append(code)
    if problems:
        errors["barcodes"] = " ".join(problems)
    if codes and "barcodes" not in errors:
        taken = db.session.execute(select(ProductBarcode.code, ProductBarcode.sku).where(
            ProductBarcode.code.in_([c for c, _ in codes]),
            ProductBarcode.sku != (current_sku or sku))).all()
        if taken:
            errors["barcodes"] = " ".join(f"{code} is already the barcode of {other}." for code, other in taken)
    if sku and sku != current_sku and db.session.get(Product, sku) is not None:
        errors["sku"] = f"There is already a product with SKU {sku}."
    if errors:
        raise CatalogueError(errors)
    return ProductInput(sku, name, bin_location, image_url, tuple(c for c, _ in codes)), codes


def save_product(data, product=None, source="manual"):
    """Create or change a product from a ProductInput; adds to the session, never commits."""
    cleaned, codes = check_input(data, current_sku=product.sku if product is not None else None)
    if product is None:
        product = Product(sku=cleaned.sku, source=source)
        db.session.add(product)
    elif cleaned.sku != product.sku:
        product.sku = cleaned.sku  # barcodes follow (ON UPDATE CASCADE / the relationship)
    product.name = cleaned.name
    product.bin_location = cleaned.bin_location
    product.image_url = cleaned.image_url or None
    wanted = dict(codes)
    product.barcodes = [b for b in product.barcodes if b.code in wanted] + [
        ProductBarcode(code=code, kind=kind) for code, kind in codes
        if code not in {b.code for b in product.barcodes}]
    return product


def learn_from_lines(lines):
    """Add products the catalogue lacks from order lines a marketplace sent (SKU + name).

    Never overwrites what a person typed: existing products keep their name and bin.
    """
    wanted = {}
    for line in lines:
        sku = (line.sku or "").strip()
        if sku and len(sku) <= MAX_SKU and sku not in wanted:
            wanted[sku] = (line.name or "")[:MAX_NAME]
    if not wanted:
        return 0
    known = set(db.session.scalars(select(Product.sku).where(Product.sku.in_(wanted))))
    for sku, name in wanted.items():
        if sku not in known:
            db.session.add(Product(sku=sku, name=name, source="marketplace"))
    return len(wanted) - len(known)


def products_by_sku(skus):
    skus = {s for s in skus if s}
    if not skus:
        return {}
    return {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(skus)))}


def search_products(text, after=None, limit=50):
    """Products whose SKU, name or bin starts with `text` (or any barcode equals it), by SKU."""
    query = select(Product).order_by(Product.sku)
    text = (text or "").strip()
    if text:
        like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Product.sku.ilike(like, escape="\\"), Product.name.ilike("%" + like, escape="\\"),
                                Product.bin_location.ilike(like, escape="\\"),
                                Product.sku.in_(select(ProductBarcode.sku).where(
                                    ProductBarcode.code.in_(scan_forms(text))))))
    if after:
        query = query.where(Product.sku > after)
    rows = db.session.scalars(query.limit(limit + 1)).all()
    return rows[:limit], (rows[limit - 1].sku if len(rows) > limit else None)
