"""A seller opens the Money page on a tablet: the lists and the calendar fit, the export links work."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from fulfil.extensions import db
from fulfil.money.models import MoneyTransaction
from fulfil.timeutil import utcnow
from tests.conftest import make_order
from tests.fixtures_browser import TABLET, login

pytestmark = pytest.mark.browser


def test_money_page_fits_a_tablet(page, live_server):
    with live_server.app.app_context():
        now = utcnow()
        late = make_order("walmart", external_id="UNPAID-BROWSER", status="delivered",
                          lines=(("SKU-1", 2, "25.00"),))
        late.delivered_at = now - timedelta(days=20)
        short = make_order("ozon", external_id="SHORT-BROWSER-1", status="delivered",
                           lines=(("SKU-2", 1, "1000.00"),))
        short.delivered_at = now - timedelta(days=20)
        db.session.add_all([
            MoneyTransaction(account_id=short.account_id, external_id="op-1", kind="sale", order_id=short.id,
                             order_external_id=short.external_id, occurred_at=now - timedelta(days=20),
                             accrued=Decimal("800.00"), commission=Decimal("-120.00"), fees=Decimal("-50.00"),
                             amount=Decimal("630.00"), currency="RUB", paid_on=date.today()),
            MoneyTransaction(account_id=short.account_id, external_id="payout-1", kind="payout",
                             occurred_at=now, amount=Decimal("630.00"), currency="RUB", paid_on=date.today())])
        db.session.commit()

    login(page, "seller")
    page.goto("/money/?days=14")
    assert page.get_by_role("heading", name="Money", exact=True).is_visible()
    assert page.locator("#money-unpaid").get_by_text("UNPAID-BROWSER").is_visible()
    short_row = page.locator("#money-short tr", has_text="SHORT-BROWSER-1")
    assert short_row.is_visible()
    assert "170" in short_row.locator("td").last.inner_text()  # expected 850.00, paid 680.00 for the sale
    assert page.locator("#money-calendar").get_by_text("Paid", exact=True).is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"], "no sideways scrolling"
    with page.expect_download() as download:
        page.locator("#money-short").get_by_role("link", name="XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")
