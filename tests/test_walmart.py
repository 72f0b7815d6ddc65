"""Walmart: the adapter against the simulator over real HTTP, both held to Walmart's OpenAPI
files (walmart-orders / walmart-auth, the contract).

Every test that uses `wire` sends its traffic through a requests.Session whose response hook
checks the request (operation, required headers and query parameters, body) and the answer
(the operation's 200 schema, or Walmart's error entry schema) against the specs; a test
fails at teardown when anything strayed. Tests that break the contract on purpose (a cut-off
answer, a status Walmart does not have yet) use their own session.
"""
import copy
import functools
import json
import logging
import os
import re
from pathlib import Path
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec

from fulfil import marketplaces
from fulfil.extensions import db
from fulfil.importer import import_account, sync_accounts_from_config
from fulfil.marketplaces.base import (
    APPLIED, NOT_APPLIED, AlreadyDone, Permanent, RateLimited, Retryable,
)
from fulfil.marketplaces.walmart import (
    CANCELLATION_REASONS, CARRIER_NAMES, CARRIERS, METHOD_CODES, WalmartAdapter,
)
from fulfil.models import MarketplaceAccount, Order
from fulfil.timeutil import utcnow
from fulfil.tracking import make_tracking_number, tracking_url

SPECS = Path(os.environ.get("FULFIL_SPECS_DIR",
                           Path(__file__).resolve().parents[2] / "shared" / "marketplaces" / "specs"))


# -- the contract -------------------------------------------------------------------------

@functools.cache
def specs():
    """Both spec files, with their known errors patched in memory (README of the specs):

    - neither has the required info.version;
    - auth: the token answer has both `example` and `examples` (OpenAPI 3.0 allows one), and
      basicScheme, an http scheme, carries `name` and `in`;
    - orders, getAnOrder: the schema has the order bare and orderDate as a date-time string,
      while the operation's own examples, every other operation and Walmart answer
      {"order": {...}} with orderDate in epoch milliseconds. We follow the examples (the
      simulator's default, what Walmart's global docs show) and read the schema too: the
      answer must be one of the two (the simulator's order_shape "bare" sends the schema's).
    """
    if not SPECS.is_dir():
        pytest.fail(f"Walmart's OpenAPI files are not at {SPECS} (set FULFIL_SPECS_DIR)")
    loaded = {}
    for name in ("orders", "auth"):
        with open(SPECS / f"walmart-{name}.openapi.yaml", encoding="utf-8") as handle:
            loaded[name] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        loaded[name]["info"].setdefault("version", "unversioned")
    auth, orders = loaded["auth"], loaded["orders"]
    auth["paths"]["/v3/token"]["post"]["responses"]["200"]["content"]["application/json"].pop("example")
    for key in ("name", "in"):
        auth["components"]["securitySchemes"]["basicScheme"].pop(key)
    one = orders["paths"]["/v3/orders/{purchaseOrderId}"]["get"]["responses"]["200"]["content"]["application/json"]
    order = copy.deepcopy(one["schema"])
    order["properties"]["orderDate"] = {"type": "integer", "format": "int64"}
    wrapped = {"type": "object", "required": ["order"], "properties": {"order": order}}
    one["schema"] = {"oneOf": [wrapped, one["schema"]]}
    return loaded


@functools.cache
def operations():
    """[(method, path regex, operation)], literal paths first (/released before /{id})."""
    found = []
    for spec in specs().values():
        for path, item in spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, operation in item.items():
                found.append((path.count("{"), method.upper(), pattern, operation))
    return [(method, pattern, operation) for _, method, pattern, operation in sorted(found, key=lambda f: f[0])]


@functools.cache
def error_entry_schema():
    """The spec's only error schema (GatewayError, in the order list's `errors`)."""
    answer = specs()["orders"]["paths"]["/v3/orders"]["get"]["responses"]["200"]["content"]["application/json"]
    return answer["schema"]["properties"]["list"]["properties"]["errors"]["items"]


def schema_errors(validator_class, schema, value):
    validator = validator_class(schema, format_checker=oas30_format_checker)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:300] for e in validator.iter_errors(value)]


def error_entries(body):
    """Error entries in any of Walmart's shapes."""
    found = body.get("errors", body.get("error")) if isinstance(body, dict) else None
    return found.get("error") if isinstance(found, dict) else found


def without_nulls(value):
    """The answer less its null fields: the spec declares no field nullable, yet Walmart sends
    null for optional fields without a value (walmart.md, "Checked against"; other clients'
    typed models have them Optional). We follow the answers: a null stands for an absent
    field, so a required field sent as null still fails as missing."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


class Wire:
    """Checks and records every call made through `session`."""

    def __init__(self):
        self.session = requests.Session()
        self.session.hooks["response"].append(self.check)
        self.calls = []  # (method, path, status)
        self.queries = []  # the raw query string of every call
        self.correlation_ids = []
        self.violations = []

    def count(self, method, path_pattern):
        return sum(1 for m, p, _ in self.calls if m == method and re.fullmatch(path_pattern, p))

    def check(self, response, *args, **kwargs):
        sent = response.request
        url = urlsplit(sent.url)
        self.calls.append((sent.method, url.path, response.status_code))
        self.queries.append(url.query)
        self.correlation_ids.append(sent.headers.get("WM_QOS.CORRELATION_ID"))
        where = f"{sent.method} {url.path} -> {response.status_code}"
        try:
            problems = self.problems(sent, url, response)
        except Exception as exc:  # a checker crash is a finding too, not a silent pass
            problems = [repr(exc)]
        self.violations += [f"{where}: {problem}" for problem in problems]

    def problems(self, sent, url, response):
        operation = next((op for method, pattern, op in operations()
                          if method == sent.method and pattern.match(url.path)), None)
        if operation is None:
            return ["no such operation in the spec"]
        found = []
        query = parse_qs(url.query)
        for parameter in operation.get("parameters", []):
            name, place = parameter["name"], parameter["in"]
            value = sent.headers.get(name) if place == "header" else query.get(name, [None])[0]
            if place in ("header", "query") and value is None:
                found += [f"missing required {place} {name}"] if parameter.get("required") else []
            elif place in ("header", "query"):
                found += schema_errors(OAS30WriteValidator, parameter["schema"], value)
        found += self.body_problems(operation, sent)
        body = without_nulls(response.json())
        if response.status_code == 200:
            media = operation["responses"]["200"]["content"]["application/json"]
            return found + schema_errors(OAS30ReadValidator, media["schema"], body)
        entries = error_entries(body)
        if not entries:
            return found + [f"error answer in none of Walmart's shapes: {body}"]
        return found + [p for entry in entries for p in schema_errors(OAS30ReadValidator, error_entry_schema(), entry)]

    @staticmethod
    def body_problems(operation, sent):
        declared = operation.get("requestBody")
        if declared is None:
            return ["a body the operation does not take"] if sent.body else []
        media_type = (sent.headers.get("Content-Type") or "").split(";")[0]
        media = declared["content"].get(media_type)
        if media is None:
            return [f"body sent as {media_type!r}, not one of {list(declared['content'])}"]
        raw = sent.body.decode() if isinstance(sent.body, bytes) else sent.body or ""
        if media_type == "application/json":
            body = json.loads(raw)
        else:
            body = {key: values[0] for key, values in parse_qs(raw).items()}
        return schema_errors(OAS30WriteValidator, media["schema"], body)


@pytest.fixture
def wire():
    checked = Wire()
    yield checked
    checked.session.close()
    assert not checked.violations, "\n".join(checked.violations)


@pytest.fixture
def make_adapter(walmart_sim, wire):
    """WalmartAdapter on the simulator, every call checked against the contract."""
    def make(token_store=None, **settings):
        return WalmartAdapter(walmart_sim.settings(**settings), token_store=token_store, session=wire.session)
    return make


def enums(node, name):
    """Every enum the spec gives for a property called `name`."""
    if isinstance(node, list):
        return [found for item in node for found in enums(item, name)]
    if not isinstance(node, dict):
        return []
    found = [node["properties"][name]["enum"]] if "enum" in node.get("properties", {}).get(name, {}) else []
    return found + [f for value in node.values() for f in enums(value, name)]


# -- helpers ------------------------------------------------------------------------------

def ship_payload(order_id, lines, carrier="ups", number=None, **changes):
    """An outbox `ship` payload (fulfil.actions) for [(line_number, quantity)]."""
    number = number or make_tracking_number(carrier)
    payload = {"external_id": order_id, "shipment_id": 1, "carrier": carrier,
               "carrier_name": CARRIER_NAMES[carrier], "tracking_number": number,
               "tracking_url": tracking_url(carrier, number), "shipped_at": utcnow().isoformat() + "Z",
               "method_code": "Standard",
               "lines": [{"line_number": n, "item_id": "", "sku": "", "quantity": q} for n, q in lines]}
    return {**payload, **changes}


def all_lines(adapter, order_id):
    return [(line.line_number, line.quantity) for line in adapter.get_order(order_id).lines]


def shipping_writes(sim, order_id):
    return [w for w in sim.writes(order_id) if w["call"] == "shipping"]


def raw_call(sim, session, method, path, **kwargs):
    """A call to the simulator as any Walmart client makes it (for the simulator's own rules)."""
    headers = {"WM_SVC.NAME": "Walmart Marketplace", "WM_QOS.CORRELATION_ID": "test-call",
               "Accept": "application/json"}
    token = session.post(sim.url + "/v3/token", data={"grant_type": "client_credentials"},
                         auth=(sim.module.DEFAULT_CREDENTIALS["client_id"],
                               sim.module.DEFAULT_CREDENTIALS["client_secret"]),
                         headers=headers, timeout=10).json()["access_token"]
    headers = {**headers, "WM_SEC.ACCESS_TOKEN": token, **kwargs.pop("headers", {})}
    return session.request(method, sim.url + path, headers=headers, timeout=10, **kwargs)


# -- the contract itself --------------------------------------------------------------------

def test_patched_specs_are_valid_openapi():
    for spec in specs().values():
        validate_spec(spec)


def test_module_exposes_the_adapter():
    assert marketplaces.module_for("walmart").ADAPTER is WalmartAdapter


def test_enum_copies_match_the_spec():
    orders = specs()["orders"]
    assert {frozenset(found) for found in enums(orders, "carrier")} == {CARRIERS}
    assert {tuple(found) for found in enums(orders, "methodCode")} == {METHOD_CODES}
    assert {tuple(found) for found in enums(orders, "cancellationReason")} == {CANCELLATION_REASONS}


def test_simulator_keeps_its_own_copy_of_the_specs_tables(walmart_sim):
    sim, orders = walmart_sim.module, specs()["orders"]
    assert {frozenset(found) for found in enums(orders, "carrier")} == {sim.CARRIERS}
    assert {tuple(found) for found in enums(orders, "methodCode")} == {sim.METHOD_CODES}
    assert {tuple(found) for found in enums(orders, "cancellationReason")} == {sim.CANCELLATION_REASONS}
    assert {tuple(found) for found in enums(orders, "status")} == {sim.LINE_STATUSES}
    assert {tuple(found) for found in enums(orders, "unitOfMeasurement")} == {sim.UNITS}
    assert sim.CARRIERS is not CARRIERS


def test_a_wrong_adapter_table_fails_against_the_simulator(walmart_sim, monkeypatch):
    """The simulator judges with its own table: a carrier the adapter's table gets wrong is
    refused as Walmart refuses it, instead of being agreed with."""
    from fulfil.marketplaces import walmart
    monkeypatch.setattr(walmart, "CARRIERS", CARRIERS | {"Fed Ex"})
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=1)
    adapter = WalmartAdapter(walmart_sim.settings())  # the request breaks the spec: no `wire`
    with pytest.raises(Permanent, match="Invalid carrier 'Fed Ex'"):
        adapter.push("ship", ship_payload(order_id, all_lines(adapter, order_id), carrier_name="Fed Ex"))
    assert not shipping_writes(walmart_sim, order_id)


# -- import ---------------------------------------------------------------------------------

def test_import_pages_to_the_end_with_next_cursor(walmart_sim, make_adapter, wire):
    ids = walmart_sim.generate(7)
    adapter = make_adapter(page_size=3)
    cursor, seen, pages = None, [], 0
    while True:
        page = adapter.list_changed(cursor)
        cursor, pages = json.loads(json.dumps(page.cursor)), pages + 1  # what the DB column keeps
        seen += [order.external_id for order in page.orders]
        assert not page.problems
        if not page.has_more:
            break
    assert pages == 3 and sorted(seen) == sorted(ids)
    assert cursor["next"] is None and cursor["since"] < utcnow().isoformat()
    assert wire.count("GET", "/v3/orders") == 3 and wire.count("POST", "/v3/token") == 1
    assert len(set(wire.correlation_ids)) == len(wire.calls)  # a fresh GUID per request


def test_nothing_matching_is_an_empty_page(make_adapter, wire):
    page = make_adapter().list_changed(None)
    assert (page.orders, page.has_more, page.problems) == ([], False, [])
    assert page.cursor["since"] and page.cursor["next"] is None
    assert ("GET", "/v3/orders", 404) in wire.calls


def list_queries(wire):
    """The query of every GET /v3/orders made, as {name: value}."""
    return [{key: values[0] for key, values in parse_qs(query).items()}
            for (method, path, _), query in zip(wire.calls, wire.queries) if (method, path) == ("GET", "/v3/orders")]


def test_list_sends_the_created_window_with_the_modified_one(make_adapter, wire):
    store = {}
    make_adapter(store, import_days=30).list_changed(None)
    make_adapter(store).list_changed({"since": "2026-01-05T00:00:00Z", "next": None})
    first, later = list_queries(wire)
    now = utcnow()
    for query in (first, later):
        # Absent, Walmart takes "current date - 7 days": send it, reaching Walmart's 180 days.
        created = datetime.fromisoformat(query["createdStartDate"]).replace(tzinfo=None)
        assert abs((now - created) - timedelta(days=180)) < timedelta(minutes=1)
    modified = datetime.fromisoformat(first["lastModifiedStartDate"]).replace(tzinfo=None)
    assert abs((now - modified) - timedelta(days=30)) < timedelta(minutes=1)
    assert later["lastModifiedStartDate"] == "2026-01-05T00:00:00Z"


def test_simulator_defaults_created_start_to_seven_days_ago(walmart_sim):
    [old] = walmart_sim.generate(1, status="Shipped", age_days=20)
    walmart_sim.admin("POST", "/events", json={"order_id": old, "event": "deliver"})  # changed now
    today = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with requests.Session() as session:
        alone = raw_call(walmart_sim, session, "GET", "/v3/orders", params={"lastModifiedStartDate": today})
        assert alone.status_code == 404  # created 20 days ago: outside the default window
        windowed = raw_call(walmart_sim, session, "GET", "/v3/orders", params={
            "lastModifiedStartDate": today,
            "createdStartDate": (utcnow() - timedelta(days=30)).strftime("%Y-%m-%d")})
        assert [o["purchaseOrderId"] for o in windowed.json()["list"]["elements"]["order"]] == [old]


def test_order_created_20_days_ago_and_changed_today_is_imported(app, walmart_sim, wire):
    [old] = walmart_sim.generate(1, status="Shipped", age_days=20)
    [new] = walmart_sim.generate(1, status="Created")
    with app.app_context():
        settings = walmart_sim.settings(import_days=7)
        app.config["MARKETPLACE_ACCOUNTS"] = {settings["slug"]: settings}
        sync_accounts_from_config(app)
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == settings["slug"]))
        adapter = WalmartAdapter(settings, session=wire.session)
        import_account(account, adapter=adapter)  # a 7-day first import: the old order is not in it
        assert set(db.session.scalars(db.select(Order.external_id))) == {new}
        walmart_sim.admin("POST", "/events", json={"order_id": old, "event": "deliver"})
        import_account(db.session.get(MarketplaceAccount, account.id), adapter=adapter)
        order = db.session.scalar(db.select(Order).where(Order.external_id == old))
        assert order is not None and order.status == "delivered"
        assert order.ordered_at < utcnow() - timedelta(days=19)


def test_next_cursor_is_sent_back_as_received(walmart_sim, make_adapter, wire):
    walmart_sim.generate(3)
    page = make_adapter(page_size=2).list_changed(None)
    cursor = page.cursor["next"]
    assert cursor.startswith("?") and ":" in cursor  # Walmart's own times, ":" unescaped
    make_adapter(page_size=2).list_changed(json.loads(json.dumps(page.cursor)))
    assert wire.queries[-1] == cursor[1:]
    with requests.Session() as session:  # re-encoded (":" as %3A), as a parse-and-rebuild does
        rebuilt = raw_call(walmart_sim, session, "GET", "/v3/orders",
                           params={k: v[0] for k, v in parse_qs(cursor[1:]).items()})
    assert rebuilt.status_code == 400 and "exactly as it was received" in rebuilt.json()["errors"][0]["message"]


@pytest.mark.parametrize("shape", ["wrapped", "bare"])
def test_one_order_is_read_wrapped_or_bare(walmart_sim, make_adapter, shape):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=2)
    walmart_sim.admin("POST", "/options", json={"order_shape": shape})
    order = make_adapter().get_order(order_id)
    raw = walmart_sim.state.orders[order_id]
    assert order.external_id == order_id and len(order.lines) == 2
    assert order.ordered_at.timestamp() == pytest.approx(raw["orderDate"] / 1000, abs=0.01)
    assert make_adapter().check("acknowledge", {"external_id": order_id}) == APPLIED


def test_null_optional_fields_are_read_as_absent(walmart_sim, make_adapter):
    [shipped] = walmart_sim.generate(1, status="Shipped", lines=1)
    [open_order] = walmart_sim.generate(1, status="Acknowledged", lines=1)
    walmart_sim.admin("POST", "/options", json={"null_optionals": True})
    adapter = make_adapter()
    page = adapter.list_changed(None)
    assert not page.problems and not page.has_more and page.cursor["next"] is None
    orders = {o.external_id: o for o in page.orders}
    assert orders[shipped].shipments[0].carrier_name and orders[open_order].address_line2 is None
    assert not orders[open_order].dispute and orders[open_order].cancel_reason is None
    adapter.push("ship", ship_payload(open_order, all_lines(adapter, open_order)))
    assert adapter.get_order(open_order).status == "in_transit"


def test_order_in_fulfils_terms(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Created", lines=2, quantity=3)
    raw = walmart_sim.state.orders[order_id]
    order = make_adapter().get_order(order_id)
    address = raw["shippingInfo"]["postalAddress"]
    assert (order.external_id, order.order_number) == (order_id, raw["customerOrderId"])
    assert (order.status, order.raw_status, order.fulfilment_mode) == ("new", "Created", "seller")
    assert (order.buyer_name, order.buyer_email, order.buyer_phone) == (
        address["name"], raw["customerEmailId"], raw["shippingInfo"]["phone"])
    assert (order.address_line1, order.city, order.region, order.postal_code, order.country) == (
        address["address1"], address["city"], address["state"], address["postalCode"], "US")
    assert order.ship_by.timestamp() == pytest.approx(raw["shippingInfo"]["estimatedShipDate"] / 1000, abs=0.01)
    charges = [c for line in raw["orderLines"]["orderLine"] for c in line["charges"]["charge"]]
    assert float(order.total) == pytest.approx(sum(c["chargeAmount"]["amount"] + c["tax"]["taxAmount"]["amount"]
                                                   for c in charges), abs=0.011)
    for line, raw_line in zip(order.lines, raw["orderLines"]["orderLine"]):
        assert (line.sku, line.name, line.quantity, line.status) == (
            raw_line["item"]["sku"], raw_line["item"]["productName"], 3, "Created")
        product = raw_line["charges"]["charge"][0]["chargeAmount"]["amount"]
        assert float(line.price) == pytest.approx(product / 3, abs=0.006)  # the charge is per line


def test_marketplace_side_events(walmart_sim, make_adapter):
    [shipped] = walmart_sim.generate(1, status="Shipped")
    new, escalated = walmart_sim.generate(2, status="Created")
    for order_id, name in ((shipped, "deliver"), (new, "cancel"), (escalated, "dispute")):
        walmart_sim.admin("POST", "/events", json={"order_id": order_id, "event": name})
    orders = {o.external_id: o for o in make_adapter().list_changed(None).orders}
    assert orders[shipped].status == "delivered" and orders[shipped].delivered_at
    assert orders[shipped].shipments[0].delivered_at
    assert orders[new].status == "cancelled" and orders[new].cancel_reason == "Cancelled by the buyer"
    assert orders[escalated].dispute and orders[escalated].raw["customerEscalation"]["autoRefundDate"]


def test_unknown_line_status_is_on_hold_and_kept_raw(walmart_sim):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=2)
    with walmart_sim.state.lock:  # a status Walmart might add one day (not in the spec: no `wire`)
        walmart_sim.state.orders[order_id]["orderLines"]["orderLine"][1]["orderLineStatuses"][
            "orderLineStatus"][0]["status"] = "Backordered"
    order = WalmartAdapter(walmart_sim.settings()).get_order(order_id)
    assert (order.status, order.raw_status) == ("on_hold", "Backordered")
    assert [line.status for line in order.lines] == ["Acknowledged", "Backordered"]


def test_unreadable_order_is_a_problem_not_a_failure(walmart_sim):
    good, bad = walmart_sim.generate(2)
    with walmart_sim.state.lock:
        del walmart_sim.state.orders[bad]["shippingInfo"]["postalAddress"]
    page = WalmartAdapter(walmart_sim.settings()).list_changed(None)
    assert [order.external_id for order in page.orders] == [good]
    [(external_id, message, raw_text)] = page.problems
    assert external_id == bad and "postalAddress" in message and bad in raw_text


# -- auth -----------------------------------------------------------------------------------

def test_token_is_cached_shared_and_renewed_once_when_refused(walmart_sim, make_adapter, wire):
    [order_id] = walmart_sim.generate(1)
    store = {}
    make_adapter(token_store=store).get_order(order_id)
    make_adapter(token_store=store).get_order(order_id)  # another worker, same shared cache
    assert wire.count("POST", "/v3/token") == 1
    walmart_sim.admin("POST", "/options", json={"expire_tokens": True})
    assert make_adapter(token_store=store).get_order(order_id).external_id == order_id
    assert [status for _, _, status in wire.calls[-3:]] == [401, 200, 200]
    assert wire.count("POST", "/v3/token") == 2


def test_token_refused_twice_is_permanent_without_looping(walmart_sim, make_adapter, wire):
    [order_id] = walmart_sim.generate(1)
    walmart_sim.admin("POST", "/options", json={"token_lifetime": 0})
    with pytest.raises(Permanent, match="refused the credentials") as failure:
        make_adapter().get_order(order_id)
    assert failure.value.code == "INVALID_TOKEN.GMP_GATEWAY_API"
    assert wire.count("POST", "/v3/token") == 2 and wire.count("GET", r"/v3/orders/\d+") == 2


def test_wrong_client_secret_is_permanent(make_adapter):
    with pytest.raises(Permanent, match="Invalid client ID or client secret") as failure:
        make_adapter(client_secret="not-the-secret").list_changed(None)
    assert failure.value.status_code == 401


def test_credentials_and_tokens_stay_out_of_logs_and_messages(walmart_sim, make_adapter, caplog):
    [order_id] = walmart_sim.generate(1)
    store = {}
    caplog.set_level(logging.DEBUG)
    adapter = make_adapter(token_store=store)
    adapter.get_order(order_id)
    walmart_sim.faults(error_rate=1.0)
    with pytest.raises(Retryable) as failure:
        adapter.get_order(order_id)
    secrets = [walmart_sim.module.DEFAULT_CREDENTIALS["client_secret"], *(t["access_token"] for t in store.values())]
    assert all(secret not in caplog.text and secret not in failure.value.message for secret in secrets)


# -- failures, classified --------------------------------------------------------------------

def test_throttled_call_waits_for_replenishment(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1)
    adapter = make_adapter()
    adapter.get_order(order_id)
    walmart_sim.faults(burst_429=1)
    with pytest.raises(RateLimited) as failure:
        adapter.get_order(order_id)
    assert failure.value.code == "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API"
    assert 0.5 < failure.value.retry_after <= 1.1
    walmart_sim.faults(rate_limit=0.5, burst=1)  # one call per 2 s
    adapter.get_order(order_id)
    with pytest.raises(RateLimited) as failure:
        adapter.get_order(order_id)
    assert 0.1 <= failure.value.retry_after <= 2.1


@pytest.mark.parametrize("faults", [{"error_rate": 1.0}, {"outage": True}])
def test_server_errors_are_retryable(walmart_sim, make_adapter, faults):
    walmart_sim.faults(**faults)
    with pytest.raises(Retryable):
        make_adapter().list_changed(None)


def test_timeout_is_retryable(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1)
    adapter = make_adapter(timeout=0.2)
    adapter.get_order(order_id)
    walmart_sim.faults(timeout_rate=1.0, timeout_seconds=0.6)
    # The simulator hangs 0.6 s, then answers 504: "did not answer" is the adapter's own timeout.
    with pytest.raises(Retryable, match="did not answer within 0.2 s"):
        adapter.get_order(order_id)


def test_truncated_answer_is_retryable(walmart_sim):
    [order_id] = walmart_sim.generate(1)
    adapter = WalmartAdapter(walmart_sim.settings())  # a cut-off answer breaks the contract: no `wire`
    adapter.get_order(order_id)
    walmart_sim.admin("POST", "/options", json={"truncated_answers": 1})
    with pytest.raises(Retryable, match="unreadable answer"):
        adapter.get_order(order_id)
    assert adapter.get_order(order_id).external_id == order_id


# -- writes ---------------------------------------------------------------------------------

def test_acknowledge(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Created", lines=2)
    adapter = make_adapter()
    payload = {"external_id": order_id}
    assert adapter.check("acknowledge", payload) == NOT_APPLIED
    adapter.push("acknowledge", payload)
    assert adapter.check("acknowledge", payload) == APPLIED
    assert adapter.get_order(order_id).status == "to_pack"


def test_reshipping_a_shipped_line_is_already_done(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=1, quantity=2)
    adapter = make_adapter()
    payload = ship_payload(order_id, all_lines(adapter, order_id))
    assert adapter.check("ship", payload) == NOT_APPLIED
    adapter.push("ship", payload)
    assert adapter.check("ship", payload) == APPLIED
    with pytest.raises(AlreadyDone):
        adapter.push("ship", payload)
    assert len(shipping_writes(walmart_sim, order_id)) == 1
    order = adapter.get_order(order_id)
    assert order.status == "in_transit"
    assert [(s.tracking_number, s.carrier_name, s.line_quantities) for s in order.shipments] == [
        (payload["tracking_number"], "UPS", {"1": 2})]


def test_shipped_with_another_tracking_number_is_permanent(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=1)
    adapter = make_adapter()
    first = ship_payload(order_id, all_lines(adapter, order_id))
    adapter.push("ship", first)
    second = ship_payload(order_id, [("1", 1)], carrier="usps")
    for attempt in (lambda: adapter.check("ship", second), lambda: adapter.push("ship", second)):
        with pytest.raises(Permanent, match=f"tracking {first['tracking_number']}"):
            attempt()
    assert len(shipping_writes(walmart_sim, order_id)) == 1


def test_partial_shipment_of_one_line_of_two(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=2, quantity=1)
    adapter = make_adapter()
    adapter.push("ship", ship_payload(order_id, [("1", 1)]))
    order = adapter.get_order(order_id)
    assert [line.status for line in order.lines] == ["Shipped", "Acknowledged"]
    assert (order.status, order.raw_substatus) == ("to_pack", "Acknowledged+Shipped")
    adapter.push("ship", ship_payload(order_id, [("2", 1)], carrier="fedex"))
    order = adapter.get_order(order_id)
    assert order.status == "in_transit"
    assert sorted((s.line_quantities for s in order.shipments), key=str) == [{"1": 1}, {"2": 1}]


def test_ship_acknowledges_an_order_walmart_still_has_as_new(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Created", lines=1)
    adapter = make_adapter()
    adapter.push("ship", ship_payload(order_id, all_lines(adapter, order_id)))
    assert [w["call"] for w in walmart_sim.writes(order_id)] == ["acknowledge", "shipping"]


def test_carrier_outside_walmarts_list(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=1)
    adapter = make_adapter()
    lines = all_lines(adapter, order_id)
    without_url = ship_payload(order_id, lines, carrier_name="Lone Star Overnight", tracking_url=None)
    with pytest.raises(Permanent, match="trackingURL is required when otherCarrier is used") as failure:
        adapter.push("ship", without_url)
    assert failure.value.status_code == 400 and not shipping_writes(walmart_sim, order_id)
    adapter.push("ship", {**without_url, "tracking_url": "https://www.lso.com/track?n=1"})
    write = shipping_writes(walmart_sim, order_id)[0]["body"]
    info = write["orderShipment"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0]["trackingInfo"]
    assert info["carrierName"] == {"otherCarrier": "Lone Star Overnight"}


def test_correcting_a_tracking_number(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=2)
    adapter = make_adapter()
    shipped = ship_payload(order_id, all_lines(adapter, order_id))
    adapter.push("ship", shipped)
    correction = ship_payload(order_id, all_lines(adapter, order_id),
                              old_tracking_number=shipped["tracking_number"])
    assert adapter.check("update_tracking", correction) == NOT_APPLIED
    adapter.push("update_tracking", correction)
    assert adapter.check("update_tracking", correction) == APPLIED
    with pytest.raises(AlreadyDone):
        adapter.push("update_tracking", correction)
    body = shipping_writes(walmart_sim, order_id)[-1]["body"]["orderShipment"]
    assert body["processMode"] == "PARTIAL_UPDATE"
    assert {line["orderLineStatuses"]["orderLineStatus"][0]["currentTrackingInfo"]["trackingNumber"]
            for line in body["orderLines"]["orderLine"]} == {shipped["tracking_number"]}
    assert [s.tracking_number for s in adapter.get_order(order_id).shipments] == [correction["tracking_number"]]


@pytest.mark.parametrize("reason_code, walmart_reason", [
    ("out_of_stock", "SELLER_CANCEL_OUT_OF_STOCK"),
    ("pricing_error", "SELLER_CANCEL_PRICING_ERROR"),
    ("cannot_ship", "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE"),
    ("other", "SELLER_CANCEL_OUT_OF_STOCK"),
])
def test_cancel_with_walmarts_reason(walmart_sim, make_adapter, reason_code, walmart_reason):
    [order_id] = walmart_sim.generate(1, status="Acknowledged", lines=2)
    adapter = make_adapter()
    payload = {"external_id": order_id, "reason_code": reason_code, "reason": "test",
               "lines": [{"line_number": n, "quantity": q} for n, q in all_lines(adapter, order_id)]}
    assert adapter.check("cancel", payload) == NOT_APPLIED
    adapter.push("cancel", payload)
    assert adapter.check("cancel", payload) == APPLIED
    [write] = walmart_sim.writes(order_id)
    assert {line["orderLineStatuses"]["orderLineStatus"][0]["cancellationReason"]
            for line in write["body"]["orderCancellation"]["orderLines"]["orderLine"]} == {walmart_reason}
    assert adapter.get_order(order_id).status == "cancelled"


def test_buyer_request_cancel_needs_the_buyers_request_on_walmart(walmart_sim, make_adapter):
    [order_id] = walmart_sim.generate(1, status="Created", lines=1)
    adapter = make_adapter()
    payload = {"external_id": order_id, "reason_code": "buyer_request", "reason": "asked by e-mail",
               "lines": [{"line_number": n, "quantity": q} for n, q in all_lines(adapter, order_id)]}
    with pytest.raises(Permanent, match="non intent to cancel"):
        adapter.push("cancel", payload)
    walmart_sim.admin("POST", "/events", json={"order_id": order_id, "event": "cancel_request"})
    adapter.push("cancel", payload)
    assert adapter.get_order(order_id).status == "cancelled"


# -- the simulator's own rules ---------------------------------------------------------------

def bad_carrier_shipment(order_id):
    return {"orderShipment": {"orderLines": {"orderLine": [{
        "lineNumber": "1", "sellerOrderId": order_id, "orderLineStatuses": {"orderLineStatus": [{
            "status": "Shipped", "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "1"},
            "trackingInfo": {"shipDateTime": 1700000000000, "carrierName": {"carrier": "Fed Ex"},
                             "methodCode": "Standard", "trackingNumber": "123456789012"}}]}}]}}}


def test_simulator_refuses_what_walmart_refuses(walmart_sim):
    [created] = walmart_sim.generate(1, status="Created")
    [acknowledged] = walmart_sim.generate(1, status="Acknowledged")
    with requests.Session() as session:  # these calls break the contract on purpose: no `wire`
        answer = raw_call(walmart_sim, session, "GET", "/v3/orders/released")
        assert [o["purchaseOrderId"] for o in answer.json()["list"]["elements"]["order"]] == [created]
        assert raw_call(walmart_sim, session, "GET", "/v3/orders", params={"limit": "201"}).status_code == 400
        refused = raw_call(walmart_sim, session, "POST", f"/v3/orders/{acknowledged}/shipping",
                           json=bad_carrier_shipment(acknowledged))
        assert refused.status_code == 400 and "Invalid carrier 'Fed Ex'" in refused.json()["errors"][0]["message"]
        missing = raw_call(walmart_sim, session, "GET", "/v3/orders", headers={"WM_SVC.NAME": ""})
        assert missing.status_code == 400 and missing.json()["error"][0]["field"] == "WM_SVC.NAME"
    assert not walmart_sim.writes()


def test_contract_check_catches_a_request_outside_the_spec(walmart_sim):
    [order_id] = walmart_sim.generate(1, status="Acknowledged")
    checked = Wire()
    with checked.session:
        raw_call(walmart_sim, checked.session, "POST", f"/v3/orders/{order_id}/shipping",
                 json=bad_carrier_shipment(order_id))
    [violation] = checked.violations
    assert "carrierName/carrier: 'Fed Ex' is not one of" in violation
