"""Ozon Seller API: FBS/rFBS postings (the seller's work) and FBO postings (read-only).

One fulfil order is one Ozon posting (external_id = posting_number); postings split from
one buyer's order share its order_number. FBS or rFBS is told by `tpl_integration_type`:
"ozon" means Ozon's logistics carries the posting (FBS), anything else means the seller
delivers (rFBS) — only rFBS takes tracking numbers and "delivered" from the seller.

Account settings: base_url, client_id, api_key, timeout (seconds, default 10),
lookback_days (how far the first import reaches, default 30), fbo_lookback_days (default
14, see list_changed), page_size (default 100, Ozon's maximum).

Import cursor (JSON): {"since": ISO time, "to": ISO time while a pass runs,
"scheme": "fbs" | "fbo", "cursor": Ozon's page cursor}.
"""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import requests

from fulfil.marketplaces._sanitize import unreadable
from fulfil.marketplaces.base import (APPLIED, IN_PROGRESS, NOT_APPLIED, Adapter, AlreadyDone,
                                      ImportPage, MarketplaceError, Permanent, RateLimited,
                                      RemoteLine, RemoteOrder, RemoteShipment, Retryable)
from fulfil.timeutil import to_utc_naive, utcnow

STATUS_MAP = {
    "awaiting_registration": "on_hold",
    "acceptance_in_progress": "on_hold",
    "awaiting_approve": "on_hold",
    "awaiting_verification": "on_hold",
    "awaiting_packaging": "new",  # 'to_pack' once acknowledged in fulfil
    "awaiting_deliver": "ready",
    "sent_by_seller": "in_transit",
    "driver_pickup": "in_transit",
    "delivering": "in_transit",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "not_accepted": "not_accepted",
    "arbitration": "dispute",
    "client_arbitration": "dispute",
}

# tracking-number/set takes no carrier: the delivery method fixes it. Numbers of these
# carriers are what rFBS sellers ship with.
CARRIER_NAMES = {
    "russian_post": "Почта России",
    "china_post": "China Post",
    "ems": "EMS",
    "yanwen": "Yanwen",
    "4px": "4PX",
    "yunexpress": "YunExpress",
    "dhl": "DHL",
    "ups": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "other": "other",
}

# Ozon has no "acknowledge" call: acknowledging is a fulfil-only step.
# One posting is one package: several packages means splitting the posting when packing.
MULTI_PACKAGE = False

PUSHED_ACTIONS = frozenset({"pack", "ship", "update_tracking", "deliver", "cancel"})


def supported_actions(order):
    if order.fulfilment_mode == "FBO":
        return set()
    actions = {"acknowledge", "pack", "cancel"}
    if order.fulfilment_mode == "rFBS":
        # rFBS sellers deliver themselves: they set the tracking number and report delivery.
        # Ozon takes a tracking number only once the posting is packed (awaiting_deliver).
        # Once delivered or disputed Ozon refuses tracking changes (HAS_INCORRECT_STATUS).
        actions.add("deliver")
        if order.status == "in_transit":
            actions.add("update_tracking")
        if order.status == "ready":
            actions.add("ship")
    return actions


# Ozon's own reasons a seller may give: 352 out of stock, 400 only defective stock left,
# 402 other (seller's fault, message required). Nothing closer exists for fulfil's other
# reasons, so they go as 402 with fulfil's reason text as the message.
CANCEL_REASON_IDS = {"out_of_stock": 352}
OTHER_CANCEL_REASON = 402

# Where a posting is once a change took effect (check() reads these).
PACKED = frozenset({"awaiting_deliver", "sent_by_seller", "driver_pickup", "delivering",
                    "delivered", "arbitration", "client_arbitration", "not_accepted"})
HANDED_OVER = PACKED - {"awaiting_deliver"}
REACHED = {"pack": PACKED, "ship": HANDED_OVER, "deliver": frozenset({"delivered"}),
           "cancel": frozenset({"cancelled"})}

# Errors that mean the marketplace already holds what this call asks for.
ALREADY_DONE = {"/v4/posting/fbs/ship": "POSTING_ALREADY_SHIPPED",
                "/v2/posting/fbs/cancel": "POSTING_ALREADY_CANCELLED"}
# A method under heavy load answers this for a few minutes, whatever the HTTP status.
OUTAGE_MESSAGE = "Circle is open"
# Ozon's 429 does not always say how long to wait.
DEFAULT_RETRY_AFTER = 1.0

TRACKING_BATCH = 20  # tracking-number/set takes at most 20 pairs
MAX_PERIOD = timedelta(days=364)  # list filters span at most a year
# A status change Ozon stamped just before a pass ended is read again by the next pass
# rather than missed when the clocks disagree; importing a posting twice is harmless.
OVERLAP = timedelta(minutes=2)

# What a posting Ozon sent in an unexpected shape raises while it is parsed.
PARSE_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError, AttributeError)

TRACKING_SET = "/v2/fbs/posting/tracking-number/set"
DELIVERING = "/v2/fbs/posting/delivering"
DELIVERED = "/v2/fbs/posting/delivered"


class OzonAdapter(Adapter):
    kind = "ozon"
    ASYNC_ACTIONS = frozenset({"pack"})
    BATCH_LIMITS = {"ship": TRACKING_BATCH, "update_tracking": TRACKING_BATCH}

    def __init__(self, settings, token_store=None, session=None):
        super().__init__(settings, token_store, session or requests.Session())
        self.timeout = float(settings.get("timeout") or 10)
        self.page_size = int(settings.get("page_size") or 100)
        # Tracking numbers seen on postings read by check(): a ship retried after its
        # delivering call failed must not set the number a second time.
        self._tracking_seen = {}

    # -- HTTP --------------------------------------------------------------------------
    def _post(self, path, body):
        """POST to Ozon; the answer's JSON object, or a classified MarketplaceError."""
        client_id, api_key = self.settings.get("client_id"), self.settings.get("api_key")
        if not client_id or not api_key:
            raise Permanent("This Ozon account has no Client-Id or Api-Key configured.")
        url = self.settings["base_url"].rstrip("/") + path
        try:
            response = self.session.post(url, json=body, timeout=self.timeout,
                                         headers={"Client-Id": str(client_id), "Api-Key": api_key})
        except requests.Timeout:
            raise Retryable(f"Ozon did not answer {path} within {self.timeout:g} s.")
        except requests.RequestException as exc:
            raise Retryable(f"Could not reach Ozon for {path} ({type(exc).__name__}).")
        if response.status_code != 200:
            raise _classify(response, path)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise Retryable(f"Ozon's answer to {path} was cut short or is not JSON.", status_code=200)
        return answer

    def _posting(self, posting_number):
        answer = self._post("/v3/posting/fbs/get", {"posting_number": posting_number,
                                                    "with": {"analytics_data": True}})
        posting = _expect(answer, "result", dict)
        self._tracking_seen[posting_number] = posting.get("tracking_number")
        return posting

    # -- reads -------------------------------------------------------------------------
    def list_changed(self, cursor):
        """One page of postings whose status changed since the cursor: FBS/rFBS first
        (/v4/posting/fbs/list, filtered on last_changed_status_date), then FBO
        (/v3/posting/fbo/list). The FBO list has no change filter, only the creation
        period, so each pass re-reads FBO postings created up to fbo_lookback_days before
        `since`: their deliveries and cancellations are seen while they matter."""
        now = utcnow()
        if cursor is None:
            lookback = timedelta(days=float(self.settings.get("lookback_days") or 30))
            cursor = {"since": _iso(now - lookback), "scheme": "fbs", "cursor": ""}
        cursor = {"to": _iso(now), **cursor}  # a pass keeps its end while it pages
        since, to = _time(cursor["since"]), _time(cursor["to"])
        if cursor["scheme"] == "fbs":
            path, mode = "/v4/posting/fbs/list", None
            filter_ = {"since": _iso(to - MAX_PERIOD), "to": _iso(to),
                       "last_changed_status_date": {"from": _iso(since), "to": _iso(to)}}
        else:
            path, mode = "/v3/posting/fbo/list", "FBO"
            fbo_lookback = timedelta(days=float(self.settings.get("fbo_lookback_days") or 14))
            filter_ = {"since": _iso(max(since - fbo_lookback, to - MAX_PERIOD)), "to": _iso(to)}
        answer = self._post(path, {"filter": filter_, "limit": self.page_size, "sort_dir": "ASC",
                                   "cursor": cursor["cursor"], "with": {"analytics_data": True}})
        orders, problems = [], []
        for posting in _expect(answer, "postings", list):
            try:
                orders.append(parse_posting(posting, mode))
            except PARSE_ERRORS as exc:
                number = posting.get("posting_number") if isinstance(posting, dict) else None
                problems.append((number, unreadable("Ozon", exc),
                                 json.dumps(posting, ensure_ascii=False)[:4000]))
        if answer.get("has_next"):
            next_cursor = dict(cursor, cursor=_expect(answer, "cursor", str))
        elif cursor["scheme"] == "fbs":
            next_cursor = dict(cursor, scheme="fbo", cursor="")
        else:
            return ImportPage(orders, {"since": _iso(to - OVERLAP), "scheme": "fbs", "cursor": ""},
                              False, problems)
        return ImportPage(orders, next_cursor, True, problems)

    def get_order(self, external_id):
        try:
            return self._parse_read(self._posting(external_id), None)
        except Permanent as exc:
            if exc.status_code != 404:
                raise
        # Not an FBS/rFBS posting: it may be one Ozon fulfils.
        answer = self._post("/v2/posting/fbo/get", {"posting_number": external_id,
                                                    "with": {"analytics_data": True}})
        return self._parse_read(_expect(answer, "result", dict), "FBO")

    @staticmethod
    def _parse_read(posting, mode):
        try:
            return parse_posting(posting, mode)
        except PARSE_ERRORS as exc:
            raise Permanent(f"Could not read Ozon posting {posting.get('posting_number')}: {exc!r}")

    # -- writes ------------------------------------------------------------------------
    def push_pack(self, payload):
        """/v4/posting/fbs/ship — Ozon's word for packing. Asynchronous: confirm with check()."""
        packages = [{"products": [{"product_id": _ozon_sku(line), "quantity": int(line["quantity"])}
                                  for line in package["lines"]]}
                    for package in payload["packages"]]
        self._post("/v4/posting/fbs/ship", {"posting_number": payload["external_id"],
                                             "packages": packages})

    def push_ship(self, payload):
        _raise_failure(self._send_tracking([payload], hand_over=True))

    def push_update_tracking(self, payload):
        _raise_failure(self._send_tracking([payload], hand_over=False))

    def push_deliver(self, payload):
        """/v2/fbs/posting/delivered alone: shipping already moved the posting to delivering."""
        number = payload["external_id"]
        _raise_failure([self._move(DELIVERED, [number], REACHED["deliver"])[number]])

    def push_cancel(self, payload):
        """Ozon cancels whole postings, as fulfil cancels whole orders: `lines` is not sent."""
        self._post("/v2/posting/fbs/cancel", {
            "posting_number": payload["external_id"],
            "cancel_reason_id": CANCEL_REASON_IDS.get(payload.get("reason_code"), OTHER_CANCEL_REASON),
            "cancel_reason_message": payload.get("reason") or ""})

    def push_batch(self, action, payloads):
        if action not in self.BATCH_LIMITS:
            return super().push_batch(action, payloads)
        return self._send_tracking(payloads, hand_over=action == "ship")

    def _send_tracking(self, payloads, hand_over):
        """Tracking numbers, 20 per call, one result per payload. Shipping (hand_over) also
        moves each posting whose number Ozon took to delivering: in transit, as in fulfil."""
        results = []
        for start in range(0, len(payloads), TRACKING_BATCH):
            chunk = payloads[start:start + TRACKING_BATCH]
            numbers = [p["external_id"] for p in chunk]
            to_set = [p for p in chunk
                      if self._tracking_seen.pop(p["external_id"], None) != p["tracking_number"]]
            try:
                outcome = [None] * len(chunk)
                if to_set:
                    answer = self._post(TRACKING_SET, {"tracking_numbers": [
                        {"posting_number": p["external_id"], "tracking_number": p["tracking_number"]}
                        for p in to_set]})
                    set_outcome = dict(zip([p["external_id"] for p in to_set],
                                           _per_posting(answer, [p["external_id"] for p in to_set])))
                    outcome = [set_outcome.get(n) for n in numbers]
                if hand_over:
                    accepted = [n for n, error in zip(numbers, outcome) if error is None]
                    moved = self._move(DELIVERING, accepted, REACHED["ship"]) if accepted else {}
                    outcome = [error or moved[n] for n, error in zip(numbers, outcome)]
            except MarketplaceError as exc:
                # The call itself failed (rate limit, outage, auth): the rest would too.
                return results + [exc] * (len(payloads) - start)
            results += outcome
        return results

    def _move(self, path, numbers, reached):
        """delivering / delivered for these postings -> {posting_number: None or error}.
        A refusal for a posting already there (a repeat after a lost answer) is success."""
        outcome = dict(zip(numbers, _per_posting(self._post(path, {"posting_number": numbers}),
                                                 numbers)))
        for number, error in outcome.items():
            if isinstance(error, Permanent) and self._posting(number).get("status") in reached:
                outcome[number] = None
        return outcome

    def check(self, action, payload):
        if action not in PUSHED_ACTIONS:
            raise Permanent(f"Ozon has no call for {action}.")
        posting = self._posting(payload["external_id"])
        if action in ("ship", "update_tracking") and \
                posting.get("tracking_number") != payload["tracking_number"]:
            return NOT_APPLIED
        if action == "update_tracking" or posting.get("status") in REACHED[action]:
            return APPLIED
        # Ozon's own flag while packing runs; after a failure the posting shows
        # substatus "ship_failed" instead and must be packed again.
        if action == "pack" and "ship_async_in_process" in (posting.get("available_actions") or ()):
            return IN_PROGRESS
        return NOT_APPLIED


ADAPTER = OzonAdapter


# -- parsing -------------------------------------------------------------------------------

def parse_posting(posting, mode=None):
    """An Ozon posting (FBS list/get, or FBO with mode="FBO") -> RemoteOrder."""
    number = posting["posting_number"]
    lines = [RemoteLine(line_number=str(p["sku"]), sku=str(p.get("offer_id") or ""),
                        item_id=str(p["sku"]), name=p.get("name") or "",
                        price=Decimal(str(p["price"])), quantity=int(p["quantity"]))
             for p in posting["products"]]
    raw_status = posting.get("status") or ""
    customer = posting.get("customer") or {}  # rFBS only; null or absent otherwise
    address = customer.get("address") or {}
    addressee = posting.get("addressee") or {}
    analytics = posting.get("analytics_data") or {}
    cancellation = posting.get("cancellation") or {}
    delivery_method = posting.get("delivery_method") or {}
    shipped_at = _time(posting.get("delivering_date"))
    order = RemoteOrder(
        external_id=number, order_number=posting.get("order_number") or number,
        raw_status=raw_status, status=STATUS_MAP.get(raw_status, "on_hold"),
        fulfilment_mode=mode or ("FBS" if posting.get("tpl_integration_type", "ozon") == "ozon" else "rFBS"),
        raw_substatus=posting.get("substatus") or None,
        ordered_at=_time(posting.get("in_process_at") or posting.get("created_at")),
        ship_by=_time(posting.get("shipment_date")), shipped_at=shipped_at,
        buyer_name=addressee.get("name") or customer.get("name") or "",
        buyer_phone=addressee.get("phone") or customer.get("phone") or None,
        address_line1=address.get("address_tail") or "",
        city=address.get("city") or analytics.get("city") or "",
        region=address.get("region") or analytics.get("region") or None,
        postal_code=address.get("zip_code") or None, country=address.get("country") or None,
        currency=(posting["products"][0].get("currency_code") if lines else None) or "RUB",
        total=sum((line.price * line.quantity for line in lines), Decimal("0")),
        cancel_reason=(cancellation.get("cancel_reason") or None) if raw_status == "cancelled" else None,
        dispute=STATUS_MAP.get(raw_status) == "dispute", lines=lines)
    if posting.get("tracking_number"):
        order.shipments.append(RemoteShipment(
            tracking_number=posting["tracking_number"], carrier_name=delivery_method.get("tpl_provider"),
            shipment_ref=number, shipped_at=shipped_at,
            line_quantities={line.line_number: line.quantity for line in lines}))
    if raw_status not in STATUS_MAP:
        order.raw = {"status": raw_status, "note": "status unknown to fulfil: shown as on hold"}
    return order


def _time(value):
    """Ozon's RFC 3339 time -> naive UTC; empty, null and Ozon's "0001-01-01" mean none."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return None if parsed.year == 1 else to_utc_naive(parsed)


def _iso(naive_utc):
    return naive_utc.replace(tzinfo=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ozon_sku(line):
    try:
        return int(line["item_id"])
    except (TypeError, ValueError):
        raise Permanent(f"{line.get('sku') or line['item_id']}: {line['item_id']!r} is not an Ozon SKU.")


# -- answers and errors ----------------------------------------------------------------------

def _expect(answer, key, kind):
    value = answer.get(key)
    if not isinstance(value, kind):
        raise Retryable(f"Ozon's answer has no usable {key!r}.", status_code=200)
    return value


def _per_posting(answer, numbers):
    """Per-item results ({posting_number, result, error}) -> None or error, in `numbers` order."""
    by_number = {item.get("posting_number"): item for item in _expect(answer, "result", list)
                 if isinstance(item, dict)}
    outcome = []
    for number in numbers:
        item = by_number.get(number)
        if item is None:
            outcome.append(Retryable(f"Ozon did not report on posting {number}."))
        elif item.get("result"):
            outcome.append(None)
        else:
            error = item.get("error")  # a string; Ozon's examples also show a list
            if isinstance(error, list):
                error = ", ".join(map(str, error))
            outcome.append(Permanent(error or "Ozon refused the change without saying why."))
    return outcome


def _raise_failure(results):
    for error in results:
        if error is not None:
            raise error


def _classify(response, path):
    """A non-200 answer -> the MarketplaceError kind the worker acts on."""
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or response.reason or f"HTTP {response.status_code}")
    status = response.status_code
    details = {"status_code": status, "code": body.get("code")}
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(response.headers.get("retry-after")),
                           **details)
    if status >= 500 or status == 408 or OUTAGE_MESSAGE in message:
        return Retryable(message, **details)
    if path in ALREADY_DONE and ALREADY_DONE[path] in message:
        return AlreadyDone(message, **details)
    return Permanent(message, **details)


def _retry_after(header):
    try:
        return max(0.0, float(header))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
