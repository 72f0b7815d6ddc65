"""Wish: a seller connects an account by OAuth, fulfil keeps the tokens encrypted and the
adapter uses and refreshes them; the envelope's code is read as a string or an integer.

Every call fulfil makes goes through tests.test_wish.Contract (requests and answers checked
against specs/wish-oauth.openapi.yaml and wish-orders.openapi.yaml), and so does every
simulator answer the tests read directly."""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from fulfil.accounts import wish_oauth
from fulfil.accounts.models import WishConnection
from fulfil.accounts.vault import StoredWishTokens, decrypt
from fulfil.extensions import db
from fulfil.importer import sync_accounts_from_config
from fulfil.marketplaces import adapter_for
from fulfil.marketplaces.base import Permanent
from fulfil.models import MarketplaceAccount
from tests.test_wish import Contract, make_adapter

pytestmark = pytest.mark.integration
SLUG = "wish-oauth"


@pytest.fixture
def contract(wish_sim):
    contract = Contract(wish_sim.url)
    yield contract
    assert not contract.violations, "\n".join(contract.violations)


def checked_session(contract):
    session = requests.Session()
    session.hooks["response"].append(contract.check)
    return session


@pytest.fixture
def account(app, wish_sim, contract, monkeypatch):
    """A Wish account with fulfil's app credentials and no tokens in the environment."""
    monkeypatch.setattr(wish_oauth, "http_session", lambda: checked_session(contract))
    settings = {key: value for key, value in wish_sim.settings(slug=SLUG).items()
                if key not in ("access_token", "refresh_token")}
    app.config["MARKETPLACE_ACCOUNTS"] = {SLUG: settings}
    with app.app_context():
        sync_accounts_from_config(app)
        return db.session.scalar(select(MarketplaceAccount.id).where(MarketplaceAccount.slug == SLUG))


def start_connect(client):
    """Click Connect -> (Wish's authorize URL, its query)."""
    response = client.post(f"/accounts/wish/{SLUG}/connect")
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_at_wish(sim, authorize_url, decision="approve"):
    """The seller on Wish's authorize page presses a button -> where Wish sends the browser."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200 and "Authorize" in page.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    fields = {name: html.unescape(value) for name, value in fields.items() if name != "decision"}
    answer = requests.post(sim.url + "/v3/oauth/authorize", data={**fields, "decision": decision},
                           allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    return answer.headers["Location"]


def follow_back(client, location):
    """Wish's redirect lands on fulfil's callback."""
    target = urlsplit(location)
    assert target.path == "/accounts/wish/callback"
    return client.get(f"{target.path}?{target.query}")


def connect(client, sim):
    authorize_url, _ = start_connect(client)
    return follow_back(client, authorize_at_wish(sim, authorize_url))


def stored(app):
    with app.app_context():
        return db.session.scalar(select(WishConnection))


# -- the envelope's code -------------------------------------------------------------------

@pytest.mark.parametrize("code_type", ["string", "integer"])
def test_token_expired_refreshes_whether_the_code_is_a_string_or_an_integer(wish_sim, contract, code_type):
    wish_sim.admin("POST", "/options", json={"code_type": code_type})
    wish_sim.generate(2)
    adapter = make_adapter(wish_sim, contract)
    wish_sim.admin("POST", "/tokens", json={"event": "expire"})
    expired = requests.get(wish_sim.url + "/api/v3/orders", timeout=5,
                           headers={"Authorization": "Bearer " + wish_sim.settings()["access_token"]}).json()
    assert expired["code"] == ("1007" if code_type == "string" else 1007)  # what the adapter meets

    assert len(adapter.list_changed(None).orders) == 2

    assert contract.operations.count("oauthRefreshToken") == 1


@pytest.mark.parametrize("code_type", ["string", "integer"])
def test_wish_error_codes_reach_the_failure_as_integers(wish_sim, contract, code_type):
    wish_sim.admin("POST", "/options", json={"code_type": code_type})
    with pytest.raises(Permanent) as caught:
        make_adapter(wish_sim, contract).get_order("0" * 24)
    assert (caught.value.status_code, caught.value.code) == (404, 1001)


# -- connecting an account -----------------------------------------------------------------

def test_a_wish_account_connects_by_oauth(app, client, auth, wish_sim, account, contract):
    auth.login("admin")
    assert "Not connected" in client.get("/accounts/wish").get_data(as_text=True)
    authorize_url, query = start_connect(client)
    assert authorize_url.startswith(wish_sim.url + "/v3/oauth/authorize?")
    assert query["client_id"] == wish_sim.settings()["client_id"]
    assert query["redirect_uri"] == "http://localhost/accounts/wish/callback" and len(query["state"]) > 20

    back = authorize_at_wish(wish_sim, authorize_url)
    assert parse_qs(urlsplit(back).query)["state"] == [query["state"]]
    landed = follow_back(client, back)

    assert landed.status_code == 303 and landed.headers["Location"].endswith("/accounts/wish")
    page = client.get("/accounts/wish").get_data(as_text=True)
    assert f"connected to Wish store {wish_sim.module.MERCHANT_ID}" in page and "token valid until" in page
    assert contract.operations == ["oauthAccessTokenPost", "oauthTest"]
    connection = stored(app)
    issued = [t for t, r in wish_sim.state.extra["tokens"].items() if not r["revoked"]]
    assert len(issued) == 1 and connection.merchant_id == wish_sim.module.MERCHANT_ID
    # Encrypted at rest: the columns never hold the tokens themselves.
    assert issued[0] not in connection.access_token and "sim-wish-refresh" not in connection.refresh_token
    with app.app_context():
        assert decrypt(connection.access_token) == issued[0]
        assert decrypt(connection.refresh_token) in wish_sim.state.extra["refresh_tokens"]
    assert connection.scopes == "orders:read orders:write" and connection.connected_by_id is not None


def test_the_adapter_uses_and_refreshes_the_stored_tokens(app, client, auth, wish_sim, account, contract):
    auth.login("admin")
    connect(client, wish_sim)
    wish_sim.generate(3)
    with app.app_context():
        # The environment's tokens are wrong: only the stored ones can work.
        app.config["MARKETPLACE_ACCOUNTS"][SLUG].update(access_token="env-token", refresh_token="env-refresh")
        record = db.session.get(MarketplaceAccount, account)
        shared = {}
        adapter = adapter_for(record, token_store=shared, session=checked_session(contract))
        assert len(adapter.list_changed(None).orders) == 3
        before = stored(app).access_token

        wish_sim.admin("POST", "/tokens", json={"event": "expire"})
        assert len(adapter.list_changed(None).orders) == 3
        again = adapter_for(record, token_store=shared, session=checked_session(contract))
        again.list_changed(None)  # another worker: the refreshed token, from the database

    assert contract.operations.count("oauthRefreshToken") == 1
    connection = stored(app)
    assert connection.access_token != before and connection.refreshed_at is not None
    assert shared == {}  # nothing in the environment's shared cache
    with app.app_context():
        live = [t for t, r in wish_sim.state.extra["tokens"].items() if not r["revoked"]]
        assert decrypt(connection.access_token) == live[0]


def test_disconnect_forgets_the_tokens(app, client, auth, wish_sim, account):
    auth.login("admin")
    connect(client, wish_sim)
    answer = client.post(f"/accounts/wish/{SLUG}/disconnect")
    assert answer.status_code == 303 and stored(app) is None
    with app.app_context():
        with pytest.raises(Permanent, match="not connected"):
            adapter_for(db.session.get(MarketplaceAccount, account)).list_changed(None)


def test_stored_tokens_under_another_secret_key_ask_for_a_reconnect(app, client, auth, wish_sim, account):
    auth.login("admin")
    connect(client, wish_sim)
    app.config["SECRET_KEY"] = "another-key"
    with app.app_context():
        with pytest.raises(Permanent, match="connects the Wish account again"):
            StoredWishTokens(account).current()


# -- what goes wrong on the way, in words --------------------------------------------------

def test_a_callback_nobody_started_is_refused(app, client, auth, wish_sim, account):
    auth.login("admin")
    answer = client.get("/accounts/wish/callback?code=abc&state=xyz")
    assert answer.status_code == 400 and "No Wish connection was started" in answer.get_data(as_text=True)
    assert stored(app) is None


def test_a_foreign_state_is_refused(app, client, auth, wish_sim, account):
    auth.login("admin")
    authorize_url, _ = start_connect(client)
    back = authorize_at_wish(wish_sim, authorize_url).replace("state=", "state=x")
    answer = follow_back(client, back)
    assert answer.status_code == 400 and "another connection attempt" in answer.get_data(as_text=True)
    assert stored(app) is None


def test_the_seller_declining_changes_nothing(app, client, auth, wish_sim, account):
    auth.login("admin")
    authorize_url, _ = start_connect(client)
    answer = follow_back(client, authorize_at_wish(wish_sim, authorize_url, decision="deny"))
    assert answer.status_code == 400 and "did not authorise fulfil (access_denied)" in answer.get_data(as_text=True)
    assert stored(app) is None


@pytest.mark.parametrize(("spoil", "message"), [
    ("redeemed", "The authorization code has already been redeemed"),
    ("expired", "The authorization code has expired"),
])
def test_a_code_wish_refuses_stores_nothing(app, client, auth, wish_sim, account, contract, spoil, message):
    auth.login("admin")
    authorize_url, _ = start_connect(client)
    back = authorize_at_wish(wish_sim, authorize_url)
    code = parse_qs(urlsplit(back).query)["code"][0]
    with wish_sim.state.lock:
        issued = wish_sim.state.extra["auth_codes"][code]
        issued.update(redeemed=True) if spoil == "redeemed" else issued.update(expires_at=0)
    answer = follow_back(client, back)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400 and message in text and "Nothing was stored" in text
    assert stored(app) is None and contract.operations == ["oauthAccessTokenPost"]


def test_an_account_without_the_apps_credentials_cannot_start(app, client, auth, wish_sim, account):
    del app.config["MARKETPLACE_ACCOUNTS"][SLUG]["client_secret"]
    auth.login("admin")
    answer = client.post(f"/accounts/wish/{SLUG}/connect")
    assert answer.status_code == 400 and "_CLIENT_SECRET" in answer.get_data(as_text=True)


def test_unknown_account_is_404(client, auth, account):
    auth.login("admin")
    assert client.post("/accounts/wish/no-such/connect").status_code == 404


@pytest.mark.parametrize("role", ["warehouse", "seller", "supervisor"])
def test_only_admins_connect(client, auth, account, role):
    auth.login(role)
    assert client.get("/accounts/wish").status_code == 403
    assert client.post(f"/accounts/wish/{SLUG}/connect").status_code == 403


# -- the simulator's side of the contract ----------------------------------------------------

def test_simulator_exchanges_a_code_by_get_and_post_once(wish_sim, contract):
    session = checked_session(contract)
    creds = wish_sim.module.DEFAULT_CREDENTIALS
    codes = []
    for _ in range(2):
        back = authorize_at_wish(wish_sim, f"{wish_sim.url}/v3/oauth/authorize?client_id={creds['client_id']}"
                                           "&redirect_uri=https://fulfil.example/cb")
        codes.append(parse_qs(urlsplit(back).query)["code"][0])
    params = {"client_id": creds["client_id"], "client_secret": creds["client_secret"],
              "grant_type": "authorization_code", "redirect_uri": "https://fulfil.example/cb"}
    exchanges = (lambda code: session.post(wish_sim.url + "/api/v3/oauth/access_token",
                                           json={**params, "code": code}, timeout=5),
                 lambda code: session.get(wish_sim.url + "/api/v3/oauth/access_token",
                                          params={**params, "code": code}, timeout=5))
    for exchange, code in zip(exchanges, codes):
        answer = exchange(code)
        data = answer.json()["data"]
        assert answer.status_code == 200 and data["merchant_id"] == wish_sim.module.MERCHANT_ID
        tested = session.get(wish_sim.url + "/api/v3/oauth/test", timeout=5,
                             headers={"Authorization": "Bearer " + data["access_token"]})
        assert tested.json()["data"] == {"merchant_id": wish_sim.module.MERCHANT_ID}
    again = session.post(wish_sim.url + "/api/v3/oauth/access_token", json={**params, "code": codes[0]}, timeout=5)
    assert (again.status_code, again.json()["code"]) == (400, "10002")
    wrong = session.post(wish_sim.url + "/api/v3/oauth/access_token",
                         json={**params, "grant_type": "password", "code": "x"}, timeout=5)
    assert wrong.json()["code"] == "1001" and "authorization_code" in wrong.json()["message"]
    elsewhere = session.post(wish_sim.url + "/api/v3/oauth/access_token",
                             json={**params, "redirect_uri": "https://evil.example/", "code": codes[1]}, timeout=5)
    assert elsewhere.json()["code"] == "10001"
    assert set(contract.operations) == {"oauthAccessTokenPost", "oauthAccessToken", "oauthTest"}
