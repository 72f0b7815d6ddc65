"""A person signs in on a tablet."""
import pytest

from tests.fixtures_browser import login

pytestmark = pytest.mark.browser


def test_login_and_wrong_password(page):
    page.goto("/")
    assert "/login" in page.url
    page.get_by_label("User name").fill("warehouse")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("Wrong user name or password.").is_visible()
    login(page, "warehouse")
    assert page.get_by_role("link", name="Orders").first.is_visible()
