"""The floor on a 768×1024 tablet with a scanner (keystrokes + Enter): pack, scan anywhere, pick."""
import re

import pytest
from playwright.sync_api import expect

from fulfil.catalogue.service import ProductInput, save_product
from fulfil.extensions import db
from fulfil.models import Order
from tests.conftest import make_order
from tests.fixtures_browser import login

pytestmark = pytest.mark.browser


def setup_floor(live_server):
    with live_server.app.app_context():
        save_product(ProductInput("MUG", "Blue mug", "A-01", barcodes=("4006381333931",)))
        save_product(ProductInput("CUP", "Red cup", "B-02", barcodes=("036000291452",)))
        save_product(ProductInput("PLATE", "Plate", "C-03"))
        order = make_order("ozon", external_id="0123-4567-1", status="to_pack",
                           lines=(("MUG", 2, "5.00"), ("CUP", 1, "3.00")))
        single = make_order("walmart", external_id="PO-SINGLE", lines=(("MUG", 1, "5.00"),))
        db.session.commit()
        return order.id, single.id


def scanner(page, code):
    """A keyboard-wedge scanner: fast keystrokes, then Enter, into whatever has the focus.

    A person scans once the page is there; waiting for its load keeps a test from typing
    into a page whose scripts have not run yet."""
    page.wait_for_load_state("load")
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_pack_station_verifies_every_item_and_a_wrong_one_is_loud(live_server, page):
    order_id, _ = setup_floor(live_server)
    login(page)
    page.goto(f"/floor/pack/{order_id}")
    expect(page.get_by_role("button", name="Mark packed")).to_have_count(0)
    expect(page.locator(".locked")).to_contain_text("unlock when every item is verified")

    scanner(page, "4006381333931")
    expect(page.locator(".scan-result")).to_contain_text("Blue mug: 1 of 2")
    scanner(page, "PLATE")  # the box was cleared and refocused: the next scan is not glued on
    result = page.locator(".scan-result")
    expect(result).to_contain_text("WRONG ITEM: PLATE Plate is not on this order")
    expect(result).to_have_attribute("role", "alert")
    assert page.evaluate("document.activeElement.id") == "pack-code"
    assert page.locator("#pack-code").input_value() == ""
    page.screenshot(path="/tmp/floor-pack-wrong.png", full_page=True)

    scanner(page, "4006381333931")
    scanner(page, "0036000291452")  # the UPC on the cup, read as an EAN-13
    expect(page.locator("[data-pack-count]")).to_contain_text("3 of 3 verified · 1 mismatch")
    page.get_by_role("button", name="Mark packed").click()
    expect(page.locator(".notice.ok")).to_contain_text("Packed")
    expect(page.locator("#pack-scan")).to_be_hidden()  # nothing left to verify: no item box
    # Packed: the cursor waits in the tracking field for the label's barcode.
    expect(page.locator("#ship-tracking")).to_be_focused()
    scanner(page, "RA123456785RU")
    expect(page.locator(".notice.ok")).to_contain_text("Shipped with RA123456785RU")
    page.screenshot(path="/tmp/floor-pack-shipped.png", full_page=True)
    with live_server.app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "in_transit" and order.shipments[0].tracking_number == "RA123456785RU"


def test_supervisor_overrides_with_a_reason(live_server, page):
    order_id, _ = setup_floor(live_server)
    login(page, "supervisor")
    page.goto(f"/floor/pack/{order_id}")
    page.get_by_label("Supervisor override").fill("Cup out of stock, buyer agreed to a partial")
    page.get_by_role("button", name="Override and mark packed").click()
    expect(page.locator(".notice.ok")).to_contain_text("Packed")
    with live_server.app.app_context():
        assert db.session.get(Order, order_id).status == "ready"


def test_a_scan_on_a_page_without_a_scan_box_opens_the_order(live_server, page):
    order_id, single_id = setup_floor(live_server)
    login(page)
    page.goto(f"/orders/{order_id}")
    scanner(page, "PO-SINGLE")
    expect(page).to_have_url(re.compile(rf"/orders/{single_id}$"))
    scanner(page, "NO-SUCH-THING")
    expect(page.locator(".flash.error")).to_contain_text("NOT FOUND: nothing has the number NO-SUCH-THING")
    page.screenshot(path="/tmp/floor-not-found.png", full_page=True)
    # The list's scan box is empty after the miss: the next scan opens its order.
    scanner(page, "0123-4567-1")
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"))


def test_pick_a_wave_with_the_scanner(live_server, page):
    setup_floor(live_server)
    login(page)
    page.goto("/floor/")
    page.get_by_role("button", name="Pick everything due today").click()
    expect(page.locator("h1")).to_contain_text("Pick list")
    expect(page.locator(".pick-table").first).to_contain_text("A-01")
    scanner(page, "4006381333931")
    expect(page.locator(".notice.ok")).to_contain_text("MUG · bin A-01: 1 of 1 picked")
    expect(page.locator("[data-pick-progress]")).to_contain_text("1 of 4 items picked")
    expect(page.locator(".claim")).to_contain_text("You are picking this list")
    page.screenshot(path="/tmp/floor-pick.png", full_page=True)


def test_touch_targets_on_floor_pages(live_server, page):
    order_id, _ = setup_floor(live_server)
    login(page, "seller")
    small = []
    for path in ("/floor/", f"/floor/pack/{order_id}", "/catalogue/", "/catalogue/MUG"):
        page.goto(path)
        small += page.evaluate("""() => Array.from(document.querySelectorAll('main a, main button, main select, main input:not([type=hidden]):not([type=file])'))
            .filter(el => el.offsetParent !== null && !el.closest('.visually-hidden'))
            .map(el => [el.textContent.trim() || el.name || el.id,
                          // a tick box is tapped through its label
                          (el.type === 'checkbox' && el.closest('label') ? el.closest('label') : el).getBoundingClientRect().height])
            .filter(([, h]) => h < 44).map(([n, h]) => `${location.pathname}: ${n} ${h}px`)""")
    assert small == []
    page.goto("/catalogue/")
    page.screenshot(path="/tmp/floor-catalogue.png", full_page=True)


def test_the_pack_station_works_without_javascript(live_server, browser):
    from tests.fixtures_browser import TABLET
    order_id, _ = setup_floor(live_server)
    context = browser.new_context(viewport=TABLET, has_touch=True, base_url=live_server.url,
                                  java_script_enabled=False)
    try:
        page = login(context.new_page())
        page.goto(f"/floor/pack/{order_id}")
        for code in ("4006381333931", "PLATE", "4006381333931", "036000291452"):
            page.locator("#pack-code").fill(code)
            page.locator("#pack-code").press("Enter")  # a plain form post, page by page
        expect(page.locator("[data-pack-count]")).to_contain_text("3 of 3 verified · 1 mismatch")
        page.get_by_role("button", name="Mark packed").click()
        page.locator("#ship-tracking").fill("RA123456785RU")
        page.get_by_role("button", name="Ship", exact=True).click()
        expect(page.locator(".notice.ok")).to_contain_text("Shipped with RA123456785RU")
    finally:
        context.close()
