"""Walmart Marketplace (US) simulator: the Orders API v3 calls fulfil uses, over real HTTP.

Like Walmart: POST /v3/token (client credentials; tokens expire), the WM_* headers on every
call, GET /v3/orders (filters; createdStartDate defaults to "current date - 7 days" as the
spec says, whatever other filter is given; nextCursor paging, where a cursor that does not
come back byte for byte as issued is refused; 404 when nothing matches),
GET /v3/orders/released, GET /v3/orders/{purchaseOrderId}, acknowledge, shipping (per line;
carrier enum; otherCarrier needs a trackingURL; 400 for a line already shipped;
processMode PARTIAL_UPDATE corrects tracking) and cancel (the spec's reasons). Errors come
in Walmart's three body shapes; 429 with X-Next-Replenishment-Time comes from a token bucket
per client.

Simulator only (not Walmart):
  GET/POST /_sim/options  {"token_lifetime": seconds, "expire_tokens": true,
                           "truncated_answers": n (the next n API answers are cut in half),
                           "order_shape": "wrapped" (default: {"order": {...}}, as the spec's
                           examples and Walmart answer GET /v3/orders/{id}) or "bare" (the
                           spec's schema: the order itself, orderDate a date-time string),
                           "null_optionals": true (optional fields an answer lacks are sent
                           as null, e.g. address2, trackingURL, otherCarrier, nextCursor)}
  POST /_sim/generate      {"count", "status", "lines", "quantity", "age_days": orders created
                           (and last changed) that many days ago}
  POST /_sim/events       {"order_id", "event"}: cancel (the customer cancels the open lines),
                           cancel_request (the customer asks the seller to cancel: intentToCancel),
                           deliver (shipped lines become Delivered), dispute (a customer
                           escalation — Walmart's API has none, so the order gets the field
                           customerEscalation {"status": "OPEN", "openedDate", "autoRefundDate"})
"""
import copy
import functools
import json
import secrets
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, jsonify, request

from simulators.common import (
    admin_blueprint, epoch_ms, fake_person, fake_products, fake_ship_by, fake_tracking_number,
    inject_faults, iso, tracking_page, utcnow,
)

DEFAULT_CREDENTIALS = {"client_id": "walmart-sim-client", "client_secret": "walmart-sim-secret"}
TOKEN_LIFETIME = 900  # seconds, as Walmart's
LIMIT_DEFAULT, LIMIT_MAX = 100, 200
HISTORY_DAYS = 180  # Walmart lists orders of the last 180 days only
DEFAULT_CREATED_DAYS = 7  # createdStartDate when absent: "Default is current date - 7 days"

# -- Walmart's tables, from specs/walmart-orders.openapi.yaml (never from fulfil) ------------
# orderLineStatus.status
LINE_STATUSES = ("Created", "Acknowledged", "Shipped", "Delivered", "Cancelled", "Refund")
# trackingInfo.carrierName.carrier
CARRIERS = frozenset({
    'UPS', 'USPS', 'FedEx', 'Airborne', 'OnTrac', 'DHL Ecommerce - US', 'DHL', 'LS', 'UDS',
    'UPSMI', 'FDX', 'PILOT', 'ESTES', 'SAIA', 'FDS Express', 'Seko Worldwide', 'HIT Delivery',
    'FEDEXSP', 'RL Carriers', 'Metropolitan Warehouse & Delivery', 'China Post', 'YunExpress',
    'Yellow Freight Sys', 'AIT Worldwide Logistics', 'Chukou1', 'Sendle', 'Landmark Global',
    'Sunyou', 'Yanwen', '4PX', 'GLS', 'OSM Worldwide', 'FIRST MILE', 'AM Trucking', 'CEVA',
    'India Post', 'SF Express', 'CNE', 'TForce Freight', 'AxleHire', 'LSO', 'Royal Mail',
    'ABF Freight System', 'WanB', 'Roadrunner Freight', 'Meyer Distribution', 'AAA Cooper',
    'Canada Post', 'Southeastern Freight Lines', 'Japan Post', 'Correos de Mexico',
    'XPO Logistics', 'JD Logistics', 'YDH', 'JCEX', 'Flyt', 'Deutsche Post', 'Better Trucks',
    'Asendia', 'SFC', 'UBI', 'ePost Global', 'YF Logistics', 'RXO', 'Estes Express', 'Shypmax',
    'WIN.IT America', 'PITT OHIO', 'PostNord Sweden', 'Equick', 'Whistl', 'Tusou', 'Shiprocket',
    'DTDC', 'PTS',
})
# trackingInfo.methodCode
METHOD_CODES = ("Standard", "Express", "OneDay", "Freight", "WhiteGlove", "Value")
# orderLineStatus.cancellationReason
CANCELLATION_REASONS = ("CUSTOMER_REQUESTED_SELLER_TO_CANCEL", "SELLER_CANCEL_PRICING_ERROR",
                        "SELLER_CANCEL_OUT_OF_STOCK", "SELLER_CANCEL_FRAUD_STOP_SHIPMENT",
                        "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE")
# statusQuantity.unitOfMeasurement
UNITS = ("EACH", "EA")
# Error codes. The spec gives the entry's shape (code, field, description, info, severity,
# category) but no codes; these are the ones Walmart answers with, from its developer pages
# and public client issues (marketplaces/walmart.md).
ERROR_CODES = {
    "unauthorized": "UNAUTHORIZED.GMP_GATEWAY_API",
    "invalid_token": "INVALID_TOKEN.GMP_GATEWAY_API",
    "invalid_header": "INVALID_REQUEST_HEADER.GMP_GATEWAY_API",
    "throttled": "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API",
    "invalid_content": "INVALID_REQUEST_CONTENT.GMP_ORDER_API",
    "not_found": "CONTENT_NOT_FOUND.GMP_ORDER_API",
    "internal": "INTERNAL_SERVER_ERROR.GMP_GATEWAY_API",
    "unavailable": "SERVICE_UNAVAILABLE.GMP_GATEWAY_API",
    "gateway_timeout": "GATEWAY_TIMEOUT.GMP_GATEWAY_API",
    "system": "SYSTEM_ERROR.GMP_GATEWAY_API",
}

OPEN = ("Created", "Acknowledged")
SHIPPED = ("Shipped", "Delivered")
CUSTOMER_REQUEST = "CUSTOMER_REQUESTED_SELLER_TO_CANCEL"
DATE_PARAMS = ("createdStartDate", "createdEndDate", "lastModifiedStartDate",
               "lastModifiedEndDate", "fromExpectedShipDate", "toExpectedShipDate")
MATCH_PARAMS = ("status", "purchaseOrderId", "customerOrderId", "sku")
PARTNER_ID, SELLER_ID = "10001234", "87"  # echoed in nextCursor like Walmart's


# -- error answers, in Walmart's shapes ----------------------------------------------------

def _entry(code, description, field="", info="", category="DATA", severity="ERROR"):
    return {"code": code, "field": field, "description": description, "info": info,
            "severity": severity, "category": category, "causes": [], "errorIdentifiers": {}}


def gateway_error(status, code, description, info="", field="", category="DATA"):
    """The API gateway's shape: {"error": [...]} (tokens, headers, outages)."""
    response = jsonify(error=[_entry(code, description, field, info, category)])
    response.status_code = status
    return response


def orders_error(status, code, description, field="", info="", category="DATA", severity="ERROR"):
    """The Orders service's shape: {"errors": {"error": [...]}}."""
    response = jsonify(errors={"error": [_entry(code, description, field, info, category, severity)]})
    response.status_code = status
    return response


def content_error(message, field=""):
    """Request-content validation's shape: {"errors": [{"code", "message", ...}]}."""
    response = jsonify(errors=[{"code": ERROR_CODES["invalid_content"], "message": message,
                                "category": "DATA", "severity": "ERROR", "field": field}])
    response.status_code = 400
    return response


def reject(message, field=""):
    abort(content_error(message, field))


def refuse(message, field="orderLineStatus"):
    """A request Walmart understood but the order's state does not allow."""
    abort(orders_error(400, ERROR_CODES["invalid_content"], message, field))


def throttled(wait):
    response = orders_error(429, ERROR_CODES["throttled"], "Error",
                            "REQUEST_THRESHOLD_VIOLATED", "Request Threshold Violated")
    response.headers["X-Current-Token-Count"] = "0"
    response.headers["X-Next-Replenishment-Time"] = str(now_ms() + int(wait * 1000) + 1)
    return response


GATEWAY_FAULTS = {500: ERROR_CODES["internal"], 503: ERROR_CODES["unavailable"],
                  504: ERROR_CODES["gateway_timeout"]}


def fault_response(status, message, retry_after=None):
    """Injected faults (simulators.common.inject_faults) in Walmart's words."""
    if status == 429:
        return throttled(retry_after or 1.0)
    return gateway_error(status, GATEWAY_FAULTS.get(status, ERROR_CODES["system"]),
                         message, category="SYSTEM")


# -- the app -----------------------------------------------------------------------------

def create_app(state):
    app = Flask(__name__)
    app.json.sort_keys = False
    app.register_blueprint(admin_blueprint(state, generate, event))
    app.register_blueprint(options_blueprint(state))
    app.register_blueprint(api_blueprint(state))
    return app


def api_blueprint(state):
    bp = Blueprint("walmart_api", __name__)
    guarded = functools.partial(guard, state)

    @bp.post("/v3/token")
    @guarded(caller=basic_client)
    def token(client_id):
        if request.mimetype != "application/x-www-form-urlencoded":
            reject("Content-Type must be application/x-www-form-urlencoded.", "Content-Type")
        if request.form.get("grant_type") != "client_credentials":
            reject("grant_type must be client_credentials.", "grant_type")
        lifetime = state.extra.get("token_lifetime", TOKEN_LIFETIME)
        tokens = state.extra.setdefault("tokens", {})
        for stale in [t for t, issued in tokens.items() if issued["expires"] <= time.time()]:
            del tokens[stale]
        access_token = "wm." + secrets.token_urlsafe(32)
        tokens[access_token] = {"client_id": client_id, "expires": time.time() + lifetime}
        return jsonify(access_token=access_token, token_type="Bearer", expires_in=int(lifetime))

    @bp.get("/v3/orders")
    @guarded()
    def orders(client_id):
        return order_list(state, released=False)

    @bp.get("/v3/orders/released")
    @guarded()
    def released(client_id):
        return order_list(state, released=True)

    @bp.get("/v3/orders/<purchase_order_id>")
    @guarded()
    def one_order(client_id, purchase_order_id):
        order = answer_order(state, find_order(state, purchase_order_id))
        if state.extra.get("order_shape") == "bare":
            return jsonify({**order, "orderDate": iso(from_ms(order["orderDate"]))})
        return jsonify(order=order)

    @bp.post("/v3/orders/<purchase_order_id>/acknowledge")
    @guarded()
    def acknowledge(client_id, purchase_order_id):
        order = find_order(state, purchase_order_id)
        if {e["status"] for line in order_lines(order) for e in line_entries(line)} == {"Cancelled"}:
            refuse(f"Purchase order {purchase_order_id} is cancelled and cannot be acknowledged.")
        # Acknowledging again is accepted and changes nothing.
        changed = move_all(order, ("Created",), lambda entry: {"status": "Acknowledged"})
        if changed:
            touch(state, purchase_order_id)
        state.log_write(purchase_order_id, "acknowledge", None, "applied" if changed else "unchanged")
        return jsonify(order=answer_order(state, order))

    @bp.post("/v3/orders/<purchase_order_id>/shipping")
    @guarded()
    def shipping(client_id, purchase_order_id):
        body = json_body()
        shipment = body.get("orderShipment") if isinstance(body.get("orderShipment"), dict) else {}
        if shipment.get("processMode") not in (None, "PARTIAL_UPDATE"):
            reject("processMode can only be PARTIAL_UPDATE.", "processMode")
        correction = shipment.get("processMode") == "PARTIAL_UPDATE"
        draft = copy.deepcopy(find_order(state, purchase_order_id))
        for wanted, line, status in requested_statuses(draft, shipment, "orderShipment"):
            if status.get("status") != "Shipped":
                reject("orderLineStatus.status must be Shipped.", "status")
            info = tracking_info(status)
            quantity = status_quantity(status)
            if correction:
                ship_correction(line, status, info, quantity)
            else:
                ship_line(line, wanted, info, quantity)
        return store_write(state, purchase_order_id, draft, "shipping", body)

    @bp.post("/v3/orders/<purchase_order_id>/cancel")
    @guarded()
    def cancel(client_id, purchase_order_id):
        body = json_body()
        draft = copy.deepcopy(find_order(state, purchase_order_id))
        for _, line, status in requested_statuses(draft, body.get("orderCancellation"), "orderCancellation"):
            if status.get("status") != "Cancelled":
                reject("orderLineStatus.status must be Cancelled.", "status")
            reason = status.get("cancellationReason")
            if reason not in CANCELLATION_REASONS:
                reject(f"cancellationReason {reason!r} is not one of {', '.join(CANCELLATION_REASONS)}.",
                       "cancellationReason")
            if reason == CUSTOMER_REQUEST and not line.get("intentToCancel"):
                refuse(f'Cancellation reason should not be "{CUSTOMER_REQUEST}" for non intent to cancel '
                       "orders.", "cancellationReason")
            quantity = status_quantity(status)
            if not move(line, OPEN, quantity, lambda entry: {"status": "Cancelled", "cancellationReason": reason}):
                refuse(f"Order line {line['lineNumber']} cannot be cancelled: it is {describe(line)}.")
        return store_write(state, purchase_order_id, draft, "cancel", body)

    @bp.after_request
    def truncate(response):
        # The "truncated answer" fault: a body cut off mid-way, as a dropped proxy leaves it.
        with state.lock:
            left = state.extra.get("truncated_answers", 0)
            state.extra["truncated_answers"] = max(left - 1, 0)
        if left:
            body = response.get_data()
            response.set_data(body[:len(body) // 2])
        return response

    return bp


def guard(state, caller=None):
    """Wrap an API view like Walmart's gateway: faults, headers and credentials, then the
    caller's token bucket; the view runs under the state lock and gets the client id."""
    def wrap(view):
        @functools.wraps(view)
        def guarded(**kwargs):
            faulted = inject_faults(state, fault_response)
            if faulted is not None:
                return faulted
            for header in ("WM_SVC.NAME", "WM_QOS.CORRELATION_ID"):
                if not request.headers.get(header):
                    return gateway_error(400, ERROR_CODES["invalid_header"],
                                         f"The {header} header is required.", field=header,
                                         category="REQUEST")
            with state.lock:
                client_id = (caller or token_client)(state)
            wait = state.rate_wait(client_id)
            if wait:
                state.count("429")
                return throttled(wait)
            with state.lock:
                return view(client_id, **kwargs)
        return guarded
    return wrap


def basic_client(state):
    auth = request.authorization
    if (auth is None or auth.type != "basic" or auth.username != DEFAULT_CREDENTIALS["client_id"]
            or auth.password != DEFAULT_CREDENTIALS["client_secret"]):
        abort(gateway_error(401, ERROR_CODES["unauthorized"], "Unauthorized",
                            "Invalid client ID or client secret.", "UNAUTHORIZED"))
    return auth.username


def token_client(state):
    issued = state.extra.get("tokens", {}).get(request.headers.get("WM_SEC.ACCESS_TOKEN", ""))
    if issued is None:
        abort(gateway_error(401, ERROR_CODES["unauthorized"], "Unauthorized",
                            "Unauthorized token or invalid service name passed.", "UNAUTHORIZED"))
    if issued["expires"] <= time.time():
        abort(gateway_error(401, ERROR_CODES["invalid_token"], "Token is invalid or expired",
                            "Request a new access token.", "WM_SEC.ACCESS_TOKEN"))
    return issued["client_id"]


def options_blueprint(state):
    bp = Blueprint("walmart_options", __name__, url_prefix="/_sim")
    names = {"token_lifetime", "expire_tokens", "truncated_answers", "order_shape", "null_optionals"}

    @bp.route("/options", methods=["GET", "POST"])
    def options():
        with state.lock:
            if request.method == "POST":
                changes = request.get_json(force=True) or {}
                if set(changes) - names:
                    return jsonify(error=f"unknown options {sorted(set(changes) - names)}"), 400
                if "token_lifetime" in changes:
                    state.extra["token_lifetime"] = float(changes["token_lifetime"])
                if "truncated_answers" in changes:
                    state.extra["truncated_answers"] = int(changes["truncated_answers"])
                if changes.get("order_shape", "wrapped") not in ("wrapped", "bare"):
                    return jsonify(error="order_shape is wrapped or bare"), 400
                for name in ("order_shape", "null_optionals"):
                    if name in changes:
                        state.extra[name] = changes[name]
                if changes.get("expire_tokens"):
                    for issued in state.extra.get("tokens", {}).values():
                        issued["expires"] = 0
            return jsonify(token_lifetime=state.extra.get("token_lifetime", TOKEN_LIFETIME),
                           truncated_answers=state.extra.get("truncated_answers", 0),
                           order_shape=state.extra.get("order_shape", "wrapped"),
                           null_optionals=bool(state.extra.get("null_optionals")),
                           live_tokens=sum(1 for t in state.extra.get("tokens", {}).values()
                                           if t["expires"] > time.time()))
    return bp


# -- order lists -------------------------------------------------------------------------

def order_list(state, released):
    args = request.args
    limit = int_param("limit", LIMIT_DEFAULT)
    if not 1 <= limit <= LIMIT_MAX:
        reject(f"limit cannot be larger than {LIMIT_MAX}.", "limit")
    paging = args.get("hasMoreElements") == "true"
    if paging and request.query_string.decode("latin-1") not in state.extra.get("cursors", ()):
        reject("Send nextCursor back exactly as it was received (it is a ready-made query string).",
               "nextCursor")
    now = utcnow()
    dates = {name: date_param(name) for name in DATE_PARAMS}
    # The spec: createdStartDate "Default is current date - 7 days", createdEndDate "current date".
    dates["createdStartDate"] = max(dates["createdStartDate"] or epoch_ms(now - timedelta(days=DEFAULT_CREATED_DAYS)),
                                    epoch_ms(now - timedelta(days=HISTORY_DAYS)))
    # A first page fixes the window's end, so new orders and new changes do not shift the
    # pages behind the cursor (the next import picks them up).
    dates["createdEndDate"] = dates["createdEndDate"] or epoch_ms(now)
    if dates["lastModifiedStartDate"]:
        dates["lastModifiedEndDate"] = dates["lastModifiedEndDate"] or epoch_ms(now)
    matches = {name: args[name] for name in MATCH_PARAMS if args.get(name)}
    modified = state.extra.get("modified", {})
    found = [order for order in state.orders.values()
             if listed(order, modified.get(order["purchaseOrderId"], 0), dates, matches, released)]
    found.sort(key=lambda order: (-order["orderDate"], order["purchaseOrderId"]))
    offset = int_param("poIndex", 0) if paging else 0
    page = found[offset:offset + limit]
    if not page:
        return orders_error(404, ERROR_CODES["not_found"],
                            "No Orders found for the given search criteria", "data",
                            "Requested content could not be found.", "APPLICATION", "INFO")
    meta = {"totalCount": len(found), "limit": limit}
    if offset + limit < len(found):
        cursor = {"limit": limit, "hasMoreElements": "true", "soIndex": len(found),
                  "poIndex": offset + limit, "partnerId": PARTNER_ID, "sellerId": SELLER_ID,
                  **matches, **{name: iso(from_ms(value)) for name, value in dates.items() if value}}
        # Like Walmart's examples: times keep their ":" unescaped.
        meta["nextCursor"] = "?" + urlencode(cursor, safe=":")
        state.extra.setdefault("cursors", set()).add(meta["nextCursor"][1:])
    elif state.extra.get("null_optionals"):
        meta["nextCursor"] = None
    return jsonify(list={"meta": meta, "elements": {"order": [answer_order(state, o) for o in page]}})


def listed(order, modified, dates, matches, released):
    statuses = {e["status"] for line in order_lines(order) for e in line_entries(line)}
    ranges = (("createdStartDate", "createdEndDate", order["orderDate"]),
              ("lastModifiedStartDate", "lastModifiedEndDate", modified),
              ("fromExpectedShipDate", "toExpectedShipDate", order["shippingInfo"]["estimatedShipDate"]))
    for start, end, value in ranges:
        if (dates[start] and value < dates[start]) or (dates[end] and value > dates[end]):
            return False
    values = {"status": statuses, "purchaseOrderId": {order["purchaseOrderId"]},
              "customerOrderId": {order["customerOrderId"]},
              "sku": {line["item"]["sku"] for line in order_lines(order)}}
    return ((not released or "Created" in statuses)
            and all(wanted in values[name] for name, wanted in matches.items()))


def int_param(name, default):
    try:
        return int(request.args.get(name, default))
    except ValueError:
        reject(f"{name} must be a whole number.", name)


def date_param(name):
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        reject(f"{name} must be a date (yyyy-MM-dd) or a UTC time (yyyy-MM-ddTHH:mm:ssZ).", name)
    return epoch_ms(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


# Optional fields Walmart sends as null when they have no value (null_optionals).
OPTIONAL_ADDRESS = ("address2", "addressType")
OPTIONAL_STATUS = ("cancellationReason", "trackingInfo", "returnCenterAddress")
OPTIONAL_LINE = ("returnOrderId", "refund", "originalCarrierMethod", "referenceLineId", "intentToCancel")


def answer_order(state, order):
    """An order as the API shows it: stored as is, or (null_optionals) with its optional
    fields present as null."""
    if not state.extra.get("null_optionals"):
        return order
    order = copy.deepcopy(order)
    order.setdefault("customerEscalation", None)
    address = order["shippingInfo"]["postalAddress"]
    for name in OPTIONAL_ADDRESS:
        address.setdefault(name, None)
    for line in order_lines(order):
        for name in OPTIONAL_LINE:
            line.setdefault(name, None)
        for entry in line_entries(line):
            for name in OPTIONAL_STATUS:
                entry.setdefault(name, None)
            info = entry["trackingInfo"]
            if info:
                info.setdefault("trackingURL", None)
                info["carrierName"] = {"carrier": None, "otherCarrier": None, **info["carrierName"]}
        for charge in line["charges"]["charge"]:
            charge.setdefault("tax", None)
    return order


# -- writes ------------------------------------------------------------------------------

def find_order(state, purchase_order_id):
    order = state.orders.get(purchase_order_id)
    if order is None:
        abort(orders_error(404, ERROR_CODES["not_found"],
                           f"Purchase order {purchase_order_id} was not found.", "purchaseOrderId",
                           "Requested content could not be found.", "APPLICATION", "INFO"))
    return order


def json_body():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        reject("Send a JSON object with Content-Type: application/json.")
    return body


def requested_statuses(order, container, name):
    """(request line, order line, requested status) for every status of every line asked for."""
    try:
        wanted_lines = container["orderLines"]["orderLine"]
    except (KeyError, TypeError):
        wanted_lines = None
    if not wanted_lines or not isinstance(wanted_lines, list):
        reject(f"{name}.orderLines.orderLine must list the order lines.", "orderLine")
    lines = {line["lineNumber"]: line for line in order_lines(order)}
    for wanted in wanted_lines:
        line = lines.get(str(wanted.get("lineNumber")) if isinstance(wanted, dict) else None)
        if line is None:
            reject(f"Order line {wanted.get('lineNumber')!r} is not on this purchase order.", "lineNumber")
        statuses = (wanted.get("orderLineStatuses") or {}).get("orderLineStatus")
        if not statuses or not isinstance(statuses, list):
            reject("orderLineStatuses.orderLineStatus is required.", "orderLineStatus")
        for status in statuses:
            yield wanted, line, status


def status_quantity(status):
    quantity = status.get("statusQuantity") or {}
    if quantity.get("unitOfMeasurement") not in UNITS or not str(quantity.get("amount", "")).isdigit() \
            or int(quantity["amount"]) < 1:
        reject("statusQuantity needs unitOfMeasurement EACH and a whole amount of at least 1.",
               "statusQuantity")
    return int(quantity["amount"])


def tracking_info(status):
    """The trackingInfo to store, after Walmart's checks (carrier enum, URL for others)."""
    info = status.get("trackingInfo")
    if not isinstance(info, dict):
        reject("trackingInfo is required.", "trackingInfo")
    for key in ("shipDateTime", "carrierName", "methodCode", "trackingNumber"):
        if not info.get(key):
            reject(f"trackingInfo.{key} is required.", key)
    if not isinstance(info["shipDateTime"], int):
        reject("shipDateTime must be epoch milliseconds.", "shipDateTime")
    if info["methodCode"] not in METHOD_CODES:
        reject(f"methodCode {info['methodCode']!r} is not one of {', '.join(METHOD_CODES)}.", "methodCode")
    carrier = info["carrierName"] if isinstance(info["carrierName"], dict) else {}
    if "carrier" in carrier:
        if carrier["carrier"] not in CARRIERS:
            reject(f"Invalid carrier {carrier['carrier']!r}: use a carrier name from Walmart's list, "
                   "or otherCarrier with a trackingURL.", "carrier")
    elif not carrier.get("otherCarrier"):
        reject("carrierName needs carrier or otherCarrier.", "carrierName")
    elif not info.get("trackingURL"):
        reject("trackingURL is required when otherCarrier is used.", "trackingURL")
    kept = ("shipDateTime", "carrierName", "methodCode", "trackingNumber", "trackingURL")
    return {key: info[key] for key in kept if info.get(key)}


def ship_line(line, wanted, info, quantity):
    if line.get("intentToCancel") and not wanted.get("intentToCancelOverride"):
        refuse(f"The customer asked to cancel order line {line['lineNumber']}: cancel it, or ship "
               "with intentToCancelOverride true.", "intentToCancelOverride")
    if move(line, ("Acknowledged",), quantity, lambda entry: {"status": "Shipped", "trackingInfo": info}):
        return
    if quantity_of(line, ("Created",)):
        refuse(f"Order line {line['lineNumber']} is not acknowledged: acknowledge the order before shipping.")
    if quantity_of(line, SHIPPED) and not quantity_of(line, OPEN):
        refuse(f"Order line {line['lineNumber']} is already shipped ({describe(line)}); send "
               "processMode PARTIAL_UPDATE with currentTrackingInfo to change its tracking.")
    refuse(f"Order line {line['lineNumber']} cannot ship {quantity}: it is {describe(line)}.")


def ship_correction(line, status, info, quantity):
    old = (status.get("currentTrackingInfo") or {}).get("trackingNumber")
    if not old:
        reject("currentTrackingInfo.trackingNumber is required with processMode PARTIAL_UPDATE.",
               "currentTrackingInfo")
    def shipped_with_old(entry):
        return entry["status"] in SHIPPED and tracking_of(entry) == old

    if not move(line, shipped_with_old, quantity, lambda entry: {**entry, "trackingInfo": info}):
        refuse(f"Order line {line['lineNumber']} has no {quantity} shipped with tracking {old}: "
               f"it is {describe(line)}.", "currentTrackingInfo")


def store_write(state, purchase_order_id, draft, call, body):
    """Store a write that passed every check (all lines or none), log it, answer the order."""
    state.orders[purchase_order_id] = draft
    touch(state, purchase_order_id)
    state.log_write(purchase_order_id, call, body)
    return jsonify(order=answer_order(state, draft))


# -- marketplace-side events ------------------------------------------------------------

def customer_cancel(order):
    return move_all(order, OPEN, lambda entry: {"status": "Cancelled", "cancellationReason": "CUSTOMER_CANCELLED"})


def cancel_request(order):
    lines = [line for line in order_lines(order) if quantity_of(line, OPEN)]
    for line in lines:
        line["intentToCancel"] = "Y"
    return bool(lines)


def deliver(order):
    return move_all(order, ("Shipped",), lambda entry: {**entry, "status": "Delivered"})


def dispute(order):
    opened = utcnow()
    order["customerEscalation"] = {"status": "OPEN", "openedDate": epoch_ms(opened),
                                   # Walmart may refund an escalation left unresolved for 48 hours.
                                   "autoRefundDate": epoch_ms(opened + timedelta(hours=48))}
    return True


EVENTS = {"cancel": customer_cancel, "cancel_request": cancel_request, "deliver": deliver,
          "dispute": dispute}


def event(state, order_id, name):
    if name not in EVENTS:
        abort(400, f"unknown event {name!r}; one of {', '.join(EVENTS)}")
    if not EVENTS[name](state.orders[order_id]):
        abort(409, f"order {order_id} has no line a {name} event applies to")
    touch(state, order_id)


# -- order lines and their status entries -------------------------------------------------

def order_lines(order):
    return order["orderLines"]["orderLine"]


def line_entries(line):
    return line["orderLineStatuses"]["orderLineStatus"]


def tracking_of(entry):
    return (entry.get("trackingInfo") or {}).get("trackingNumber")


def amount(entry):
    return int(entry["statusQuantity"]["amount"])


def each(quantity):
    return {"unitOfMeasurement": "EACH", "amount": str(quantity)}


def quantity_of(line, statuses):
    return sum(amount(e) for e in line_entries(line) if e["status"] in statuses)


def describe(line):
    return ", ".join(f"{amount(e)} {e['status']}" + (f" (tracking {tracking_of(e)})" if tracking_of(e) else "")
                     for e in line_entries(line))


def move(line, source, quantity, change):
    """Turn `quantity` units of the line's status entries that match `source` (a tuple of
    statuses or a test) into `change(entry)`, splitting entries as needed. False, and nothing
    changed, when the line has fewer such units."""
    matches = source if callable(source) else (lambda entry: entry["status"] in source)
    entries = line_entries(line)
    if quantity < 1 or sum(amount(e) for e in entries if matches(e)) < quantity:
        return False
    left, result = quantity, []
    for entry in entries:
        take = min(left, amount(entry)) if matches(entry) else 0
        if amount(entry) > take:
            result.append({**entry, "statusQuantity": each(amount(entry) - take)})
        if take:
            result.append({**change(entry), "statusQuantity": each(take)})
            left -= take
    merged = {}  # entries alike but for their quantity become one, as Walmart shows them
    for entry in result:
        key = json.dumps({k: v for k, v in entry.items() if k != "statusQuantity"}, sort_keys=True)
        if key in merged:
            merged[key]["statusQuantity"] = each(amount(merged[key]) + amount(entry))
        else:
            merged[key] = entry
    entries[:] = merged.values()
    line["statusDate"] = now_ms()
    return True


def move_all(order, statuses, change):
    """Move every unit in `statuses` on every line; False when the order had none."""
    lines = [line for line in order_lines(order) if quantity_of(line, statuses)]
    for line in lines:
        move(line, statuses, quantity_of(line, statuses), change)
    return bool(lines)


def touch(state, purchase_order_id):
    """Remember when the order last changed (lastModifiedStartDate filters on it)."""
    state.extra.setdefault("modified", {})[purchase_order_id] = now_ms()


def now_ms():
    return epoch_ms(utcnow())


def from_ms(value):
    return datetime.fromtimestamp(value / 1000, timezone.utc)


# -- generated orders -------------------------------------------------------------------

STATUS_WEIGHTS = (("Created", 0.7), ("Acknowledged", 0.2), ("Shipped", 0.1))
GENERATED_STATUSES = LINE_STATUSES[:5]  # not Refund: that comes from a refund call
SHIP_METHODS = ("Standard", "Standard", "Standard", "Express", "Value", "OneDay")


def generate(state, count, status=None, lines=None, quantity=None, age_days=None):
    """Add `count` realistic US orders; returns their purchaseOrderIds. Options: status (all
    lines in it: Created, Acknowledged, Shipped, Delivered, Cancelled; default mostly Created,
    some Acknowledged and Shipped), lines (per order), quantity (per line), age_days (created
    and last changed that many days ago; default: just now)."""
    if status is not None and status not in GENERATED_STATUSES:
        abort(400, f"status must be one of {', '.join(GENERATED_STATUSES)}")
    if age_days is not None and not (isinstance(age_days, (int, float)) and 0 <= age_days <= HISTORY_DAYS + 30):
        abort(400, f"age_days must be a number of days from 0 to {HISTORY_DAYS + 30}")
    rng, now, ids = state.rng, utcnow(), []
    then = now - timedelta(days=age_days or 0)
    for _ in range(count):
        purchase_order_id = unique_number(rng, "18", state.orders)
        chosen = status or rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
        order = fake_order(rng, then, purchase_order_id, chosen, lines or rng.choice((1, 1, 1, 2, 2, 3)), quantity)
        state.orders[purchase_order_id] = order
        if age_days:
            state.extra.setdefault("modified", {})[purchase_order_id] = max(
                line["statusDate"] for line in order_lines(order))
        else:
            touch(state, purchase_order_id)
        ids.append(purchase_order_id)
    return ids


def unique_number(rng, prefix, taken):
    while True:
        number = prefix + "".join(rng.choice("0123456789") for _ in range(13 - len(prefix)))
        if number not in taken:
            return number


def fake_order(rng, now, purchase_order_id, status, line_count, quantity):
    person = fake_person(rng)
    ship_by = fake_ship_by(rng, now)
    ordered = min(ship_by - timedelta(hours=rng.uniform(20, 48)), now - timedelta(minutes=rng.uniform(5, 360)))
    changed = min(now, ordered + timedelta(hours=rng.uniform(0.5, 12)))
    method = rng.choice(SHIP_METHODS)
    tax_rate = rng.choice((0.0625, 0.07, 0.0825, 0.0))
    package = fake_package(rng, changed, method) if status in SHIPPED else None
    lines = []
    for number, (name, sku, price) in enumerate(fake_products(rng, line_count), start=1):
        units = quantity or rng.choice((1, 1, 1, 2, 3))
        entry = {"status": status, "statusQuantity": each(units)}
        if package:
            entry["trackingInfo"] = package
        if status == "Cancelled":
            entry["cancellationReason"] = "SELLER_CANCEL_OUT_OF_STOCK"
        lines.append({
            "lineNumber": str(number),
            "item": {"productName": name, "sku": sku},
            "charges": {"charge": [charge("PRODUCT", "ItemPrice", price * units, tax_rate),
                                   charge("SHIPPING", "Shipping", rng.choice((0, 0, 3.99)), tax_rate)]},
            "orderLineQuantity": each(units),
            "statusDate": epoch_ms(ordered if status == "Created" else changed),
            "orderLineStatuses": {"orderLineStatus": [entry]},
            "fulfillment": {"fulfillmentOption": "S2H", "shipMethod": method.upper(),
                            "pickUpDateTime": epoch_ms(ship_by)},
        })
    return {
        "purchaseOrderId": purchase_order_id,
        "customerOrderId": unique_number(rng, "5", ()),
        "customerEmailId": person["email"],
        "orderDate": epoch_ms(ordered),
        "shippingInfo": {
            "phone": person["phone"].replace("-", ""),
            "estimatedDeliveryDate": epoch_ms(ship_by + timedelta(days=rng.randint(2, 6))),
            "estimatedShipDate": epoch_ms(ship_by),
            "methodCode": method,
            "postalAddress": {"name": person["name"], "address1": person["address1"],
                              "city": person["city"], "state": person["region"],
                              "postalCode": person["postal_code"], "country": "USA",
                              "addressType": "RESIDENTIAL"},
        },
        "orderLines": {"orderLine": lines},
        "shipNode": {"type": "SellerFulfilled", "name": "Seller warehouse", "id": "7001"},
    }


def charge(kind, name, value, tax_rate):
    value = round(value, 2)
    return {"chargeType": kind, "chargeName": name,
            "chargeAmount": {"currency": "USD", "amount": value},
            "tax": {"taxName": "Tax1" if kind == "PRODUCT" else "Tax2",
                    "taxAmount": {"currency": "USD", "amount": round(value * tax_rate, 2)}}}


# Carriers of the generated shipped orders: Walmart's name -> the number format they use.
GENERATED_CARRIERS = {"UPS": "ups", "USPS": "usps", "FedEx": "fedex"}


def fake_package(rng, shipped, method):
    carrier = rng.choice(sorted(GENERATED_CARRIERS))
    number = fake_tracking_number(GENERATED_CARRIERS[carrier], rng)
    return {"shipDateTime": epoch_ms(shipped), "carrierName": {"carrier": carrier},
            "methodCode": method, "trackingNumber": number,
            "trackingURL": tracking_page(GENERATED_CARRIERS[carrier], number)}
