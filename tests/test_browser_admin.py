"""An admin manages people on a tablet: adds a packer, changes the role, deactivates —
and the packer's open tab is signed out at once."""
import pytest

from tests.fixtures_browser import TABLET, login

pytestmark = pytest.mark.browser
PACKER_PASSWORD = "packs-all-day"


def fits(page):
    return page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]


def test_an_admin_adds_changes_and_deactivates_a_person(new_page):
    admin = login(new_page(), "admin")
    admin.get_by_role("link", name="Admin", exact=True).click()
    assert admin.get_by_role("heading", name="People").is_visible()
    assert fits(admin), "people list: no sideways scrolling"

    admin.get_by_role("link", name="Add a person").click()
    admin.get_by_label("User name (to sign in with)").fill("packer1")
    admin.get_by_label("Name shown to others").fill("Pat Packer")
    admin.get_by_label("Role").select_option("warehouse")
    admin.get_by_label("Password", exact=True).fill("short")
    admin.get_by_label("Type it again").fill("short")
    admin.get_by_role("button", name="Add").click()
    assert admin.get_by_text("A password needs 10 to 200 characters.").first.is_visible()
    admin.get_by_label("Password", exact=True).fill(PACKER_PASSWORD)
    admin.get_by_label("Type it again").fill(PACKER_PASSWORD)
    admin.get_by_role("button", name="Add").click()
    assert admin.get_by_text("packer1 can sign in now, as warehouse.").is_visible()
    assert fits(admin), "a person's page: no sideways scrolling"

    packer = new_page()
    packer.goto("/login")
    packer.get_by_label("User name").fill("packer1")
    packer.get_by_label("Password").fill(PACKER_PASSWORD)
    packer.get_by_role("button", name="Sign in").click()
    packer.wait_for_url(lambda url: "/login" not in url)
    assert packer.get_by_text("Pat Packer · warehouse").is_visible()

    admin.get_by_role("combobox", name="Role").select_option("seller")
    admin.get_by_role("button", name="Save role").click()
    assert admin.get_by_text("packer1 is now seller, and signed out everywhere.").is_visible()
    packer.reload()
    assert "/login" in packer.url, "the old role's session ended"

    admin.get_by_role("button", name="Deactivate packer1").click()
    assert admin.get_by_text("packer1 is deactivated and signed out everywhere.").is_visible()
    assert admin.get_by_role("button", name="Reactivate packer1").is_visible()
    admin.get_by_role("link", name="Sign-ins").click()
    assert admin.locator("tr.audit-deactivated", has_text="packer1").is_visible()
    assert fits(admin), "sign-in list: no sideways scrolling"

    packer.get_by_label("User name").fill("packer1")
    packer.get_by_label("Password").fill(PACKER_PASSWORD)
    packer.get_by_role("button", name="Sign in").click()
    assert packer.get_by_text("Wrong user name or password.").is_visible()
