"""What a person does with the order console on a tablet (768×1024), in Chromium."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from fulfil.extensions import db
from fulfil.models import Order
from fulfil.timeutil import utcnow
from tests.conftest import make_order
from tests.fixtures_browser import login

pytestmark = pytest.mark.browser
UPS = "1Z999AA10123456784"


def add_order(live_server, **kwargs):
    with live_server.app.app_context():
        order = make_order(**kwargs)
        db.session.commit()
        return order.id, order.external_id


def stored(live_server, order_id):
    with live_server.app.app_context():
        order = db.session.get(Order, order_id)
        return order.status, [s.tracking_number for s in order.shipments]


def test_acknowledge_and_ship_a_past_due_order_without_reloading(live_server, page):
    order_id, _ = add_order(live_server, ship_by=utcnow() - timedelta(hours=4), buyer="Olga Petrova")
    add_order(live_server, ship_by=utcnow() + timedelta(days=2), buyer="Not Late Yet")
    login(page)
    page.get_by_role("link", name=re.compile(r"^Past due")).click()
    expect(page).to_have_url(re.compile(r"tab=past_due"))
    row = page.locator(f"#order-{order_id}")
    expect(page.locator(".order-row")).to_have_count(1)
    expect(row).to_contain_text("4 h late")
    page.evaluate("window.sameTabletPage = true")  # a full reload would forget this

    row.get_by_role("button", name="Acknowledge").click()
    expect(row.locator(".pill")).to_have_text("To pack")
    row.get_by_role("button", name="Ship").click()
    row.get_by_label("Carrier", exact=True).select_option("ups")
    row.get_by_label("Tracking number").fill("1z999 aa1 0123456784")
    expect(row.locator(".tracking-hint")).to_contain_text("UPS tracking number")
    row.locator("form.action-form").get_by_role("button", name="Ship").click()

    expect(row.locator(".pill")).to_have_text("In transit")
    expect(row).to_contain_text("waiting to sync")
    assert page.evaluate("window.sameTabletPage") is True
    assert stored(live_server, order_id) == ("in_transit", [UPS])


def test_a_wrong_tracking_number_says_what_is_wrong(live_server, page):
    order_id, _ = add_order(live_server, status="to_pack")
    login(page)
    row = page.locator(f"#order-{order_id}")
    page.get_by_role("link", name=re.compile(r"^All")).click()
    row.get_by_role("button", name="Ship").click()
    row.get_by_label("Carrier", exact=True).select_option("ups")
    row.get_by_label("Tracking number").fill("RA123456785RU")
    expect(row.locator(".tracking-hint")).to_contain_text("RA123456785RU is not a UPS tracking number")

    row.locator("form.action-form").get_by_role("button", name="Ship").click()
    expect(row.locator(".field-error")).to_contain_text("is not a UPS tracking number")
    expect(row.get_by_label("Tracking number")).to_have_value("RA123456785RU")  # nothing typed is lost
    assert stored(live_server, order_id) == ("to_pack", [])


def test_two_tablets_ship_the_same_order(live_server, new_page):
    order_id, _ = add_order(live_server, status="to_pack")
    first, second = login(new_page(), "warehouse"), login(new_page(), "seller")
    for tablet in (first, second):
        tablet.goto(f"/orders/{order_id}")
        tablet.get_by_role("button", name="Ship").click()
        expect(tablet.get_by_label("Tracking number")).to_be_visible()
    second.get_by_label("Tracking number").fill("9400111899223344556612")

    first.get_by_label("Tracking number").fill(UPS)
    first.locator("form.action-form").get_by_role("button", name="Ship").click()
    expect(first.locator("#order-detail .pill").first).to_have_text("In transit")

    second.locator("form.action-form").get_by_role("button", name="Ship").click()
    conflict = second.locator(".notice.conflict")
    expect(conflict).to_contain_text("Someone else changed this order while you were working: it is now In transit")
    expect(conflict).to_contain_text("9400111899223344556612")  # what the second person typed
    assert stored(live_server, order_id) == ("in_transit", [UPS])


def test_search_as_you_type_and_scan(live_server, page):
    wanted_id, external_id = add_order(live_server, buyer="Olga Petrova")
    add_order(live_server, buyer="John Smith")
    login(page)
    expect(page.locator(".order-row")).to_have_count(2)
    search = page.get_by_label("Search or scan")
    search.press_sequentially("olg")
    expect(page.locator(".order-row")).to_have_count(1)
    expect(page.locator(f"#order-{wanted_id}")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=olg"))

    search.fill("")
    search.blur()  # nothing has the focus now
    page.keyboard.type(external_id)  # a scanner types the whole number, then Enter
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/orders/{wanted_id}$"))


def test_a_refusal_after_shipping_shows_at_the_top_without_a_reload(live_server, page):
    from fulfil.models import OutboxEntry
    from fulfil.outbox import refresh_sync_state
    order_id, _ = add_order(live_server, status="ready")
    login(page)
    page.goto(f"{live_server.url}/orders/{order_id}")
    page.evaluate("window.sameTabletPage = true")
    page.get_by_role("button", name="Ship").click()
    page.get_by_label("Carrier", exact=True).select_option("ups")
    page.get_by_label("Tracking number").fill(UPS)
    page.locator("form.action-form").get_by_role("button", name="Ship").click()
    expect(page.locator(f"#order-state-{order_id} .pill")).to_have_text("In transit")
    with live_server.app.app_context():  # the push worker: Walmart refuses
        entry = db.session.scalar(db.select(OutboxEntry).where(OutboxEntry.order_id == order_id))
        entry.state, entry.error_kind, entry.attempts = "failed", "permanent", 1
        entry.last_error = "Order line 1 cannot ship 1: it is 1 Cancelled"
        refresh_sync_state(entry.order)
        db.session.commit()
    alert = page.locator(f"#order-alert-{order_id} [data-refusal]")
    expect(alert).to_contain_text("Walmart refused “Ship", timeout=10000)
    expect(page.locator(f"#order-state-{order_id}")).to_contain_text("sync failed")
    assert alert.bounding_box()["y"] < 400  # at the top, not 1,200 px lower
    assert page.evaluate("window.sameTabletPage") is True
