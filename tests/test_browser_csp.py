"""The main pages under the real Content-Security-Policy, in Chromium: nothing is blocked,
and htmx still does its work (it runs without eval and without injecting a <style>)."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from fulfil.bulk.models import Upload
from fulfil.catalogue.service import ProductInput, save_product
from fulfil.extensions import db
from fulfil.models import OutboxEntry
from fulfil.timeutil import utcnow
from tests.conftest import make_order
from tests.fixtures_browser import login

pytestmark = pytest.mark.browser

# Every violation reaches the page as a securitypolicyviolation event, before any of the
# page's own scripts run.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + (event.blockedURI || "inline") +
                    " at " + (event.sourceFile || document.location.pathname) + ":" + event.lineNumber);
});
"""


@pytest.fixture
def watched(page):
    """The tab, with every CSP violation, script error and htmx error it meets collected."""
    problems = []
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and ("Content Security Policy" in msg.text or "htmx" in msg.text)
            else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.problems = problems
    return page


def no_violations(page):
    page.wait_for_load_state("load")
    found = page.problems + page.evaluate("window.__csp")
    assert not found, f"{page.url}:\n" + "\n".join(found)


def seed(live_server):
    with live_server.app.app_context():
        save_product(ProductInput("MUG", "Blue mug", "A-01", barcodes=("4006381333931",)))
        late = make_order("walmart", external_id="PO-LATE", ship_by=utcnow() - timedelta(hours=3),
                          lines=(("MUG", 1, "5.00"),))
        to_pack = make_order("ozon", external_id="0123-4567-1", status="to_pack", lines=(("MUG", 1, "5.00"),))
        stuck = make_order("wish", external_id="WISH-STUCK", status="to_pack")
        db.session.add(OutboxEntry(order=stuck, account=stuck.account, action="acknowledge", payload={},
                                   state="failed", attempts=1, last_error="Unauthorized",
                                   idempotency_key="csp-failed"))
        db.session.commit()
        return late.id, to_pack.id


def pretend_applying(live_server):
    """The latest upload, as a worker applying it would leave it: 1 row of 4 done."""
    with live_server.app.app_context():
        upload = db.session.scalars(db.select(Upload).order_by(Upload.id.desc())).first()
        upload.state, upload.to_apply, upload.done = "applying", 4, 1
        db.session.commit()
        return upload.id


def test_the_policy_is_in_force_in_the_browser(live_server, watched):
    """The check below can fail: an inline script is really refused on fulfil's pages."""
    login(watched, "admin")
    ran = watched.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.body.appendChild(script);
        return window.inlineRan === true;
    }""")
    assert ran is False
    expect(watched.locator("body")).to_be_visible()
    assert any("script-src" in v for v in watched.evaluate("window.__csp"))


def test_main_pages_load_without_violations_and_htmx_still_works(live_server, watched):
    late_id, to_pack_id = seed(live_server)
    login(watched, "admin")

    watched.goto("/")  # the order list, with htmx search as you type
    expect(watched.locator(f"#order-{late_id}")).to_be_visible()
    watched.get_by_label("Search or scan").press_sequentially("PO-L")
    expect(watched.locator(".order-row")).to_have_count(1)
    no_violations(watched)

    watched.goto(f"/orders/{late_id}")  # the order page: Acknowledge swaps the detail in place
    watched.evaluate("window.samePage = true")
    watched.get_by_role("button", name="Acknowledge").click()
    expect(watched.locator("#order-detail .pill").first).to_have_text("To pack")
    assert watched.evaluate("window.samePage") is True, "htmx swapped it, no full reload"
    no_violations(watched)

    watched.goto("/bulk/")  # paste, check (htmx), see the verdicts
    watched.get_by_label("Paste rows from your spreadsheet").fill("PO#\tCarrier\tTracking number\n"
                                                                  "PO-LATE\tUPS\t1Z999AA10123456784")
    watched.get_by_role("button", name="Check rows").click()
    expect(watched.locator("#preview .tally")).to_contain_text("1 will ship")
    no_violations(watched)

    watched.goto(f"/bulk/{pretend_applying(live_server)}")  # a running apply: the progress bar, polling itself
    expect(watched.get_by_role("progressbar", name="Rows applied")).to_have_attribute("value", "25")
    no_violations(watched)

    watched.goto(f"/floor/pack/{to_pack_id}")  # the pack station: a scan verifies the item
    watched.wait_for_load_state("load")
    watched.keyboard.type("4006381333931")
    watched.keyboard.press("Enter")
    expect(watched.locator("[data-pack-count]")).to_contain_text("1 of 1 verified")
    no_violations(watched)

    watched.goto("/supervisor/?period=7")
    expect(watched.get_by_role("img", name="Orders received and shipped per day")).to_be_visible()
    no_violations(watched)

    watched.goto("/sync/problems")  # Retry swaps the lists in place
    watched.locator("#sync-problems tbody tr", has_text="WISH-STUCK").get_by_role("button", name="Retry").click()
    expect(watched.locator("#sync-problems .flash.success")).to_be_visible()
    no_violations(watched)
