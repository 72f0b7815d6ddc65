"""Amazon MCF: the adapter against the simulator over real HTTP, both held to Amazon's
Fulfillment Outbound model (the contract), in both directions: every request the adapter
sends and every answer the simulator gives is checked against the model, and hand-made
requests probe the simulator's refusals against the model too."""
import time

import pytest
import requests

from fulfil.marketplaces.amazon_mcf import AmazonMcfAdapter, CARRIER_CODES, STATUS_MAP
from fulfil.marketplaces.base import APPLIED, NOT_APPLIED, AlreadyDone, Permanent, RateLimited, Retryable
from tests.mcf_contract import ContractSession, check_exchange, definition, schema_errors, spec

BASE = "/fba/outbound/2020-07-01"
ADDRESS = {"name": "Mary Smith", "addressLine1": "12 Main St", "city": "Austin", "stateOrRegion": "TX",
           "postalCode": "78701", "countryCode": "US", "phone": "512-555-0101"}


@pytest.fixture
def wire():
    session = ContractSession()
    yield session
    assert session.problems == [], "\n".join(session.problems)


@pytest.fixture
def adapter(mcf_sim, wire):
    return AmazonMcfAdapter(mcf_sim.settings(), token_store={}, session=wire)


def create_request(order_id, items=(("EAR-BT-01", 1),), speed="Standard", address=ADDRESS, **extra):
    return {"sellerFulfillmentOrderId": order_id, "displayableOrderId": order_id,
            "displayableOrderDate": "2026-12-01T10:00:00Z", "displayableOrderComment": "Thank you for your order",
            "shippingSpeedCategory": speed, "destinationAddress": dict(address),
            "items": [{"sellerSku": sku, "sellerFulfillmentOrderItemId": f"{order_id}-{n}", "quantity": qty}
                      for n, (sku, qty) in enumerate(items, start=1)], **extra}


def test_model_enums_match_the_adapter_tables():
    definitions = spec()["definitions"]
    assert set(STATUS_MAP) == set(definitions["FulfillmentOrderStatus"]["enum"])
    assert "SHIPPED" in definitions["FulfillmentShipment"]["properties"]["fulfillmentShipmentStatus"]["enum"]
    assert set(CARRIER_CODES.values()) <= {"ups", "usps", "fedex", "dhl"}


def test_preview_gives_each_speed_with_fees_and_dates(adapter):
    options = adapter.preview(ADDRESS, [{"sellerSku": "EAR-BT-01", "sellerFulfillmentOrderItemId": "1", "quantity": 2}])
    assert [o.speed for o in options] == ["Standard", "Expedited", "Priority"]
    assert all(o.fulfillable for o in options)
    assert options[0].fees < options[2].fees
    assert options[2].arrive_by < options[0].arrive_by


def test_preview_names_unfulfillable_items(adapter, mcf_sim):
    mcf_sim.admin("POST", "/stock", json={"EAR-BT-01": 1})
    options = adapter.preview(ADDRESS, [{"sellerSku": "EAR-BT-01", "sellerFulfillmentOrderItemId": "1", "quantity": 2},
                                        {"sellerSku": "NOT-AT-AMAZON", "sellerFulfillmentOrderItemId": "2", "quantity": 1}])
    assert not options[0].fulfillable
    assert options[0].reasons == ["EAR-BT-01 × 2: InventoryUnavailable", "NOT-AT-AMAZON × 1: InvalidSKU"]


def test_create_then_follow_to_complete_with_packages(adapter, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 60})
    adapter.push("mcf_create", {"request": create_request("WM-1001", items=(("EAR-BT-01", 1), ("MUG-CER-350", 2)))})
    state = adapter.get_order("WM-1001")
    assert state.status == "New" and state.outcome == "at_amazon"
    for expected in ("Received", "Planning", "Processing"):
        mcf_sim.admin("POST", "/events", json={"order_id": "WM-1001", "event": "advance"})
        assert adapter.get_order("WM-1001").status == expected
    mcf_sim.admin("POST", "/events", json={"order_id": "WM-1001", "event": "advance"})
    state = adapter.get_order("WM-1001")
    assert state.status == "Complete" and state.outcome == "shipped"
    assert len(state.shipments) == 2 and all(s.status == "SHIPPED" for s in state.shipments)
    for shipment in state.shipments:
        (package,) = shipment.packages
        assert package.tracking_number and package.carrier_code in ("AMZN_US", "UPS", "USPS")
        assert (package.tracking_url is None) == (package.carrier_code != "AMZN_US")


def test_a_second_create_is_refused_and_taken_as_done(adapter, mcf_sim):
    payload = {"request": create_request("WM-2002")}
    adapter.push("mcf_create", payload)
    assert adapter.check("mcf_create", payload) == APPLIED
    with pytest.raises(AlreadyDone):
        adapter.push("mcf_create", payload)
    outcomes = [w["outcome"] for w in mcf_sim.writes("WM-2002")]
    assert outcomes == ["applied", "refused_duplicate"]


def test_check_before_create_says_not_applied(adapter):
    assert adapter.check("mcf_create", {"request": create_request("WM-NEVER")}) == NOT_APPLIED


def test_unfulfillable_and_invalid_in_amazons_words(adapter, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 0})
    mcf_sim.admin("POST", "/stock", json={"YOGA-6-PUR": 0})
    adapter.push("mcf_create", {"request": create_request("WM-3003", items=(("YOGA-6-PUR", 1),))})
    adapter.push("mcf_create", {"request": create_request("WM-3004", address={**ADDRESS, "countryCode": "CA"})})
    unfulfillable, invalid = adapter.get_order("WM-3003"), adapter.get_order("WM-3004")
    assert (unfulfillable.status, unfulfillable.outcome) == ("Unfulfillable", "refused")
    assert unfulfillable.items["WM-3003-1"]["unfulfillable"] == 1
    assert (invalid.status, invalid.outcome) == ("Invalid", "refused")


def test_fill_all_available_ends_complete_partialled(adapter, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 0})
    mcf_sim.admin("POST", "/stock", json={"LAMP-LED-D": 0})
    adapter.push("mcf_create", {"request": create_request(
        "WM-4004", items=(("EAR-BT-01", 1), ("LAMP-LED-D", 1)), fulfillmentPolicy="FillAllAvailable")})
    state = adapter.get_order("WM-4004")
    assert state.status == "CompletePartialled"
    assert state.items["WM-4004-2"]["unfulfillable"] == 1
    assert [s.items for s in state.shipments] == [{"WM-4004-1": 1}]


def test_block_amzl_keeps_amazon_logistics_out(adapter, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 0})
    for n in range(8):
        adapter.push("mcf_create", {"request": create_request(
            f"WM-5{n}", featureConstraints=[{"featureName": "BLOCK_AMZL", "featureFulfillmentPolicy": "Required"}])})
    carriers = {p.carrier_code for n in range(8) for s in adapter.get_order(f"WM-5{n}").shipments for p in s.packages}
    assert carriers and "AMZN_US" not in carriers


def test_cancel_before_processing_and_refused_after(adapter, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 60})
    adapter.push("mcf_create", {"request": create_request("WM-6001")})
    adapter.push("mcf_cancel", {"seller_fulfillment_order_id": "WM-6001"})
    assert adapter.get_order("WM-6001").status == "Cancelled"
    assert adapter.check("mcf_cancel", {"seller_fulfillment_order_id": "WM-6001"}) == APPLIED
    adapter.push("mcf_create", {"request": create_request("WM-6002")})
    for _ in range(3):
        mcf_sim.admin("POST", "/events", json={"order_id": "WM-6002", "event": "advance"})
    with pytest.raises(Permanent, match="can no longer cancel it \\(status Processing\\)"):
        adapter.push("mcf_cancel", {"seller_fulfillment_order_id": "WM-6002"})


def test_list_changed_pages_with_next_token(adapter, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"page_size": 2})
    for n in range(5):
        adapter.push("mcf_create", {"request": create_request(f"WM-7{n}")})
    seen, cursor = [], None
    for _ in range(5):
        page = adapter.list_changed(cursor)
        seen += [o.seller_fulfillment_order_id for o in page.orders]
        cursor = page.cursor
        if not page.has_more:
            break
    assert sorted(seen) == [f"WM-7{n}" for n in range(5)]
    assert cursor["next"] is None and cursor["since"]


def test_token_is_cached_and_shared(mcf_sim, wire):
    store = {}
    first = AmazonMcfAdapter(mcf_sim.settings(), token_store=store, session=wire)
    second = AmazonMcfAdapter(mcf_sim.settings(), token_store=store, session=wire)
    first.list_changed(None)
    second.list_changed(None)
    assert mcf_sim.admin("GET", "/counters")["tokens_issued"] == 1


def test_token_refreshed_ahead_of_expiry_and_when_refused(mcf_sim, wire):
    store = {}
    adapter = AmazonMcfAdapter(mcf_sim.settings(), token_store=store, session=wire)
    mcf_sim.admin("POST", "/options", json={"token_lifetime": 200})  # inside the 5-minute margin
    adapter.list_changed(None)
    adapter.list_changed(None)
    assert mcf_sim.admin("GET", "/counters")["tokens_issued"] == 2
    mcf_sim.admin("POST", "/options", json={"token_lifetime": 3600, "expire_tokens": True})
    store[next(iter(store))]["expires_at"] = time.time() + 3600  # we believe it; Amazon does not
    adapter.list_changed(None)
    assert mcf_sim.admin("GET", "/counters")["tokens_issued"] == 3


def test_wrong_refresh_token_is_a_permanent_failure(mcf_sim, wire):
    adapter = AmazonMcfAdapter(mcf_sim.settings(refresh_token="Atzr|revoked"), token_store={}, session=wire)
    with pytest.raises(Permanent, match="invalid_grant"):
        adapter.list_changed(None)


def test_rate_limit_burst_then_429(mcf_sim, wire):
    mcf_sim.admin("POST", "/options", json={"rate": 0.5, "burst": 3})
    adapter = AmazonMcfAdapter(mcf_sim.settings(), token_store={}, session=wire)
    for _ in range(3):
        adapter.list_changed(None)
    with pytest.raises(RateLimited) as caught:
        adapter.list_changed(None)
    assert caught.value.retry_after == pytest.approx(2.0)


def test_faults_are_retryable(adapter, mcf_sim):
    adapter.list_changed(None)
    mcf_sim.faults(outage=True)
    with pytest.raises(Retryable):
        adapter.get_order("WM-1")


def test_not_found_in_amazons_error_shape(adapter):
    with pytest.raises(Permanent, match="Requested order not found"):
        adapter.get_order("WM-MISSING")


@pytest.mark.parametrize("body, words", [
    ({}, "sellerFulfillmentOrderId is required"),
    ({"sellerFulfillmentOrderId": "X" * 41}, "longer than 40"),
    ({"shippingSpeedCategory": "Overnight"}, "not a valid ShippingSpeedCategory"),
    ({"items": [{"sellerSku": "EAR-BT-01", "sellerFulfillmentOrderItemId": "1", "quantity": 0}]}, "at least 1"),
    ({"destinationAddress": {"name": "No street"}}, "Address addressLine1 is required"),
])
def test_simulator_refuses_bad_creates_in_the_models_shape(mcf_sim, body, words):
    """The simulator side of the contract: refusals are the model's 400 ErrorList."""
    token = requests.post(mcf_sim.url + "/auth/o2/token", data={
        "grant_type": "refresh_token", **{k: mcf_sim.module.DEFAULT_CREDENTIALS[k]
                                          for k in ("refresh_token", "client_id", "client_secret")}}).json()
    request_body = {**create_request("WM-BAD"), **body} if body else {}
    response = requests.post(mcf_sim.url + BASE + "/fulfillmentOrders", json=request_body,
                             headers={"x-amz-access-token": token["access_token"]})
    assert response.status_code == 400
    assert words in response.json()["errors"][0]["message"]
    assert schema_errors(definition("CreateFulfillmentOrderResponse"), response.json()) == []


def test_calls_without_a_token_are_refused_with_403(mcf_sim):
    response = requests.get(mcf_sim.url + BASE + "/fulfillmentOrders")
    assert response.status_code == 403
    problems = check_exchange(response)
    assert problems == ["listAllFulfillmentOrders: no x-amz-access-token header"]


def test_the_checker_catches_a_body_outside_the_model():
    assert schema_errors(definition("FulfillmentShipmentPackage"), {"packageNumber": "one"}) != []


def test_package_tracking_details(adapter, mcf_sim, wire):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 0})
    adapter.push("mcf_create", {"request": create_request("WM-8001")})
    (shipment,) = adapter.get_order("WM-8001").shipments
    number = shipment.packages[0].package_number
    token = adapter._token()
    answer = wire.get(mcf_sim.url + BASE + "/tracking", params={"packageNumber": number},
                      headers={"x-amz-access-token": token})
    assert answer.json()["payload"]["trackingNumber"] == shipment.packages[0].tracking_number
