"""Sending an order to Amazon MCF on a tablet (768×1024), in Chromium, against the MCF simulator."""

import pytest
from playwright.sync_api import expect

from fulfil.extensions import db
from fulfil.mcf.models import McfOrder
from fulfil.models import MarketplaceAccount, OutboxEntry
from tests.conftest import make_order
from tests.fixtures_browser import login

pytestmark = pytest.mark.browser


@pytest.fixture
def mcf_live(live_server, mcf_sim):
    live_server.app.config["MARKETPLACE_ACCOUNTS"] = {
        "mcf-sim": mcf_sim.settings(slug="mcf-sim", name="Amazon MCF sim")}
    with live_server.app.app_context():
        db.session.add(MarketplaceAccount(slug="mcf-sim", kind="amazon_mcf", name="Amazon MCF sim",
                                          base_url=mcf_sim.url, rate_limit=0))
        db.session.commit()
    return live_server


def add_order(live_server, **kwargs):
    with live_server.app.app_context():
        order = make_order("walmart", **kwargs)
        db.session.commit()
        return order.id


def test_send_to_amazon_preview_then_confirm(mcf_live, page, mcf_sim):
    order_id = add_order(mcf_live, lines=(("EAR-BT-01", 2, "29.99"),))
    login(page, "seller")
    page.goto(f"/orders/{order_id}")
    panel = page.locator("#mcf-panel")
    panel.get_by_label("Keep Amazon Logistics out (BLOCK_AMZL)").check()
    page.evaluate("window.sameTabletPage = true")
    panel.get_by_role("button", name="Send to Amazon MCF…").click()

    expect(panel).to_contain_text("Amazon's preview (no Amazon Logistics)")
    for speed in ("Standard", "Expedited", "Priority"):
        expect(panel.locator(".mcf-option", has_text=speed)).to_contain_text("fees $")
    panel.locator(".mcf-option", has_text="Expedited").get_by_role("radio").check()
    confirm = panel.get_by_role("button", name="Confirm: send to Amazon")
    box = confirm.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= 768  # a finger's size, on screen
    confirm.click()

    expect(panel).to_contain_text("Sent to Amazon as WM-")
    expect(panel).to_contain_text("being sent to Amazon")
    expect(panel.get_by_role("button", name="Cancel at Amazon")).to_be_visible()
    assert page.evaluate("window.sameTabletPage") is True  # no reload
    with mcf_live.app.app_context():
        mcf = db.session.scalar(db.select(McfOrder))
        assert (mcf.shipping_speed, mcf.block_amzl, mcf.status) == ("Expedited", True, "Sending")
        entry = db.session.scalar(db.select(OutboxEntry).where(OutboxEntry.action == "mcf_create"))
        assert entry.payload["request"]["items"] == [
            {"sellerSku": "EAR-BT-01", "sellerFulfillmentOrderItemId": "1", "quantity": 2}]


def test_unfulfillable_preview_says_why_and_offers_no_confirm(mcf_live, page, mcf_sim):
    order_id = add_order(mcf_live, lines=(("NOT-AT-AMAZON", 1, "9.99"),))
    login(page, "seller")
    page.goto(f"/orders/{order_id}")
    panel = page.locator("#mcf-panel")
    panel.get_by_role("button", name="Send to Amazon MCF…").click()
    expect(panel.locator(".mcf-option").first).to_contain_text("NOT-AT-AMAZON × 1: InvalidSKU")
    expect(panel.get_by_role("button", name="Confirm: send to Amazon")).to_have_count(0)
    panel.get_by_role("button", name="Back").click()
    expect(panel.get_by_role("button", name="Send to Amazon MCF…")).to_be_visible()
    with mcf_live.app.app_context():
        assert db.session.scalar(db.select(McfOrder)) is None
