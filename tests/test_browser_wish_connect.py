"""An admin connects a Wish account on a tablet: Connect, Wish's authorize page, back."""
import pytest

from fulfil.extensions import db
from fulfil.importer import sync_accounts_from_config
from tests.fixtures_browser import login

pytestmark = pytest.mark.browser


def test_admin_connects_a_wish_account(page, live_server, wish_sim):
    app = live_server.app
    settings = {k: v for k, v in wish_sim.settings(slug="wish-shop", name="Wish shop").items()
                if k not in ("access_token", "refresh_token")}
    app.config["MARKETPLACE_ACCOUNTS"] = {"wish-shop": settings}
    with app.app_context():
        sync_accounts_from_config(app)
        db.session.remove()
    login(page, "admin")
    page.get_by_role("link", name="Accounts").click()
    assert page.get_by_text("Not connected").is_visible()
    page.get_by_role("button", name="Connect").click()
    page.wait_for_url(lambda url: url.startswith(wish_sim.url + "/v3/oauth/authorize"))
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(live_server("/accounts/wish"))
    assert page.get_by_text(f"Wish shop is connected to Wish store {wish_sim.module.MERCHANT_ID}.").is_visible()
    assert page.get_by_role("button", name="Reconnect").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 768  # no sideways scrolling
