"""Ozon Seller API: FBS/rFBS postings (the seller's work) and FBO postings (read-only).

One fulfil order is one Ozon posting (external_id = posting_number); postings split from
one buyer's order share its order_number. Who carries a posting is its
`tpl_integration_type` (kept as the order's delivery_scheme, see DELIVERY): it decides FBS
or rFBS and whether the seller gives Ozon a tracking number and reports delivery steps.

Account settings: base_url, client_id, api_key, timeout (seconds, default 10),
lookback_days (how far the first import reaches, default 30), fbo_lookback_days (default
14, see list_changed), page_size (default 100, Ozon's maximum).

Import cursor (JSON): {"since": ISO time, "to": ISO time while a pass runs,
"scheme": "fbs" | "fbo", "cursor": Ozon's page cursor}.
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import requests

from fulfil.marketplaces._sanitize import unreadable
from fulfil.marketplaces.base import (APPLIED, IN_PROGRESS, NOT_APPLIED, Adapter, AlreadyDone,
                                      CancelReason, ImportPage, MarketplaceError, Permanent,
                                      RateLimited, RemoteLine, RemoteOrder, RemoteShipment, Retryable)
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

PUSHED_ACTIONS = frozenset({"pack", "ship", "update_tracking", "deliver", "cancel", "open_dispute",
                            "hand_on"})
# A posting handed over but not scanned in at the sorting centre ("not accepted") may be
# disputed at Ozon (/v2/posting/fbs/arbitration) where its available_actions offer
# "arbitration"; a disputed posting goes back to awaiting_deliver with
# /v2/posting/fbs/awaiting-delivery where they offer "awaiting_delivery".
ARBITRATION = "/v2/posting/fbs/arbitration"
AWAITING_DELIVERY = "/v2/posting/fbs/awaiting-delivery"


@dataclass(frozen=True)
class Delivery:
    """What one kind of tpl_integration_type means for the seller."""
    mode: str  # fulfilment_mode: FBS (Ozon's logistics) or rFBS (another carrier)
    tracking: bool  # the seller gives Ozon the tracking number (/v2/fbs/posting/tracking-number/set)
    reports: bool  # the seller reports delivering / last mile / delivered (Ozon's non_int_* actions)
    who: str  # for a person: who carries the parcel


# tpl_integration_type, as Ozon's spec describes it (v3FbsPostingDetail).
DELIVERY = {
    "ozon": Delivery("FBS", False, False, "Ozon's own logistics"),
    # "delivery by an outside carrier, Ozon registers the order": Ozon gives the carrier the
    # parcel and the tracking number; the seller only packs and hands over.
    "aggregator": Delivery("rFBS", False, False, "Ozon's partner carrier"),
    # "outside carrier, the seller registers the order": the seller gives Ozon the number,
    # Ozon follows that carrier's tracking for the delivery steps.
    "3pl_tracking": Delivery("rFBS", True, False, "a carrier the seller booked, tracked by Ozon"),
    # "the seller's own delivery": the seller reports every step (non_int_delivering, ...).
    "non_integrated": Delivery("rFBS", True, True, "the seller"),
}
# A kind Ozon adds later (its list method already names "hybryd") is treated as Ozon's:
# fulfil then sends nothing a seller-delivered posting would need, and shows the raw value.
UNKNOWN_DELIVERY = Delivery("FBS", False, False, "Ozon (a delivery scheme fulfil does not know)")
# Ozon's available_actions for marked goods: codes must be sent before packing.
NEEDS_MARKS = "ship_with_additional_info"


def delivery_scheme(order):
    """The order's tpl_integration_type. Orders imported before it was kept fall back to
    what their fulfilment mode meant then (FBS: Ozon's; rFBS: the seller's own)."""
    if order.delivery_scheme is not None:
        return order.delivery_scheme
    return "ozon" if order.fulfilment_mode == "FBS" else "non_integrated"


def delivery_of(order):
    return DELIVERY.get(delivery_scheme(order), UNKNOWN_DELIVERY)


def supported_actions(order):
    if order.fulfilment_mode == "FBO":
        return set()
    delivery = delivery_of(order)
    actions = {"acknowledge", "cancel"}
    if NEEDS_MARKS not in (order.remote_actions or ()):
        actions.add("pack")
    if delivery.tracking:
        # Ozon takes a tracking number only once the posting is packed (awaiting_deliver).
        # Once delivered or disputed Ozon refuses tracking changes (HAS_INCORRECT_STATUS).
        if order.status == "ready":
            actions.add("ship")
        if order.status == "in_transit":
            actions.add("update_tracking")
    if delivery.reports:
        actions.add("deliver")
    if _may_hand_on(order):
        actions.add("hand_on")
    return actions


def pushes(order, action):
    """Ozon learns a dispute only for a not-accepted posting where it offers one; any other
    dispute is fulfil's own record."""
    if action == "open_dispute":
        return order.status == "not_accepted" and _offered(order, "arbitration")
    return action in PUSHED_ACTIONS


def _offered(order, ozon_action):
    """Ozon's available_actions offer it (or fulfil was not told: Ozon's answer will say)."""
    return order.remote_actions is None or ozon_action in order.remote_actions


def _may_hand_on(order):
    if order.status != "dispute" or order.raw_status == "client_arbitration":
        return False
    # Filed from fulfil a moment ago, Ozon's last word is still about the not-accepted posting.
    return _offered(order, "awaiting_delivery") or order.raw_status == "not_accepted"


def refusal(order, action):
    """Why Ozon does not take `action` for this order, with what to do instead (or None)."""
    delivery, scheme = delivery_of(order), delivery_scheme(order)
    if action == "pack" and NEEDS_MARKS in (order.remote_actions or ()):
        return ("Ozon needs the “Честный ЗНАК” marking codes of this posting's goods before it is "
                "packed, and fulfil does not send them. Pack it in Ozon's seller area: FBS → "
                "“Заказы”, open the posting, enter the codes of every item, then “Собрать”; fulfil "
                "takes the packed posting over at its next import.")
    if action in ("ship", "update_tracking") and not delivery.tracking:
        return (f"{delivery.who[0].upper()}{delivery.who[1:]} carries this posting "
                f"(Ozon delivery scheme “{scheme}”): Ozon takes no tracking number from the seller. "
                "Hand the parcel over; Ozon moves the posting on.")
    if action == "open_dispute" and order.status == "not_accepted" and not pushes(order, action):
        return ("Ozon does not offer a dispute for this posting now, so this one is kept in fulfil "
                "only. Open it in Ozon's seller area (FBS → “Заказы” → the posting → “Открыть спор”) if "
                "the parcel was handed over.")
    if action == "hand_on" and order.raw_status == "client_arbitration":
        return "The buyer opened this dispute: Ozon decides it, and the posting cannot be handed over again."
    if action == "deliver" and not delivery.reports:
        return (f"Ozon follows the delivery of this posting itself (delivery scheme “{scheme}”): "
                "it takes no “delivered” from the seller.")
    return None


# Which reasons Ozon allows depends on the posting: /v1/posting/fbs/cancel-reason lists
# them per posting, and the cancel form offers exactly those. A cancel written without one
# (a fulfil reason, e.g. from an older entry) takes the Ozon reason of the same meaning
# among those offered: 352 "out of stock" for out_of_stock, else 402 "other (seller's
# fault)" with fulfil's reason text as the message Ozon requires for 402.
CANCEL_REASONS_PATH = "/v1/posting/fbs/cancel-reason"
CANCEL_REASON_IDS = {"out_of_stock": 352}
OTHER_CANCEL_REASON = 402
NOTE_REQUIRED_REASONS = frozenset({OTHER_CANCEL_REASON})
# A person waits for the cancel form while fulfil asks: not the workers' patience.
FORM_TIMEOUT = 5.0

# Where a posting is once a change took effect (check() reads these).
PACKED = frozenset({"awaiting_deliver", "sent_by_seller", "driver_pickup", "delivering",
                    "delivered", "arbitration", "client_arbitration", "not_accepted"})
HANDED_OVER = PACKED - {"awaiting_deliver"}
DISPUTED = frozenset({"arbitration", "client_arbitration"})
REACHED = {"pack": PACKED, "ship": HANDED_OVER, "deliver": frozenset({"delivered"}),
           "cancel": frozenset({"cancelled"}), "open_dispute": DISPUTED,
           "hand_on": PACKED - DISPUTED - {"not_accepted"}}

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

    def cancel_reasons(self, posting_number):
        """The reasons Ozon allows for cancelling this posting now -> [CancelReason]."""
        answer = self._post(CANCEL_REASONS_PATH, {"related_posting_numbers": [posting_number]})
        for item in _expect(answer, "result", list):
            if isinstance(item, dict) and item.get("posting_number") == posting_number:
                return [_cancel_reason(reason) for reason in item.get("reasons") or ()
                        if isinstance(reason, dict) and isinstance(reason.get("id"), int)]
        return []

    def push_cancel(self, payload):
        """Ozon cancels whole postings, as fulfil cancels whole orders: `lines` is not sent."""
        number = payload["external_id"]
        reason_id = payload.get("cancel_reason_id")
        if reason_id is None:
            reason_id = self._closest_reason(number, payload.get("reason_code"))
        self._post("/v2/posting/fbs/cancel", {"posting_number": number, "cancel_reason_id": int(reason_id),
                                              "cancel_reason_message": payload.get("reason") or ""})

    def _closest_reason(self, number, reason_code):
        """Ozon's reason meaning the same as fulfil's `reason_code`, among those it offers."""
        offered = {reason.remote_id: reason for reason in self.cancel_reasons(number)}
        for wanted in (CANCEL_REASON_IDS.get(reason_code), OTHER_CANCEL_REASON):
            if wanted in offered or not offered:
                # Nothing offered: cancelled already, or past cancelling; Ozon's answer says which.
                return wanted if wanted is not None else OTHER_CANCEL_REASON
        raise Permanent("Ozon offers none of fulfil's reasons for cancelling this posting, only: "
                        + "; ".join(r.label for r in offered.values())
                        + ". Cancel it again in fulfil and choose one of Ozon's reasons.")

    def push_open_dispute(self, payload):
        """Ozon's arbitration for a posting not accepted at the sorting centre."""
        self._boolean_move(ARBITRATION, payload["external_id"], REACHED["open_dispute"])

    def push_hand_on(self, payload):
        """A disputed posting back to awaiting_deliver, to be handed over again."""
        self._boolean_move(AWAITING_DELIVERY, payload["external_id"], REACHED["hand_on"])

    def _boolean_move(self, path, number, reached):
        """A call answering {"result": bool} for the whole request. A refusal for a posting
        already where the call leads (a repeat after a lost answer) is success."""
        try:
            answer = self._post(path, {"posting_number": [number]})
        except Permanent:
            if self._posting(number).get("status") in reached:
                return
            raise
        if answer.get("result") is not True:
            raise Permanent(f"Ozon did not take {path} for posting {number} (result {answer.get('result')!r}).")

    def push_batch(self, action, payloads):
        if action not in self.BATCH_LIMITS:
            return super().push_batch(action, payloads)
        return self._send_tracking(payloads, hand_over=action == "ship")

    def _send_tracking(self, payloads, hand_over):
        """Tracking numbers, 20 per call, one result per payload. Shipping (hand_over) also
        moves each posting whose number Ozon took to delivering (in transit, as in fulfil)
        where the seller reports the delivery steps; a carrier Ozon tracks moves it itself."""
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
                    accepted = [p["external_id"] for p, error in zip(chunk, outcome)
                                if error is None and _payload_delivery(p).reports]
                    moved = self._move(DELIVERING, accepted, REACHED["ship"]) if accepted else {}
                    outcome = [error or moved.get(n) for n, error in zip(numbers, outcome)]
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
        if action in CANCELLATION_DECISIONS:
            return _check_cancellation_decision(self, action, payload)
        if action not in PUSHED_ACTIONS:
            raise Permanent(f"Ozon has no call for {action}.")
        posting = self._posting(payload["external_id"])
        if action in ("ship", "update_tracking") and \
                posting.get("tracking_number") != payload["tracking_number"]:
            return NOT_APPLIED
        if action == "update_tracking" or (action == "ship" and not _payload_delivery(payload).reports):
            return APPLIED
        if posting.get("status") in REACHED[action]:
            return APPLIED
        # Ozon's own flag while packing runs; after a failure the posting shows
        # substatus "ship_failed" instead and must be packed again.
        if action == "pack" and "ship_async_in_process" in (posting.get("available_actions") or ()):
            return IN_PROGRESS
        return NOT_APPLIED

    # conditional cancellations (see list_cancellations below)
    def list_cancellations(self, state="ALL", posting_numbers=None):
        return list_cancellations(self, state, posting_numbers)

    def push_approve_cancellation(self, payload):
        _push_cancellation_decision(self, "approve_cancellation", payload)

    def push_reject_cancellation(self, payload):
        _push_cancellation_decision(self, "reject_cancellation", payload)


ADAPTER = OzonAdapter


# -- conditional cancellations: an rFBS buyer asks to cancel, the seller decides ------------
# /v1/conditional-cancellation/* are not in the spec file; the shapes follow Ozon's
# CancellationAPI as its public generated clients describe it (simulators/ozon.py says more).
CANCELLATION_LIST = "/v1/conditional-cancellation/list"
CANCELLATION_DECISIONS = {"approve_cancellation": ("/v1/conditional-cancellation/approve", "APPROVED"),
                          "reject_cancellation": ("/v1/conditional-cancellation/reject", "REJECTED")}
CANCELLATION_PAGE = 500  # the list's largest page
CANCELLATION_PAGES = 20  # at most 10,000 requests read per import


@dataclass
class RemoteCancellation:
    """One conditional cancellation request, in fulfil's terms (datetimes naive UTC)."""
    cancellation_id: int
    posting_number: str
    state: str  # ON_APPROVAL | APPROVED | REJECTED
    reason: str
    reason_message: str
    initiator: str
    requested_at: datetime | None
    auto_approve_at: datetime | None
    decided_at: datetime | None
    decision_comment: str


def parse_cancellation(item):
    state = item["state"]
    return RemoteCancellation(
        cancellation_id=int(item["cancellation_id"]), posting_number=str(item["posting_number"]),
        state=str(state["state"] if isinstance(state, dict) else state),
        reason=str((item.get("cancellation_reason") or {}).get("name") or ""),
        reason_message=str(item.get("cancellation_reason_message") or ""),
        initiator=str(item.get("cancellation_initiator") or ""),
        requested_at=_time(item.get("cancelled_at")), auto_approve_at=_time(item.get("auto_approve_date")),
        decided_at=_time(item.get("approve_date")), decision_comment=str(item.get("approve_comment") or ""))


def list_cancellations(adapter, state="ALL", posting_numbers=None):
    """Every request in `state` (of these postings, if given) -> ([RemoteCancellation], problems)
    where problems are (posting_number, message) of items fulfil could not read."""
    filters = {"state": state, **({"posting_number": list(posting_numbers)} if posting_numbers else {})}
    found, problems, offset = [], [], 0
    for _ in range(CANCELLATION_PAGES):
        answer = adapter._post(CANCELLATION_LIST, {"filters": filters, "limit": CANCELLATION_PAGE,
                                                   "offset": offset, "with": {"counter": True}})
        items = _expect(answer, "result", list)
        for item in items:
            try:
                found.append(parse_cancellation(item))
            except PARSE_ERRORS as exc:
                number = item.get("posting_number") if isinstance(item, dict) else None
                problems.append((number, unreadable("Ozon", exc)))
        offset += len(items)
        if not items or offset >= int(answer.get("total") or 0):
            break
    return found, problems


def _push_cancellation_decision(adapter, action, payload):
    path, _ = CANCELLATION_DECISIONS[action]
    adapter._post(path, {"cancellation_id": int(payload["cancellation_id"]), "comment": payload.get("comment") or ""})


def _check_cancellation_decision(adapter, action, payload):
    """APPLIED when Ozon holds the decision; a request decided otherwise (approved
    automatically before a reject arrived) is NOT_APPLIED: the write's refusal says why."""
    _, wanted = CANCELLATION_DECISIONS[action]
    found, _ = list_cancellations(adapter, "ALL", [payload["external_id"]])
    mine = next((c for c in found if c.cancellation_id == int(payload["cancellation_id"])), None)
    return APPLIED if mine is not None and mine.state == wanted else NOT_APPLIED




def cancel_reasons(order):
    """Ozon's reasons for cancelling this posting, asked now (raises MarketplaceError)."""
    from fulfil.marketplaces import adapter_for
    adapter = adapter_for(order.account)
    adapter.timeout = min(adapter.timeout, FORM_TIMEOUT)
    return adapter.cancel_reasons(order.external_id)


def _cancel_reason(reason):
    return CancelReason(code=f"ozon-{reason['id']}", label=str(reason.get("title") or reason["id"]),
                        needs_note=reason["id"] in NOTE_REQUIRED_REASONS, remote_id=reason["id"])


# -- parsing -------------------------------------------------------------------------------

def parse_posting(posting, mode=None):
    """An Ozon posting (FBS list/get, or FBO with mode="FBO") -> RemoteOrder."""
    number = posting["posting_number"]
    prices = [_money(p) for p in posting["products"]]
    lines = [RemoteLine(line_number=str(p["sku"]), sku=str(p.get("offer_id") or ""),
                        item_id=str(p["sku"]), name=p.get("name") or "",
                        price=amount, quantity=int(p["quantity"]))
             for p, (amount, _) in zip(posting["products"], prices)]
    raw_status = posting.get("status") or ""
    scheme = None if mode == "FBO" else str(posting.get("tpl_integration_type") or "ozon")
    delivery = DELIVERY.get(scheme, UNKNOWN_DELIVERY)
    status = STATUS_MAP.get(raw_status, "on_hold")
    if status == "ready" and posting.get("tracking_number") and delivery.tracking and not delivery.reports:
        # Handed to a carrier the seller booked (3pl_tracking): Ozon keeps the posting
        # "awaiting_deliver" until that carrier's tracking shows it moving, but for fulfil
        # it has shipped — otherwise the next import would reopen it.
        status = "in_transit"
    actions = posting.get("available_actions")
    customer = posting.get("customer") or {}  # rFBS only; null or absent otherwise
    address = customer.get("address") or {}
    addressee = posting.get("addressee") or {}
    analytics = posting.get("analytics_data") or {}
    cancellation = posting.get("cancellation") or {}
    delivery_method = posting.get("delivery_method") or {}
    shipped_at = _time(posting.get("delivering_date"))
    order = RemoteOrder(
        external_id=number, order_number=posting.get("order_number") or number,
        raw_status=raw_status, status=status, fulfilment_mode=mode or delivery.mode,
        delivery_scheme=scheme,
        remote_actions=[str(a) for a in actions] if isinstance(actions, list) and mode != "FBO" else None,
        raw_substatus=posting.get("substatus") or None,
        ordered_at=_time(posting.get("in_process_at") or posting.get("created_at")),
        ship_by=_time(posting.get("shipment_date")), shipped_at=shipped_at,
        buyer_name=addressee.get("name") or customer.get("name") or "",
        buyer_phone=addressee.get("phone") or customer.get("phone") or None,
        address_line1=address.get("address_tail") or "",
        city=address.get("city") or analytics.get("city") or "",
        region=address.get("region") or analytics.get("region") or None,
        postal_code=address.get("zip_code") or None, country=address.get("country") or None,
        currency=next((currency for _, currency in prices if currency), None) or "RUB",
        total=sum((line.price * line.quantity for line in lines), Decimal("0")),
        cancel_reason=(cancellation.get("cancel_reason") or None) if raw_status == "cancelled" else None,
        dispute=STATUS_MAP.get(raw_status) == "dispute", lines=lines)
    if posting.get("tracking_number"):
        order.shipments.append(RemoteShipment(
            tracking_number=posting["tracking_number"], carrier_name=delivery_method.get("tpl_provider"),
            shipment_ref=number, shipped_at=shipped_at,
            line_quantities={line.line_number: line.quantity for line in lines}))
    if raw_status not in STATUS_MAP:
        order.raw["status"] = {"value": raw_status, "note": "status unknown to fulfil: shown as on hold"}
    if scheme is not None and scheme not in DELIVERY:
        order.raw["tpl_integration_type"] = {"value": scheme, "note": "delivery scheme unknown to "
                                             "fulfil: nothing a seller-delivered posting needs is sent"}
    return order


def _money(product):
    """(amount, currency or None) of a posting's product. The v4 lists give the price as
    Ozon's money object {"amount": "1390.0000", "currency": "RUB"}; v3 methods as a
    string beside `currency_code`. Both are read."""
    price = product["price"]
    if isinstance(price, dict):
        amount, currency = price["amount"], price.get("currency") or product.get("currency_code")
    else:
        amount, currency = price, product.get("currency_code")
    if isinstance(amount, (bool, dict, list)) or amount is None:
        raise ValueError(f"price {price!r} is not an amount")
    amount = Decimal(str(amount))
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"price {price!r} is not an amount")
    return amount, currency


def _time(value):
    """Ozon's RFC 3339 time -> naive UTC; empty, null and Ozon's "0001-01-01" mean none."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return None if parsed.year == 1 else to_utc_naive(parsed)


def _iso(naive_utc):
    return naive_utc.replace(tzinfo=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _payload_delivery(payload):
    """The Delivery a ship payload was written for (entries older than the scheme: the
    seller's own delivery, as every shipped posting was then)."""
    return DELIVERY.get(payload.get("delivery_scheme") or "non_integrated", UNKNOWN_DELIVERY)


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


# -- money: /v3/finance/transaction/list (fulfil.money) ------------------------------------
# Ozon answers at most one month per request, paged by page/page_count. An operation with a
# posting is that posting's money: accruals_for_sale, sale_commission, and as fees
# delivery_charge + return_delivery_charge + its services' prices; amount is what it adds to
# the balance. An operation whose amount is negative and has no posting (payouts to the
# seller's bank) is kept as a payout. operation_date ("YYYY-MM-DD HH:MM:SS") is read as UTC.
FINANCE_LIST = "/v3/finance/transaction/list"
FINANCE_WINDOW = timedelta(days=28)  # safely inside "one month"
FINANCE_PAGE = 1000


def money_transactions(adapter, since, until):
    """Every operation from `since` to `until` (naive UTC) -> [RemoteMoney]."""
    from fulfil.marketplaces.base import RemoteMoney
    found, start = [], since
    while start < until:
        end = min(start + FINANCE_WINDOW, until)
        page, pages = 1, 1
        while page <= pages:
            answer = adapter._post(FINANCE_LIST, {
                "filter": {"date": {"from": _iso(start), "to": _iso(end)}, "operation_type": [],
                           "posting_number": "", "transaction_type": "all"},
                "page": page, "page_size": FINANCE_PAGE})
            result = _expect(answer, "result", dict)
            pages = int(result.get("page_count") or 0)
            for operation in result.get("operations") or []:
                found.append(_money_record(operation, RemoteMoney))
            page += 1
        start = end
    return found


def _money_record(op, remote_money):
    try:
        number = ((op.get("posting") or {}).get("posting_number") or "").strip() or None
        amount = Decimal(str(op["amount"]))
        when = datetime.strptime(op["operation_date"], "%Y-%m-%d %H:%M:%S")
        fees = sum((Decimal(str(s.get("price") or 0)) for s in op.get("services") or []),
                   Decimal(str(op.get("delivery_charge") or 0)) + Decimal(str(op.get("return_delivery_charge") or 0)))
        common = {"external_id": str(op["operation_id"]), "occurred_at": when, "currency": "RUB",
                  "description": str(op.get("operation_type_name") or op.get("operation_type") or "")[:200]}
        if number is None and amount < 0:
            return remote_money(kind="payout", amount=-amount, paid_on=when.date(), **common)
        return remote_money(kind="sale", amount=amount, order_external_id=number,
                            accrued=Decimal(str(op.get("accruals_for_sale") or 0)),
                            commission=Decimal(str(op.get("sale_commission") or 0)), fees=fees, **common)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise Retryable(f"Ozon sent a finance operation fulfil cannot read ({type(exc).__name__}: {exc}).")
