"""Wish adapter against the Wish simulator over real HTTP, checked against Wish's OpenAPI files."""
import json
import logging
import os
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from jsonschema.exceptions import ValidationError
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockResponse
from openapi_schema_validator import OAS30Validator

from fulfil.marketplaces.base import (APPLIED, IN_PROGRESS, NOT_APPLIED, Permanent, RateLimited,
                                      Retryable)
from fulfil.marketplaces.wish import (CARRIER_NAMES, FALLBACK_REFUND_REASON, ORIGIN_COUNTRIES,
                                      REFUND_REASONS, WishAdapter)
from fulfil.tracking import make_tracking_number

pytestmark = pytest.mark.integration

SPECS_DIR = Path(os.environ.get("FULFIL_SPECS_DIR",
                                Path(__file__).resolve().parents[2] / "shared" / "marketplaces" / "specs"))


# The spec contradicts itself on the envelope's `code`: APIError types it as an integer while
# every example in both files sends a string ("1007", "1001", "90001"). We follow both: the
# simulator sends strings by default (the examples are what Wish answers) and integers with
# code_type "integer"; the adapter reads either. The contract takes an integer or a string
# of digits, nothing else.
ENVELOPE_CODE = {"oneOf": [{"type": "integer", "format": "int32"}, {"type": "string", "pattern": r"^-?\d+$"}]}


TOKENLESS = {"oauthAccessTokenPost", "oauthAccessToken", "oauthRefreshToken"}


@lru_cache(maxsize=None)
def load_spec(name, base_url):
    """Wish's OpenAPI document served at `base_url`. Its OAuth2 security scheme is dropped
    because openapi-core cannot check it (Contract checks the Bearer header itself); the
    envelope's code takes the examples' strings too (ENVELOPE_CODE)."""
    path = SPECS_DIR / f"wish-{name}.openapi.yaml"
    if not path.exists():
        pytest.fail(f"Wish OpenAPI specs not found in {SPECS_DIR} (set FULFIL_SPECS_DIR)")
    document = yaml.safe_load(path.read_text())
    document["servers"] = [{"url": base_url}]
    document.pop("security", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    error_schema = document["components"]["schemas"]["APIError"]
    error_schema["properties"]["code"] = ENVELOPE_CODE
    return OpenAPI.from_dict(document), error_schema


class Contract:
    """A requests response hook: every request the adapter sends and every answer Wish gives
    must match the OpenAPI documents. The documents describe the envelope's `data`; the
    envelope itself and error answers are checked against the APIError schema."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.violations = []
        self.operations = []  # operationId of every call, in order

    def check(self, response, *args, **kwargs):
        request = response.request
        try:
            self._check(request, response)
        except (OpenAPIError, ValidationError, AssertionError, ValueError) as exc:
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            self.violations.append(f"{request.method} {urlsplit(request.url).path}: {exc}{cause}")
        return response

    def _check(self, request, response):
        oauth = urlsplit(request.url).path.startswith("/api/v3/oauth/")
        api, error_schema = load_spec("oauth" if oauth else "orders", self.base_url)
        found = APICallPathFinder(api.spec).find(request.method.lower(), request.url.split("?")[0])
        self.operations.append(found.operation["operationId"])
        openapi_request = RequestsOpenAPIRequest(request)
        api.validate_request(openapi_request)
        # The OAuth file puts every call under its OAuth2 scheme and its code samples send
        # "Bearer REPLACE_BEARER_TOKEN" even to exchange a code or a refresh token, which a
        # client cannot have yet. We follow Wish's OAuth guide: those two take the app's
        # credentials and no token; oauth/test, like every orders call, takes the Bearer token.
        operation = found.operation["operationId"]
        if operation in TOKENLESS:
            assert "Authorization" not in request.headers, f"{operation} sent a token"
        else:
            assert request.headers.get("Authorization", "").startswith("Bearer "), "no Bearer token"
        assert response.headers.get("Wish-Request-Id"), "no Wish-Request-Id"
        assert response.headers.get("Wish-Rate-Limit-Remaining", "").isdigit(), "no Wish-Rate-Limit-Remaining"
        envelope = response.json()
        assert set(envelope) == {"code", "message", "data"}, f"not an envelope: {sorted(envelope)}"
        OAS30Validator(error_schema).validate(envelope)
        if envelope["code"] == 0:
            api.validate_response(openapi_request, MockResponse(json.dumps(envelope["data"]).encode(),
                                                                status_code=response.status_code))
        else:
            assert response.status_code >= 400, "an error with HTTP 200"
        if response.status_code == 429:
            assert response.headers.get("Wish-Rate-Limit-Reset", "").isdigit(), "no Wish-Rate-Limit-Reset"


@pytest.fixture
def contract(wish_sim):
    contract = Contract(wish_sim.url)
    yield contract
    assert not contract.violations, "\n".join(contract.violations)


def make_adapter(sim, contract=None, token_store=None, **settings):
    session = requests.Session()
    if contract is not None:
        session.hooks["response"].append(contract.check)
    return WishAdapter(sim.settings(**settings), token_store=token_store, session=session)


@pytest.fixture
def adapter(wish_sim, contract):
    return make_adapter(wish_sim, contract)


def sim_options(sim, **options):
    return sim.admin("POST", "/options", json=options)


def sim_event(sim, order_id, name):
    return sim.admin("POST", "/events", json={"order_id": order_id, "event": name})


def raw_order(sim, order_id):
    return sim.admin("GET", f"/orders/{order_id}")


def ship_payload(order_id, carrier="yanwen", number=None, **extra):
    """An outbox payload as fulfil.actions writes it."""
    number = number or make_tracking_number(carrier)
    return {"external_id": order_id, "shipment_id": 1, "carrier": carrier,
            "carrier_name": CARRIER_NAMES.get(carrier), "tracking_number": number,
            "tracking_url": None, "shipped_at": "2025-01-02T03:04:05Z", "method_code": None,
            "lines": [{"line_number": "1", "item_id": "v", "sku": "s", "quantity": 1}], **extra}


def import_all(adapter, cursor=None):
    """Pages until has_more is False -> (orders, problems, cursor)."""
    orders, problems = [], []
    for _ in range(50):
        page = adapter.list_changed(cursor)
        json.dumps(page.cursor)  # the importer stores it as JSON
        orders += page.orders
        problems += page.problems
        cursor = page.cursor
        if not page.has_more:
            return orders, problems, cursor
    raise AssertionError("paging never ended")


def wait_for(check, outcome, timeout=3.0):
    deadline = time.monotonic() + timeout
    while (result := check()) != outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


# -- the contract ------------------------------------------------------------------------

def test_every_call_fulfil_makes_matches_the_specs(wish_sim, contract):
    approved = wish_sim.generate(3, order_state="APPROVED")
    wish_sim.generate(2, order_state="SHIPPED")
    wish_sim.generate(1, order_state="REQUIRE_REVIEW")
    sim_options(wish_sim, processing_seconds=0.05)
    wish_sim.admin("POST", "/tokens", json={"event": "expire"})  # forces a refresh on the way
    adapter = make_adapter(wish_sim, contract, page_size=2)

    orders, problems, _ = import_all(adapter)
    assert len(orders) == 6 and not problems
    ship = ship_payload(approved[0])
    adapter.push("ship", ship)
    assert wait_for(lambda: adapter.check("ship", ship), APPLIED) == APPLIED
    update = ship_payload(approved[0], "4px", old_tracking_number=ship["tracking_number"])
    adapter.push("update_tracking", update)
    assert wait_for(lambda: adapter.check("update_tracking", update), APPLIED) == APPLIED
    cancel = {"external_id": approved[1], "reason_code": "out_of_stock", "reason": "Out of stock", "lines": []}
    adapter.push("cancel", cancel)
    assert wait_for(lambda: adapter.check("cancel", cancel), APPLIED) == APPLIED
    with pytest.raises(Permanent):
        adapter.push("ship", ship_payload(approved[2], number="NOT A NUMBER"))
    carriers = adapter.session.get(wish_sim.url + "/api/v3/orders/shipping_carriers",
                                   params={"order_type": "GENERAL"}, timeout=5,
                                   headers={"Authorization": f"Bearer {adapter.token_store[adapter.token_key]}"})

    assert set(CARRIER_NAMES.values()) <= {c["name"] for c in carriers.json()["data"]}
    assert {"oauthRefreshToken", "GetMultipleOrders", "GetOrder", "ShipOrder", "GetValidRefundReasons",
            "RefundOrder", "GetShippingCarriers"} <= set(contract.operations)


def schema_enum(name):
    document = yaml.safe_load((SPECS_DIR / "wish-orders.openapi.yaml").read_text())
    return document["components"]["schemas"][name]["enum"]


def test_simulator_keeps_its_own_copy_of_the_specs_tables(wish_sim):
    sim = wish_sim.module
    assert tuple(schema_enum("State")) == sim.ORDER_STATES
    assert {r for reasons in sim.REFUND_REASONS.values() for r in reasons} <= set(schema_enum("RefundReason"))
    assert set(sim.WRITABLE_STATES) | {"MODIFY_SHIPPING"} == set(schema_enum("ProcessingSource"))
    # Every error code the simulator answers with is one the OAuth file's examples show.
    oauth = yaml.safe_load((SPECS_DIR / "wish-oauth.openapi.yaml").read_text())
    shown = {int(example["value"]["code"]) for item in oauth["paths"].values() for operation in item.values()
             for answer in operation["responses"].values()
             for example in answer["content"]["application/json"].get("examples", {}).values()}
    used = {sim.INVALID_PARAM, sim.UNAUTHORIZED, sim.TOKEN_EXPIRED, sim.TOKEN_REVOKED, sim.INVALID_CREDENTIALS,
            sim.CODE_REDEEMED, sim.CODE_EXPIRED, sim.INVALID_AUTH_CODE}
    assert used <= shown


def test_adapter_refund_reasons_are_wishs():
    assert set(REFUND_REASONS.values()) | {FALLBACK_REFUND_REASON} <= set(schema_enum("RefundReason"))


def test_every_wish_carrier_has_an_origin_country():
    assert set(ORIGIN_COUNTRIES) == set(CARRIER_NAMES)


# -- reading orders ----------------------------------------------------------------------

def test_keyset_paging_reaches_the_end_across_equal_timestamps(wish_sim, contract):
    early = wish_sim.generate(2, updated_at="2025-03-01T10:00:00.000Z")
    tied = wish_sim.generate(4, updated_at="2025-03-01T10:00:01.000Z")  # straddles page ends
    late = wish_sim.generate(3, updated_at="2025-03-01T10:00:02.000Z")
    adapter = make_adapter(wish_sim, contract, page_size=3)

    orders, problems, cursor = import_all(adapter)

    ids = [o.external_id for o in orders]
    assert sorted(ids) == sorted(early + tied + late) and len(set(ids)) == len(ids)
    assert not problems
    assert cursor == {"updated_at_min": "2025-03-01T10:00:02.000Z", "seen_ids": sorted(late)}
    assert adapter.list_changed(cursor).orders == []

    sim_event(wish_sim, tied[0], "cancel")
    changed, _, _ = import_all(adapter, cursor)
    assert [(o.external_id, o.status) for o in changed] == [(tied[0], "cancelled")]
    assert changed[0].cancel_reason == "Customer cancelled the order"


def test_paging_steps_past_more_equal_timestamps_than_a_page_holds(wish_sim):
    wish_sim.generate(501, updated_at="2025-03-01T10:00:00.000Z")

    orders, problems, cursor = import_all(make_adapter(wish_sim, page_size=500))

    assert len({o.external_id for o in orders}) == 500
    (_, message, _), = problems
    assert "More than 500 Wish orders were updated at 2025-03-01T10:00:00.000Z" in message
    assert cursor == {"updated_at_min": "2025-03-01T10:00:00.001Z", "seen_ids": []}


def test_order_fields_in_fulfil_terms(wish_sim, adapter):
    order_id, = wish_sim.generate(1, order_state="APPROVED")
    raw = raw_order(wish_sim, order_id)
    payment = raw["order_payment"]["general_payment_details"]

    order = adapter.get_order(order_id)

    assert (order.external_id, order.order_number, order.status, order.raw_status) == \
           (order_id, order_id, "new", "APPROVED")
    assert order.ship_by.isoformat(timespec="milliseconds") + "Z" == \
           raw["fulfillment_requirements"]["expected_ship_time"]
    assert order.buyer_name == raw["full_address"]["shipping_detail"]["name"]
    line, = order.lines
    assert (line.sku, line.item_id, line.quantity) == (raw["product_information"]["sku"],
                                                       raw["product_information"]["variation_id"],
                                                       payment["product_quantity"])
    assert str(order.total) == str(payment["payment_total"]["amount"])
    assert order.shipments == [] and order.shipped_at is None


def test_unknown_state_is_on_hold_and_unreadable_orders_are_problems(wish_sim):
    odd, broken, fine = wish_sim.generate(3, order_state="APPROVED")
    with wish_sim.state.lock:  # states and shapes the spec does not allow: no contract here
        wish_sim.state.orders[odd]["state"] = "ON_VACATION"
        wish_sim.state.orders[broken]["order_payment"]["general_payment_details"]["product_quantity"] = "three"

    orders, problems, _ = import_all(make_adapter(wish_sim))

    by_id = {o.external_id: o for o in orders}
    assert set(by_id) == {odd, fine}
    assert (by_id[odd].status, by_id[odd].raw_status, by_id[odd].raw) == \
           ("on_hold", "ON_VACATION", {"unknown_state": "ON_VACATION"})
    (problem_id, message, raw_text), = problems
    assert problem_id == broken and "three" in message and json.loads(raw_text)["id"] == broken


def test_delivery_and_re_release(wish_sim, adapter):
    order_id, = wish_sim.generate(1, order_state="SHIPPED")
    _, _, cursor = import_all(adapter)

    sim_event(wish_sim, order_id, "deliver")
    (delivered,), _, cursor = import_all(adapter, cursor)
    assert (delivered.status, delivered.raw_substatus) == ("delivered", "CONFIRMED_DELIVERED")
    assert delivered.delivered_at and delivered.shipments[0].delivered_at == delivered.delivered_at

    sim_event(wish_sim, order_id, "re_release")
    (again,), _, _ = import_all(adapter, cursor)
    assert (again.status, again.raw_status) == ("new", "APPROVED")
    assert again.shipments == [] and again.shipped_at is None and again.delivered_at is None


# -- auth --------------------------------------------------------------------------------

def test_expired_token_is_refreshed_once_and_shared(wish_sim, contract, caplog):
    caplog.set_level(logging.DEBUG, logger="fulfil.marketplaces.wish")
    wish_sim.generate(2)
    store = {}
    adapter = make_adapter(wish_sim, contract, token_store=store)
    adapter.list_changed(None)
    wish_sim.admin("POST", "/tokens", json={"event": "expire"})

    adapter.list_changed(None)
    adapter.list_changed(None)

    assert contract.operations.count("oauthRefreshToken") == 1
    new_token = store[adapter.token_key]
    assert new_token != wish_sim.settings()["access_token"]
    # Another worker sharing the store uses the new token; the old one was revoked by the refresh.
    make_adapter(wish_sim, contract, token_store=store).list_changed(None)
    assert contract.operations.count("oauthRefreshToken") == 1
    secrets = [new_token, *(wish_sim.settings()[k] for k in ("access_token", "client_secret", "refresh_token"))]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("fulfil.")]
    assert ours and not any(secret in line for line in ours for secret in secrets)


def test_token_replaced_by_another_worker_meanwhile_is_retryable(wish_sim, contract):
    class RacingStore(dict):
        """The other worker refreshes right after this one did, revoking its new token."""
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            if key == other.token_key and not hasattr(self, "raced"):
                self.raced = True
                other._refresh()

    store = RacingStore()
    worker, other = (make_adapter(wish_sim, contract, token_store=store) for _ in range(2))
    wish_sim.admin("POST", "/tokens", json={"event": "expire"})

    with pytest.raises(Retryable, match="replaced"):
        worker.list_changed(None)

    worker.list_changed(None)
    assert contract.operations.count("oauthRefreshToken") == 2


def test_revoked_token_is_permanent_without_a_refresh(wish_sim, contract):
    adapter = make_adapter(wish_sim, contract)
    wish_sim.admin("POST", "/tokens", json={"event": "revoke"})

    with pytest.raises(Permanent, match="reconnect the Wish account") as caught:
        adapter.list_changed(None)

    assert caught.value.code == 1008
    assert "oauthRefreshToken" not in contract.operations


def test_refused_refresh_is_permanent(wish_sim, contract):
    adapter = make_adapter(wish_sim, contract, refresh_token="stale")
    wish_sim.admin("POST", "/tokens", json={"event": "expire"})

    with pytest.raises(Permanent, match="reconnect the Wish account"):
        adapter.get_order("0" * 24)

    assert contract.operations.count("oauthRefreshToken") == 1
    assert contract.operations.count("GetOrder") == 1  # not repeated with no new token


# -- failures ----------------------------------------------------------------------------

def test_rate_limit_answers_rate_limited_with_the_reset_wait(wish_sim, adapter):
    wish_sim.faults(rate_limit=5, burst=1)
    adapter.list_changed(None)

    with pytest.raises(RateLimited) as caught:
        adapter.list_changed(None)

    assert 0 < caught.value.retry_after <= 2
    time.sleep(caught.value.retry_after)
    adapter.list_changed(None)


@pytest.mark.parametrize("faults", [{"error_rate": 1.0}, {"outage": True}])
def test_server_errors_are_retryable(wish_sim, adapter, faults):
    wish_sim.faults(**faults)
    with pytest.raises(Retryable) as caught:
        adapter.list_changed(None)
    assert caught.value.status_code >= 500


def test_timeouts_are_retryable(wish_sim):
    wish_sim.faults(timeout_rate=1.0, timeout_seconds=1.0)
    with pytest.raises(Retryable, match="did not answer"):
        make_adapter(wish_sim, timeout=0.2).list_changed(None)


def test_truncated_answer_is_retryable(wish_sim):
    adapter = make_adapter(wish_sim)  # the cut answer is no JSON: no contract here
    wish_sim.generate(2)
    sim_options(wish_sim, truncate_next=1)

    with pytest.raises(Retryable, match="unreadable"):
        adapter.list_changed(None)
    assert len(adapter.list_changed(None).orders) == 2


# -- asynchronous writes -----------------------------------------------------------------

def test_tracking_is_in_progress_then_applied(wish_sim, adapter):
    order_id, = wish_sim.generate(1, order_state="APPROVED")
    sim_options(wish_sim, processing_seconds=0.3)
    payload = ship_payload(order_id, "yunexpress")

    adapter.push("ship", payload)

    assert adapter.check("ship", payload) == IN_PROGRESS
    assert wait_for(lambda: adapter.check("ship", payload), APPLIED) == APPLIED
    shipped = adapter.get_order(order_id)
    assert shipped.status == "in_transit" and shipped.shipped_at is not None
    assert [(s.tracking_number, s.carrier_name) for s in shipped.shipments] == \
           [(payload["tracking_number"], "YunExpress")]
    assert [(w["call"], w["outcome"], w["body"]["origin_country"]) for w in wish_sim.writes(order_id)] == \
           [("tracking", "applied", "CN")]


def test_update_tracking_replaces_the_number_and_keeps_two(wish_sim, adapter):
    order_id, = wish_sim.generate(1, order_state="SHIPPED")
    sim_options(wish_sim, processing_seconds=0.05)
    first = ship_payload(order_id, "usps")
    second = ship_payload(order_id, "ups")
    adapter.push("update_tracking", first)
    adapter.push("update_tracking", second)

    assert wait_for(lambda: adapter.check("update_tracking", second), APPLIED) == APPLIED
    assert adapter.check("update_tracking", first) == NOT_APPLIED  # replaced
    numbers = [t["tracking_number"] for t in raw_order(wish_sim, order_id)["tracking_information"]]
    assert numbers == [second["tracking_number"], first["tracking_number"]]
    assert [s.tracking_number for s in adapter.get_order(order_id).shipments] == [second["tracking_number"]]
    assert {w["body"]["origin_country"] for w in wish_sim.writes(order_id)} == {"US"}


def test_origin_country_setting_wins(wish_sim, contract):
    order_id, = wish_sim.generate(1, order_state="APPROVED")
    make_adapter(wish_sim, contract, origin_country="DE").push("ship", ship_payload(order_id, "dhl"))
    assert wait_for(lambda: [w["body"]["origin_country"] for w in wish_sim.writes(order_id)], ["DE"]) == ["DE"]


def test_failed_processing_is_not_applied_and_can_be_sent_again(wish_sim, adapter):
    order_id, = wish_sim.generate(1, order_state="APPROVED")
    sim_options(wish_sim, processing_seconds=0.05, processing_failure_rate=1.0)
    payload = ship_payload(order_id)
    adapter.push("ship", payload)

    assert wait_for(lambda: adapter.check("ship", payload), NOT_APPLIED) == NOT_APPLIED
    assert raw_order(wish_sim, order_id)["processing_status"] == "FAILED"
    assert adapter.get_order(order_id).status == "new"

    sim_options(wish_sim, processing_failure_rate=0.0)
    adapter.push("ship", payload)
    assert wait_for(lambda: adapter.check("ship", payload), APPLIED) == APPLIED
    assert [w["outcome"] for w in wish_sim.writes(order_id)] == ["failed", "applied"]


@pytest.mark.parametrize(("order_state", "changes", "message"), [
    ("APPROVED", {"carrier_name": "PonyExpress"}, "not an accepted shipping provider"),
    ("APPROVED", {"tracking_number": "LX 1234 5678"}, "no space"),
    ("REFUNDED", {}, "only APPROVED or SHIPPED orders take tracking"),
])
def test_rejected_tracking_is_permanent_with_wish_message(wish_sim, adapter, order_state, changes, message):
    order_id, = wish_sim.generate(1, order_state=order_state)

    with pytest.raises(Permanent, match=message) as caught:
        adapter.push("ship", {**ship_payload(order_id), **changes})

    assert (caught.value.status_code, caught.value.code) == (400, 1001)
    assert wish_sim.writes(order_id) == []


def test_carrier_wish_does_not_take_is_permanent_before_any_call(wish_sim, adapter, contract):
    order_id, = wish_sim.generate(1, order_state="APPROVED")
    with pytest.raises(Permanent, match="does not take"):
        adapter.push("ship", ship_payload(order_id, "other"))
    assert contract.operations == []


@pytest.mark.parametrize(("order_state", "reason_code", "refund_reason"), [
    ("APPROVED", "out_of_stock", "MERCHANT_OUT_OF_STOCK"),
    ("APPROVED", "buyer_request", "UNABLE_TO_SHIP"),
    ("SHIPPED", "out_of_stock", "UNABLE_TO_SHIP"),  # not offered once shipped: the fallback
])
def test_cancel_is_a_refund_with_a_reason_wish_offers(wish_sim, adapter, order_state, reason_code,
                                                      refund_reason):
    order_id, = wish_sim.generate(1, order_state=order_state)
    sim_options(wish_sim, processing_seconds=0.05)
    payload = {"external_id": order_id, "reason_code": reason_code, "reason": "Sorry", "lines": []}

    adapter.push("cancel", payload)

    assert wait_for(lambda: adapter.check("cancel", payload), APPLIED) == APPLIED
    write, = wish_sim.writes(order_id)
    assert write["body"] == {"refund_reason": refund_reason, "refund_reason_note": "Sorry"}
    order = adapter.get_order(order_id)
    assert (order.status, order.cancel_reason) == ("cancelled", f"{refund_reason}: Sorry")
