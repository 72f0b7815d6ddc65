"""A supervisor opens the dashboard on a tablet: the lists, the numbers and the chart fit."""
from datetime import timedelta

import pytest

from fulfil.extensions import db
from fulfil.timeutil import utcnow
from tests.conftest import make_order
from tests.fixtures_browser import TABLET, login

pytestmark = pytest.mark.browser


def test_dashboard_renders_with_its_chart_on_a_tablet(page, live_server):
    with live_server.app.app_context():
        now = utcnow()
        make_order("walmart", external_id="LATE-BROWSER", ship_by=now - timedelta(hours=4))
        shipped = make_order("ozon", status="in_transit", ship_by=now - timedelta(days=1))
        shipped.ordered_at, shipped.shipped_at = now - timedelta(days=2), now - timedelta(days=1, hours=3)
        db.session.commit()

    login(page, "supervisor")
    page.goto("/supervisor/?period=7")
    assert page.get_by_role("heading", name="Supervisor").is_visible()
    assert page.locator("#past-due").get_by_text("LATE-BROWSER").is_visible()
    assert page.locator(".tile", has_text="Past due").locator(".tile-number").inner_text() == "1"

    chart = page.get_by_role("img", name="Orders received and shipped per day")
    assert chart.is_visible()
    assert chart.locator("rect.bar.received").count() == 7
    assert chart.locator("rect.bar.shipped").count() == 7
    box = chart.bounding_box()
    assert box["width"] > TABLET["width"] / 2, "the chart uses the width it has"
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"], "no sideways scrolling"
    assert page.get_by_text("100 %").first.is_visible()
