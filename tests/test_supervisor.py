"""Supervisor dashboard: working lists, counts, statistics, CSV export, roles, bad input.

Every test runs on SQLite and PostgreSQL (the `app` fixture). Times are set relative to
now, so the lists are checked the way a supervisor sees them at any hour.
"""
import csv
import io
from datetime import datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from fulfil.extensions import db
from fulfil.models import Event, ImportProblem, Order, OutboxEntry
from fulfil.supervisor import queries
from fulfil.supervisor.stats import day_starts, summarise
from fulfil.timeutil import today_bounds, utcnow
from tests.conftest import make_account, make_order


class _SectionText(HTMLParser):
    """The text inside the element with a given id, whitespace collapsed."""

    def __init__(self, element_id):
        super().__init__()
        self.element_id, self.depth, self.parts = element_id, 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth or dict(attrs).get("id") == self.element_id:
            self.depth += tag not in ("br", "input", "link", "meta", "img")

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def section(html, element_id):
    parser = _SectionText(element_id)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def tile(html, label):
    """The big number on the tile with this label."""
    text = section(html, "supervisor-lists")
    before = text.split(label)[0].split()
    return before[-1]


@pytest.fixture
def supervisor(auth):
    auth.login("supervisor")
    return auth


def add_orders(app, build):
    """Run `build(now)` inside the app and commit; returns what it returned."""
    with app.app_context():
        result = build(utcnow())
        db.session.commit()
        return result


def test_working_lists_show_the_right_orders(app, client, supervisor):
    def build(now):
        _, today_end = today_bounds(now)
        return {
            "late": make_order("walmart", external_id="LATE-1", ship_by=now - timedelta(hours=5)).external_id,
            "late_ozon": make_order("ozon", external_id="LATE-OZON", status="to_pack",
                                    ship_by=now - timedelta(days=3)).external_id,
            "today": make_order("wish", external_id="TODAY-1", ship_by=now + (today_end - now) / 2).external_id,
            "tomorrow": make_order("walmart", external_id="LATER-1",
                                   ship_by=today_end + timedelta(hours=2)).external_id,
            "shipped_late": make_order("walmart", external_id="SHIPPED-1", status="in_transit",
                                       ship_by=now - timedelta(days=1)).external_id,
        }

    ids = add_orders(app, build)
    page = client.get("/supervisor/")
    assert page.status_code == 200
    with app.app_context():
        late_id = db.session.scalar(db.select(Order.id).where(Order.external_id == "LATE-1"))
    assert f'href="/orders/{late_id}"' in page.text, "each order opens its own page"
    past_due = section(page.text, "past-due")
    assert "LATE-1" in past_due and "LATE-OZON" in past_due
    assert past_due.index("LATE-OZON") < past_due.index("LATE-1"), "the latest order comes first"
    assert "3 days late" in past_due and "5 h late" in past_due
    assert ids["today"] not in past_due and ids["shipped_late"] not in past_due
    due_today = section(page.text, "due-today")
    assert "TODAY-1" in due_today
    assert "LATE-1" not in due_today and "LATER-1" not in due_today
    assert tile(page.text, "Past due") == "2"
    assert tile(page.text, "Due today") == "1"


def test_counts_per_marketplace_and_account(app, client, supervisor):
    def build(now):
        for slug in ("walmart-us", "walmart-us", "walmart-ca"):
            make_order("walmart", slug=slug, ship_by=now - timedelta(hours=1))
        make_order("ozon", ship_by=now - timedelta(hours=1))
        make_order("ozon", status="delivered", ship_by=now - timedelta(hours=1))

    add_orders(app, build)
    accounts = section(client.get("/supervisor/").text, "accounts")
    # Marketplace total first (past due, due today, failed updates), then each account.
    assert "Ozon 1 0 0 Ozon test store 1 0 0" in accounts
    assert "Walmart 3 0 0" in accounts
    with app.app_context():
        states = queries.account_states(queries.work_lists(utcnow(), 7))
        assert {s.account.slug: s.past_due.value for s in states} == {
            "ozon-test": 1, "walmart-ca": 1, "walmart-us": 2}


def test_counts_stop_at_the_cap(app, client, supervisor, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    add_orders(app, lambda now: [make_order(ship_by=now - timedelta(hours=n + 1)) for n in range(5)])
    assert tile(client.get("/supervisor/").text, "Past due") == "3+"


def test_disputes_nearest_deadline_first_with_walmart_refund_risk(app, client, supervisor):
    def build(now):
        far = make_order("ozon", external_id="OZ-FAR", status="dispute")
        far.dispute_deadline = now + timedelta(days=3)
        near = make_order("ozon", external_id="OZ-NEAR", status="not_accepted")
        near.dispute_deadline = now + timedelta(hours=6)
        fresh = make_order("walmart", external_id="WM-FRESH", status="in_transit")
        fresh.dispute_open, fresh.dispute_note = True, "Buyer says the box was empty"
        db.session.add(Event(order=fresh, source="ui", action="open_dispute",
                             created_at=now - timedelta(hours=10, minutes=30)))
        old = make_order("walmart", external_id="WM-OLD", status="delivered")
        old.dispute_open, old.dispute_note = True, "Wrong colour"
        db.session.add(Event(order=old, source="marketplace", action="open_dispute",
                             created_at=now - timedelta(hours=50)))
        make_order("walmart", external_id="WM-CLOSED", status="delivered")  # no dispute

    add_orders(app, build)
    disputes = section(client.get("/supervisor/").text, "disputes")
    assert disputes.index("OZ-NEAR") < disputes.index("OZ-FAR") < disputes.index("WM-FRESH")
    assert "Walmart refund risk in 37 h" in disputes
    assert "Walmart refund risk now" in disputes
    assert "Buyer says the box was empty" in disputes
    assert "WM-CLOSED" not in disputes
    assert disputes.count("refund risk") == 2, "only Walmart escalations carry a refund risk"


def test_walmart_refund_risk_falls_back_to_the_deadline(app, client, supervisor):
    def build(now):
        order = make_order("walmart", external_id="WM-DEADLINE", status="delivered")
        order.dispute_open, order.dispute_deadline = True, now + timedelta(hours=20, minutes=10)

    add_orders(app, build)
    assert "refund risk in 20 h" in section(client.get("/supervisor/").text, "disputes")


def test_stuck_in_transit_after_n_days(app, client, supervisor):
    def build(now):
        for external_id, status, days in (("STUCK-10", "in_transit", 10), ("MOVING-3", "in_transit", 3),
                                          ("DONE-20", "delivered", 20)):
            order = make_order("wish", external_id=external_id, status=status)
            order.shipped_at = now - timedelta(days=days)

    add_orders(app, build)
    stuck = section(client.get("/supervisor/").text, "stuck-in-transit")
    assert "more than 7 days" in stuck and "STUCK-10" in stuck
    assert "10 days ago" in stuck
    assert "MOVING-3" not in stuck and "DONE-20" not in stuck
    stuck = section(client.get("/supervisor/?stuck_days=2").text, "stuck-in-transit")
    assert "STUCK-10" in stuck and "MOVING-3" in stuck


def test_sync_failures_and_import_state(app, client, supervisor):
    def build(now):
        order = make_order("walmart")
        for n, state in enumerate(("failed", "failed", "confirmed")):
            db.session.add(OutboxEntry(order=order, account_id=order.account_id, action="ship",
                                       payload={}, state=state, idempotency_key=f"key-{n}"))
        account = make_account("ozon")
        account.last_import_ok_at = now - timedelta(hours=2)
        account.last_import_at = now - timedelta(minutes=5)
        account.last_import_count = 42
        account.last_import_error = "auth: <b>Invalid Api-Key</b>"
        db.session.add(ImportProblem(account=account, external_id="X-1", error="bad date"))

    add_orders(app, build)
    page = client.get("/supervisor/").text
    assert tile(page, "Failed marketplace updates") == "2"
    accounts = section(page, "accounts")
    assert "2 — see sync problems" in accounts
    assert 'href="/sync/problems"' in page
    assert "42 orders changed" in accounts
    assert "failed: auth: <b>Invalid Api-Key</b>" in accounts
    assert "&lt;b&gt;Invalid Api-Key&lt;/b&gt;" in page, "the marketplace's words are escaped"
    assert "1 order could not be imported" in accounts


def test_statistics_on_a_hand_computed_example(app, client, supervisor):
    def build(now):
        def order(kind, ordered, ship_by, shipped=None, delivered=None):
            o = make_order(kind, status="delivered" if delivered else "in_transit" if shipped else "new",
                           ship_by=now - ship_by)
            o.ordered_at = now - ordered
            o.shipped_at = shipped and now - shipped
            o.delivered_at = delivered and now - delivered

        h = timedelta(hours=1)
        order("walmart", 72 * h, 48 * h, shipped=49 * h, delivered=24 * h)  # on time, 23 h to ship, 25 h transit
        order("walmart", 72 * h, 48 * h, shipped=24 * h)  # late, 48 h to ship
        order("walmart", 48 * h, -24 * h)  # received only
        order("ozon", 96 * h, 72 * h, shipped=74 * h, delivered=40 * h)  # on time, 22 h to ship, 34 h transit
        order("wish", 40 * 24 * h, 39 * 24 * h, shipped=39 * 24 * h)  # outside the 7-day period

    add_orders(app, build)
    page = client.get("/supervisor/?period=7").text
    stats = section(page, "statistics")
    # Overall: 4 received, 3 shipped, 2 of 3 on time, median of 22/23/48 h, median of 25/34 h.
    assert "66.7 % Shipped on time" in stats
    assert "23 h Median time to ship" in stats
    assert "29 h 30 min Median time in transit" in stats
    assert "4 Orders received 3 Orders shipped" in stats
    assert "Walmart 3 2 50 % 35 h 30 min 1 25 h" in stats
    assert "Ozon 1 1 100 % 22 h 1 34 h" in stats
    assert "Wish" not in stats
    assert "<svg" in page and page.count('class="bar received"') == 7
    assert "Orders received and shipped per day" in stats


def test_statistics_day_buckets_follow_the_local_time_zone():
    zone = ZoneInfo("America/New_York")
    now = datetime(2024, 3, 12, 15, 0)  # two days after the switch to daylight saving time
    starts = day_starts(3, now, zone)
    assert [s.hour for s in starts] == [5, 4, 4, 4], "midnight in New York, EST then EDT"
    late_evening = now.replace(day=11, hour=3, minute=30)  # 23:30 on the 10th in New York
    stats = summarise([("ozon", late_evening, None, None, None)], starts, zone)
    assert [(d.day.day, d.received) for d in stats.days] == [(10, 1), (11, 0), (12, 0)]


def test_csv_export_streams_every_list_with_formulas_neutralised(app, client, supervisor):
    def build(now):
        order = make_order("walmart", external_id="=HYPERLINK(1)", buyer="@SUM(A1)",
                           ship_by=now - timedelta(hours=2))
        order.order_number = "-2+3"
        order.raw_status = "+cmd"
        make_order("ozon", external_id="PLAIN-1", buyer="Иван Петров", ship_by=now - timedelta(hours=1))

    add_orders(app, build)
    response = client.get("/supervisor/export/past_due.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert 'filename="past-due-' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [row["Order"] for row in rows] == ["'=HYPERLINK(1)", "PLAIN-1"]
    assert rows[0]["Buyer"] == "'@SUM(A1)"
    assert rows[0]["Order number"] == "'-2+3"
    assert rows[0]["Marketplace status"] == "'+cmd"
    assert rows[0]["How late"] == "2 h late"
    assert rows[1]["Buyer"] == "Иван Петров"
    assert "Ship by (America/New_York)" in rows[0]
    for key in ("due_today", "disputes", "stuck_in_transit"):
        response = client.get(f"/supervisor/export/{key}.csv?stuck_days=3")
        assert response.status_code == 200 and response.get_data().startswith(b"\xef\xbb\xbfMarketplace,")


def test_csv_export_of_stuck_orders_has_tracking_and_days(app, client, supervisor):
    def build(now):
        from fulfil.models import Shipment
        order = make_order("wish", external_id="STUCK-CSV", status="in_transit")
        order.shipped_at = now - timedelta(days=9, hours=1)
        db.session.add(Shipment(order=order, carrier="usps", tracking_number="9400100000000000000001"))

    add_orders(app, build)
    rows = list(csv.DictReader(io.StringIO(
        client.get("/supervisor/export/stuck_in_transit.csv").get_data().decode("utf-8-sig"))))
    assert [(r["Order"], r["Days in transit"], r["Tracking"]) for r in rows] == [
        ("STUCK-CSV", "9", "9400100000000000000001")]


def test_auto_refresh_polls_the_lists_fragment(app, client, supervisor):
    page = client.get("/supervisor/?refresh=60").text
    assert 'hx-trigger="every 60s"' in page
    assert 'hx-get="/supervisor/?period=7&amp;stuck_days=7&amp;refresh=60"' in page
    assert 'hx-trigger' not in client.get("/supervisor/").text
    fragment = client.get("/supervisor/?refresh=60", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="supervisor-lists"')
    assert "<html" not in fragment.text and "Statistics" not in fragment.text


@pytest.mark.parametrize("role, status", [("warehouse", 403), ("seller", 403), ("supervisor", 200),
                                          ("admin", 200)])
def test_roles(client, auth, role, status):
    auth.login(role)
    for path in ("/supervisor/", "/supervisor/export/past_due.csv"):
        assert client.get(path).status_code == status


def test_signed_out_goes_to_login(client, users):
    response = client.get("/supervisor/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("query, message", [
    ("period=abc", "Choose a period of 7, 30 or 90 days."),
    ("period=14", "Choose a period of 7, 30 or 90 days."),
    ("stuck_days=0", "Enter a whole number of days from 1 to 365."),
    ("stuck_days=", "Enter a whole number of days from 1 to 365."),
    ("stuck_days=99999999999999999999999", "Enter a whole number of days from 1 to 365."),
    ("stuck_days=%3Cscript%3Ealert(1)%3C/script%3E", "Enter a whole number of days from 1 to 365."),
    ("refresh=1", "Choose an auto-refresh of 30, 60, 120 or 300 seconds, or 0 for off."),
    ("refresh=60%00", "contains a NUL character"),  # one rule for every page (fulfil.inputs)
])
def test_bad_query_strings_get_a_clear_message(client, supervisor, query, message):
    for path in ("/supervisor/", "/supervisor/export/stuck_in_transit.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert message in response.text
        assert "<script>alert" not in response.text


def test_bad_query_string_in_a_poll_goes_to_the_flash_area(client, supervisor):
    response = client.get("/supervisor/?stuck_days=x", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#flash"
    assert "Enter a whole number of days" in response.text


def test_unknown_export_is_not_found(client, supervisor):
    assert client.get("/supervisor/export/everything.csv").status_code == 404
