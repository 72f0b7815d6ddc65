"""Inputs that once answered 500 (issue 8): each class answers a specific 4xx and saves nothing.

The property-based walk over the whole URL map is tests/test_url_map_fuzz.py; these are
the examples found by hand, one test per class, so a regression names its class.
"""
import pytest
from sqlalchemy import func, select

from fulfil.bulk.models import Upload
from fulfil.extensions import db
from fulfil.models import Event, Order, OutboxEntry, Shipment
from tests.conftest import make_order

HUGE = "9999999999999999999"


def paste(client, text):
    return client.post("/bulk/", data={"pasted": text})


def latest_upload(app):
    with app.app_context():
        return db.session.scalar(select(Upload.id).order_by(Upload.id.desc()))


def row_counts(app):
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Order, Event, OutboxEntry, Shipment, Upload)}


@pytest.mark.parametrize("path", [
    f"/orders/{HUGE}", f"/orders/{HUGE}/slip", f"/orders/{HUGE}/ship", f"/orders/2147483648",
    f"/sync/orders/{HUGE}", f"/bulk/{HUGE}", f"/bulk/{HUGE}/rows", f"/floor/pack/{HUGE}",
    f"/floor/picks/{HUGE}", f"/floor/photos/{HUGE}", f"/mcf/orders/{HUGE}/panel",
])
def test_ids_beyond_the_columns_range_are_not_found(app, client, auth, path):
    auth.login("admin")
    response = client.get(path)
    assert response.status_code == 404
    assert "There is nothing at this address" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", [f"/sync/entries/{HUGE}/retry", f"/bulk/{HUGE}/apply",
                                  f"/orders/{HUGE}/acknowledge", f"/floor/pack/{HUGE}/scan"])
def test_posts_to_ids_beyond_range_are_not_found(app, client, auth, path):
    auth.login("admin")
    assert client.post(path).status_code == 404


@pytest.mark.parametrize("where", ["query", "form", "path"])
def test_nul_bytes_are_refused_before_any_view(app, client, auth, where):
    auth.login("admin")
    with app.app_context():
        order = make_order("walmart", status="new")
        db.session.commit()
        order_id, version = order.id, order.version
    before = row_counts(app)
    if where == "query":
        response = client.get("/", query_string={"q": "a\x00b", "tab": "all"})
    elif where == "form":
        response = client.post(f"/orders/{order_id}/cancel", data={
            f"order{order_id}-version": version, f"order{order_id}-reason_code": "other",
            f"order{order_id}-note": "no\x00te"})
    else:
        response = client.get("/catalogue/SKU%00-1")
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    assert row_counts(app) == before


def test_nul_bytes_in_sign_in(app, client, users):
    response = client.post("/login", data={"username": "ware\x00house", "password": "x\x00"})
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


def test_prefix_bounds_at_the_end_of_unicode():
    from fulfil.search import prefix_bounds
    assert prefix_bounds("abc") == ("abc", "abd")
    assert prefix_bounds("ab\U0010ffff") == ("ab\U0010ffff", "ac")
    assert prefix_bounds("\U0010ffff\U0010ffff") == ("\U0010ffff\U0010ffff", None)
    assert prefix_bounds("a\ud7ff") == ("a\ud7ff", "a\ue000")  # never a lone surrogate


@pytest.mark.parametrize("q", ["abc\U0010ffff", "\U0010ffff", "\ud7ff", "z" * 5000, "\u2028\n\r\t"])
def test_search_with_edge_characters(app, client, auth, q):
    auth.login("warehouse")
    with app.app_context():
        make_order("walmart", external_id="PO-\U0010ffff", status="new")
        db.session.commit()
    for path in ("/", "/orders/rows", "/orders/export.csv", "/orders/scan", "/catalogue/", "/floor/scan"):
        response = client.get(path, query_string={"q": q, "tab": "all"})
        assert response.status_code < 500, path
    found = client.get("/", query_string={"q": "po-\U0010ffff", "tab": "all"})
    assert found.status_code == 200 and "PO-\U0010ffff" in found.get_data(as_text=True)


@pytest.mark.parametrize("after", ["%20", "2025-01-01T00:00:00~" + HUGE, "2025-01-01T00:00:00~-5",
                                   "2025-01-01T00:00:00~²", "~", "2025-01-01T00:00:00+03:00~1",
                                   "2025-01-01T00:00:00~" + "9" * 5000])
def test_damaged_cursors_get_a_message(app, client, auth, after):
    auth.login("warehouse")
    for path in ("/", "/orders/rows", "/orders/export.csv"):
        response = client.get(path, query_string={"tab": "all", "after": after})
        assert response.status_code == 400, path
        assert "“Load more” link is damaged" in response.get_data(as_text=True)


def test_a_blank_cursor_is_the_first_page(app, client, auth):
    auth.login("warehouse")
    assert client.get("/orders/rows?tab=all&after=%20").status_code == 200


def test_a_cursor_far_in_the_future_is_an_empty_page(app, client, auth):
    auth.login("warehouse")
    response = client.get("/orders/rows", query_string={"tab": "all", "after": "9999-12-31T23:59:59~1"})
    assert response.status_code == 200


def _upload_at_column_step(client):
    response = paste(client, "a\tb\tc\n1\t2\t3")
    assert response.status_code == 303


def test_upload_still_at_the_column_step(app, client, auth):
    auth.login("seller")
    _upload_at_column_step(client)
    upload_id = latest_upload(app)
    before = row_counts(app)
    for method, part in (("POST", "apply"), ("GET", "errors.csv"), ("GET", "rows"), ("GET", "progress"),
                         ("GET", "confirmations"), ("POST", "check")):
        response = client.open(f"/bulk/{upload_id}/{part}", method=method)
        assert response.status_code == 409, part
        assert "have not been checked yet: choose its columns first" in response.get_data(as_text=True)
    assert row_counts(app) == before
    with app.app_context():
        assert db.session.get(Upload, upload_id).state == "mapping"


def test_confirmations_before_apply(app, client, auth):
    auth.login("seller")
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        db.session.commit()
    paste(client, "Order #\tCarrier\tTracking #\nPO1\tUPS\t1Z999AA10123456784")
    upload_id = latest_upload(app)
    response = client.get(f"/bulk/{upload_id}/confirmations")
    assert response.status_code == 409
    assert "Nothing of this upload has been applied yet" in response.get_data(as_text=True)
    client.post(f"/bulk/{upload_id}/apply")
    assert client.get(f"/bulk/{upload_id}/confirmations").status_code == 200


def test_newline_or_absolute_next_at_sign_in_stays_on_site(app, client, users):
    for target in ("/orders\n", "/\r\nSet-Cookie: x=1", "https://evil.example/", "//evil.example",
                   "/\\evil.example", "\\\\evil.example", "/%0a", "/orders?q=\U0010ffff", "/\x7f"):
        client.post("/logout")
        response = client.post("/login", query_string={"next": target},
                               data={"username": "warehouse", "password": "secret-pass"})
        assert response.status_code in (302, 303), target
        location = response.headers["Location"]
        assert "\n" not in location and "\r" not in location
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    client.post("/logout")
    response = client.post("/login", query_string={"next": "/orders/5?tab=all"},
                           data={"username": "warehouse", "password": "secret-pass"})
    assert response.headers["Location"] == "/orders/5?tab=all"


def test_a_session_with_a_user_id_that_is_not_a_number(app, client, users):
    with client.session_transaction() as session:
        session["_user_id"] = "not-a-number"
        session["_fresh"] = True
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with client.session_transaction() as session:
        session["_user_id"] = HUGE
    assert client.get("/").status_code == 302
    with client.session_transaction() as session:
        session["_user_id"] = "١"  # an Arabic-Indic one: str.isdigit() says yes, and it is no id
    assert client.get("/").status_code == 302


def _open_dispute(client, order_id, version, deadline):
    return client.post(f"/orders/{order_id}/open_dispute", data={
        f"order{order_id}-version": version, f"order{order_id}-note": "Buyer says it never arrived",
        f"order{order_id}-deadline": deadline})


@pytest.mark.parametrize("deadline", ["9999-12-31T23:59", "0001-01-01T00:00", "1999-01-01T00:00",
                                      "2200-01-01T00:00"])
def test_dispute_deadline_out_of_range(app, client, auth, deadline):
    auth.login("warehouse")
    with app.app_context():
        order = make_order("walmart", status="in_transit")
        db.session.commit()
        order_id, version = order.id, order.version
    before = row_counts(app)
    response = _open_dispute(client, order_id, version, deadline)
    assert response.status_code == 422
    assert "between 30 days ago and a year from now" in response.get_data(as_text=True)
    assert row_counts(app) == before
    with app.app_context():
        assert not db.session.get(Order, order_id).dispute_open


def test_dispute_deadline_in_range(app, client, auth):
    from datetime import datetime, timedelta
    auth.login("warehouse")
    with app.app_context():
        order = make_order("walmart", status="in_transit")
        db.session.commit()
        order_id, version = order.id, order.version
    soon = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert _open_dispute(client, order_id, version, soon).status_code == 303
    with app.app_context():
        assert db.session.get(Order, order_id).dispute_deadline is not None


BAD_URLS = ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,x",
            "https://", "https:///path", "http://exa mple.com/", "https://example.com/\nx",
            "https://[broken", "//example.com/track", "https://example.com/" + "a" * 500]


@pytest.mark.parametrize("url", BAD_URLS)
def test_one_web_address_rule(url):
    from fulfil.inputs import is_web_address
    from fulfil.tracking import url_problem
    assert not is_web_address(url) and url_problem(url)
    assert is_web_address("https://www.lso.com/track?n=1") and url_problem("https://x.example/t") is None


def test_a_bulk_rows_tracking_url_passes_the_ship_forms_check(app, client, auth):
    auth.login("seller")
    with app.app_context():
        make_order("walmart", external_id="PO1", status="ready")
        make_order("walmart", external_id="PO2", status="ready")
        db.session.commit()
    paste(client, "Order #\tCarrier\tTracking #\tTracking URL\n"
                  "PO1\tOther\tABC123456789\tjavascript:alert(1)\n"
                  "PO2\tOther\tABC123456780\thttps://www.lso.com/track?n=ABC123456780")
    upload_id = latest_upload(app)
    with app.app_context():
        verdicts = db.session.get(Upload, upload_id).verdicts
    assert verdicts[0]["verdict"] == "error" and "starting with https://" in verdicts[0]["reason"]
    assert verdicts[1]["verdict"] == "ship", verdicts[1]
    client.post(f"/bulk/{upload_id}/apply")
    with app.app_context():
        urls = db.session.scalars(select(Shipment.tracking_url)).all()
        payload_urls = [e.payload.get("tracking_url") for e in db.session.scalars(select(OutboxEntry))]
    assert urls == ["https://www.lso.com/track?n=ABC123456780"]
    assert "javascript:alert(1)" not in payload_urls


def test_actions_refuse_a_tracking_url_that_is_no_web_address(app):
    from fulfil.actions import Actor, InvalidInput, Package, perform
    with app.app_context():
        order = make_order("walmart", status="ready")
        with pytest.raises(InvalidInput) as refused:
            perform(order, "ship", Actor(source="bulk"),
                    packages=[Package("other", "ABC123456789", "javascript:alert(1)")])
        assert "tracking_url" in refused.value.errors
        db.session.rollback()


def _failed_entry(app, payload):
    from fulfil.outbox import record
    with app.app_context():
        order = make_order("walmart", status="in_transit")
        entry = record(order, "ship", {"external_id": order.external_id, **payload})
        entry.state, entry.last_error = "failed", "Bad Request"
        db.session.commit()
        return entry.id


def _entry_state(app, entry_id):
    with app.app_context():
        return db.session.get(OutboxEntry, entry_id).state


def test_retry_checks_where_it_was_sent_from_before_retrying(app, client, auth):
    entry_id = _failed_entry(app, {"tracking_number": "1Z999AA10123456784"})
    auth.login("warehouse")
    response = client.post(f"/sync/entries/{entry_id}/retry", data={"back": "elsewhere\n"})
    assert response.status_code == 400 and "Nothing was sent" in response.get_data(as_text=True)
    assert _entry_state(app, entry_id) == "failed"


def test_retry_does_not_resend_a_tracking_page_that_is_no_web_address(app, client, auth):
    entry_id = _failed_entry(app, {"tracking_number": "ABC123456789", "tracking_url": "javascript:alert(1)"})
    auth.login("supervisor")
    response = client.post(f"/sync/entries/{entry_id}/retry", data={"back": "problems"})
    assert response.status_code == 422
    assert "Edit the tracking on the order" in response.get_data(as_text=True)
    assert _entry_state(app, entry_id) == "failed"
    response = client.post("/sync/problems/retry-all", headers={"HX-Request": "true"})
    assert "0 failed changes: sending again. 1 not sent again" in response.get_data(as_text=True)
    assert _entry_state(app, entry_id) == "failed"


def test_a_multipart_field_whose_name_cannot_be_read(app, client, auth):
    import io
    auth.login("seller")
    before = row_counts(app)
    response = client.post("/bulk/", data={"\n": "x", "file": (io.BytesIO(b"a,b\n1,2\n"), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "has a name that cannot be read" in response.get_data(as_text=True)
    assert row_counts(app) == before
