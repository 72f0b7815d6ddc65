"""Uploads cannot exhaust the web worker: zip bombs are refused from the archive's
directory before anything is unpacked, rows are read for a capped time, and the paste
box and the file share one size limit with one message (also on the 413 page)."""
import io
import re

import openpyxl
import pytest

from fulfil.bulk.models import Upload
from fulfil.bulk.parsing import MB, Limits, ParseError, megabytes, read_pasted, read_upload, too_large
from fulfil.catalogue.models import Product
from fulfil.extensions import db
from tests.xlsx_bombs import entity_bomb, shared_strings_bomb

BOMB_MESSAGE = "This spreadsheet unpacks to 93 MB; the limit is 50 MB."


@pytest.fixture(scope="module")
def bomb():
    """238 KB-ish on the wire, 93 MB of repeated shared strings unpacked (the issue's file)."""
    data = shared_strings_bomb(93 * MB)
    assert len(data) < MB
    return data


@pytest.fixture
def never_parsed(monkeypatch):
    """Fail the test if openpyxl is asked to open the workbook: refusals must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("the workbook was parsed")
    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def count(app, model):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


# -- the archive check, before parsing ------------------------------------------------------

def test_a_zip_bomb_is_refused_before_it_is_unpacked(bomb, never_parsed):
    with pytest.raises(ParseError, match=re.escape(BOMB_MESSAGE)):
        read_upload(bomb, "orders.xlsx", 20000)


def test_a_part_packed_far_tighter_than_a_real_sheet_is_refused(never_parsed):
    data = shared_strings_bomb(30 * MB)  # under the total limit, but ~1000 times packed
    with pytest.raises(ParseError, match=r"unpacks to [\d,]+ times its size \(xl/sharedStrings.xml: .* → 30 MB\); "
                                         r"real spreadsheets stay under 100 times"):
        read_upload(data, "orders.xlsx", 20000)


def test_the_shared_strings_held_in_memory_have_their_own_limit(never_parsed):
    data = shared_strings_bomb(3 * MB)
    limits = Limits(xlsx_shared_strings=2 * MB, xlsx_ratio=100_000)
    with pytest.raises(ParseError, match="The text in this spreadsheet unpacks to 3.0 MB; the limit is 2 MB"):
        read_upload(data, "orders.xlsx", 20000, limits)


def test_entities_in_a_workbook_are_refused_not_expanded():
    assert openpyxl.DEFUSEDXML  # openpyxl parses with defusedxml when it is installed
    with pytest.raises(ParseError, match="This Excel file cannot be read"):
        read_upload(entity_bomb(), "orders.xlsx", 20000)


def test_a_sheet_within_the_limits_is_read():
    data = shared_strings_bomb(512 * 1024)  # packed tightly too, but too small to matter
    sheet = read_upload(data, "orders.xlsx", 20000)
    assert [row["cells"] for row in sheet.rows] == [["Order #", "Carrier", "Tracking #"],
                                                    ["ORDER-1", "UPS", "1Z999AA10123456784"]]


def test_reading_rows_stops_at_the_time_limit():
    text = "Order #\tCarrier\tTracking #\nA-1\tUPS\t1Z999AA10123456784\n"
    with pytest.raises(ParseError, match="Reading this file took longer than 0 seconds, the limit"):
        read_pasted(text, 20000, Limits(seconds=0))
    workbook = openpyxl.Workbook()
    workbook.active.append(["Order #", "Carrier", "Tracking #"])
    out = io.BytesIO()
    workbook.save(out)
    with pytest.raises(ParseError, match="Reading this file took longer than 0 seconds"):
        read_upload(out.getvalue(), "orders.xlsx", 20000, Limits(seconds=0))


def test_megabytes_reads_well():
    assert [megabytes(n) for n in (100, 500_000, 8 * MB, int(1.5 * MB), 93 * MB)] == [
        "100 bytes", "488 KB", "8 MB", "1.5 MB", "93 MB"]


# -- through the pages -------------------------------------------------------------------------

def test_bulk_upload_of_a_bomb_is_a_quick_specific_refusal(app, client, auth, bomb, never_parsed):
    auth.login("seller")
    response = client.post("/bulk/", data={"file": (io.BytesIO(bomb), "orders.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert BOMB_MESSAGE in text_of(response)
    assert count(app, Upload) == 0


def test_catalogue_import_of_a_bomb_is_a_quick_specific_refusal(app, client, auth, bomb, never_parsed):
    auth.login("seller")
    response = client.post("/catalogue/import", data={"file": (io.BytesIO(bomb), "products.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert BOMB_MESSAGE in text_of(response)
    assert count(app, Product) == 0


def test_the_paste_box_takes_what_the_page_says(app, client, auth):
    """Werkzeug refuses text fields over 500 KB by default: a 600 KB paste must reach the form."""
    auth.login("seller")
    page = text_of(client.get("/bulk/"))
    assert "At most 8 MB and 20,000 rows at a time." in page
    note = "x" * 100_000  # under csv's field limit; cells are cut to 500 characters anyway
    rows = [f"A-{n}\tUPS\t1Z999AA1012345678{n}\t{note}" for n in range(7)]
    pasted = "Order #\tCarrier\tTracking #\tNote\n" + "\n".join(rows)
    assert len(pasted) > 600_000
    response = client.post("/bulk/", data={"pasted": pasted})
    assert response.status_code == 303, text_of(response)[-400:]
    assert count(app, Upload) == 1


def test_one_limit_one_message_for_paste_file_and_request(app, client, auth):
    auth.login("seller")
    app.config.update(BULK_MAX_BYTES=1024)
    message = too_large(1024)
    assert message == ("This is more than 1 KB, the most one upload or paste can hold: split the rows "
                       "into parts and send them one by one.")
    body = "Order #\tCarrier\tTracking #\n" + "A-1\tUPS\t1Z999AA10123456784\n" * 60
    pasted = client.post("/bulk/", data={"pasted": body})
    assert pasted.status_code == 422 and message in text_of(pasted)
    uploaded = client.post("/bulk/", data={"file": (io.BytesIO(body.encode()), "t.csv")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 422 and message in text_of(uploaded)
    catalogue = client.post("/catalogue/import", data={"file": (io.BytesIO(body.encode()), "p.csv")},
                            content_type="multipart/form-data")
    assert catalogue.status_code == 422 and message in text_of(catalogue)
    # Beyond what the request itself may carry, Werkzeug answers 413: in the same words.
    app.config.update(MAX_CONTENT_LENGTH=1500, MAX_FORM_MEMORY_SIZE=1500)
    refused = client.post("/bulk/", data={"pasted": body * 2})
    assert refused.status_code == 413 and message in text_of(refused)
    assert count(app, Upload) == 0
