"""The product catalogue: barcodes checked, scans found, pages and the CSV/XLSX import."""
import io

import pytest
from openpyxl import Workbook

from fulfil.catalogue.models import Product
from fulfil.catalogue.service import (CatalogueError, ProductInput, classify_barcode, find_product,
                                      learn_from_lines, save_product)
from fulfil.extensions import db


@pytest.mark.parametrize("text,expected", [
    ("4006381333931", ("4006381333931", "ean13")),
    ("0 36000 29145 2", ("036000291452", "upc")),
    ("96385074", ("96385074", "ean8")),
    ("ABC-123", ("ABC-123", "other")),
])
def test_barcodes_are_recognised(text, expected):
    assert classify_barcode(text) == expected


@pytest.mark.parametrize("text,words", [
    ("4006381333932", "check digit is wrong (it should end in 1)"),
    ("", "empty"),
    ("abc def", "characters a barcode cannot have"),
])
def test_bad_barcodes_say_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        classify_barcode(text)


def test_a_scan_finds_the_product_by_sku_or_any_barcode(app):
    with app.app_context():
        save_product(ProductInput("MUG-1", "Blue mug", "a-03-2", barcodes=("036000291452", "MUG-ALT")))
        db.session.commit()
        assert find_product("MUG-1").bin_location == "A-03-2"
        assert find_product("mug-1").sku == "MUG-1"
        assert find_product("0036000291452").sku == "MUG-1"  # the UPC read as an EAN-13
        assert find_product("MUG-ALT").sku == "MUG-1"
        assert find_product("9999") is None


def test_a_barcode_belongs_to_one_product(app):
    with app.app_context():
        save_product(ProductInput("A", barcodes=("4006381333931",)))
        db.session.commit()
        with pytest.raises(CatalogueError, match="already the barcode of A"):
            save_product(ProductInput("B", barcodes=("4006381333931",)))
        db.session.rollback()
        assert db.session.get(Product, "B") is None


def test_marketplace_lines_add_missing_products_and_keep_edited_ones(app):
    class Line:
        def __init__(self, sku, name):
            self.sku, self.name = sku, name
    with app.app_context():
        save_product(ProductInput("KEEP", "Name a person typed", "B-1"))
        db.session.commit()
        assert learn_from_lines([Line("KEEP", "Marketplace name"), Line("NEW", "New thing")]) == 1
        db.session.commit()
        assert db.session.get(Product, "KEEP").name == "Name a person typed"
        assert db.session.get(Product, "NEW").source == "marketplace"


def test_pages_add_and_edit_a_product(client, auth):
    auth.login("seller")
    response = client.post("/catalogue/new", data={"sku": "SKU-9", "name": "Kettle", "bin_location": "c-1",
                                                   "barcodes": "4006381333931"})
    assert response.status_code == 303
    page = client.get("/catalogue/?q=4006381333931").get_data(as_text=True)
    assert "SKU-9" in page and "C-1" in page
    response = client.post("/catalogue/SKU-9/edit", data={"sku": "SKU-9", "name": "Kettle", "bin_location": "",
                                                          "barcodes": "4006381333932"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "check digit is wrong" in text and "4006381333932" in text  # what was typed stays


def test_warehouse_staff_look_products_up_but_do_not_change_them(client, auth):
    auth.login("warehouse")
    assert client.get("/catalogue/").status_code == 200
    assert client.post("/catalogue/new", data={"sku": "X"}).status_code == 403


def test_import_csv_all_or_nothing(client, auth, app):
    auth.login("seller")
    bad = "SKU,Name,Barcode,Bin\nA-1,Alpha,4006381333931,A-01\nB-2,Beta,4006381333932,B-02\n"
    response = client.post("/catalogue/import", data={"file": (io.BytesIO(bad.encode()), "p.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Line 3" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Product, "A-1") is None  # nothing saved half-way
    good = bad.replace("4006381333932", "036000291452")
    response = client.post("/catalogue/import", data={"file": (io.BytesIO(good.encode()), "p.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    with app.app_context():
        assert [b.code for b in db.session.get(Product, "B-2").barcodes] == ["036000291452"]


def test_import_xlsx_updates_only_the_columns_it_has(client, auth, app):
    with app.app_context():
        save_product(ProductInput("A-1", "Alpha", "A-01", barcodes=("4006381333931",)))
        db.session.commit()
    book = Workbook()
    book.active.append(["Артикул", "Ячейка"])
    book.active.append(["A-1", "Z-9"])
    data = io.BytesIO()
    book.save(data)
    auth.login("seller")
    response = client.post("/catalogue/import", data={"file": (io.BytesIO(data.getvalue()), "p.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    with app.app_context():
        product = db.session.get(Product, "A-1")
        assert (product.name, product.bin_location, [b.code for b in product.barcodes]) == \
            ("Alpha", "Z-9", ["4006381333931"])


def test_demo_products_cover_every_sku_on_the_orders(app, runner):
    from tests.conftest import make_order
    with app.app_context():
        make_order(lines=(("DEMO-1", 1, "1"), ("DEMO-2", 2, "1")))
        save_product(ProductInput("DEMO-1", "Kept", "Z-99"))
        db.session.commit()
    assert "products=2" in runner.invoke(args=["fulfil", "demo-products"]).output
    with app.app_context():
        kept, made = db.session.get(Product, "DEMO-1"), db.session.get(Product, "DEMO-2")
        assert kept.bin_location == "Z-99" and made.bin_location and made.name == "Product DEMO-2"
        code = made.barcodes[0].code
        assert classify_barcode(code) == (code, "ean13")
