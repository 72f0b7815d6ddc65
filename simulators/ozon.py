"""Ozon Seller API simulator: FBS/rFBS postings (the seller's work) and FBO postings (Ozon's).

It answers like api-seller.ozon.ru on every call fulfil makes — same paths, `Client-Id` +
`Api-Key` headers, bodies, `{code, message, details}` errors, cursor and offset paging, the
asynchronous /v4/posting/fbs/ship — so the adapter meets Ozon's behaviour, not ours.
The contract is ../shared/marketplaces/specs/ozon-seller.openapi.json; the list methods
/v4/posting/fbs/list and /v3/posting/fbo/list are not in it and follow marketplaces/ozon.md.

Choices where Ozon's documents are silent or where the spec and Ozon disagree:
- Who carries a posting is its `tpl_integration_type` (the spec's v3FbsPostingDetail
  describes the four kinds; see SELLER_TRACKING, SELLER_REPORTS): "ozon" is FBS, the others
  rFBS. As on Ozon, only rFBS postings carry `customer` and `addressee`. Only a seller who
  books the carrier ("3pl_tracking", "non_integrated") sets tracking numbers, and only one
  who delivers himself ("non_integrated") reports delivering / last mile / delivered (the
  actions are named non_int_*). An "aggregator" posting gets Ozon's own tracking number
  when packed.
- Marked goods (generate(..., marked=True)): `available_actions` holds
  "ship_with_additional_info" and `requirements.products_requiring_mandatory_mark` the
  SKUs; /v4/posting/fbs/ship refuses them with the simulator's own POSTING_NEEDS_MARKS.
- Disputes: a posting not accepted at the sorting centre offers "arbitration"
  (/v2/posting/fbs/arbitration moves it to `arbitration`); an arbitration posting offers
  "awaiting_delivery" (/v2/posting/fbs/awaiting-delivery moves it to `awaiting_deliver`).
  Both answer {"result": true}. A repeat for a posting already there answers true again
  and changes nothing (logged "unchanged"); any other posting is refused with
  HAS_INCORRECT_STATUS and nothing is changed for any posting of the request.
- Cancel reasons per posting (/v1/posting/fbs/cancel-reason, which the spec names in the
  description of /v2/posting/fbs/cancel): 352, 400, 402 while not packed; once packed the
  goods exist, so 352 "out of stock" is no longer offered. /v2/posting/fbs/cancel takes only
  a reason offered for that posting.
- `customer`, `addressee` and `delivering_date` are null when empty, as in the spec's own
  examples and as Ozon sends them (its schemas, which do not allow null, are not followed).
- Money: the v4 list gives a product's price as Ozon's money object
  {"amount": "1390.0000", "currency": "RUB"} (the generated v4 models of other clients);
  the v3 methods in the spec give the string "1390.0000" beside `currency_code`.
- Packing runs in the background: while it runs `available_actions` holds
  "ship_async_in_process"; a failed run leaves the posting in awaiting_packaging with
  substatus "ship_failed" and the action "ship_async_retry" (both names are Ozon's).
- Per-item error strings of tracking-number/set, delivering and delivered, and the message
  for a missing cancel_reason_message, are the simulator's own: Ozon does not list them.
- Buyer cancellations carry reason 506; Ozon's buyer-side reason ids are not published.
- Conditional cancellations (/v1/conditional-cancellation/list|approve|reject) are not in
  the spec file either: they follow the public generated clients of Ozon's CancellationAPI
  (see the section "conditional cancellations" below for what is the simulator's own).

Simulator-only knobs, `POST /_sim/ozon/options` (reset with /_sim/reset):
    ship_delay          seconds a pack takes to settle (default 0.3)
    ship_fail_rate      share of packs that end in "ship_failed" (default 0)
    retry_after_header  send `retry-after` with 429 answers (Ozon sometimes does not)
    garble_next         cut the next N API answers in half (a torn connection)
"""
import base64
import binascii
import json
import math
import time
import zlib
from datetime import datetime, timedelta, timezone

from flask import Blueprint, Flask, Response, abort, jsonify, request

from simulators.common import (admin_blueprint, ended_periods, fake_person, fake_products, fake_ship_by,
                               inject_faults, iso, utcnow)

DEFAULT_CREDENTIALS = {"client_id": "836201", "api_key": "0b7c1f0e-5f8a-4c4e-9d7b-2f4a8e6c1d93"}

DEFAULT_OPTIONS = {"ship_delay": 0.3, "ship_fail_rate": 0.0, "retry_after_header": True,
                   "garble_next": 0}

RATE_LIMIT_MESSAGE = "You have reached request rate limit per second"
INVALID_KEY_MESSAGE = "Invalid Api-Key, please check the key and try again"
# Ozon's API is a gRPC gateway: `code` is the gRPC status behind the HTTP one.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13, 503: 14, 504: 4}
# A method under heavy load answers this until its circuit breaker closes again.
OUTAGE_MESSAGE = "Circle is open"

MAX_PERIOD = timedelta(days=365)
TRACKING_BATCH = 20
RUB_PER_USD = 92

SUBSTATUS = {
    "awaiting_registration": "posting_awaiting_registration",
    "acceptance_in_progress": "posting_acceptance_in_progress",
    "awaiting_approve": "posting_created",
    "awaiting_packaging": "posting_created",
    "awaiting_deliver": "posting_transferring_to_delivery",
    "driver_pickup": "posting_driver_pick_up",
    "delivering": "posting_on_way_to_city",
    "delivered": "posting_delivered",
    "cancelled": "posting_canceled",
    "not_accepted": "posting_not_in_sort_center",
    "arbitration": "posting_in_arbitration",
    "client_arbitration": "posting_in_client_arbitration",
}
# Packed or further along: packing it again is "already shipped".
PACKED = frozenset({"awaiting_deliver", "sent_by_seller", "driver_pickup", "delivering",
                         "delivered", "arbitration", "client_arbitration", "not_accepted"})
CANCELLABLE = frozenset({"awaiting_registration", "acceptance_in_progress", "awaiting_approve",
                         "awaiting_packaging", "awaiting_deliver"})
UNFULFILLED = frozenset({"awaiting_registration", "acceptance_in_progress", "awaiting_approve",
                         "awaiting_packaging", "awaiting_deliver", "arbitration",
                         "client_arbitration", "delivering", "driver_pickup", "not_accepted",
                         "sent_by_seller"})
# Reasons a seller may choose (/v2/posting/fbs/cancel-reason/list); 402 needs a message.
SELLER_CANCEL_REASONS = {352: "Товар закончился у продавца", 400: "Остался только бракованный товар",
                         402: "Другое (вина продавца)"}
OTHER_REASON = 402
OUT_OF_STOCK = 352
# tpl_integration_type (the spec's v3FbsPostingDetail): "ozon" Ozon logistics, "aggregator"
# an outside carrier Ozon registers the order with, "3pl_tracking" an outside carrier the
# seller registers it with, "non_integrated" the seller's own delivery.
SELLER_TRACKING = frozenset({"3pl_tracking", "non_integrated"})  # set_track_number
SELLER_REPORTS = frozenset({"non_integrated"})  # non_int_delivering / _last_mile / _delivered
# The rFBS kinds in a generated mix (an explicit scheme="rfbs" is "non_integrated").
RFBS_TPL_WEIGHTS = {"non_integrated": 6, "3pl_tracking": 2, "aggregator": 2}
MARKS_ACTION = "ship_with_additional_info"

FBS_STATUS_WEIGHTS = {"awaiting_packaging": 45, "awaiting_deliver": 15, "delivering": 10,
                      "driver_pickup": 2, "delivered": 12, "cancelled": 6, "arbitration": 2,
                      "client_arbitration": 1, "not_accepted": 2, "awaiting_registration": 3,
                      "acceptance_in_progress": 2}
FBO_STATUS_WEIGHTS = {"awaiting_packaging": 15, "awaiting_deliver": 15, "delivering": 25,
                      "delivered": 35, "cancelled": 10}
SCHEME_WEIGHTS = {"fbs": 5, "rfbs": 3, "fbo": 2}

FBS_METHOD = {"id": 21321684811000, "name": "Ozon Логистика самостоятельно, Красногорск",
              "warehouse_id": 21321684811000, "warehouse": "Склад Нахабино",
              "tpl_provider_id": 24, "tpl_provider": "Ozon Логистика"}
RFBS_METHODS = [
    {"id": 1020000089745000, "name": "Почта России, доставка продавцом", "warehouse_id": 1020000089745000,
     "warehouse": "Склад продавца, Казань", "tpl_provider_id": 1112, "tpl_provider": "Почта России"},
    {"id": 1020000089746000, "name": "СДЭК, доставка продавцом", "warehouse_id": 1020000089745000,
     "warehouse": "Склад продавца, Казань", "tpl_provider_id": 1113, "tpl_provider": "СДЭК"},
]
FBO_WAREHOUSES = [(15431806189000, "ХОРУГВИНО_РФЦ"), (22587128657000, "КАЗАНЬ_РФЦ_НОВЫЙ"),
                  (18044249781000, "СПБ_ШУШАРЫ_РФЦ")]


class ApiError(Exception):
    """An answer in Ozon's error shape, raised from any handler."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


# -- answers ------------------------------------------------------------------------------

def options(state):
    return state.extra.setdefault("options", dict(DEFAULT_OPTIONS))


def error_response(state, status, message, retry_after=None):
    """Ozon's error body; 429 and outages in Ozon's own words whatever the fault said."""
    if status == 429:
        response = jsonify(code=GRPC_CODES[429], message=RATE_LIMIT_MESSAGE)
        if retry_after is not None and options(state)["retry_after_header"]:
            response.headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    else:
        if status == 503:
            message = OUTAGE_MESSAGE
        response = jsonify(code=GRPC_CODES.get(status, 2), message=message, details=[])
    response.status_code = status
    return response


def _garbled(state, answer):
    """The answer cut in half when the garble knob is set, else None."""
    with state.lock:
        opts = options(state)
        if opts["garble_next"] <= 0:
            return None
        opts["garble_next"] -= 1
    text = json.dumps(answer, ensure_ascii=False)
    return Response(text[: len(text) // 2], status=200, mimetype="application/json")


def _api_call(state, handler):
    """Every API call: faults, auth, the account's rate limit, then the handler."""
    def view():
        faulted = inject_faults(state, lambda *a, **kw: error_response(state, *a, **kw))
        if faulted is not None:
            return faulted
        state.count("POST " + request.path)
        client_id, api_key = request.headers.get("Client-Id"), request.headers.get("Api-Key")
        if not client_id or not api_key:
            return error_response(state, 401, "Client-Id and Api-Key headers are required")
        if (client_id, api_key) != (DEFAULT_CREDENTIALS["client_id"], DEFAULT_CREDENTIALS["api_key"]):
            return error_response(state, 403, INVALID_KEY_MESSAGE)
        wait = state.rate_wait(client_id)
        if wait:
            state.count("429")
            return error_response(state, 429, RATE_LIMIT_MESSAGE, retry_after=wait)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error_response(state, 400, "request body must be a JSON object")
        try:
            with state.lock:
                answer = handler(state, body)
        except ApiError as exc:
            return error_response(state, exc.status, exc.message)
        return _garbled(state, answer) or jsonify(answer)

    view.__name__ = handler.__name__
    return view


# -- reading the store ----------------------------------------------------------------------

def _when(value):
    return datetime.fromisoformat(value)


def _public(posting, with_=None, money=False):
    """The posting as Ozon shows it: no simulator bookkeeping, analytics only when asked,
    prices as money objects where the method is a v4 list (`money`)."""
    shown = {k: v for k, v in posting.items() if not k.startswith("_")}
    if not (with_ or {}).get("analytics_data"):
        shown.pop("analytics_data", None)
    if money:
        shown["products"] = [_v4_product(p) for p in posting["products"]]
    return shown


def _v4_product(product):
    shown = {k: v for k, v in product.items() if k != "currency_code"}
    shown["price"] = {"amount": product["price"], "currency": product["currency_code"]}
    return shown


def _postings(state, fbo):
    return [p for p in state.orders.values() if (p["_scheme"] == "fbo") == fbo]


def _find(state, posting_number, fbo=False):
    posting = state.orders.get(posting_number)
    if posting is None or (posting["_scheme"] == "fbo") != fbo:
        raise ApiError(404, "POSTING_NOT_FOUND")
    return posting


def _period(filt, since_key="since", to_key="to"):
    try:
        since, to = _when(filt[since_key]), _when(filt[to_key])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, f"filter.{since_key} and filter.{to_key} must be RFC 3339 times")
    if to - since > MAX_PERIOD:
        raise ApiError(400, "PERIOD_IS_TOO_LONG")
    return since, to


def _limit(body, maximum):
    limit = body.get("limit")
    if not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise ApiError(400, f"limit must be between 1 and {maximum}")
    return limit


def _changed_within(posting, window):
    """filter.last_changed_status_date: when the posting last changed status."""
    if not window:
        return True
    changed = _when(posting["_changed_at"])
    return ((not window.get("from") or changed >= _when(window["from"]))
            and (not window.get("to") or changed <= _when(window["to"])))


def _select(postings, filt, date_key, statuses):
    since, to = _period(filt)
    window = filt.get("last_changed_status_date")
    return [p for p in postings
            if since <= _when(p[date_key]) <= to
            and (not statuses or p["status"] in statuses)
            and _changed_within(p, window)]


def _descending(body, key):
    return str(body.get(key) or "ASC").upper() == "DESC"


def _encode_cursor(key):
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor):
    try:
        date, posting_number = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return _when(date), posting_number
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise ApiError(400, "invalid cursor")


def _cursor_page(postings, body, date_key, maximum=100):
    """Keyset paging on (date, posting_number): a posting changing between pages is
    neither skipped nor repeated."""
    def key(posting):
        return _when(posting[date_key]), posting["posting_number"]

    limit = _limit(body, maximum)
    descending = _descending(body, "sort_dir")
    postings = sorted(postings, key=key, reverse=descending)
    if body.get("cursor"):
        after = _decode_cursor(body["cursor"])
        postings = [p for p in postings if (key(p) < after if descending else key(p) > after)]
    page, has_next = postings[:limit], len(postings) > limit
    cursor = _encode_cursor([page[-1][date_key], page[-1]["posting_number"]]) if has_next else ""
    return page, cursor, has_next


def _offset_page(postings, body, date_key):
    limit = _limit(body, 1000)
    offset = body.get("offset")
    if not isinstance(offset, int) or offset < 0:
        raise ApiError(400, "offset must be 0 or more")
    postings = sorted(postings, key=lambda p: (_when(p[date_key]), p["posting_number"]),
                      reverse=_descending(body, "dir"))
    return postings[offset:offset + limit], len(postings) > offset + limit


# -- read calls --------------------------------------------------------------------------------

def _cursor_list(state, body, fbo, date_field, money=False):
    """The v4 FBS and v3 FBO lists: the same filter and cursor paging over other postings."""
    filt = body.get("filter") or {}
    selected = _select(_postings(state, fbo=fbo), filt, date_field, set(filt.get("statuses") or ()))
    page, cursor, has_next = _cursor_page(selected, body, date_field)
    return {"postings": [_public(p, body.get("with"), money) for p in page], "cursor": cursor,
            "has_next": has_next}


def fbs_list_v4(state, body):
    return _cursor_list(state, body, fbo=False, date_field="in_process_at", money=True)


def fbs_list_v3(state, body):
    filt = body.get("filter") or {}
    statuses = {filt["status"]} if filt.get("status") else set()
    selected = _select(_postings(state, fbo=False), filt, "in_process_at", statuses)
    page, has_next = _offset_page(selected, body, "in_process_at")
    return {"result": {"postings": [_public(p, body.get("with")) for p in page], "has_next": has_next}}


def fbs_unfulfilled_list_v3(state, body):
    filt = body.get("filter") or {}
    by_cutoff = bool(filt.get("cutoff_from") or filt.get("cutoff_to"))
    by_delivering = bool(filt.get("delivering_date_from") or filt.get("delivering_date_to"))
    if by_cutoff == by_delivering:
        raise ApiError(400, "use either cutoff_from/cutoff_to or delivering_date_from/delivering_date_to")
    if by_cutoff:
        since, to = _period(filt, "cutoff_from", "cutoff_to")
        date_key = "shipment_date"
    else:
        since, to = _period(filt, "delivering_date_from", "delivering_date_to")
        date_key = "delivering_date"
    statuses = {filt["status"]} if filt.get("status") else UNFULFILLED
    selected = [p for p in _postings(state, fbo=False)
                if p["status"] in statuses and p.get(date_key) and since <= _when(p[date_key]) <= to]
    page, _ = _offset_page(selected, body, date_key)
    return {"result": {"postings": [_public(p, body.get("with")) for p in page], "count": len(selected)}}


def fbs_get_v3(state, body):
    posting = _public(_find(state, body.get("posting_number")), body.get("with"))
    posting.update(additional_data=[], provider_status="", delivery_price="")
    return {"result": posting}


def fbo_list_v3(state, body):
    return _cursor_list(state, body, fbo=True, date_field="created_at")


def fbo_get_v2(state, body):
    return {"result": _public(_find(state, body.get("posting_number"), fbo=True), body.get("with"))}


# -- write calls -------------------------------------------------------------------------------

def _actions(posting):
    """available_actions as Ozon derives them from the status and who carries the posting."""
    status, tpl = posting["status"], posting.get("tpl_integration_type")
    tracks = ["set_track_number"] if tpl in SELLER_TRACKING else []
    if status == "awaiting_packaging":
        return ["cancel", MARKS_ACTION if posting.get("_marked") else "ship_async"]
    if status == "awaiting_deliver":
        return ["cancel", *tracks, *(["non_int_delivering"] if tpl in SELLER_REPORTS else [])]
    if status == "delivering":
        return [*tracks, *(["non_int_delivered", "non_int_last_mile"] if tpl in SELLER_REPORTS else [])]
    if status == "not_accepted":
        return ["arbitration"]
    if status == "arbitration":
        return ["awaiting_delivery"]
    return []


def _cancel_reason_ids(posting):
    """The reasons /v1/posting/fbs/cancel-reason offers for this posting now."""
    if posting["_scheme"] == "fbo" or posting["status"] not in CANCELLABLE:
        return ()
    if posting["status"] == "awaiting_deliver":
        return tuple(i for i in SELLER_CANCEL_REASONS if i != OUT_OF_STOCK)
    return tuple(SELLER_CANCEL_REASONS)


def _set_status(posting, status, substatus=None):
    posting["status"] = status
    posting["_changed_at"] = iso(utcnow())
    if posting["_scheme"] == "fbo":  # FBO postings show no substatus and no actions
        return
    posting["substatus"] = substatus or SUBSTATUS.get(status, "")
    posting["available_actions"] = _actions(posting)
    if status in PACKED and posting.get("tpl_integration_type") == "aggregator" and not posting["tracking_number"]:
        # Ozon registers the parcel with its partner carrier and holds the number.
        posting["tracking_number"] = f"OZA{zlib.crc32(posting['posting_number'].encode()):010d}"
    if status == "delivering":
        posting["delivering_date"] = posting.get("delivering_date") or posting["_changed_at"]
    if status == "delivered":  # when the sale accrues (see finance_transaction_list)
        posting.setdefault("_delivered_at", posting["_changed_at"])


def fbs_ship_v4(state, body):
    """Packing: checked now, applied a moment later (see _settle_packing)."""
    posting = _find(state, body.get("posting_number"))
    jobs = state.extra.setdefault("ship_jobs", {})
    if posting["posting_number"] in jobs:
        # Already packing: Ozon accepts the repeat and does nothing more.
        state.log_write(posting["posting_number"], "ship", body, outcome="duplicate")
        return {"result": jobs[posting["posting_number"]]["postings"]}
    if posting["status"] == "cancelled":
        raise ApiError(400, "POSTING_ALREADY_CANCELLED")
    if posting["status"] in PACKED:
        raise ApiError(400, "POSTING_ALREADY_SHIPPED")
    if posting["status"] != "awaiting_packaging":
        raise ApiError(400, "HAS_INCORRECT_STATUS")
    if MARKS_ACTION in posting["available_actions"]:
        raise ApiError(400, "POSTING_NEEDS_MARKS")
    packages = _packages(posting, body.get("packages"))
    numbers = _split(state, posting, packages)
    state.log_write(posting["posting_number"], "ship", body, outcome="in_process")
    opts = options(state)
    jobs[posting["posting_number"]] = {
        "postings": numbers, "write": state.writes[-1],
        "due": time.monotonic() + opts["ship_delay"],
        "fail": state.rng.random() < opts["ship_fail_rate"]}
    for number in numbers:
        state.orders[number].update(substatus=SUBSTATUS["awaiting_packaging"],
                                    available_actions=["cancel", "ship_async_in_process"])
    answer = {"result": numbers}
    if (body.get("with") or {}).get("additional_data"):
        answer["additional_data"] = [{"posting_number": n, "products": state.orders[n]["products"]}
                                     for n in numbers]
    return answer


def _packages(posting, packages):
    """[[(sku, quantity), ...] per package], checked against what the posting holds."""
    if not isinstance(packages, list) or not packages:
        raise ApiError(400, "packages must not be empty")
    held = {p["sku"]: p["quantity"] for p in posting["products"]}
    packed = {}
    result = []
    for package in packages:
        items = []
        for product in (package or {}).get("products") or []:
            sku, quantity = product.get("product_id"), product.get("quantity")
            if sku not in held:
                raise ApiError(400, "UNKNOWN_PRODUCT")
            if not isinstance(quantity, int) or quantity < 1:
                raise ApiError(400, "HAS_INCORRECT_PRODUCT_QUANTITY")
            packed[sku] = packed.get(sku, 0) + quantity
            items.append((sku, quantity))
        if not items:
            raise ApiError(400, "package has no products")
        result.append(items)
    if packed != held:
        raise ApiError(400, "HAS_INCORRECT_PRODUCT_QUANTITY")
    return result


def _split(state, posting, packages):
    """Several packages split the posting: the first keeps its number, each further package
    becomes a new posting of the same order. Returns every posting number."""
    by_sku = {p["sku"]: p for p in posting["products"]}

    def products(items):
        return [dict(by_sku[sku], quantity=quantity) for sku, quantity in items]

    posting["products"] = products(packages[0])
    numbers = [posting["posting_number"]]
    for items in packages[1:]:
        number = _free_posting_number(state, posting["order_number"])
        state.orders[number] = dict(posting, posting_number=number, products=products(items),
                                    parent_posting_number=posting["posting_number"])
        numbers.append(number)
    return numbers


def _settle_packing(state):
    """Finish the packs whose time has come: awaiting_deliver, or "ship_failed"."""
    with state.lock:
        jobs = state.extra.get("ship_jobs") or {}
        now = time.monotonic()
        for number, job in list(jobs.items()):
            if job["due"] > now:
                continue
            del jobs[number]
            outcome = "ship_failed" if job["fail"] else "applied"
            for each in job["postings"]:
                posting = state.orders.get(each)
                if posting is None or posting["status"] != "awaiting_packaging":
                    outcome = "overtaken"  # cancelled (or reset) while packing
                    continue
                if job["fail"]:
                    posting["substatus"] = "ship_failed"
                    posting["available_actions"] = ["cancel", "ship_async_retry"]
                else:
                    _set_status(posting, "awaiting_deliver")
            job["write"]["outcome"] = outcome


def tracking_number_set(state, body):
    pairs = body.get("tracking_numbers")
    if not isinstance(pairs, list) or not 1 <= len(pairs) <= TRACKING_BATCH:
        raise ApiError(400, f"tracking_numbers must hold 1 to {TRACKING_BATCH} items")
    results = []
    for pair in pairs:
        number, tracking = (pair or {}).get("posting_number"), (pair or {}).get("tracking_number")
        posting = state.orders.get(number)
        if posting is None or posting["_scheme"] == "fbo":
            error = "POSTING_NOT_FOUND"
        elif not tracking or not isinstance(tracking, str):
            error = "INVALID_TRACKING_NUMBER"
        elif "set_track_number" not in posting["available_actions"]:
            error = "HAS_INCORRECT_STATUS"
        else:
            error = ""
            posting["tracking_number"] = tracking
            state.log_write(number, "tracking-number/set", pair)
        results.append({"posting_number": number, "result": not error, "error": error})
    return {"result": results}


def _move(state, body, call, action, to_status, substatus=None):
    """delivering / delivered: per-item results; out-of-order moves fail one by one."""
    numbers = body.get("posting_number")
    if not isinstance(numbers, list) or not numbers:
        raise ApiError(400, "posting_number must list at least one posting")
    results = []
    for number in numbers:
        posting = state.orders.get(number)
        if posting is None or posting["_scheme"] == "fbo":
            error = "POSTING_NOT_FOUND"
        elif action not in posting["available_actions"]:
            error = "TRANSITION_IS_NOT_POSSIBLE"
        else:
            error = ""
            _set_status(posting, to_status, substatus)
            state.log_write(number, call, {"posting_number": [number]})
        results.append({"posting_number": number, "result": not error, "error": error})
    return {"result": results}


def fbs_delivering(state, body):
    return _move(state, body, "delivering", "non_int_delivering", "delivering")


def fbs_delivered(state, body):
    # A seller's own delivery is "conditionally delivered" until the buyer confirms.
    return _move(state, body, "delivered", "non_int_delivered", "delivered",
                 "posting_conditionally_delivered")


def fbs_cancel(state, body):
    posting = _find(state, body.get("posting_number"))
    reason_id, message = body.get("cancel_reason_id"), body.get("cancel_reason_message") or ""
    if posting["status"] == "cancelled":
        raise ApiError(400, "POSTING_ALREADY_CANCELLED")
    if posting["status"] not in CANCELLABLE:
        raise ApiError(400, "HAS_INCORRECT_STATUS")
    if reason_id not in _cancel_reason_ids(posting):
        raise ApiError(400, "HAS_INCORRECT_CANCEL_REASON")
    if reason_id == OTHER_REASON and not message.strip():
        raise ApiError(400, "CANCEL_REASON_MESSAGE_REQUIRED")
    posting["cancellation"] = {
        "cancel_reason_id": reason_id, "cancel_reason": SELLER_CANCEL_REASONS[reason_id],
        "cancellation_type": "seller", "cancellation_initiator": "Продавец",
        "cancelled_after_ship": posting["status"] != "awaiting_packaging",
        "affect_cancellation_rating": reason_id != OTHER_REASON}
    _set_status(posting, "cancelled")
    state.log_write(posting["posting_number"], "cancel", body)
    return {"result": True}


def _dispute_move(state, body, call, action, to_status, already):
    """arbitration / awaiting-delivery: all postings or none; a repeat changes nothing."""
    numbers = body.get("posting_number")
    if not isinstance(numbers, list) or not 1 <= len(numbers) <= 100 or \
            not all(isinstance(n, str) for n in numbers):
        raise ApiError(400, "posting_number must list 1 to 100 postings")
    postings = [_find(state, number) for number in numbers]
    for posting in postings:
        if action not in posting["available_actions"] and not already(posting):
            raise ApiError(400, "HAS_INCORRECT_STATUS")
    for posting in postings:
        number = posting["posting_number"]
        if already(posting):
            state.log_write(number, call, {"posting_number": [number]}, outcome="unchanged")
            continue
        _set_status(posting, to_status)
        posting[f"_{action}"] = True
        state.log_write(number, call, {"posting_number": [number]})
    return {"result": True}


def fbs_arbitration(state, body):
    return _dispute_move(state, body, "arbitration", "arbitration", "arbitration",
                         lambda p: p["status"] == "arbitration")


def fbs_awaiting_delivery(state, body):
    return _dispute_move(state, body, "awaiting-delivery", "awaiting_delivery", "awaiting_deliver",
                         lambda p: p["status"] == "awaiting_deliver" and p.get("_awaiting_delivery"))


def fbs_cancel_reason(state, body):
    """Reasons a seller may give for each posting asked about (unknown ones are left out)."""
    numbers = body.get("related_posting_numbers")
    if not isinstance(numbers, list) or not numbers or not all(isinstance(n, str) for n in numbers):
        raise ApiError(400, "related_posting_numbers must list posting numbers")
    result = []
    for number in numbers:
        posting = state.orders.get(number)
        if posting is None or posting["_scheme"] == "fbo":
            continue
        result.append({"posting_number": number, "reasons": [
            {"id": i, "title": SELLER_CANCEL_REASONS[i], "type_id": "seller"} for i in _cancel_reason_ids(posting)]})
    return {"result": result}


ROUTES = {
    "/v4/posting/fbs/list": fbs_list_v4,
    "/v3/posting/fbs/list": fbs_list_v3,
    "/v3/posting/fbs/unfulfilled/list": fbs_unfulfilled_list_v3,
    "/v3/posting/fbs/get": fbs_get_v3,
    "/v3/posting/fbo/list": fbo_list_v3,
    "/v2/posting/fbo/get": fbo_get_v2,
    "/v4/posting/fbs/ship": fbs_ship_v4,
    "/v2/fbs/posting/tracking-number/set": tracking_number_set,
    "/v2/fbs/posting/delivering": fbs_delivering,
    "/v2/fbs/posting/delivered": fbs_delivered,
    "/v2/posting/fbs/cancel": fbs_cancel,
    "/v1/posting/fbs/cancel-reason": fbs_cancel_reason,
    "/v2/posting/fbs/arbitration": fbs_arbitration,
    "/v2/posting/fbs/awaiting-delivery": fbs_awaiting_delivery,
}


# -- marketplace-side events -----------------------------------------------------------------

def event(state, posting_number, name):
    """What Ozon or the buyer does: cancel, deliver, dispute (arbitration), not_accepted."""
    posting = state.orders[posting_number]
    fbo = posting["_scheme"] == "fbo"
    if name == "cancel":
        if fbo:
            posting["cancel_reason_id"] = 506
        else:
            posting["cancellation"] = {
                "cancel_reason_id": 506, "cancel_reason": "Покупатель отменил заказ",
                "cancellation_type": "client", "cancellation_initiator": "Клиент",
                "cancelled_after_ship": posting["status"] in PACKED,
                "affect_cancellation_rating": False}
        _set_status(posting, "cancelled")
    elif name == "deliver":
        _set_status(posting, "delivered")
    elif name == "dispute" and not fbo:
        _set_status(posting, "arbitration")
    elif name == "not_accepted" and not fbo:
        _set_status(posting, "not_accepted")
    elif name == "request_cancellation":  # an rFBS buyer asks to cancel (see request_cancellation)
        request_cancellation(state, posting)
    else:
        abort(400, f"unknown event {name!r} for this posting")


# -- generated postings ----------------------------------------------------------------------

def _ozon_sku(offer_id):
    """Ozon's own product number, stable per seller article."""
    return 140000000 + zlib.crc32(offer_id.encode()) % 800000000


def _products(rng, count):
    return [{"price": f"{max(90, round(usd * RUB_PER_USD, -1) - 10):.4f}", "currency_code": "RUB",
             "offer_id": offer_id, "name": name, "sku": _ozon_sku(offer_id),
             "quantity": rng.choices([1, 2, 3], weights=[8, 2, 1])[0]}
            for name, offer_id, usd in fake_products(rng, count)]


def _free_posting_number(state, order_number):
    part = 1
    while f"{order_number}-{part}" in state.orders:
        part += 1
    return f"{order_number}-{part}"


def _new_order(state, now):
    rng = state.rng
    while True:
        order_number = f"{rng.randint(0, 99999999):08d}-{rng.randint(1, 9999):04d}"
        if f"{order_number}-1" not in state.orders:
            break
    ship_by = fake_ship_by(rng, now)
    return {"order_id": rng.randint(100000000, 999999999), "order_number": order_number,
            "ship_by": ship_by, "in_process_at": min(ship_by, now) - timedelta(hours=rng.uniform(1, 30)),
            "buyer": fake_person(rng, russian=True)}


def _fbs_posting(state, order, scheme, status, products, tpl="non_integrated", marked=False):
    rng, buyer = state.rng, order["buyer"]
    rfbs = scheme == "rfbs"
    posting = {
        "posting_number": _free_posting_number(state, order["order_number"]),
        "order_id": order["order_id"], "order_number": order["order_number"],
        "delivery_method": dict(rng.choice(RFBS_METHODS) if rfbs else FBS_METHOD),
        "tracking_number": "", "tpl_integration_type": tpl if rfbs else "ozon",
        "delivering_date": None, "customer": None, "addressee": None,
        "in_process_at": iso(order["in_process_at"]), "shipment_date": iso(order["ship_by"]),
        "cancellation": {"cancel_reason_id": 0, "cancel_reason": "", "cancellation_type": "",
                         "cancelled_after_ship": False, "affect_cancellation_rating": False,
                         "cancellation_initiator": ""},
        "products": products, "is_express": not rfbs and rng.random() < 0.05,
        "is_multibox": False, "multi_box_qty": 1,
        "analytics_data": {"region": buyer["region"], "city": buyer["city"],
                           "delivery_type": "Courier" if rfbs else rng.choice(["PVZ", "Courier"]),
                           "is_premium": rng.random() < 0.1, "payment_type_group_name": "картой онлайн",
                           "warehouse_id": FBS_METHOD["warehouse_id"], "warehouse": FBS_METHOD["warehouse"],
                           "is_legal": False},
        "requirements": {"products_requiring_gtd": [], "products_requiring_country": [],
                         "products_requiring_mandatory_mark": [str(p["sku"]) for p in products] if marked else [],
                         "products_requiring_jw_uin": [], "products_requiring_rnpt": []},
        "_scheme": scheme, "_marked": marked,
    }
    if rfbs:
        posting["customer"] = {
            "customer_id": rng.randint(10000000, 99999999), "name": buyer["name"], "phone": buyer["phone"],
            "address": {"address_tail": f"{buyer['postal_code']}, {buyer['region']}, {buyer['city']}, "
                                        f"{buyer['address1']}",
                        "city": buyer["city"], "region": buyer["region"], "zip_code": buyer["postal_code"],
                        "country": "Россия", "comment": ""}}
        posting["addressee"] = {"name": buyer["name"], "phone": buyer["phone"]}
        if status in PACKED - {"awaiting_deliver"} and tpl in SELLER_TRACKING:
            posting["tracking_number"] = f"800{rng.randint(10**10, 10**11 - 1)}"
    _set_status(posting, status)
    if status == "cancelled":
        posting["cancellation"].update(cancel_reason_id=352, cancel_reason=SELLER_CANCEL_REASONS[352],
                                       cancellation_type="seller", cancellation_initiator="Продавец")
    return posting


def _fbo_posting(state, order, status, products):
    rng, buyer = state.rng, order["buyer"]
    warehouse_id, warehouse_name = rng.choice(FBO_WAREHOUSES)
    posting = {
        "posting_number": _free_posting_number(state, order["order_number"]),
        "order_id": order["order_id"], "order_number": order["order_number"],
        "cancel_reason_id": 0, "created_at": iso(order["in_process_at"]),
        "in_process_at": iso(order["in_process_at"]),
        "products": [dict(p, digital_codes=[], is_marketplace_buyout=False) for p in products],
        "analytics_data": {"city": buyer["city"], "delivery_type": rng.choice(["PVZ", "Courier"]),
                           "is_premium": rng.random() < 0.1, "payment_type_group_name": "картой онлайн",
                           "warehouse_id": warehouse_id, "warehouse_name": warehouse_name, "is_legal": False},
        "additional_data": [],
        "_scheme": "fbo",
    }
    _set_status(posting, status)
    return posting


def generate(state, count, scheme=None, status=None, lines=None, tpl_integration_type=None,
             marked=False):
    """Add `count` postings; returns their posting numbers.

    scheme: "fbs" | "rfbs" | "fbo" (default: a realistic mix); status: force one raw status
    (any string, so tests can play statuses Ozon adds later); lines: products per posting;
    tpl_integration_type: who carries an rFBS posting (default "non_integrated" for
    scheme="rfbs", a mix otherwise; any string, to play kinds Ozon adds later); marked:
    goods that need "Честный ЗНАК" codes before packing.
    One order in five is split into two or three postings of the same order_number.
    """
    rng, now = state.rng, utcnow()
    numbers = []
    while len(numbers) < count:
        chosen = scheme or rng.choices(list(SCHEME_WEIGHTS), weights=list(SCHEME_WEIGHTS.values()))[0]
        weights = FBO_STATUS_WEIGHTS if chosen == "fbo" else FBS_STATUS_WEIGHTS
        parts = rng.choice([2, 2, 3]) if rng.random() < 0.2 else 1
        order = _new_order(state, now)
        for _ in range(min(parts, count - len(numbers))):
            raw_status = status or rng.choices(list(weights), weights=list(weights.values()))[0]
            products = _products(rng, lines or rng.choices([1, 2, 3], weights=[6, 3, 1])[0])
            if chosen == "fbo":
                posting = _fbo_posting(state, order, raw_status, products)
            else:
                tpl = tpl_integration_type or ("non_integrated" if scheme else rng.choices(
                    list(RFBS_TPL_WEIGHTS), weights=list(RFBS_TPL_WEIGHTS.values()))[0])
                posting = _fbs_posting(state, order, chosen, raw_status, products, tpl, bool(marked))
            state.orders[posting["posting_number"]] = posting
            numbers.append(posting["posting_number"])
    return numbers


# -- conditional cancellations (rFBS buyers ask to cancel) ----------------------------------
# Not in the spec file: the shapes follow Ozon's CancellationAPI as the public generated
# clients describe it (v1ConditionalCancellation, v1ConditionalCancellationMoveRequest,
# list filters {state, posting_number}, limit/offset, with.counter). Ozon has since added v2
# twins of these paths; fulfil speaks v1. The simulator's own choices: the buyer's reason
# ids (Ozon does not publish them), the answer {} to approve/reject, the error messages
# for deciding a request that is not ON_APPROVAL or unknown, and the clock of 48 hours
# after which an undecided request is approved automatically (approve_comment says so).

CANCELLATION_STATES = {"ON_APPROVAL": "На согласовании", "APPROVED": "Подтверждена", "REJECTED": "Отклонена"}
BUYER_CANCELLATION_REASONS = {503: "Покупатель передумал", 504: "Нашёл дешевле", 505: "Долгая доставка"}
AUTO_APPROVE_AFTER = timedelta(hours=48)
CANCELLATION_PAGE = 500
AUTO_APPROVE_COMMENT = "Заявка подтверждена автоматически"


def _cancellations(state):
    return state.extra.setdefault("cancellations", {})


def request_cancellation(state, posting, reason_id=503, message="", now=None):
    """The buyer asks to cancel an rFBS posting: a request ON_APPROVAL for 48 hours."""
    if posting["_scheme"] == "fbo" or posting.get("tpl_integration_type") == "ozon":
        abort(400, "conditional cancellations exist for rFBS postings only")
    if posting["status"] in ("cancelled", "delivered"):
        abort(400, f"the posting is {posting['status']}")
    requests_ = _cancellations(state)
    if any(r["posting_number"] == posting["posting_number"] and r["state"]["state"] == "ON_APPROVAL"
           for r in requests_.values()):
        abort(400, "the posting has a request on approval already")
    now = now or utcnow()
    cancellation_id = 7000000 + len(requests_) + 1
    requests_[cancellation_id] = {
        "cancellation_id": cancellation_id, "posting_number": posting["posting_number"],
        "cancellation_reason": {"id": reason_id, "name": BUYER_CANCELLATION_REASONS.get(reason_id, "Другое")},
        "cancellation_reason_message": message, "cancellation_initiator": "CLIENT",
        "cancelled_at": iso(now), "state": _cancellation_state("ON_APPROVAL"),
        "auto_approve_date": iso(now + AUTO_APPROVE_AFTER), "approve_comment": "", "approve_date": None,
        "order_date": posting.get("in_process_at"), "tpl_integration_type": posting.get("tpl_integration_type")}
    return cancellation_id


def _cancellation_state(name):
    return {"id": list(CANCELLATION_STATES).index(name) + 1, "name": CANCELLATION_STATES[name], "state": name}


def _decide(state, request_, decision, comment, now=None):
    request_["state"] = _cancellation_state(decision)
    request_["approve_comment"], request_["approve_date"] = comment, iso(now or utcnow())
    if decision == "APPROVED":
        posting = state.orders.get(request_["posting_number"])
        if posting is not None and posting["status"] not in ("cancelled", "delivered"):
            posting["cancellation"] = {
                "cancel_reason_id": request_["cancellation_reason"]["id"],
                "cancel_reason": request_["cancellation_reason"]["name"], "cancellation_type": "client",
                "cancellation_initiator": "Клиент", "cancelled_after_ship": posting["status"] in PACKED,
                "affect_cancellation_rating": False}
            _set_status(posting, "cancelled")


def settle_cancellations(state, now=None):
    """An undecided request past its auto_approve_date is approved, as Ozon does."""
    now = now or utcnow()
    with state.lock:
        for request_ in _cancellations(state).values():
            if request_["state"]["state"] == "ON_APPROVAL" and _when(request_["auto_approve_date"]) <= now:
                _decide(state, request_, "APPROVED", AUTO_APPROVE_COMMENT, now)


def conditional_cancellation_list(state, body):
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise ApiError(400, "filters must be an object")
    wanted = filters.get("state") or "ALL"
    if wanted != "ALL" and wanted not in CANCELLATION_STATES:
        raise ApiError(400, "filters.state must be ALL, ON_APPROVAL, APPROVED or REJECTED")
    numbers = filters.get("posting_number")
    if numbers is not None and (not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers)):
        raise ApiError(400, "filters.posting_number must list posting numbers")
    limit, offset = body.get("limit"), body.get("offset", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= CANCELLATION_PAGE:
        raise ApiError(400, f"limit must be 1 to {CANCELLATION_PAGE}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ApiError(400, "offset must be 0 or more")
    every = sorted(_cancellations(state).values(), key=lambda r: r["cancellation_id"])
    if numbers:
        every = [r for r in every if r["posting_number"] in numbers]
    selected = [r for r in every if wanted == "ALL" or r["state"]["state"] == wanted]
    answer = {"result": [dict(r, state=dict(r["state"])) for r in selected[offset:offset + limit]],
              "total": len(selected)}
    if (body.get("with") or {}).get("counter"):
        answer["counters"] = {name.lower(): sum(r["state"]["state"] == name for r in every)
                              for name in CANCELLATION_STATES}
    return answer


def _move_cancellation(state, body, decision, call):
    cancellation_id, comment = body.get("cancellation_id"), body.get("comment", "")
    if not isinstance(cancellation_id, int) or isinstance(cancellation_id, bool):
        raise ApiError(400, "cancellation_id must be an integer")
    if not isinstance(comment, str):
        raise ApiError(400, "comment must be a string")
    request_ = _cancellations(state).get(cancellation_id)
    if request_ is None:
        raise ApiError(404, "CANCELLATION_NOT_FOUND")
    if request_["state"]["state"] != "ON_APPROVAL":
        raise ApiError(400, "CANCELLATION_IS_NOT_ON_APPROVAL")
    if decision == "REJECTED" and not comment.strip():
        raise ApiError(400, "comment is required to reject a cancellation")
    _decide(state, request_, decision, comment)
    state.log_write(request_["posting_number"], call, body)
    return {}


def conditional_cancellation_approve(state, body):
    return _move_cancellation(state, body, "APPROVED", "conditional-cancellation/approve")


def conditional_cancellation_reject(state, body):
    return _move_cancellation(state, body, "REJECTED", "conditional-cancellation/reject")


CANCELLATION_ROUTES = {
    "/v1/conditional-cancellation/list": conditional_cancellation_list,
    "/v1/conditional-cancellation/approve": conditional_cancellation_approve,
    "/v1/conditional-cancellation/reject": conditional_cancellation_reject,
}


def _cancellations_blueprint(state):
    """POST /_sim/ozon/cancellations/<id>/due {"hours": -1}: move a request's auto_approve_date
    (to see automatic approval without waiting 48 hours)."""
    bp = Blueprint("ozon_sim_cancellations", __name__, url_prefix="/_sim/ozon/cancellations")

    @bp.post("/<int:cancellation_id>/due")
    def due(cancellation_id):
        hours = float((request.get_json(force=True) or {}).get("hours", 0))
        with state.lock:
            request_ = _cancellations(state).get(cancellation_id)
            if request_ is None:
                return jsonify(error="no such cancellation request"), 404
            request_["auto_approve_date"] = iso(utcnow() + timedelta(hours=hours))
        settle_cancellations(state)
        return jsonify(request_)

    return bp


# -- the app ---------------------------------------------------------------------------------

def _options_blueprint(state):
    bp = Blueprint("ozon_sim_options", __name__, url_prefix="/_sim/ozon")

    @bp.route("/options", methods=["GET", "POST"])
    def set_options():
        with state.lock:
            opts = options(state)
            if request.method == "POST":
                for key, value in (request.get_json(force=True) or {}).items():
                    if key not in DEFAULT_OPTIONS:
                        return jsonify(error=f"unknown option {key}"), 400
                    opts[key] = type(DEFAULT_OPTIONS[key])(value)
            return jsonify(opts)

    return bp


def create_app(state):
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    # Packs settle when their time has come, seen by whatever asks next (API or /_sim).
    app.before_request(lambda: _settle_packing(state))
    app.before_request(lambda: settle_cancellations(state))
    app.register_blueprint(admin_blueprint(state, generate, event))
    app.register_blueprint(_options_blueprint(state))
    app.register_blueprint(_cancellations_blueprint(state))
    for path, handler in {**ROUTES, **CANCELLATION_ROUTES}.items():
        app.add_url_rule(path, view_func=_api_call(state, handler), methods=["POST"])

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_found(exc):
        return error_response(state, 404, "Not Found")

    return app


# -- finance: /v3/finance/transaction/list ---------------------------------------------------
# Not in specs/ozon-seller.openapi.json; the request and the operation's fields follow Ozon's
# FinanceTransactionListV3 schema (docs.ozon.ru/api/seller, FinanceAPI_FinanceTransactionListV3):
# filter {date {from, to}, operation_type [], posting_number, transaction_type}, page,
# page_size (at most 1000), one month at most per request; result {operations, page_count,
# row_count}. Simulator choices, consistent with the postings it holds:
# - each delivered posting (FBS, rFBS or FBO) accrues once, at `_delivered_at`, one
#   "OperationAgentDeliveredToCustomer" (type "orders"): accruals_for_sale = the products'
#   price x quantity, sale_commission = -15 % of it (COMMISSION_RATE; Ozon's rate depends on
#   the category), logistics as the service "MarketplaceServiceItemDirectFlowLogistic"
#   (-5 % of the sale, at least 50 RUB); amount = accruals + commission + services;
# - payouts twice a month (see simulators.common.half_month): at the end of each period with
#   sales, one operation of type "other", operation_type "MarketplaceSellerPayoutOperation"
#   (the simulator's own name: Ozon reports payouts in its cash-flow statement, not here),
#   dated the payout day, no posting, amount = minus the period's amounts (the money leaves
#   the Ozon balance for the seller's bank).
COMMISSION_RATE = 0.15
LOGISTICS_RATE, LOGISTICS_MIN = 0.05, 50.0
FINANCE_PERIOD = timedelta(days=31)
TRANSACTION_TYPES = ("all", "orders", "returns", "services", "compensation", "transferDelivery", "other")
PAYOUT = "MarketplaceSellerPayoutOperation"


def _op_time(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _sale_operation(posting):
    sale = round(sum(float(p["price"]) * p["quantity"] for p in posting["products"]), 2)
    commission = -round(sale * COMMISSION_RATE, 2)
    logistics = -round(max(LOGISTICS_MIN, sale * LOGISTICS_RATE), 2)
    delivered = _when(posting["_delivered_at"])
    return {
        "operation_id": 10**10 + zlib.crc32(posting["posting_number"].encode()),
        "operation_type": "OperationAgentDeliveredToCustomer",
        "operation_date": _op_time(delivered), "operation_type_name": "Доставка покупателю",
        "delivery_charge": 0, "return_delivery_charge": 0,
        "accruals_for_sale": sale, "sale_commission": commission,
        "amount": round(sale + commission + logistics, 2), "type": "orders",
        "posting": {"delivery_schema": posting["_scheme"].upper(), "order_date": posting["in_process_at"][:10],
                    "posting_number": posting["posting_number"],
                    "warehouse_id": FBS_METHOD["warehouse_id"]},
        "items": [{"name": p["name"], "sku": p["sku"]} for p in posting["products"]],
        "services": [{"name": "MarketplaceServiceItemDirectFlowLogistic", "price": logistics}],
        "_at": delivered,
    }


def _payout_operation(start, end, sales):
    return {
        "operation_id": 2 * 10**10 + int(start.strftime("%Y%m%d")),
        "operation_type": PAYOUT, "operation_date": _op_time(end),
        "operation_type_name": "Выплата продавцу", "delivery_charge": 0, "return_delivery_charge": 0,
        "accruals_for_sale": 0, "sale_commission": 0,
        "amount": -round(sum(op["amount"] for op in sales), 2), "type": "other",
        "posting": {"delivery_schema": "", "order_date": "", "posting_number": "", "warehouse_id": 0},
        "items": [], "services": [], "_at": end,
    }


def finance_operations(state):
    """Every operation the postings have made so far, oldest first."""
    sales = [_sale_operation(p) for p in state.orders.values()
             if p["status"] == "delivered" and p.get("_delivered_at")]
    now = utcnow()
    sales = [op for op in sales if op["_at"] <= now]
    payouts = [_payout_operation(start, end, [sales[i] for i in indexes])
               for (start, end), indexes in ended_periods([op["_at"] for op in sales], now).items()]
    return sorted(sales + payouts, key=lambda op: (op["_at"], op["operation_id"]))


def finance_transaction_list(state, body):
    filt = body.get("filter")
    if not isinstance(filt, dict) or not isinstance(filt.get("date"), dict):
        raise ApiError(400, "filter.date is required")
    since, to = _finance_period(filt["date"])
    kind = filt.get("transaction_type") or "all"
    if kind not in TRANSACTION_TYPES:
        raise ApiError(400, f"filter.transaction_type must be one of {', '.join(TRANSACTION_TYPES)}")
    page, size = body.get("page"), body.get("page_size")
    if not isinstance(page, int) or page < 1:
        raise ApiError(400, "page must be a positive integer")
    if not isinstance(size, int) or not 1 <= size <= 1000:
        raise ApiError(400, "page_size must be between 1 and 1000")
    number, types = filt.get("posting_number") or "", filt.get("operation_type") or []
    chosen = [op for op in finance_operations(state)
              if since <= op["_at"] <= to and (kind == "all" or op["type"] == kind)
              and (not number or op["posting"]["posting_number"] == number)
              and (not types or op["operation_type"] in types)]
    shown = [{k: v for k, v in op.items() if k != "_at"} for op in chosen[(page - 1) * size: page * size]]
    return {"result": {"operations": shown, "page_count": math.ceil(len(chosen) / size),
                       "row_count": len(chosen)}}


def _finance_period(date):
    try:
        since, to = _when(date["from"]), _when(date["to"])
        since, to = since.astimezone(timezone.utc), to.astimezone(timezone.utc)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ApiError(400, "filter.date.from and filter.date.to must be RFC 3339 times")
    if to < since:
        raise ApiError(400, "filter.date.to is before filter.date.from")
    if to - since > FINANCE_PERIOD:
        raise ApiError(400, "PERIOD_IS_TOO_LONG: at most one month per request")
    return since, to


ROUTES["/v3/finance/transaction/list"] = finance_transaction_list
