"""Bulk tracking through the Flask client: paste/upload → columns → preview → apply → results."""
import csv
import io
import re

import pytest
from sqlalchemy.orm import undefer

from fulfil.bulk.models import Upload
from fulfil.extensions import db
from fulfil.models import OutboxEntry, Shipment
from fulfil.tracking import make_tracking_number
from tests.conftest import make_order

HEADER = "Order #\tCarrier\tTracking #"


@pytest.fixture
def seller(auth):
    auth.login("seller")
    return auth


def orders(app, *specs):
    with app.app_context():
        for kind, external_id, status in specs:
            make_order(kind, external_id=external_id, status=status)
        db.session.commit()


def paste(client, *lines, header=HEADER):
    return client.post("/bulk/", data={"pasted": "\n".join([header, *lines])})


def latest(app):
    with app.app_context():
        upload = db.session.scalar(db.select(Upload).order_by(Upload.id.desc())
                                   .options(undefer(Upload.verdicts), undefer(Upload.outcomes)))
        db.session.expunge_all()
        return upload


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def uploads_count(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Upload))


def test_paste_preview_apply_and_result(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"), ("walmart", "PO2", "cancelled"))
    good = make_tracking_number("ups")
    response = paste(client, f"PO1\tUPS\t{good}", f"PO2\tUPS\t{make_tracking_number('ups')}")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    text = text_of(page)
    assert "1 will ship" in text and "1 with errors" in text
    assert "Order PO2 is cancelled: nothing to ship." in text
    upload = latest(app)
    response = client.post(f"/bulk/{upload.id}/apply")
    assert response.status_code == 303
    text = text_of(client.get(f"/bulk/{upload.id}"))
    assert "1 shipped" in text and "1 not applied" in text
    assert "Waiting for the marketplace" in text
    with app.app_context():
        assert db.session.scalar(db.select(Shipment.tracking_number)) == good


def test_results_poll_while_the_marketplace_has_not_confirmed(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    paste(client, f"PO1\tUPS\t{make_tracking_number('ups')}")
    upload = latest(app)
    client.post(f"/bulk/{upload.id}/apply")
    waiting = client.get(f"/bulk/{upload.id}/confirmations", headers={"HX-Request": "true"})
    assert 'hx-trigger="load delay:2s"' in waiting.get_data(as_text=True)
    rows = client.get(f"/bulk/{upload.id}/rows", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="load delay:2s"' in rows
    with app.app_context():
        db.session.execute(db.update(OutboxEntry).values(state="confirmed"))
        db.session.commit()
    settled = client.get(f"/bulk/{upload.id}/confirmations", headers={"HX-Request": "true"})
    assert "hx-trigger" not in settled.get_data(as_text=True)
    assert "1 confirmed" in text_of(settled)
    rows = client.get(f"/bulk/{upload.id}/rows", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in rows and "Confirmed" in rows


def test_progress_fragment_polls_while_running_and_stops_when_done(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    paste(client, f"PO1\tUPS\t{make_tracking_number('ups')}")
    upload = latest(app)
    with app.app_context():
        db.session.execute(db.update(Upload).values(state="applying", to_apply=4, done=1))
        db.session.commit()
    running = client.get(f"/bulk/{upload.id}/progress", headers={"HX-Request": "true"})
    html = running.get_data(as_text=True)
    assert 'hx-trigger="load delay:500ms"' in html and 'max="100" value="25"' in html
    with app.app_context():
        db.session.execute(db.update(Upload).values(state="done", done=4, outcomes=[
            {"outcome": "shipped", "reason": None, "entries": []}]))
        db.session.commit()
    done = client.get(f"/bulk/{upload.id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "load delay:500ms" not in done and "Applied" in done


def test_acknowledge_option_rechecks_the_rows(app, client, seller):
    orders(app, ("walmart", "PO1", "new"))
    paste(client, f"PO1\tUPS\t{make_tracking_number('ups')}")
    upload = latest(app)
    assert "Not acknowledged yet" in text_of(client.get(f"/bulk/{upload.id}"))
    fragment = client.post(f"/bulk/{upload.id}/check", data={"acknowledge": "y"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.get_data(as_text=True).lstrip().startswith("{#") is False
    assert "1 will ship" in text_of(fragment) and "<html" not in fragment.get_data(as_text=True)


def test_unknown_headers_go_through_the_mapping_step(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    number = make_tracking_number("ups")
    response = paste(client, f"PO1\tx\t{number}", header="Reference\tNote\tCode")
    upload = latest(app)
    assert upload.state == "mapping"
    assert client.get(response.headers["Location"]).headers["Location"].endswith(f"/bulk/{upload.id}/columns")
    form = client.get(f"/bulk/{upload.id}/columns")
    assert form.status_code == 200 and "Which column is which?" in text_of(form)
    bad = client.post(f"/bulk/{upload.id}/columns", data={"has_header": "y", "column_0": "order",
                                                         "column_1": "order", "column_2": ""})
    assert bad.status_code == 422
    assert "choose it for one column only" in text_of(bad) and "Choose the column that holds: Tracking number" in text_of(bad)
    good = client.post(f"/bulk/{upload.id}/columns", data={"has_header": "y", "column_0": "order",
                                                          "column_1": "", "column_2": "tracking"})
    assert good.status_code == 303
    assert latest(app).verdicts[0]["verdict"] == "ship"


@pytest.mark.parametrize("data, message", [
    ({"pasted": ""}, "Paste the rows from your spreadsheet, or choose a file."),
    ({"pasted": "just one column\nand another row"}, "We found only one column"),
    ({"file": (b"\xd0\xcf\x11\xe0" + b"\0" * 64, "old.xls")}, "old Excel .xls file"),
    ({"file": (b"PK\x03\x04broken", "broken.xlsx")}, "damaged Excel file"),
])
def test_bad_input_gets_a_clear_message_and_saves_nothing(app, client, seller, data, message):
    if "file" in data:
        data = {"file": (io.BytesIO(data["file"][0]), data["file"][1])}
    response = client.post("/bulk/", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in text_of(response)
    assert uploads_count(app) == 0


def test_size_caps(app, client, seller):
    app.config.update(BULK_MAX_BYTES=100, BULK_MAX_ROWS=2)
    big = client.post("/bulk/", data={"file": (io.BytesIO(b"a,b\n" * 50), "big.csv")},
                      content_type="multipart/form-data")
    assert big.status_code == 422 and "This is more than 100 bytes, the most one upload" in text_of(big)
    many = paste(client, "A\tB", "C\tD", "E\tF")
    assert many.status_code == 422 and "more than 2 rows" in text_of(many)
    assert uploads_count(app) == 0


def test_csv_upload_in_windows_1251(app, client, seller):
    orders(app, ("ozon", "12345678-0001-1", "ready"))
    number = make_tracking_number("russian_post")
    data = f"Номер отправления;Перевозчик;Трек-номер\n12345678-0001-1;Почта России;{number}\n".encode("cp1251")
    response = client.post("/bulk/", data={"file": (io.BytesIO(data), "треки.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    upload = latest(app)
    assert (upload.encoding, upload.delimiter) == ("Windows-1251", "semicolon")
    assert upload.verdicts[0]["verdict"] == "ship"


def test_error_report_is_the_sellers_rows_plus_reason_with_formulas_neutralised(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    client.post("/bulk/", data={"pasted": "Order;Carrier;Tracking;Note\n=HYPERLINK(\"x\");UPS;1Z1;-5\n"
                                          f"PO1;UPS;{make_tracking_number('ups')};ok\n"})
    upload = latest(app)
    response = client.get(f"/bulk/{upload.id}/errors.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Order", "Carrier", "Tracking", "Note", "reason"]
    assert rows[1][0] == "'=HYPERLINK(\"x\")" and rows[1][3] == "'-5"
    assert rows[1][4] == "A tracking number has only letters and digits (5 to 40 of them)."
    assert len(rows) == 2


def test_fixed_error_report_uploads_again_without_questions(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    paste(client, "PO1\tUPS\t1Z999AA10123456785")  # a mistyped check digit
    report = client.get(f"/bulk/{latest(app).id}/errors.csv").get_data(as_text=True).lstrip("\ufeff")
    fixed = report.replace("1Z999AA10123456785", make_tracking_number("ups"))
    response = client.post("/bulk/", data={"file": (io.BytesIO(fixed.encode("utf-8-sig")), "fixed.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    upload = latest(app)
    assert upload.state == "preview" and [v["verdict"] for v in upload.verdicts] == ["ship"]
    # The reason column is refilled, not added twice.
    header = next(csv.reader(io.StringIO(client.get(f"/bulk/{upload.id}/errors.csv")
                                         .get_data(as_text=True).lstrip("\ufeff"))))
    assert header.count("reason") == 1


def test_html_is_escaped(app, client, seller):
    paste(client, f"<script>alert(1)</script>\tUPS\t{make_tracking_number('ups')}")
    html = client.get(f"/bulk/{latest(app).id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_rows_are_paged_and_filtered(app, client, seller):
    lines = [f"NOPE{i}\tUPS\t{make_tracking_number('ups')}" for i in range(150)]
    paste(client, *lines)
    upload = latest(app)
    first = client.get(f"/bulk/{upload.id}/rows?show=error", headers={"HX-Request": "true"})
    assert "Page 1 of 2" in text_of(first) and "NOPE99" in text_of(first)
    second = client.get(f"/bulk/{upload.id}/rows?show=error&page=2", headers={"HX-Request": "true"})
    assert "NOPE149" in text_of(second) and "NOPE99 " not in text_of(second)
    nothing = client.get(f"/bulk/{upload.id}/rows?show=ship&page=-3", headers={"HX-Request": "true"})
    assert "No rows here." in text_of(nothing)


ENDPOINTS = [("get", "/bulk/"), ("post", "/bulk/"), ("get", "/bulk/{id}"), ("get", "/bulk/{id}/columns"),
             ("post", "/bulk/{id}/columns"), ("post", "/bulk/{id}/check"), ("post", "/bulk/{id}/apply"),
             ("get", "/bulk/{id}/progress"), ("get", "/bulk/{id}/rows"),
             ("get", "/bulk/{id}/confirmations"), ("get", "/bulk/{id}/errors.csv")]


def test_roles(app, client, auth):
    orders(app, ("walmart", "PO1", "to_pack"))
    auth.login("seller")
    paste(client, f"PO1\tUPS\t{make_tracking_number('ups')}")
    upload = latest(app)
    auth.logout()
    for method, path in ENDPOINTS:
        assert getattr(client, method)(path.format(id=upload.id)).status_code == 302  # to sign in
    auth.login("warehouse")
    for method, path in ENDPOINTS:
        assert getattr(client, method)(path.format(id=upload.id)).status_code == 403, path
    auth.logout()
    auth.login("supervisor")  # supervisors see every seller's uploads
    assert client.get(f"/bulk/{upload.id}").status_code == 200
    auth.logout()
    auth.login("admin")
    assert client.get("/bulk/").status_code == 200
    with app.app_context():
        from tests.conftest import make_user
        make_user("seller2", "seller")
        db.session.commit()
    auth.logout()
    auth.login("seller2")  # another seller's upload is not there for them
    assert client.get(f"/bulk/{upload.id}").status_code == 404
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Shipment)) == 0


def test_csrf_is_required(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    paste(client, f"PO1\tUPS\t{make_tracking_number('ups')}")
    upload = latest(app)
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/bulk/{upload.id}/apply").status_code == 400
    assert paste(client, f"PO1\tUPS\t{make_tracking_number('ups')}").status_code == 400
    assert uploads_count(app) == 1
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Shipment)) == 0


def test_checking_an_applied_upload_again_is_a_conflict(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    paste(client, f"PO1\tUPS\t{make_tracking_number('ups')}")
    upload = latest(app)
    client.post(f"/bulk/{upload.id}/apply")
    assert client.post(f"/bulk/{upload.id}/check", headers={"HX-Request": "true"}).status_code == 409
    again = client.post(f"/bulk/{upload.id}/apply", follow_redirects=True)
    assert "already being applied or has been applied" in text_of(again)


def test_file_names_lose_control_characters(app, client, seller):
    orders(app, ("walmart", "PO1", "to_pack"))
    data = f"Order,Tracking\nPO1,{make_tracking_number('ups')}\n".encode()
    response = client.post("/bulk/", data={"file": (io.BytesIO(data), "tra\x00ck\x1bing.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    assert latest(app).filename == "tracking.csv"
