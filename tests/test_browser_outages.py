"""On the tablet while the database is down or the server is gone: the tapped row stays,
and the page says what happened (app.js, fulfil.errors)."""
import re

import pytest
from playwright.sync_api import expect

from fulfil.extensions import login_manager
from tests.fixtures_browser import login
from tests.test_browser_orders import add_order, stored
from tests.test_outages_web import database_down

pytestmark = pytest.mark.browser

GUNICORN_500 = ("<html><head><title>Internal Server Error</title></head><body><h1><p>Internal Server Error"
                "</p></h1></body></html>")


def open_row(live_server, page):
    order_id, _ = add_order(live_server)
    login(page)
    page.get_by_role("link", name=re.compile(r"^All")).click()
    row = page.locator(f"#order-{order_id}")
    expect(row.get_by_role("button", name="Acknowledge")).to_be_visible()
    return order_id, row


def test_a_save_while_the_database_is_down_keeps_the_row(live_server, page, monkeypatch):
    order_id, row = open_row(live_server, page)
    monkeypatch.setattr(login_manager, "_user_callback", database_down)
    row.get_by_role("button", name="Acknowledge").click()
    flash = page.locator("#flash")
    expect(flash).to_contain_text("The database is not answering — your change was not saved. "
                                  "Try again in a moment.")
    expect(row.get_by_role("button", name="Acknowledge")).to_be_visible()
    expect(flash.get_by_role("link", name="Reload")).to_be_visible()
    monkeypatch.undo()
    assert stored(live_server, order_id)[0] == "new"
    # Back: the same tap saves, and the row shows it.
    row.get_by_role("button", name="Acknowledge").click()
    expect(row.locator(".pill")).to_have_text("To pack")


def test_a_bare_server_error_is_never_swapped_into_the_row(live_server, page):
    order_id, row = open_row(live_server, page)
    page.route(re.compile(r".*/acknowledge\?view=row$"),
               lambda route: route.fulfill(status=500, body=GUNICORN_500, content_type="text/html"))
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#flash")).to_contain_text(
        "fulfil could not answer (error 500). Your change may not have been saved: reload to see whether it was.")
    expect(row.get_by_role("button", name="Acknowledge")).to_be_visible()
    expect(page.get_by_text("Internal Server Error")).to_have_count(0)


def test_no_answer_at_all_says_fulfil_is_not_reachable(live_server, page):
    order_id, row = open_row(live_server, page)
    page.route(re.compile(r".*/acknowledge\?view=row$"), lambda route: route.abort("connectionrefused"))
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#flash")).to_contain_text("fulfil is not reachable. Your change may not have been saved")
    expect(row.get_by_role("button", name="Acknowledge")).to_be_visible()
