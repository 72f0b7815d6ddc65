"""The inbox: tabs and their counts, filters, search, keyset paging, scan box, CSV export."""
import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fulfil.actions import Actor, Package, perform
from fulfil.extensions import db
from fulfil.models import Order
from fulfil.orders import queries
from fulfil.timeutil import today_bounds, utcnow
from tests.conftest import make_order

HTMX = {"HX-Request": "true"}


def row_ids(html):
    return [int(n) for n in re.findall(r'<article class="order-row[^"]*" id="order-(\d+)"', html)]


def tab_counts(html):
    return dict(re.findall(r'>\s*([A-Za-z ]+?) <span class="count">([\d,+]+)</span>', html))


@pytest.fixture
def inbox(app):
    """One order for each list, by name -> id."""
    with app.app_context():
        now = utcnow()
        end_of_today = today_bounds(now)[1]
        orders = {
            "late_new": make_order("walmart", status="new", ship_by=now - timedelta(hours=3, minutes=5),
                                   buyer="Olga Petrova", lines=(("MUG-RED", 2, "9.50"),)),
            "due_today": make_order("ozon", status="to_pack", ship_by=now + (end_of_today - now) / 2,
                                    buyer="Ivan Sidorov", lines=(("TEE-L", 1, "1200.00"),)),
            "tomorrow": make_order("wish", status="ready", ship_by=end_of_today + timedelta(hours=2),
                                   buyer="Maria Garcia"),
            "in_transit": make_order("walmart", status="in_transit", ship_by=now - timedelta(days=2),
                                     buyer="John Smith"),
            "delivered": make_order("wish", status="delivered", ship_by=now - timedelta(days=5),
                                    buyer="Ann Lee"),
        }
        db.session.commit()
        return {name: order.id for name, order in orders.items()}


# Each test signs in (a password hash or two), so related cases share one test.
TABS = {
    "new": ["late_new"],
    "due_today": ["due_today"],
    "past_due": ["late_new"],
    "in_transit": ["in_transit"],
    "all": ["delivered", "in_transit", "late_new", "due_today", "tomorrow"],  # by ship-by
}


def test_each_tab_lists_its_orders_in_ship_by_order(client, auth, inbox):
    auth.login()
    for tab, expected in TABS.items():
        response = client.get(f"/?tab={tab}")
        assert response.status_code == 200
        assert row_ids(response.text) == [inbox[name] for name in expected], tab


def test_tabs_show_counts_and_rows_say_how_late_or_how_long_left(client, auth, inbox):
    auth.login()
    page = client.get("/?tab=all").text
    assert tab_counts(page) == {"New": "1", "Due today": "1", "Past due": "1", "In transit": "1", "All": "5"}
    assert "3 h late" in page
    assert re.search(r'<span class="left">in \d+ (h|min)</span>', page)


def test_counts_stop_at_the_cap(client, auth, app, monkeypatch):
    with app.app_context():
        for _ in range(4):
            make_order("walmart")
        db.session.commit()
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    auth.login()
    assert tab_counts(client.get("/").text)["New"] == "2+"


def test_htmx_request_gets_just_the_list(client, auth, inbox):
    auth.login()
    response = client.get("/?tab=past_due", headers=HTMX)
    assert "<html" not in response.text
    assert 'name="tab" value="past_due" form="filters"' in response.text
    assert row_ids(response.text) == [inbox["late_new"]]


def test_filters(client, auth, inbox):
    auth.login()
    for query, expected in (("marketplace=ozon", ["due_today"]),
                            ("marketplace=wish&status=delivered", ["delivered"]),
                            ("status=in_transit", ["in_transit"])):
        assert row_ids(client.get(f"/?tab=all&{query}").text) == [inbox[name] for name in expected], query


def test_account_filter(client, auth, app, inbox):
    with app.app_context():
        other = make_order("walmart", slug="walmart-second", buyer="Second Store Buyer")
        db.session.commit()
        other_id, account_id = other.id, other.account_id
    auth.login()
    assert row_ids(client.get(f"/?tab=all&account={account_id}").text) == [other_id]


def test_search_as_you_type(client, auth, inbox):
    auth.login()
    for typed, expected in (("olg", "late_new"),         # buyer's first name
                            ("PETROV", "late_new"),      # last name, any case
                            ("tee-", "due_today"),       # SKU
                            ("item-tee", "due_today")):  # marketplace item id
        response = client.get(f"/?tab=all&q={typed}", headers=HTMX)
        assert row_ids(response.text) == [inbox[expected]], typed
        assert "Orders matching" in response.text


def test_search_finds_numbers_and_tracking(client, auth, app, inbox):
    with app.app_context():
        order = db.session.get(Order, inbox["due_today"])
        order.status = "ready"
        perform(order, "ship", Actor(), packages=[Package("russian_post", "RA123456785RU")])
        db.session.commit()
        external_id, order_number = order.external_id, order.order_number
    auth.login()
    for typed in ("ra1234567", external_id[:6], order_number):
        assert row_ids(client.get(f"/?tab=all&q={typed}").text) == [inbox["due_today"]], typed


def test_search_counts_follow_the_search(client, auth, inbox):
    auth.login()
    counts = tab_counts(client.get("/?tab=new&q=ivan").text)
    assert counts["New"] == "0" and counts["Due today"] == "1" and counts["All"] == "1"


def test_search_says_when_there_are_more_matches_than_shown(client, auth, app, monkeypatch):
    with app.app_context():
        for _ in range(3):
            make_order("walmart", buyer="Zed Common")
        db.session.commit()
    monkeypatch.setattr(queries, "SEARCH_CAP", 2)
    auth.login()
    page = client.get("/?tab=all&q=zed").text
    assert "type more to narrow them down" in page


def test_keyset_paging_walks_every_order_once(client, auth, app):
    app.config["PAGE_SIZE"] = 2
    with app.app_context():
        start = utcnow()
        orders = [make_order("walmart", ship_by=start + timedelta(hours=h)) for h in (5, 1, 3, 3, 2, 3, 4)]
        db.session.commit()
        expected = [o.id for o in sorted(orders, key=lambda o: (o.ship_by, o.id))]
    auth.login()
    page = client.get("/?tab=all").text
    seen = row_ids(page)
    while (more := re.search(r'hx-get="(/orders/rows\?[^"]+)"', page)):
        page = client.get(more.group(1).replace("&amp;", "&"), headers=HTMX).text
        assert "<html" not in page
        seen += row_ids(page)
    assert seen == expected


def test_today_is_the_sellers_day(app):
    """3:00 UTC on 10 January is still 9 January in New York: 'today' ends at 05:00 UTC."""
    with app.app_context():
        now = datetime(2026, 1, 10, 3, 0)
        due = make_order("walmart", ship_by=datetime(2026, 1, 10, 4, 30))
        make_order("walmart", ship_by=datetime(2026, 1, 10, 6, 0))
        db.session.commit()
        clock = queries.Clock(now, today_bounds(now, ZoneInfo("America/New_York"))[1])
        orders, _ = queries.page(queries.OrderFilter(tab="due_today"), clock)
        assert [o.id for o in orders] == [due.id]


def test_sync_marks(client, auth, app):
    with app.app_context():
        make_order("walmart").sync_state = "pending"
        make_order("walmart").sync_state = "failed"
        db.session.commit()
    auth.login()
    page = client.get("/").text
    assert '<span class="sync pending">waiting to sync</span>' in page
    assert '<span class="sync failed">sync failed</span>' in page


def test_bad_query_string_gets_a_clear_message_and_the_default_list(client, auth, inbox):
    auth.login()
    response = client.get("/?tab=bogus&after=garbage&account=abc&status=<b>x</b>&q=" + "x" * 200)
    assert response.status_code == 400
    text = response.text
    for message in ("List “bogus” is unknown", "“Load more” link is damaged", "Account “abc” is unknown",
                    "Status “&lt;b&gt;x&lt;/b&gt;” is unknown", "at most 120 characters"):
        assert message in text
    assert "<b>x</b>" not in text
    assert row_ids(text) == [inbox["late_new"]]  # the New list, as if nothing bad was asked


def test_damaged_load_more_link(client, auth):
    auth.login()
    response = client.get("/orders/rows?tab=all&after=2026-13-45~x", headers=HTMX)
    assert response.status_code == 400
    assert "Reload the list" in response.text


def test_buyer_names_are_escaped(client, auth, app):
    with app.app_context():
        make_order("walmart", buyer="<script>alert(1)</script>")
        db.session.commit()
    auth.login()
    page = client.get("/").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_scan_opens_the_one_order_with_that_number(client, auth, app, inbox):
    with app.app_context():
        order = db.session.get(Order, inbox["in_transit"])
        external_id = order.external_id
    auth.login()
    response = client.get(f"/orders/scan?q={external_id.lower()}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/{inbox['in_transit']}")


def test_scan_normalises_a_tracking_number(client, auth, app, inbox):
    with app.app_context():
        order = db.session.get(Order, inbox["due_today"])
        order.status = "ready"
        perform(order, "ship", Actor(), packages=[Package("russian_post", "RA123456785RU")])
        db.session.commit()
    auth.login()
    response = client.get("/orders/scan?q=ra 123 456 785 ru")
    assert response.headers["Location"].endswith(f"/orders/{inbox['due_today']}")


def test_scan_with_several_or_no_matches_shows_the_search(client, auth, app):
    with app.app_context():
        make_order("walmart", buyer="Twin Buyer")
        make_order("wish", buyer="Twin Buyer")
        db.session.commit()
    auth.login()
    response = client.get("/orders/scan?q=twin buyer")
    assert response.status_code == 302
    assert "/?tab=all&q=twin+buyer" in response.headers["Location"]
    assert len(row_ids(client.get(response.headers["Location"]).text)) == 2
    assert client.get("/orders/scan?q=nothing-like-this").status_code == 302


def read_csv(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_csv_export_of_the_current_list(client, auth, inbox):
    auth.login()
    response = client.get("/orders/export.csv?tab=all&marketplace=walmart")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    header, *rows = read_csv(response)
    assert header[:3] == ["Marketplace", "Account", "Posting / PO# / order id"]
    assert [row[7] for row in rows] == ["John Smith", "Olga Petrova"]
    assert rows[1][8] == "2 × MUG-RED" and rows[1][13] == "3 h late"


def test_csv_cells_that_look_like_formulas_are_neutralised(client, auth, app):
    with app.app_context():
        make_order("walmart", buyer='=HYPERLINK("http://evil.example","x")')
        make_order("walmart", buyer="@SUM(A1)", lines=(("-1+1", 1, "1.00"),))
        db.session.commit()
    auth.login()
    _, *rows = read_csv(client.get("/orders/export.csv?tab=new"))
    cells = {cell for row in rows for cell in row}
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells
    assert "'@SUM(A1)" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_csv_export_reads_in_batches_without_losing_or_repeating(app):
    with app.app_context():
        ids = {make_order("walmart", ship_by=utcnow() + timedelta(minutes=m % 3)).id for m in range(7)}
        db.session.commit()
        streamed = [o.id for o in queries.iter_orders(queries.OrderFilter(tab="all"), queries.Clock.current(),
                                                      batch=2)]
        assert sorted(streamed) == sorted(ids)


def test_csv_export_refuses_a_bad_filter(client, auth):
    auth.login()
    response = client.get("/orders/export.csv?tab=nope")
    assert response.status_code == 400
    assert "List “nope” is unknown" in response.text


def test_a_status_filter_outside_a_tab_empties_it(client, auth, inbox):
    auth.login()
    counts = tab_counts(client.get("/?tab=all&status=delivered").text)
    assert counts == {"New": "0", "Due today": "0", "Past due": "0", "In transit": "0", "All": "1"}
