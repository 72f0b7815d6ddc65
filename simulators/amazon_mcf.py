"""Amazon Multi-Channel Fulfillment simulator: Login with Amazon + Fulfillment Outbound 2020-07-01.

Its knowledge comes from Amazon's model (specs/amazon-fulfillment-outbound-2020-07-01.json)
and the MCF note, never from fulfil's adapter:

    POST /auth/o2/token                                         LWA refresh_token grant, 1 h tokens
    POST /fba/outbound/2020-07-01/fulfillmentOrders/preview     getFulfillmentPreview
    POST /fba/outbound/2020-07-01/fulfillmentOrders             createFulfillmentOrder
    GET  /fba/outbound/2020-07-01/fulfillmentOrders             listAllFulfillmentOrders (queryStartDate, nextToken)
    GET  /fba/outbound/2020-07-01/fulfillmentOrders/{id}        getFulfillmentOrder
    PUT  /fba/outbound/2020-07-01/fulfillmentOrders/{id}/cancel cancelFulfillmentOrder
    GET  /fba/outbound/2020-07-01/tracking?packageNumber=N      getPackageTrackingDetails

Every SP-API call needs `x-amz-access-token`; answers carry `x-amzn-RequestId` and
`x-amzn-RateLimit-Limit`; errors are `{"errors": [{"code", "message", "details"}]}`. Each
caller has a token bucket of 2 requests/s with a burst of 30 (the operations' usage plan);
past it Amazon answers 429 QuotaExceeded.

Orders move on a clock, one step every `step_seconds` (option, default 3 s):
New → Received → Planning → Processing → Complete. At "Received" Amazon validates: an
address without postal code or country, or outside the marketplace's country, makes the
order Invalid; SKUs without enough stock make it Unfulfillable (FillOrKill, the default) or,
with FillAllAvailable, the short items are cancelled and the order ends CompletePartialled.
Stock per SKU is settable (`POST /_sim/stock {"SKU": qty}`). Shipped packages carry Amazon
Logistics (`AMZN_US`, TBA… numbers) or UPS/USPS numbers; `BLOCK_AMZL` keeps AMZL out.
Cancel works up to Planning, as the model says ("cannot cancel ... Processing").

`/_sim/events {"order_id", "event": "advance"}` moves an order one step now; "finish" to
the end. The write log records every accepted create and cancel (and refused duplicates).
"""
import functools
import itertools
import math
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone

from flask import Blueprint, Flask, abort, jsonify, make_response, request

from simulators.common import PRODUCTS, admin_blueprint, fake_tracking_number, inject_faults, iso

BASE = "/fba/outbound/2020-07-01"
DEFAULT_CREDENTIALS = {"client_id": "amzn1.application-oa2-client.mcfsim",
                       "client_secret": "mcf-sim-secret", "refresh_token": "Atzr|mcf-sim-refresh",
                       "marketplace_id": "ATVPDKIKX0DER", "region": "na"}
MARKETPLACE_COUNTRY = {"ATVPDKIKX0DER": "US", "A2EUQ1WTGCTBG2": "CA", "A1AM78C64UM0Y8": "MX"}
TOKEN_LIFETIME = 3600
RATE, BURST = 2.0, 30
STEP_SECONDS = 3.0
PAGE_SIZE = 50
DEFAULT_STOCK = 200
SPEEDS = ("Standard", "Expedited", "Priority")
ALL_SPEEDS = SPEEDS + ("ScheduledDelivery",)
# days to ship, days to arrive, per-unit fee, per-order fee, transport fee
SPEED_TERMS = {"Standard": (1, 5, "3.22", "0.00", "0.00"),
               "Expedited": (1, 3, "3.22", "0.00", "5.49"),
               "Priority": (0, 1, "3.22", "0.00", "11.98")}
PATH = ("New", "Received", "Planning", "Processing")
CANCELLABLE = ("New", "Received", "Planning")
FINAL = ("Complete", "CompletePartialled", "Unfulfillable", "Invalid", "Cancelled")
CARRIERS = ("AMZN_US", "UPS", "USPS")
CARRIER_URLS = {"AMZN_US": "https://track.amazon.com", "UPS": "https://www.ups.com",
                "USPS": "https://www.usps.com"}


# -- Amazon's answers ----------------------------------------------------------------------

def amazon_error(status, code, message, details=None, headers=None):
    entry = {"code": code, "message": message}
    if details:
        entry["details"] = details
    response = make_response(jsonify(errors=[entry]), status)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def invalid(message, details=None):
    abort(amazon_error(400, "InvalidInput", message, details))


def fault_response(status, message, retry_after=None, rate=RATE):
    if status == 429:
        return amazon_error(429, "QuotaExceeded", "You exceeded your quota for the requested resource.",
                            headers={"x-amzn-RateLimit-Limit": f"{rate:g}"})
    return amazon_error(status, "InternalFailure" if status == 500 else "ServiceUnavailable", message)


def ok(payload=None):
    body = {} if payload is None else {"payload": payload}
    response = make_response(jsonify(body), 200)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    response.headers["x-amzn-RateLimit-Limit"] = f"{RATE:g}"
    return response


# -- the app -------------------------------------------------------------------------------

def create_app(state):
    app = Flask(__name__)
    app.json.sort_keys = False
    app.register_blueprint(admin_blueprint(state, generate, event))
    app.register_blueprint(options_blueprint(state))
    app.register_blueprint(api_blueprint(state))
    return app


class Bucket:
    def __init__(self, rate, burst):
        self.rate, self.capacity, self.tokens, self.stamp = rate, burst, float(burst), time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def option(state, name, default):
    return state.extra.get("options", {}).get(name, default)


def guard(state):
    """Faults, then the access token, then the caller's 2/s burst-30 bucket; the view runs
    under the state lock."""
    def wrap(view):
        @functools.wraps(view)
        def guarded(**kwargs):
            faulted = inject_faults(state, fault_response)
            if faulted is not None:
                return faulted
            token = request.headers.get("x-amz-access-token", "")
            with state.lock:
                issued = state.extra.setdefault("tokens", {}).get(token)
                if issued is None:
                    return amazon_error(403, "Unauthorized", "Access to requested resource is denied.",
                                        "The access token you provided is revoked, malformed or invalid.")
                if issued["expires"] <= time.time():
                    return amazon_error(403, "Unauthorized", "Access to requested resource is denied.",
                                        "The access token you provided has expired.")
                rate = option(state, "rate", RATE)
                if rate:
                    buckets = state.extra.setdefault("rate_buckets", {})
                    bucket = buckets.get(issued["client_id"])
                    if bucket is None or bucket.rate != rate:
                        bucket = buckets[issued["client_id"]] = Bucket(rate, option(state, "burst", BURST))
                    if not bucket.take():
                        state.count("429")
                        return fault_response(429, "QuotaExceeded", rate=rate)
                return view(**kwargs)
        return guarded
    return wrap


def api_blueprint(state):
    bp = Blueprint("amazon_mcf_api", __name__)

    @bp.post("/auth/o2/token")
    def token():
        inject = inject_faults(state, lambda status, message, retry_after=None: (
            jsonify(error="ServerError", error_description=message), status))
        if inject is not None:
            return inject
        form = request.form
        if form.get("grant_type") != "refresh_token":
            return jsonify(error="unsupported_grant_type",
                           error_description="The authorization grant type is not supported."), 400
        if (form.get("client_id") != DEFAULT_CREDENTIALS["client_id"]
                or form.get("client_secret") != DEFAULT_CREDENTIALS["client_secret"]):
            return jsonify(error="invalid_client",
                           error_description="Client authentication failed"), 401
        if form.get("refresh_token") != DEFAULT_CREDENTIALS["refresh_token"]:
            return jsonify(error="invalid_grant",
                           error_description="The request has an invalid grant parameter : refresh_token"), 400
        lifetime = option(state, "token_lifetime", TOKEN_LIFETIME)
        access = "Atza|" + secrets.token_urlsafe(24)
        with state.lock:
            state.extra.setdefault("tokens", {})[access] = {"client_id": form["client_id"],
                                                            "expires": time.time() + lifetime}
            state.count("tokens_issued")
        return jsonify(access_token=access, refresh_token=form["refresh_token"], token_type="bearer",
                       expires_in=int(lifetime))

    @bp.post(BASE + "/fulfillmentOrders/preview")
    @guard(state)
    def preview():
        body = json_body()
        address, items = need(body, "address", dict), need(body, "items", list)
        check_address(address)
        check_items(items)
        speeds = body.get("shippingSpeedCategories") or list(SPEEDS)
        for speed in speeds:
            if speed not in ALL_SPEEDS:
                invalid(f"{speed} is not a valid ShippingSpeedCategory.")
        block_amzl = blocks_amzl(body)
        return ok({"fulfillmentPreviews": [preview_for(state, body, address, items, speed, block_amzl)
                                           for speed in speeds]})

    @bp.route(BASE + "/fulfillmentOrders", methods=["POST"])
    @guard(state)
    def create():
        body = json_body()
        for name in ("sellerFulfillmentOrderId", "displayableOrderId", "displayableOrderComment"):
            value = need(body, name, str)
            limit = 750 if name == "displayableOrderComment" else 40
            if len(value) > limit:
                invalid(f"{name} is longer than {limit} characters.")
        need(body, "displayableOrderDate", str)
        parse_time(body["displayableOrderDate"], "displayableOrderDate")
        speed = need(body, "shippingSpeedCategory", str)
        if speed not in SPEEDS:
            invalid(f"{speed} is not a valid ShippingSpeedCategory for this marketplace.")
        address = need(body, "destinationAddress", dict)
        check_address(address)
        items = need(body, "items", list)
        check_items(items)
        if body.get("fulfillmentAction", "Ship") not in ("Ship", "Hold"):
            invalid("fulfillmentAction must be Ship or Hold.")
        if body.get("fulfillmentPolicy", "FillOrKill") not in ("FillOrKill", "FillAll", "FillAllAvailable"):
            invalid("fulfillmentPolicy must be FillOrKill, FillAll or FillAllAvailable.")
        order_id = body["sellerFulfillmentOrderId"]
        if order_id in state.orders:
            state.log_write(order_id, "createFulfillmentOrder", body, outcome="refused_duplicate")
            invalid("A fulfillment order with this sellerFulfillmentOrderId already exists.",
                    f"sellerFulfillmentOrderId {order_id} was used before.")
        now = time.time()
        state.orders[order_id] = {"request": body, "created": now, "bonus": 0, "status": "New",
                                  "status_at": now, "received": now, "shipments": [],
                                  "items": {i["sellerFulfillmentOrderItemId"]: {"cancelled": 0, "unfulfillable": 0}
                                            for i in items},
                                  "cancelled": False}
        state.log_write(order_id, "createFulfillmentOrder", body)
        return ok()

    @bp.get(BASE + "/fulfillmentOrders")
    @guard(state)
    def list_orders():
        page_size = option(state, "page_size", PAGE_SIZE)
        tokens = state.extra.setdefault("next_tokens", {})
        next_token = request.args.get("nextToken")
        if next_token:
            if next_token not in tokens:
                invalid("The nextToken is invalid or has expired.")
            since, offset = tokens.pop(next_token)
        else:
            raw = request.args.get("queryStartDate")
            since = parse_time(raw, "queryStartDate").timestamp() if raw else time.time() - 36 * 3600
            offset = 0
        for order_id in state.orders:
            advance(state, order_id)
        matching = sorted((o for o in state.orders.values() if o["status_at"] >= since),
                          key=lambda o: (o["status_at"], o["request"]["sellerFulfillmentOrderId"]))
        page = matching[offset:offset + page_size]
        result = {"fulfillmentOrders": [order_view(o) for o in page]}
        if offset + page_size < len(matching):
            token = secrets.token_urlsafe(12)
            tokens[token] = (since, offset + page_size)
            result["nextToken"] = token
        return ok(result)

    @bp.get(BASE + "/fulfillmentOrders/<order_id>")
    @guard(state)
    def get_order(order_id):
        order = find(state, order_id)
        return ok(full_view(order))

    @bp.put(BASE + "/fulfillmentOrders/<order_id>/cancel")
    @guard(state)
    def cancel(order_id):
        order = find(state, order_id)
        if order["status"] == "Cancelled":
            return ok()
        if order["status"] not in CANCELLABLE:
            state.log_write(order_id, "cancelFulfillmentOrder", {}, outcome="refused")
            invalid(f"The fulfillment order cannot be cancelled in its current status: {order['status']}.")
        order["cancelled"] = True
        set_status(order, "Cancelled", time.time())
        for item in order["items"].values():
            item["cancelled"] = 1
        state.log_write(order_id, "cancelFulfillmentOrder", {})
        return ok()

    @bp.get(BASE + "/tracking")
    @guard(state)
    def tracking():
        raw = request.args.get("packageNumber", "")
        if not raw.isdigit():
            invalid("packageNumber is required and must be an integer.")
        for order_id, order in state.orders.items():
            advance(state, order_id)
            for shipment in order["shipments"]:
                for package in shipment.get("fulfillmentShipmentPackage", []):
                    if package["packageNumber"] == int(raw):
                        return ok(tracking_view(order, shipment, package))
        abort(amazon_error(404, "NotFound", "Requested package was not found."))

    return bp


def options_blueprint(state):
    bp = Blueprint("amazon_mcf_options", __name__, url_prefix="/_sim")
    names = {"token_lifetime", "expire_tokens", "step_seconds", "page_size", "rate", "burst"}

    @bp.route("/options", methods=["GET", "POST"])
    def options():
        with state.lock:
            chosen = state.extra.setdefault("options", {})
            if request.method == "POST":
                changes = request.get_json(force=True) or {}
                if set(changes) - names:
                    return jsonify(error=f"unknown options {sorted(set(changes) - names)}"), 400
                if changes.pop("expire_tokens", None):
                    for issued in state.extra.get("tokens", {}).values():
                        issued["expires"] = 0
                chosen.update({k: float(v) if k != "page_size" else int(v) for k, v in changes.items()})
                state.extra.pop("rate_buckets", None)
            return jsonify({"token_lifetime": TOKEN_LIFETIME, "step_seconds": STEP_SECONDS,
                            "page_size": PAGE_SIZE, "rate": RATE, "burst": BURST, **chosen})

    @bp.route("/stock", methods=["GET", "POST"])
    def stock():
        with state.lock:
            levels = stock_levels(state)
            if request.method == "POST":
                for sku, quantity in (request.get_json(force=True) or {}).items():
                    levels[str(sku)] = max(0, int(quantity))
            return jsonify(levels)

    return bp


# -- request checks ------------------------------------------------------------------------

def json_body():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        invalid("The request body must be a JSON object.")
    return body


def need(body, name, kind):
    value = body.get(name)
    if not isinstance(value, kind) or (kind is str and not value.strip()) or (kind is list and not value):
        invalid(f"{name} is required.", f"Missing or invalid value for {name}.")
    return value


def parse_time(value, name):
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        invalid(f"{name} is not an ISO 8601 date-time: {value!r}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_address(address):
    for name in ("name", "addressLine1", "countryCode", "postalCode"):
        if not isinstance(address.get(name), str):
            invalid(f"Address {name} is required.")


def check_items(items):
    seen = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("sellerSku"), str) \
                or not isinstance(item.get("sellerFulfillmentOrderItemId"), str) \
                or not isinstance(item.get("quantity"), int) or item["quantity"] < 1:
            invalid("Each item needs sellerSku, sellerFulfillmentOrderItemId and a quantity of at least 1.")
        if len(item["sellerSku"]) > 50 or len(item["sellerFulfillmentOrderItemId"]) > 50:
            invalid("sellerSku and sellerFulfillmentOrderItemId are at most 50 characters.")
        if item["sellerFulfillmentOrderItemId"] in seen:
            invalid(f"sellerFulfillmentOrderItemId {item['sellerFulfillmentOrderItemId']} is used twice.")
        seen.add(item["sellerFulfillmentOrderItemId"])


def blocks_amzl(body):
    return any(isinstance(f, dict) and f.get("featureName") == "BLOCK_AMZL"
               for f in body.get("featureConstraints") or [])


def address_problem(address, marketplace_id):
    if not address.get("postalCode", "").strip() or not address.get("addressLine1", "").strip():
        return "Invalid destination address: postal code and street are required."
    wanted = MARKETPLACE_COUNTRY.get(marketplace_id or DEFAULT_CREDENTIALS["marketplace_id"], "US")
    if address.get("countryCode") != wanted:
        return f"Destination country {address.get('countryCode')} is not served from this marketplace."
    return None


# -- stock, preview ------------------------------------------------------------------------

def stock_levels(state):
    levels = state.extra.get("stock")
    if levels is None:
        levels = state.extra["stock"] = {sku: DEFAULT_STOCK for _, sku, _ in PRODUCTS}
    return levels


def short_items(state, items):
    """Items Amazon does not hold enough of: [(item, reason)]."""
    levels, short = stock_levels(state), []
    for item in items:
        if item["sellerSku"] not in levels:
            short.append((item, "InvalidSKU"))
        elif levels[item["sellerSku"]] < item["quantity"]:
            short.append((item, "InventoryUnavailable"))
    return short


def preview_for(state, body, address, items, speed, block_amzl):
    marketplace_id = body.get("marketplaceId") or DEFAULT_CREDENTIALS["marketplace_id"]
    preview = {"shippingSpeedCategory": speed, "isFulfillable": True, "isCODCapable": False,
               "marketplaceId": marketplace_id}
    if block_amzl:
        preview["featureConstraints"] = [{"featureName": "BLOCK_AMZL", "featureFulfillmentPolicy": "Required"}]
    problem = address_problem(address, marketplace_id)
    short = short_items(state, items)
    if speed not in SPEED_TERMS:
        preview.update(isFulfillable=False, orderUnfulfillableReasons=["ShippingSpeedNotAvailable"])
        return preview
    if problem:
        preview.update(isFulfillable=False, orderUnfulfillableReasons=["InvalidDestinationAddress"])
        return preview
    if short:
        preview["isFulfillable"] = False
        preview["unfulfillablePreviewItems"] = [
            {"sellerSku": item["sellerSku"], "quantity": item["quantity"],
             "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
             "itemUnfulfillableReasons": [reason]} for item, reason in short]
    ship_days, arrive_days, per_unit, per_order, transport = SPEED_TERMS[speed]
    if block_amzl and speed != "Standard":
        transport = f"{float(transport) + 1.50:.2f}"
    now = datetime.now(timezone.utc)
    units = sum(i["quantity"] for i in items)
    preview["estimatedShippingWeight"] = {"unit": "POUNDS", "value": f"{0.6 * units:.2f}"}
    preview["estimatedFees"] = [
        {"name": "FBAPerUnitFulfillmentFee", "amount": {"currencyCode": "USD", "value": f"{float(per_unit) * units:.2f}"}},
        {"name": "FBAPerOrderFulfillmentFee", "amount": {"currencyCode": "USD", "value": per_order}},
        {"name": "FBATransportationFee", "amount": {"currencyCode": "USD", "value": transport}}]
    fulfillable = [i for i in items if i not in [s for s, _ in short]]
    if fulfillable:
        preview["fulfillmentPreviewShipments"] = [{
            "earliestShipDate": iso(now + timedelta(days=ship_days)),
            "latestShipDate": iso(now + timedelta(days=ship_days + 1)),
            "earliestArrivalDate": iso(now + timedelta(days=arrive_days)),
            "latestArrivalDate": iso(now + timedelta(days=arrive_days + 2)),
            "fulfillmentPreviewItems": [
                {"sellerSku": i["sellerSku"], "quantity": i["quantity"],
                 "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                 "estimatedShippingWeight": {"unit": "POUNDS", "value": f"{0.6 * i['quantity']:.2f}"},
                 "shippingWeightCalculationMethod": "Package"} for i in fulfillable]}]
    return preview


# -- the clock -----------------------------------------------------------------------------

def set_status(order, status, when):
    if order["status"] != status:
        order["status"], order["status_at"] = status, when


def advance(state, order_id):
    """Bring the order to where its clock says it is now."""
    order = state.orders[order_id]
    if order["status"] in FINAL:
        return order
    step = option(state, "step_seconds", STEP_SECONDS)
    now = time.time()
    steps = order["bonus"] + (math.inf if step <= 0 else int((now - order["created"]) / step))
    if order["request"].get("fulfillmentAction") == "Hold":
        steps = min(steps, 1)  # held orders wait at Received until released
    when = lambda n: order["created"] + (n * step if step > 0 and n != math.inf else now - order["created"])  # noqa: E731
    if steps >= 1 and order["status"] == "New":
        receive(state, order, min(when(1), now))
        if order["status"] in FINAL:
            return order
    for index, name in enumerate(PATH[2:], start=2):
        if steps >= index and PATH.index(order["status"]) < index:
            set_status(order, name, min(when(index), now))
            if name == "Processing":
                plan_shipments(state, order)
    if steps >= len(PATH):
        ship(state, order, min(when(len(PATH)), now))
    return order


def receive(state, order, when):
    body = order["request"]
    problem = address_problem(body["destinationAddress"], body.get("marketplaceId"))
    if problem:
        order["reason"] = problem
        set_status(order, "Invalid", when)
        return
    short = short_items(state, body["items"])
    policy = body.get("fulfillmentPolicy", "FillOrKill")
    if short and (policy != "FillAllAvailable" or len(short) == len(body["items"])):
        for item, _ in short:
            order["items"][item["sellerFulfillmentOrderItemId"]]["unfulfillable"] = item["quantity"]
        order["reason"] = "; ".join(f"{item['sellerSku']}: {reason}" for item, reason in short)
        set_status(order, "Unfulfillable", when)
        return
    levels = stock_levels(state)
    for item, _ in short:
        order["items"][item["sellerFulfillmentOrderItemId"]]["unfulfillable"] = item["quantity"]
    for item in body["items"]:
        if item not in [s for s, _ in short]:
            levels[item["sellerSku"]] -= item["quantity"]
    set_status(order, "Received", when)


_SHIPMENT_NUMBERS = itertools.count(1)
_PACKAGE_NUMBERS = itertools.count(int(time.time()) % 100000 * 10)


def plan_shipments(state, order):
    """Items that can ship, split over fulfilment centres: two shipments when there are two
    or more items (Amazon ships from wherever the stock sits)."""
    body, rng = order["request"], state.rng
    items = [i for i in body["items"] if not order["items"][i["sellerFulfillmentOrderItemId"]]["unfulfillable"]]
    groups = [items[::2], items[1::2]] if len(items) > 1 else [items]
    for group in filter(None, groups):
        order["shipments"].append({
            "amazonShipmentId": f"T{rng.randint(10**7, 10**8 - 1)}",
            "fulfillmentCenterId": rng.choice(("SDF8", "PHX6", "ONT8", "BFI4", "MDW2")),
            "fulfillmentShipmentStatus": "PENDING",
            "fulfillmentShipmentItem": [{"sellerSku": i["sellerSku"],
                                         "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                                         "quantity": i["quantity"]} for i in group]})


def ship(state, order, when):
    rng, body = state.rng, order["request"]
    carriers = CARRIERS[1:] if blocks_amzl(body) else CARRIERS
    shipped_at = datetime.fromtimestamp(when, timezone.utc)
    for shipment in order["shipments"]:
        carrier = rng.choice(carriers)
        number = next(_PACKAGE_NUMBERS)
        tracking = fake_tracking_number("amazon" if carrier == "AMZN_US" else carrier.lower(), rng)
        for item in shipment["fulfillmentShipmentItem"]:
            item["packageNumber"] = number
        shipment.update({"fulfillmentShipmentStatus": "SHIPPED", "shippingDate": iso(shipped_at),
                         "estimatedArrivalDate": iso(shipped_at + timedelta(days=3)),
                         "fulfillmentShipmentPackage": [{
                             "packageNumber": number, "carrierCode": carrier, "trackingNumber": tracking,
                             "estimatedArrivalDate": iso(shipped_at + timedelta(days=3))}]})
    partial = any(item["unfulfillable"] for item in order["items"].values())
    set_status(order, "CompletePartialled" if partial else "Complete", when)


# -- views of an order ---------------------------------------------------------------------

def find(state, order_id):
    if order_id not in state.orders:
        abort(amazon_error(404, "NotFound", "Requested order not found",
                           f"No fulfillment order with sellerFulfillmentOrderId {order_id}."))
    return advance(state, order_id)


def order_view(order):
    body = order["request"]
    view = {key: body[key] for key in ("sellerFulfillmentOrderId", "displayableOrderId",
                                       "displayableOrderDate", "displayableOrderComment",
                                       "shippingSpeedCategory", "destinationAddress")}
    view.update(marketplaceId=body.get("marketplaceId") or DEFAULT_CREDENTIALS["marketplace_id"],
                fulfillmentAction=body.get("fulfillmentAction", "Ship"),
                fulfillmentPolicy=body.get("fulfillmentPolicy", "FillOrKill"),
                receivedDate=iso(datetime.fromtimestamp(order["received"], timezone.utc)),
                fulfillmentOrderStatus=order["status"],
                statusUpdatedDate=iso(datetime.fromtimestamp(order["status_at"], timezone.utc)))
    if body.get("featureConstraints"):
        view["featureConstraints"] = body["featureConstraints"]
    return view


def full_view(order):
    body = order["request"]
    items = []
    for item in body["items"]:
        state = order["items"][item["sellerFulfillmentOrderItemId"]]
        cancelled = item["quantity"] if state["cancelled"] else 0
        items.append({"sellerSku": item["sellerSku"],
                      "sellerFulfillmentOrderItemId": item["sellerFulfillmentOrderItemId"],
                      "quantity": item["quantity"], "cancelledQuantity": cancelled,
                      "unfulfillableQuantity": state["unfulfillable"]})
    shipments = order["shipments"]
    if order["status"] == "Cancelled":
        for shipment in shipments:
            shipment["fulfillmentShipmentStatus"] = "CANCELLED_BY_SELLER"
    result = {"fulfillmentOrder": order_view(order), "fulfillmentOrderItems": items,
              "fulfillmentShipments": shipments, "returnItems": [], "returnAuthorizations": []}
    return result


def tracking_view(order, shipment, package):
    address = order["request"]["destinationAddress"]
    return {"packageNumber": package["packageNumber"], "trackingNumber": package["trackingNumber"],
            "carrierCode": package["carrierCode"], "carrierURL": CARRIER_URLS[package["carrierCode"]],
            "customerTrackingLink": f"https://www.swiship.com/track?id={package['trackingNumber']}",
            "shipDate": shipment["shippingDate"], "estimatedArrivalDate": package["estimatedArrivalDate"],
            "shipToAddress": {"city": address.get("city", ""), "state": address.get("stateOrRegion", ""),
                              "country": address["countryCode"]},
            "currentStatus": "IN_TRANSIT", "currentStatusDescription": "Package in transit.",
            "trackingEvents": [{"eventDate": shipment["shippingDate"], "eventCode": "EVENT_101",
                                "eventDescription": "Package picked up by carrier.",
                                "eventAddress": {"city": "Louisville", "state": "KY", "country": "US"}}]}


# -- admin hooks ---------------------------------------------------------------------------

def generate(state, count, **options):
    """MCF orders are created by sellers, not generated: nothing to add."""
    return []


def event(state, order_id, name):
    order = state.orders[order_id]
    if name == "advance":
        order["bonus"] += 1
    elif name == "finish":
        order["bonus"] += len(PATH)
    else:
        abort(400, f"unknown event {name!r}; one of advance, finish")
    advance(state, order_id)
