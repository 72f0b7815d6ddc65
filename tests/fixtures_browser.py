"""Playwright fixtures: the real app served over HTTP, Chromium at tablet size.

The browser is FULFIL_CHROMIUM (`make test` sets it from bin/find-browser); without it,
the first browser test runs bin/find-browser itself.

`live_server` serves a fresh app (SQLite file database, the test Redis) in a thread;
`page` is a Chromium tab at 768×1024 (portrait tablet) with touch enabled; `login(page,
role)` signs in as the demo user of that role.
"""
import os
import subprocess
from pathlib import Path

import pytest

from fulfil import create_app
from fulfil.extensions import db, limiter
from tests.conftest import PASSWORD, free_port, make_user

FIND_BROWSER = Path(__file__).resolve().parent.parent / "bin" / "find-browser"
TABLET = {"width": 768, "height": 1024}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


class LiveServer:
    def __init__(self, app, url):
        self.app, self.url = app, url

    def __call__(self, path=""):
        return self.url + path


@pytest.fixture
def live_server(tmp_path, redis_url):
    from simulators.common import run_in_thread

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "live.sqlite3"),
                      "REDIS_URL": redis_url, "WTF_CSRF_ENABLED": True,
                      "FULFIL_TIMEZONE": "America/New_York"})
    with app.app_context():
        db.create_all()
        for role in ("warehouse", "seller", "supervisor", "admin"):
            make_user(role, role)
        db.session.commit()
    limiter.reset()
    port = free_port()
    server = run_in_thread(app, port)
    yield LiveServer(app, f"http://127.0.0.1:{port}")
    server.shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def chromium():
    """FULFIL_CHROMIUM, else what bin/find-browser finds (or installs)."""
    if os.environ.get("FULFIL_CHROMIUM"):
        return os.environ["FULFIL_CHROMIUM"]
    found = subprocess.run([str(FIND_BROWSER)], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.fail(f"bin/find-browser found no Chromium:\n{found.stderr}")
    return found.stdout.strip()


@pytest.fixture
def new_page(browser, live_server):
    """Factory for tablet-size tabs (two tabs = two tablets, for conflict tests)."""
    contexts = []

    def make():
        context = browser.new_context(viewport=TABLET, has_touch=True, is_mobile=False,
                                      base_url=live_server.url, accept_downloads=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def login(page, role="warehouse"):
    page.goto("/login")
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return page
