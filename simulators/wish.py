"""Wish Merchant API v3 simulator: OAuth tokens, orders, asynchronous tracking and refunds.

Behaves like merchant.wish.com on the calls fulfil makes (the contract is
specs/wish-orders.openapi.yaml and specs/wish-oauth.openapi.yaml):
- every answer is the envelope {"code": 0, "message": "", "data": ...}; errors carry a
  non-zero code and an empty `data`. The spec's schema types `code` as an integer, but
  every example in both files sends a string ("1007"); the simulator follows the examples
  (option code_type "string", the default) and can send integers (code_type "integer");
- OAuth as the spec and Wish's OAuth guide describe it: the merchant site's authorize page
  (GET /v3/oauth/authorize?client_id=..) redirects back to the app's redirect URI with a
  `code` (valid 5 minutes, redeemable once); GET or POST /api/v3/oauth/access_token
  exchanges it for an access and a refresh token; GET /api/v3/oauth/test names the
  merchant a token works for;
- Bearer access tokens that expire or are revoked answer HTTP 400 with codes 1006/1007/1008;
  GET /api/v3/oauth/refresh_token issues a new one and revokes the old ones, as the spec says;
- GET /api/v3/orders filters and sorts by updated_at / released_at (inclusive bounds), so
  clients page by passing the last timestamp back;
- PUT .../tracking and PUT .../refund only queue the change: the order shows
  processing_status IN_PROGRESS and, `processing_seconds` later, SUCCEEDED or FAILED;
- a token bucket per merchant app (the spec's rate-limit unit) with Wish-Rate-Limit-Remaining
  on every answer, 429 + Wish-Rate-Limit-Reset (epoch seconds) over it, Wish-Request-Id always.

Error codes: the spec documents only OAuth codes, so parameter and state validation errors
use its InvalidParam code 1001 (HTTP 400; HTTP 404 for an unknown order id), and injected
faults (5xx, 429) use the HTTP status as the code.

Simulator-only routes, beside the shared /_sim ones (simulators.common.admin_blueprint):
    POST /_sim/options  {"processing_seconds", "processing_failure_rate", "truncate_next",
                         "token_ttl_seconds", "code_type" ("string" | "integer"),
                         "redirect_uri" (the app's registered redirect URI; empty: the one
                         the authorize request names, a simulator convenience)}
                         (truncate_next: cut the next N API answers in half)
    POST /_sim/tokens   {"event": "expire" | "revoke", "access_token": one token (default: all)}
Events (POST /_sim/events): "cancel" (the customer cancels: REFUNDED), "deliver" (the carrier
confirms delivery: a CONFIRMED_DELIVERED fulfillment record), "re_release" (a SHIPPED or
REFUNDED order comes back APPROVED: TRACKING_CANCELLED + ORDER_RE_RELEASED records, tracking
cleared).
"""
import html
import json
import math
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, g, jsonify, redirect, request

from simulators.common import (admin_blueprint, fake_person, fake_products, fake_ship_by,
                               fake_tracking_number, inject_faults, iso, utcnow, utcnow_iso)

DEFAULT_CREDENTIALS = {
    "client_id": "5f1e0c9a2b3d4e5f60718293",
    "client_secret": "sim-wish-client-secret",
    "access_token": "3d6e2d71bc464e42bfbdb081afb73c1e",
    "refresh_token": "sim-wish-refresh-token",
}
MERCHANT_ID = "5e9d8c7b6a5f4e3d2c1b0a99"
SCOPES = ["orders:read", "orders:write"]

# Error codes, from the OAuth spec's examples (the orders spec documents no others).
INVALID_PARAM = 1001
UNAUTHORIZED = 1006
TOKEN_EXPIRED = 1007
TOKEN_REVOKED = 1008
INVALID_CREDENTIALS = 10001
CODE_REDEEMED = 10002
CODE_EXPIRED = 10004
INVALID_AUTH_CODE = 10008
AUTH_CODE_SECONDS = 5 * 60  # "the authorization code will expire after 5 minutes and can only be used once"

DEFAULT_OPTIONS = {
    "processing_seconds": 0.3,
    "processing_failure_rate": 0.0,
    "truncate_next": 0,
    "token_ttl_seconds": 30 * 24 * 3600.0,  # "the access token will expire after 30 days"
    "code_type": "string",
    "redirect_uri": "",
}
CODE_TYPES = ("string", "integer")
# Reported in Wish-Rate-Limit-Remaining while no rate limit is configured.
UNLIMITED_REMAINING = 10000

# GET /api/v3/orders/shipping_carriers?order_type=GENERAL: the providers Wish accepts (part).
SHIPPING_CARRIERS = ("USPS", "UPS", "FedEx", "DHL", "DHLGlobalMail", "ChinaAirPost", "EMS", "Yanwen",
                     "4PX", "YunExpress", "RussianPost", "SFExpress", "CNE", "WishPost", "CanadaPost",
                     "RoyalMail", "AustraliaPost", "LaPoste", "PostNL", "Correios")
# Providers of the generated shipped orders, with the number format each uses
# (simulators.common.TRACKING_FORMATS).
GENERATED_PROVIDERS = {"ChinaAirPost": "china_post", "Yanwen": "yanwen", "YunExpress": "yunexpress",
                       "4PX": "4px", "USPS": "usps"}

# Refund reasons Wish offers per state (GET .../refund_reasons); states absent cannot be refunded.
REFUND_REASONS = {
    "APPROVED": ["UNABLE_TO_SHIP", "MERCHANT_OUT_OF_STOCK", "MERCHANT_REPORTED_BUYER_FRAUD",
                 "PRODUCT_LISTING_MISSING_INFO"],
    "SHIPPED": ["UNABLE_TO_SHIP", "ITEM_RETURNED_TO_SENDER", "ITEM_IS_DAMAGED", "SHIPPING_TAKING_TOO_LONG",
                "MERCHANT_SENT_TO_WRONG_ADDRESS", "RECEIVED_WRONG_ITEM", "ITEM_DOES_NOT_MATCH_LISTING"],
}
# States an order must still be in when a queued write is processed.
WRITABLE_STATES = {"UPDATE_TRACKING": ("APPROVED", "SHIPPED"), "REFUND": ("APPROVED", "SHIPPED")}
ORDER_STATES = ("APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED")

TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9]+$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
SORT_BY = re.compile(r"^(updated_at|released_at)(\.(asc|desc))?$")
# Both bounds are inclusive: "orders updated before this time will not show".
TIME_FILTERS = {"updated_at_min": ("updated_at", "min"), "updated_at_max": ("updated_at", "max"),
                "released_at_min": ("released_at", "min"), "released_at_max": ("released_at", "max")}
COUNTRY_NAMES = {"US": ("United States", "1"), "RU": ("Russia", "7")}


# -- answers -----------------------------------------------------------------------------

def envelope(data, status=200, code=0, message=""):
    response = jsonify(code=code, message=message, data=data)
    response.status_code = status
    return response


def error(status, code, message):
    return envelope({}, status, code, message)


def not_found(order_id):
    return error(404, INVALID_PARAM, f"We could not find an order for id: '{order_id}'")


def rate_limited(wait):
    response = error(429, 429, "Too many requests: wait for the rate limit to reset")
    # "The time the rate-limiter will reset": a moment, sent as epoch seconds.
    response.headers["Wish-Rate-Limit-Reset"] = str(math.ceil(time.time() + wait))
    g.rate_remaining = 0
    return response


def fault_answer(status, message, retry_after=None):
    return rate_limited(retry_after) if status == 429 else error(status, status, message)


# -- simulator state kept in state.extra (emptied by /_sim/reset) ------------------------

def options(state):
    return state.extra.setdefault("options", dict(DEFAULT_OPTIONS))


def tokens(state):
    """Issued access tokens: token -> {"client_id", "expires_at" (epoch s), "revoked"}. The
    account's configured token exists from the start and again after a reset."""
    issued = state.extra.get("tokens")
    if issued is None:
        issued = state.extra["tokens"] = {}
        issue_token(state, DEFAULT_CREDENTIALS["access_token"])
    return issued


def issue_token(state, token):
    expires_at = time.time() + options(state)["token_ttl_seconds"]
    tokens(state)[token] = {"client_id": DEFAULT_CREDENTIALS["client_id"], "expires_at": expires_at,
                            "revoked": False}
    return expires_at


def refresh_tokens(state):
    """Refresh tokens Wish knows: the configured account's and those issued for a code."""
    return state.extra.setdefault("refresh_tokens", {DEFAULT_CREDENTIALS["refresh_token"]})


def new_grant(state):
    """A new access token (revoking the app's earlier ones, as a refresh does) -> AccessToken."""
    token = uuid.uuid4().hex
    with state.lock:
        for record in tokens(state).values():
            record["revoked"] = True
        expires_at = issue_token(state, token)
    return {"access_token": token, "expiry_time": iso(datetime.fromtimestamp(expires_at, timezone.utc)),
            "merchant_id": MERCHANT_ID, "scopes": SCOPES}


def redeem_code(state, params):
    """The error answer for an authorization-code exchange Wish refuses, or None."""
    if params.get("grant_type") != "authorization_code":
        return error(400, INVALID_PARAM, "grant_type must be set to 'authorization_code'")
    missing = [name for name in ("client_id", "client_secret", "code", "redirect_uri") if not params.get(name)]
    if missing:
        return error(400, INVALID_PARAM, f"{', '.join(missing)} is required")
    issued = state.extra.setdefault("auth_codes", {}).get(params["code"])
    if issued is None:
        return error(400, INVALID_AUTH_CODE, "Incorrect authorization code provided")
    if (params["client_id"], params["client_secret"], params["redirect_uri"]) != (
            DEFAULT_CREDENTIALS["client_id"], DEFAULT_CREDENTIALS["client_secret"], issued["redirect_uri"]):
        return error(400, INVALID_CREDENTIALS, "Incorrect credentials. One of client_id, client_secret, "
                                               "or redirect_url does not match our records")
    if issued["redeemed"]:
        return error(400, CODE_REDEEMED, "The authorization code has already been redeemed")
    if issued["expires_at"] <= time.time():
        return error(400, CODE_EXPIRED, "The authorization code has expired")
    issued["redeemed"] = True
    return None


def queued_writes(state):
    """order id -> writes accepted but not processed yet, oldest first."""
    return state.extra.setdefault("queued", {})


# -- the asynchronous writes -------------------------------------------------------------

def accept_write(state, order, source, call, body):
    """Queue a write behind the order's earlier ones; Wish processes them in order."""
    queue = queued_writes(state).setdefault(order["id"], [])
    now = time.time()
    start = max(queue[-1]["due"], now) if queue else now
    queue.append({"due": start + options(state)["processing_seconds"], "source": source,
                  "call": call, "body": body,
                  "fails": state.rng.random() < options(state)["processing_failure_rate"]})
    order["processing_status"], order["processing_source"] = "IN_PROGRESS", source
    order["updated_at"] = utcnow_iso()


def settle(state):
    """Process the queued writes whose moment has come. Every request calls this first, so
    no answer shows an order that should have changed by now."""
    with state.lock:
        queued = state.extra.get("queued")
        if not queued:
            return
        now = time.time()
        for order_id, queue in list(queued.items()):
            order = state.orders.get(order_id)
            while queue and queue[0]["due"] <= now:
                job = queue.pop(0)
                if order is not None:
                    process_write(state, order, job)
            if not queue:
                del queued[order_id]
            elif order is not None:
                order["processing_status"], order["processing_source"] = "IN_PROGRESS", queue[0]["source"]


def process_write(state, order, job):
    # The order changed at the moment processing finished, not when someone looked.
    stamp = iso(datetime.fromtimestamp(job["due"], timezone.utc))
    ok = not job["fails"] and order["state"] in WRITABLE_STATES[job["source"]]
    if ok:
        APPLY[job["source"]](order, job["body"], stamp)
    order["processing_status"], order["processing_source"] = ("SUCCEEDED" if ok else "FAILED"), job["source"]
    order["updated_at"] = stamp
    state.log_write(order["id"], job["call"], job["body"], "applied" if ok else "failed")


def apply_tracking(order, body, stamp):
    entry = {"tracking_number": body["tracking_number"], "origin_country": body["origin_country"],
             "shipping_provider": {"name": body["shipping_provider"]}}
    if body.get("ship_note"):
        entry["ship_note"] = body["ship_note"]
    history = order["tracking_information"]
    if not history or history[0] != entry:
        order["tracking_information"] = [entry] + history[:1]  # newest first, only two kept
    if order["state"] == "APPROVED":
        order["state"] = "SHIPPED"
        add_record(order, "MARK_SHIPPED", stamp)


def apply_refund(order, body, stamp):
    order["state"] = "REFUNDED"
    refund = {"refund_reason": body["refund_reason"], "refund_source": "MERCHANT", "refund_time": stamp,
              "refund_amount": order["order_payment"]["general_payment_details"]["payment_total"]}
    if body.get("refund_reason_note"):
        refund["refund_reason_note"] = body["refund_reason_note"]
    order["refunds"].append(refund)


APPLY = {"UPDATE_TRACKING": apply_tracking, "REFUND": apply_refund}


def add_record(order, event_type, stamp):
    order["fulfillment_records"].append({"event_type": event_type, "event_time": stamp})


def tracking_problem(body):
    """Why Wish would reject this PUT .../tracking body, or None."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object"
    number, provider = body.get("tracking_number"), body.get("shipping_provider")
    if not isinstance(number, str) or not number:
        return "tracking_number is required"
    if not TRACKING_NUMBER.match(number):
        return ("Tracking number should only contain alphanumeric characters with no space "
                "between them")
    if provider not in SHIPPING_CARRIERS:
        return (f"'{provider}' is not an accepted shipping provider: see "
                "/api/v3/orders/shipping_carriers")
    if not COUNTRY_CODE.match(str(body.get("origin_country") or "")):
        return "origin_country must be a 2-letter ISO 3166 country code"
    if "ship_note" in body and not (isinstance(body["ship_note"], str) and body["ship_note"]):
        return "ship_note must be a non-empty string"
    return None


def refund_problem(order, body):
    reasons = REFUND_REASONS.get(order["state"])
    if not reasons:
        return f"Order {order['id']} is {order['state']} and cannot be refunded"
    if not isinstance(body, dict) or body.get("refund_reason") not in reasons:
        return f"Invalid refund_reason for order {order['id']}: use one of {', '.join(reasons)}"
    note = body.get("refund_reason_note")
    if note is not None and not (isinstance(note, str) and note):
        return "refund_reason_note must be a non-empty string"
    return None


# -- reading orders ----------------------------------------------------------------------

def parse_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def list_filters(args):
    """(limit, states, bounds, sort field, descending) from the query, or ValueError saying why."""
    try:
        limit = int(args.get("limit", 50))
    except ValueError:
        raise ValueError("limit must be an integer") from None
    if not 1 <= limit <= 500:
        raise ValueError("limit must be between 1 and 500")
    # OpenAPI's default for arrays in a query is states=A&states=B; a comma list is taken too.
    states = {s for value in args.getlist("states") for s in value.split(",") if s}
    if states - set(ORDER_STATES):
        raise ValueError(f"states must be among {', '.join(ORDER_STATES)}")
    bounds = []
    for name, (field, side) in TIME_FILTERS.items():
        if name in args:
            try:
                bounds.append((field, side, parse_time(args[name])))
            except ValueError:
                raise ValueError(f"{name} is not a date-time: {args[name]!r}") from None
    match = SORT_BY.match(args.get("sort_by", "updated_at.desc"))
    if not match:
        raise ValueError("sort_by must be updated_at or released_at, with .asc or .desc")
    return limit, states, bounds, match.group(1), match.group(3) != "asc"


def within(order, states, bounds):
    if states and order["state"] not in states:
        return False
    for field, side, limit in bounds:
        value = parse_time(order[field])
        if (value < limit) if side == "min" else (value > limit):
            return False
    return True


# -- the API -----------------------------------------------------------------------------

def authenticate(state):
    """The merchant app the Bearer token belongs to, or the error answer Wish gives."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    with state.lock:
        record = dict(tokens(state).get(token) or {}) if scheme.lower() == "bearer" else {}
    if not record:
        return None, error(400, UNAUTHORIZED, "No access token found or the app does not exist")
    if record["revoked"]:
        return None, error(400, TOKEN_REVOKED, "This access token has been revoked")
    if record["expires_at"] <= time.time():
        return None, error(400, TOKEN_EXPIRED, "This access token has expired")
    return record["client_id"], None


def api_blueprint(state):
    bp = Blueprint("wish_api", __name__, url_prefix="/api/v3")

    @bp.before_request
    def gate():
        fault = inject_faults(state, fault_answer)
        if fault is not None:
            return fault
        if request.endpoint in ("wish_api.refresh_token", "wish_api.access_token"):
            app_key = request.args.get("client_id") or (request.get_json(silent=True) or {}).get("client_id", "")
        else:
            app_key, failure = authenticate(state)
            if failure is not None:
                return failure
        wait = state.rate_wait(app_key)
        if wait:
            state.count("429")
            return rate_limited(wait)
        bucket = state.buckets.get(app_key)
        g.rate_remaining = int(bucket.tokens) if bucket is not None else UNLIMITED_REMAINING
        return None

    @bp.after_request
    def wish_headers(response):
        with state.lock:
            as_string = options(state)["code_type"] == "string"
        body = response.get_json(silent=True) if response.is_json else None
        if as_string and isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"]:
            response.set_data(json.dumps({**body, "code": str(body["code"])}))
        response.headers["Wish-Request-Id"] = uuid.uuid4().hex
        response.headers["Wish-Rate-Limit-Remaining"] = str(g.get("rate_remaining", UNLIMITED_REMAINING))
        with state.lock:
            opts = options(state)
            truncate = opts["truncate_next"] > 0
            if truncate:
                opts["truncate_next"] -= 1
        if truncate:
            body = response.get_data()
            response.set_data(body[:len(body) // 2])
        return response

    @bp.get("/oauth/refresh_token")
    def refresh_token():
        args = request.args
        if args.get("grant_type") != "refresh_token":
            return error(400, INVALID_PARAM, "grant_type must be set to 'refresh_token'")
        if (args.get("client_id"), args.get("client_secret")) != (DEFAULT_CREDENTIALS["client_id"],
                                                                  DEFAULT_CREDENTIALS["client_secret"]):
            return error(400, INVALID_CREDENTIALS,
                         "Incorrect credentials. client_id or client_secret does not match our records")
        with state.lock:
            known = args.get("refresh_token") in refresh_tokens(state)
        if not known:
            return error(400, UNAUTHORIZED, "Unauthorized access on this API")
        # "Existing access tokens will be revoked after calling this API."
        return envelope({**new_grant(state), "refresh_token": args["refresh_token"]})

    @bp.route("/oauth/access_token", methods=["GET", "POST"])
    def access_token():
        params = request.args if request.method == "GET" else request.get_json(silent=True)
        if not isinstance(params, dict) and request.method == "POST":
            return error(400, INVALID_PARAM, "Send the parameters as a JSON object")
        with state.lock:
            refused = redeem_code(state, params)
            if refused is not None:
                return refused
            refresh = "sim-wish-refresh-" + uuid.uuid4().hex
            refresh_tokens(state).add(refresh)
        return envelope({**new_grant(state), "refresh_token": refresh})

    @bp.get("/oauth/test")
    def test_token():
        return envelope({"merchant_id": MERCHANT_ID})

    @bp.get("/orders")
    def list_orders():
        try:
            limit, states, bounds, field, descending = list_filters(request.args)
        except ValueError as exc:
            return error(400, INVALID_PARAM, str(exc))
        with state.lock:
            found = [o for o in state.orders.values() if within(o, states, bounds)]
            found.sort(key=lambda o: (parse_time(o[field]), o["id"]), reverse=descending)
            return envelope(found[:limit])

    @bp.get("/orders/shipping_carriers")
    def shipping_carriers():
        return envelope([{"name": name} for name in SHIPPING_CARRIERS])

    @bp.get("/orders/<order_id>")
    def get_order(order_id):
        with state.lock:
            order = state.orders.get(order_id)
            return not_found(order_id) if order is None else envelope(order)

    @bp.get("/orders/<order_id>/refund_reasons")
    def refund_reasons(order_id):
        with state.lock:
            order = state.orders.get(order_id)
            if order is None:
                return not_found(order_id)
            return envelope(REFUND_REASONS.get(order["state"], []))

    @bp.put("/orders/<order_id>/tracking")
    def update_tracking(order_id):
        body = request.get_json(silent=True)
        with state.lock:
            order = state.orders.get(order_id)
            if order is None:
                return not_found(order_id)
            problem = tracking_problem(body)
            if problem is None and order["state"] not in WRITABLE_STATES["UPDATE_TRACKING"]:
                problem = f"Order {order_id} is {order['state']}: only APPROVED or SHIPPED orders take tracking"
            if problem:
                return error(400, INVALID_PARAM, problem)
            accept_write(state, order, "UPDATE_TRACKING", "tracking", body)
            return envelope(order)

    @bp.put("/orders/<order_id>/refund")
    def refund(order_id):
        body = request.get_json(silent=True)
        with state.lock:
            order = state.orders.get(order_id)
            if order is None:
                return not_found(order_id)
            problem = refund_problem(order, body)
            if problem:
                return error(400, INVALID_PARAM, problem)
            accept_write(state, order, "REFUND", "refund", body)
            return envelope(order)

    return bp


AUTHORIZE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize app · Wish (simulator)</title></head>
<body><h1>Authorize app</h1>
<p>An app (client id {client_id}) asks to read and update the orders of store {merchant}.</p>
<form method="post"><input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}"><input type="hidden" name="state" value="{state}">
<button type="submit" name="decision" value="approve">Authorize</button>
<button type="submit" name="decision" value="deny">Cancel</button></form></body></html>"""


def site_blueprint(state):
    """The merchant site's side of OAuth (not the API): the page a logged-in merchant sees."""
    bp = Blueprint("wish_site", __name__)

    def redirect_target(values):
        registered = options(state)["redirect_uri"]
        return registered or values.get("redirect_uri", "")

    @bp.get("/v3/oauth/authorize")
    def authorize_page():
        args = request.args
        if args.get("client_id") != DEFAULT_CREDENTIALS["client_id"]:
            return "No app has this client_id.", 400
        if not redirect_target(args):
            return "The app has no redirect URI.", 400
        fields = {name: html.escape(args.get(name, ""), quote=True) for name in ("client_id", "redirect_uri", "state")}
        return AUTHORIZE_PAGE.format(merchant=MERCHANT_ID, **fields)

    @bp.post("/v3/oauth/authorize")
    def authorize():
        form = request.form
        if form.get("client_id") != DEFAULT_CREDENTIALS["client_id"]:
            return "No app has this client_id.", 400
        target = redirect_target(form)
        if not target:
            return "The app has no redirect URI.", 400
        if form.get("decision") != "approve":
            # The simulator answers a refusal the way OAuth 2 (RFC 6749 4.1.2.1) does.
            query = {"error": "access_denied"}
        else:
            code = secrets.token_hex(16)
            with state.lock:
                state.extra.setdefault("auth_codes", {})[code] = {
                    "redirect_uri": target, "expires_at": time.time() + AUTH_CODE_SECONDS, "redeemed": False}
            query = {"code": code}
        if form.get("state"):
            query["state"] = form["state"]
        return redirect(target + ("&" if "?" in target else "?") + urlencode(query), 302)

    return bp


TOKEN_EVENTS = {"expire": lambda: {"expires_at": time.time() - 1}, "revoke": lambda: {"revoked": True}}


def sim_blueprint(state):
    """/_sim routes only Wish needs: processing and token knobs."""
    bp = Blueprint("wish_sim", __name__, url_prefix="/_sim")

    @bp.route("/options", methods=["GET", "POST"])
    def change_options():
        changes = request.get_json(force=True) if request.method == "POST" else {}
        with state.lock:
            opts = options(state)
            for key, value in (changes or {}).items():
                if key not in DEFAULT_OPTIONS:
                    return jsonify(error=f"unknown option {key}"), 400
                if key == "code_type" and value not in CODE_TYPES:
                    return jsonify(error=f"code_type must be one of {', '.join(CODE_TYPES)}"), 400
                opts[key] = type(DEFAULT_OPTIONS[key])(value)
            return jsonify(opts)

    @bp.post("/tokens")
    def change_tokens():
        body = request.get_json(force=True) or {}
        change = TOKEN_EVENTS.get(body.get("event"))
        if change is None:
            return jsonify(error=f"event must be one of {', '.join(TOKEN_EVENTS)}"), 400
        target = body.get("access_token")
        with state.lock:
            records = [record for token, record in tokens(state).items() if target in (None, token)]
            for record in records:
                record.update(change())
        return jsonify(changed=len(records))

    return bp


# -- marketplace-side events -------------------------------------------------------------

def cancelled_by_customer(order, stamp):
    order["state"] = "REFUNDED"
    order["refunds"].append({"refund_source": "CUSTOMER", "refund_reason": "Customer cancelled the order",
                             "refund_time": stamp,
                             "refund_amount": order["order_payment"]["general_payment_details"]["payment_total"]})


def delivered(order, stamp):
    if order["state"] != "SHIPPED":
        abort(400, description=f"order is {order['state']}: only a SHIPPED order can be delivered")
    add_record(order, "CONFIRMED_DELIVERED", stamp)


def re_released(order, stamp):
    if order["state"] not in ("SHIPPED", "REFUNDED"):
        abort(400, description=f"order is {order['state']}: only SHIPPED or REFUNDED orders are re-released")
    if order["tracking_information"]:
        add_record(order, "TRACKING_CANCELLED", stamp)
        order["tracking_information"] = []
    add_record(order, "ORDER_RE_RELEASED", stamp)
    order["state"] = "APPROVED"
    order["fulfillment_requirements"]["expected_ship_time"] = iso(utcnow() + timedelta(days=2))
    order.pop("processing_status", None)
    order.pop("processing_source", None)


EVENTS = {"cancel": cancelled_by_customer, "deliver": delivered, "re_release": re_released,
          "re-release": re_released}


def event(state, order_id, name):
    handler = EVENTS.get(name)
    if handler is None:
        abort(400, description=f"Wish has no {name!r} event; use one of {', '.join(EVENTS)}")
    order = state.orders[order_id]
    stamp = utcnow_iso()
    handler(order, stamp)
    order["updated_at"] = stamp


# -- generated orders --------------------------------------------------------------------

def object_id(rng):
    return "%024x" % rng.getrandbits(96)


def money(amount):
    return {"amount": round(amount, 2), "currency_code": "USD"}


def pick_state(rng):
    roll = rng.random()
    return "APPROVED" if roll < 0.8 else ("REQUIRE_REVIEW" if roll < 0.87 else "SHIPPED")


def new_order(rng, order_state, updated_at):
    now = utcnow()
    person = fake_person(rng, russian=rng.random() < 0.15)
    name, sku, price = fake_products(rng, 1)[0]
    quantity = rng.randint(1, 3)
    ship_by = fake_ship_by(rng, now)
    # Released after Wish's hold, and given 1-5 days to ship.
    released = min(ship_by - timedelta(hours=rng.uniform(24, 120)), now - timedelta(minutes=5))
    merchant_price = price * 0.85
    shipping = rng.choice([0.0, 1.99, 2.99, 3.49])
    country, phone_prefix = COUNTRY_NAMES[person["country"]]
    order = {
        "id": object_id(rng),
        "transaction_id": object_id(rng),
        "state": order_state,
        "released_at": iso(released),
        "updated_at": updated_at or utcnow_iso(),
        "product_information": {"id": object_id(rng), "variation_id": object_id(rng), "sku": sku, "name": name},
        "order_payment": {"general_payment_details": {
            "product_price": money(price), "product_quantity": quantity,
            "product_merchant_payment": money(merchant_price), "product_shipping_price": money(shipping),
            "shipping_merchant_payment": money(shipping * 0.85),
            "payment_total": money(quantity * (merchant_price + shipping * 0.85)),
        }},
        "full_address": {"shipping_detail": {
            "name": person["name"], "street_address1": person["address1"], "city": person["city"],
            "state": person["region"], "zipcode": person["postal_code"], "country_code": person["country"],
            "country": country, "phone_number": {"number": person["phone"], "country_code": phone_prefix},
        }},
        "fulfillment_requirements": {"expected_ship_time": iso(ship_by),
                                     "expected_delivery_time": iso(ship_by + timedelta(days=14))},
        "fulfillment_records": [{"event_type": "ORDER_RELEASED", "event_time": iso(released)}],
        "tracking_information": [],
        "refunds": [],
    }
    if order_state == "SHIPPED":
        provider = rng.choice(sorted(GENERATED_PROVIDERS))
        order["tracking_information"] = [{
            "tracking_number": fake_tracking_number(GENERATED_PROVIDERS[provider], rng),
            "shipping_provider": {"name": provider}, "origin_country": "US" if provider == "USPS" else "CN"}]
        shipped = released + (now - released) * rng.uniform(0.2, 0.9)
        add_record(order, "MARK_SHIPPED", iso(shipped))
    return order


def generate(state, count, order_state=None, updated_at=None):
    """Add `count` orders (order_state forces one state; updated_at one timestamp, e.g. to
    put several orders at the same moment) and return their ids."""
    if order_state is not None and order_state not in ORDER_STATES:
        abort(400, description=f"order_state must be one of {', '.join(ORDER_STATES)}")
    ids = []
    for _ in range(count):
        order = new_order(state.rng, order_state or pick_state(state.rng), updated_at)
        state.orders[order["id"]] = order
        ids.append(order["id"])
    return ids


def create_app(state):
    app = Flask(__name__)
    app.before_request(lambda: settle(state))
    app.register_blueprint(admin_blueprint(state, generate, event))
    app.register_blueprint(sim_blueprint(state))
    app.register_blueprint(api_blueprint(state))
    app.register_blueprint(site_blueprint(state))
    return app
