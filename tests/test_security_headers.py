"""Security headers on every response, and pages that a CSP without 'unsafe-inline' allows.

Walks the whole URL map (future routes included) as an admin, like tests/test_roles.py:
every answer carries the headers, every page fulfil draws is no-store, and no HTML answer
holds an inline script, style or on*= handler the policy would block.
"""
import re

import pytest

from fulfil import create_app
from fulfil.extensions import db
from fulfil.security.headers import CONTENT_SECURITY_POLICY
from tests.conftest import PASSWORD, make_order, make_user
from tests.test_roles import is_public

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> block"),
    (re.compile(r"<[^>]+\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"<[^>]+\son[a-z]+\s*=", re.I), "on*= handler"),
    (re.compile(r"<[^>]+\shx-on", re.I), "hx-on (needs eval)"),
    (re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I), "javascript: URL"),
]


def assert_secure_headers(response, what):
    headers = response.headers
    assert headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "same-origin", what


def inline_code(html):
    return [label for pattern, label in INLINE if pattern.search(html)]


def test_the_policy_allows_no_inline_code_and_no_framing():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_every_get_route_as_admin_carries_the_headers(app, client, auth):
    with app.app_context():
        order_id = make_order("walmart").id
        db.session.commit()
    auth.login("admin")
    adapter = app.url_map.bind("localhost")
    checked, pages, wrong = 0, 0, []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        endpoint = rule.endpoint
        # A real order where a page shows one (the order page, its slip...), 1 elsewhere.
        url = adapter.build(endpoint, {name: order_id if name == "order_id" else 1 for name in rule.arguments})
        response = client.get(url)
        what = f"GET {url} ({endpoint}) answered {response.status_code}"
        assert_secure_headers(response, what)
        if not is_public(endpoint) and "no-store" not in response.headers.get("Cache-Control", ""):
            wrong.append(f"{what} without Cache-Control: no-store")
        if response.mimetype == "text/html":
            pages += response.status_code == 200
            wrong += [f"{what} has an {label}" for label in inline_code(response.get_data(as_text=True))]
        checked += 1
    assert checked > 30 and pages > 15  # the whole map was walked, real pages drawn
    assert not wrong, "\n".join(wrong)


def test_pages_for_anonymous_people_and_static_files_carry_them_too(app, client):
    login = client.get("/login")
    assert_secure_headers(login, "GET /login")
    assert login.headers["Cache-Control"] == "no-store"
    assert not inline_code(login.get_data(as_text=True))
    script = client.get("/static/app.js")
    assert_secure_headers(script, "GET /static/app.js")
    assert "no-store" not in script.headers.get("Cache-Control", ""), "static files may be cached"
    missing = client.get("/no-such-page")
    assert missing.status_code in (302, 404)
    assert_secure_headers(missing, "GET /no-such-page")


def test_an_html_error_answer_carries_the_headers(app, client, auth):
    auth.login("admin")
    response = client.get("/orders/999999")
    assert response.status_code == 404
    assert_secure_headers(response, "GET /orders/999999")
    assert response.headers["Cache-Control"] == "no-store"


def session_cookies(response):
    return [c for c in response.headers.getlist("Set-Cookie")
            if c.startswith(("session=", "remember_token="))]


def sign_in(client, **kwargs):
    return client.post("/login", data={"username": "admin", "password": PASSWORD, "remember": "y"},
                       **kwargs)


def test_cookies_are_secure_over_https_only(app, users):
    over_http = session_cookies(sign_in(app.test_client()))
    over_https = session_cookies(sign_in(app.test_client(), base_url="https://localhost"))
    assert len(over_http) == 2 and len(over_https) == 2  # the session and remember-me
    assert not any("Secure" in c for c in over_http)
    assert all("; Secure" in c for c in over_https)


@pytest.fixture
def proxied_app(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "proxy.sqlite3"),
                      "WTF_CSRF_ENABLED": False, "PROXY_FIX": 1})
    with app.app_context():
        db.create_all()
        make_user("admin", "admin")
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_behind_a_proxy_its_forwarded_proto_decides(proxied_app, app, users):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "fulfil.shop.example"}
    behind_tls = sign_in(proxied_app.test_client(), headers=forwarded)
    assert all("; Secure" in c for c in session_cookies(behind_tls))
    assert behind_tls.headers["Location"].startswith(("/", "https://fulfil.shop.example/"))
    plain = sign_in(proxied_app.test_client())
    assert not any("Secure" in c for c in session_cookies(plain))
    # Without FULFIL_PROXY_FIX the header is the client's word and is not believed.
    forged = sign_in(app.test_client(), headers=forwarded)
    assert not any("Secure" in c for c in session_cookies(forged))


def test_proxy_fix_setting_must_be_a_count(monkeypatch):
    from config import _env_count

    monkeypatch.setenv("FULFIL_PROXY_FIX", "1")
    assert _env_count("FULFIL_PROXY_FIX") == 1
    monkeypatch.setenv("FULFIL_PROXY_FIX", "yes")
    with pytest.raises(SystemExit, match="number of proxies"):
        _env_count("FULFIL_PROXY_FIX")
