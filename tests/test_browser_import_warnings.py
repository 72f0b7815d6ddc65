"""An order imported with a data warning, on a tablet (768×1024): the warning is there,
and marketplace text as long as fulfil keeps it never widens the page."""
import pytest
from playwright.sync_api import expect

from fulfil.extensions import db
from tests.conftest import make_order
from tests.fixtures_browser import login

pytestmark = pytest.mark.browser


def test_a_data_warning_shows_and_long_text_wraps(live_server, page):
    with live_server.app.app_context():
        order = make_order("ozon", buyer="B" * 199 + "…")
        order.lines[0].name = "N" * 499 + "…"
        order.address_line1 = "A" * 254 + "…"
        order.import_warnings = ["The product name of line 1 was 10,005 characters long: fulfil keeps the "
                                 "first 499 and “…”.", "Buyer name contained NUL: removed."]
        db.session.commit()
        order_id = order.id
    login(page)
    page.goto(f"/orders/{order_id}")
    warning = page.locator(".notice.warning")
    expect(warning).to_contain_text("fulfil had to change what Ozon sent to keep this order")
    expect(warning.locator("li")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
