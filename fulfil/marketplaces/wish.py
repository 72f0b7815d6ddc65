"""Wish Merchant API v3: one order is one product variation; every write is asynchronous.

Settings (the account's config): base_url, client_id, client_secret, access_token,
refresh_token; optional timeout (seconds, default 10), page_size (orders per import page,
default 100, at most 500) and origin_country (ISO 3166 alpha-2 the account ships from).

Auth: an account connected by OAuth (fulfil.accounts: the seller authorises fulfil's app in
Wish, fulfil exchanges the code) keeps its tokens encrypted in the database; settings then
carry a `token_vault` (current(), refresh_token(), keep(AccessToken data)) and the adapter
uses and refreshes those tokens. Otherwise the access token lives in the shared token store
under "wish:<client_id>", seeded from settings (access_token, refresh_token). A call
answered 1006/1007 (unauthorized/expired) refreshes the token once and is repeated once;
1008 (revoked) and a second refusal need a person to reconnect the account.

The envelope's `code` is an integer in the spec's schema and a string ("1007") in every one
of its examples: both are read, as the integer.

OAuth calls (fulfil.accounts uses them to connect an account): authorize_url(), then
exchange_code() (POST /api/v3/oauth/access_token with the code Wish redirected back with)
and test_token() (GET /api/v3/oauth/test).

Import cursor: {"updated_at_min": ISO time of the newest order seen, "seen_ids": [ids of the
orders updated at exactly that time]}. Wish's updated_at_min is inclusive and orders can share
a timestamp, so the next page starts *at* that time and skips the ids already imported.
"""
import json
import logging
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, urlencode

import requests

from fulfil.marketplaces._sanitize import unreadable
from fulfil.marketplaces.base import (APPLIED, IN_PROGRESS, NOT_APPLIED, Adapter, ImportPage,
                                      Permanent, RateLimited, RemoteLine, RemoteOrder,
                                      RemoteShipment, Retryable)
from fulfil.timeutil import to_utc_naive

log = logging.getLogger(__name__)

STATUS_MAP = {
    "APPROVED": "new",
    "SHIPPED": "in_transit",
    "REFUNDED": "cancelled",
    "REQUIRE_REVIEW": "on_hold",
    "DECLINED": "on_hold",
}

# shipping_provider names from GET /api/v3/orders/shipping_carriers
CARRIER_NAMES = {
    "usps": "USPS",
    "ups": "UPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "china_post": "ChinaAirPost",
    "ems": "EMS",
    "yanwen": "Yanwen",
    "4px": "4PX",
    "yunexpress": "YunExpress",
    "russian_post": "RussianPost",
}

# Wish wants the country each parcel leaves from. An account's origin_country setting says it;
# without one, the carrier tells: these carriers take parcels in their home country (any other:
# CN, where most Wish merchants ship from).
ORIGIN_COUNTRIES = {
    "usps": "US",
    "ups": "US",
    "fedex": "US",
    "dhl": "US",
    "china_post": "CN",
    "ems": "CN",
    "yanwen": "CN",
    "4px": "CN",
    "yunexpress": "CN",
    "russian_post": "RU",
}

# fulfil's cancel reasons -> Wish refund_reason. Wish has no reason for "the buyer asked" or
# "wrong price": for the buyer those are the merchant being unable to ship.
REFUND_REASONS = {
    "out_of_stock": "MERCHANT_OUT_OF_STOCK",
    "buyer_request": "UNABLE_TO_SHIP",
    "cannot_ship": "UNABLE_TO_SHIP",
    "pricing_error": "UNABLE_TO_SHIP",
    "other": "UNABLE_TO_SHIP",
}
# Used when Wish does not offer the mapped reason for this order right now.
FALLBACK_REFUND_REASON = "UNABLE_TO_SHIP"

# One Wish order carries one tracking number.
MULTI_PACKAGE = False

# Wish has no acknowledge or packed state; cancelling is a refund.
PUSHED_ACTIONS = frozenset({"ship", "update_tracking", "cancel"})

# Token errors (HTTP 400): unauthorized, expired, revoked. A refresh cures the first two.
TOKEN_ERRORS = {1006, 1007, 1008}
REFRESHABLE = {1006, 1007}
MAX_PAGE = 500
# The spec's enum says CONFIRMED_DELIVERED; its prose says ORDER_DELIVERED. Either is delivery.
DELIVERED_EVENTS = {"CONFIRMED_DELIVERED", "ORDER_DELIVERED"}
# Events after which the order is to be shipped again.
RESTART_EVENTS = {"ORDER_RE_RELEASED", "TRACKING_CANCELLED"}
PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, InvalidOperation)


def supported_actions(order):
    return {"acknowledge", "pack", "ship", "update_tracking", "cancel"}


# -- reading Wish's answers --------------------------------------------------------------

def parse_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def wish_time(moment):
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def optional_time(value):
    return to_utc_naive(parse_time(value)) if value else None


def amount(money):
    return Decimal(str(money["amount"]))


def seconds_until_reset(value):
    """Wish-Rate-Limit-Reset is "the time the rate-limiter will reset" (epoch seconds)."""
    try:
        reset = float(value)
    except (TypeError, ValueError):
        return None
    # A small number cannot be a moment: some gateways send the seconds left instead.
    return reset if reset < 10 ** 9 else max(0.0, reset - time.time())


def fulfilment_milestones(records):
    """(shipped_at, delivered_at) of the current round of fulfilment: a re-release or a
    cancelled tracking number means the order is to be shipped again."""
    shipped = delivered = None
    for record in sorted(records, key=lambda r: parse_time(r["event_time"])):
        kind, at = record.get("event_type"), optional_time(record["event_time"])
        if kind == "MARK_SHIPPED":
            shipped = at
        elif kind in DELIVERED_EVENTS:
            delivered = at
        elif kind in RESTART_EVENTS:
            shipped = delivered = None
    return shipped, delivered


def refund_text(refund):
    return ": ".join(filter(None, (refund.get("refund_reason"), refund.get("refund_reason_note"))))


def parse_order(record):
    """A Wish order in fulfil's terms; raises one of PARSE_ERRORS when it cannot be read."""
    external_id = str(record["id"])
    state = record["state"]
    product = record["product_information"]
    payment = record["order_payment"]["general_payment_details"]
    address = record.get("full_address", {}).get("shipping_detail", {})
    quantity = int(payment["product_quantity"])
    price = amount(payment["product_price"])
    total = payment.get("payment_total")
    shipped_at, delivered_at = fulfilment_milestones(record.get("fulfillment_records") or [])
    status = STATUS_MAP.get(state, "on_hold")
    # Wish has no DELIVERED state: the carrier's confirmation arrives as a fulfilment record.
    if status == "in_transit" and delivered_at:
        status = "delivered"
    tracking = record.get("tracking_information") or []
    refunds = record.get("refunds") or []
    variant = ", ".join(filter(None, (product.get("color"), product.get("size"))))
    return RemoteOrder(
        external_id=external_id,
        order_number=external_id,
        raw_status=state,
        raw_substatus="CONFIRMED_DELIVERED" if status == "delivered" else None,
        status=status,
        ordered_at=optional_time(record.get("released_at")),
        ship_by=optional_time(record.get("fulfillment_requirements", {}).get("expected_ship_time")),
        updated_at=optional_time(record["updated_at"]),
        shipped_at=shipped_at,
        delivered_at=delivered_at,
        buyer_name=address.get("name", ""),
        buyer_phone=(address.get("phone_number") or {}).get("number"),
        address_line1=address.get("street_address1", ""),
        address_line2=", ".join(filter(None, (address.get("street_address2"),
                                              address.get("street_address3")))) or None,
        city=address.get("city", ""),
        region=address.get("state"),
        postal_code=address.get("zipcode"),
        country=address.get("country_code"),
        currency=(total or payment["product_price"])["currency_code"],
        # What Wish pays the merchant for the order (product and shipping).
        total=amount(total) if total else price * quantity,
        cancel_reason=refund_text(refunds[-1]) if state == "REFUNDED" and refunds else None,
        lines=[RemoteLine(line_number="1", sku=product.get("sku", ""),
                          item_id=product.get("variation_id") or product["id"],
                          name=product.get("name", "") + (f" ({variant})" if variant else ""),
                          price=price, quantity=quantity)],
        # Newest first; an older entry is a number the newest one replaced, not a second parcel.
        shipments=[RemoteShipment(tracking_number=tracking[0]["tracking_number"],
                                  carrier_name=(tracking[0].get("shipping_provider") or {}).get("name"),
                                  shipment_ref=external_id, shipped_at=shipped_at,
                                  delivered_at=delivered_at, line_quantities={"1": quantity})]
        if tracking else [],
        raw={} if state in STATUS_MAP else {"unknown_state": state},
    )


def envelope_code(value):
    """The envelope's code as an integer: the schema says integer, the examples send "1007"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def read_envelope(response):
    """The {"code", "message", "data"} envelope (code as an integer), or None when the body
    is not one."""
    try:
        envelope = response.json()
    except ValueError:
        return None
    code = envelope_code(envelope.get("code")) if isinstance(envelope, dict) else None
    if code is None:
        return None
    return {**envelope, "code": code}


class SharedTokens:
    """Tokens from the account's settings; once refreshed they live in the shared token
    store, so every worker uses the same one."""

    def __init__(self, store, key, settings):
        self.store, self.key, self.settings = store, key, settings

    def current(self):
        return self.store.get(self.key) or self.settings.get("access_token")

    def refresh_token(self):
        return self.store.get(self.key + ":refresh") or self.settings.get("refresh_token")

    def keep(self, data):
        self.store[self.key] = data["access_token"]
        if data.get("refresh_token"):
            self.store[self.key + ":refresh"] = data["refresh_token"]


def wish_message(envelope):
    return envelope.get("message") or f"Wish error code {envelope['code']}"


def processing_outcome(order, source):
    """IN_PROGRESS while Wish is still processing a write of this kind; otherwise the write
    did not take (FAILED, or never arrived) and may be sent again."""
    busy = order.get("processing_source") == source and order.get("processing_status") == "IN_PROGRESS"
    return IN_PROGRESS if busy else NOT_APPLIED


def order_path(external_id, suffix=""):
    return f"/api/v3/orders/{quote(str(external_id), safe='')}{suffix}"


class WishAdapter(Adapter):
    kind = "wish"
    ASYNC_ACTIONS = frozenset({"ship", "update_tracking", "cancel"})

    def __init__(self, settings, token_store=None, session=None):
        super().__init__(settings, token_store, session)
        if self.session is None:
            self.session = requests.Session()
        self.base_url = settings["base_url"].rstrip("/").removesuffix("/api/v3")
        self.timeout = float(settings.get("timeout") or 10)
        self.page_size = min(int(settings.get("page_size") or 100), MAX_PAGE)
        self.token_key = f"wish:{settings['client_id']}"
        self.tokens = settings.get("token_vault") or SharedTokens(self.token_store, self.token_key, settings)

    # -- HTTP ------------------------------------------------------------------------------
    def _send(self, method, path, token=None, params=None, body=None):
        """One HTTP exchange -> (HTTP status, envelope); transport trouble, 429, 5xx and
        unreadable answers are raised as the failures they are."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self.session.request(method, self.base_url + path, params=params, json=body,
                                            headers=headers, timeout=self.timeout)
        # `from None`: requests' messages quote the URL, and the refresh URL holds secrets.
        except requests.Timeout:
            raise Retryable(f"Wish did not answer within {self.timeout:g} s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            raise Retryable(f"Could not reach Wish ({type(exc).__name__})") from None
        status = response.status_code
        log.info("wish call=%s path=%s status=%s request_id=%s", method, path, status,
                 response.headers.get("Wish-Request-Id"))
        if status == 429:
            raise RateLimited("Wish's rate limit is reached", status_code=status,
                              retry_after=seconds_until_reset(response.headers.get("Wish-Rate-Limit-Reset")))
        envelope = read_envelope(response)
        if status >= 500:
            message = (envelope or {}).get("message") or response.reason
            raise Retryable(f"Wish is unavailable (HTTP {status}: {message})", status_code=status)
        if envelope is None:
            raise Retryable(f"Wish sent an unreadable answer (HTTP {status}, {len(response.content)} bytes)",
                            status_code=status)
        return status, envelope

    def _call(self, method, path, params=None, body=None):
        """An authorised call -> its `data`. A refused token is refreshed once and the call
        repeated once; never more, so a broken account cannot loop."""
        token = self.tokens.current()
        if not token:
            raise Permanent("This Wish account is not connected: an admin connects it on the "
                            "Accounts page (fulfil then holds Wish's tokens).")
        status, envelope = self._send(method, path, token, params, body)
        if envelope["code"] in TOKEN_ERRORS:
            token = self._token_after(envelope, token)
            status, envelope = self._send(method, path, token, params, body)
            if envelope["code"] in TOKEN_ERRORS:
                if self.tokens.current() != token:
                    raise Retryable("Another worker replaced the Wish access token meanwhile",
                                    code=envelope["code"])
                raise self._reconnect(envelope)
        if envelope["code"] != 0:
            raise Permanent(wish_message(envelope), status_code=status, code=envelope["code"])
        return envelope.get("data")

    def _token_after(self, envelope, used):
        stored = self.tokens.current()
        if stored and stored != used:
            return stored  # another worker refreshed it already
        if envelope["code"] not in REFRESHABLE:
            raise self._reconnect(envelope)
        return self._refresh()

    def _refresh(self):
        """A new access token, kept where every worker finds it (the account's stored
        connection, or the shared token store)."""
        refresh_token = self.tokens.refresh_token()
        if not refresh_token:
            raise Permanent("Wish's access token expired and fulfil has no refresh token: reconnect "
                            "the Wish account.")
        params = {"client_id": self.settings["client_id"], "client_secret": self.settings["client_secret"],
                  "refresh_token": refresh_token, "grant_type": "refresh_token"}
        _, envelope = self._send("GET", "/api/v3/oauth/refresh_token", params=params)
        data = envelope.get("data")
        if envelope["code"] != 0 or not isinstance(data, dict) or not data.get("access_token"):
            raise self._reconnect(envelope)
        self.tokens.keep(data)
        log.info("wish token=refreshed client_id=%s", self.settings["client_id"])
        return data["access_token"]

    # -- OAuth: connecting an account ------------------------------------------------------
    def authorize_url(self, redirect_uri, state):
        """Where the seller authorises fulfil's app: Wish's merchant site, not the API. Wish
        redirects to the app's registered redirect URI with ?code= (valid 5 minutes, once)."""
        site = self.settings.get("authorize_url") or self.base_url + "/v3/oauth/authorize"
        query = urlencode({"client_id": self.settings["client_id"], "redirect_uri": redirect_uri,
                           "state": state})
        return f"{site}?{query}"

    def exchange_code(self, code, redirect_uri):
        """The authorization code -> AccessToken data (access_token, refresh_token,
        expiry_time, merchant_id, scopes). POST with a JSON body (oauthAccessTokenPost), so
        the client secret never sits in a URL."""
        body = {"client_id": self.settings["client_id"], "client_secret": self.settings["client_secret"],
                "code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        status, envelope = self._send("POST", "/api/v3/oauth/access_token", body=body)
        data = envelope.get("data")
        if envelope["code"] != 0:
            raise Permanent(f"Wish did not accept the authorization: {wish_message(envelope)}",
                            status_code=status, code=envelope["code"])
        if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
            raise Retryable("Wish's token answer has no access_token or refresh_token", status_code=status)
        return data

    def test_token(self, access_token):
        """GET /api/v3/oauth/test: the merchant id the token works for."""
        status, envelope = self._send("GET", "/api/v3/oauth/test", access_token)
        data = envelope.get("data")
        if envelope["code"] != 0:
            raise Permanent(f"Wish refused the new access token: {wish_message(envelope)}",
                            status_code=status, code=envelope["code"])
        if not isinstance(data, dict) or not data.get("merchant_id"):
            raise Retryable("Wish's token test answer has no merchant_id", status_code=status)
        return data["merchant_id"]

    @staticmethod
    def _reconnect(envelope):
        return Permanent(f"Wish refused fulfil's access ({wish_message(envelope)}): reconnect the "
                         "Wish account.", code=envelope["code"])

    def _order(self, external_id):
        data = self._call("GET", order_path(external_id))
        if not isinstance(data, dict):
            raise Retryable(f"Wish sent no order for {external_id}")
        return data

    # -- reads -----------------------------------------------------------------------------
    def list_changed(self, cursor):
        mark = parse_time(cursor["updated_at_min"]) if cursor else None
        seen = set(cursor["seen_ids"]) if cursor else set()
        # The page repeats the orders already seen at `mark`: ask for that many more.
        limit = min(self.page_size + len(seen), MAX_PAGE)
        params = {"limit": limit, "sort_by": "updated_at.asc"}
        if mark is not None:
            params["updated_at_min"] = wish_time(mark)
        records = self._call("GET", "/api/v3/orders", params=params)
        if not isinstance(records, list):
            raise Retryable("Wish sent an order list that is not a list")
        orders, problems, fresh = [], [], 0
        for record in records:
            external_id = str(record.get("id", "")) if isinstance(record, dict) else ""
            try:
                updated_at = parse_time(record["updated_at"])
            except PARSE_ERRORS:
                updated_at = None
            if updated_at is not None and updated_at == mark and external_id in seen:
                continue
            fresh += 1
            try:
                orders.append(parse_order(record))
            except PARSE_ERRORS as exc:
                problems.append((external_id, unreadable("Wish", exc),
                                 json.dumps(record, default=str)))
            if updated_at is None:
                continue
            if mark is None or updated_at > mark:
                mark, seen = updated_at, {external_id}
            elif updated_at == mark:
                seen.add(external_id)
        has_more = len(records) >= limit
        if has_more and not fresh:
            # More orders share one update time than a page holds; without a step past it
            # paging would never end.
            problems.append(("", f"More than {limit} Wish orders were updated at {wish_time(mark)}: "
                                 "some of them may not be imported.", ""))
            mark, seen = mark + timedelta(milliseconds=1), set()
        new_cursor = {"updated_at_min": wish_time(mark), "seen_ids": sorted(seen)} if mark else cursor
        return ImportPage(orders=orders, cursor=new_cursor, has_more=has_more, problems=problems)

    def get_order(self, external_id):
        record = self._order(external_id)
        try:
            return parse_order(record)
        except PARSE_ERRORS as exc:
            raise Permanent(f"fulfil cannot read Wish order {external_id} ({type(exc).__name__}: {exc})") from exc

    # -- writes ----------------------------------------------------------------------------
    def push_ship(self, payload):
        provider = payload.get("carrier_name") or CARRIER_NAMES.get(payload.get("carrier"))
        if not provider:
            raise Permanent(f"Wish does not take {payload.get('carrier') or 'this carrier'} as a shipping "
                            "provider: choose one of " + ", ".join(CARRIER_NAMES.values()) + ".")
        origin = self.settings.get("origin_country") or ORIGIN_COUNTRIES.get(payload.get("carrier"), "CN")
        self._call("PUT", order_path(payload["external_id"], "/tracking"),
                   body={"tracking_number": payload["tracking_number"], "shipping_provider": provider,
                         "origin_country": origin})

    # Wish marks shipped and changes tracking with the same call.
    push_update_tracking = push_ship

    def push_cancel(self, payload):
        # Valid reasons differ per order and over its life: Wish asks to look just before.
        offered = self._call("GET", order_path(payload["external_id"], "/refund_reasons")) or []
        wanted = REFUND_REASONS.get(payload.get("reason_code"), FALLBACK_REFUND_REASON)
        reason = next((r for r in (wanted, FALLBACK_REFUND_REASON) if r in offered), None)
        if reason is None:
            raise Permanent("Wish does not let this order be refunded now (it offers: "
                            f"{', '.join(offered) or 'no refund reason'}).")
        body = {"refund_reason": reason}
        if payload.get("reason"):
            body["refund_reason_note"] = payload["reason"]
        self._call("PUT", order_path(payload["external_id"], "/refund"), body=body)

    def check(self, action, payload):
        order = self._order(payload["external_id"])
        if action == "cancel":
            return APPLIED if order.get("state") == "REFUNDED" else processing_outcome(order, "REFUND")
        numbers = [t.get("tracking_number") for t in order.get("tracking_information") or []]
        # A ship holds once Wish has the number at all (a later update may have replaced it);
        # an update only while its number is the newest.
        held = numbers[:1] if action == "update_tracking" else numbers
        if order.get("state") == "SHIPPED" and payload["tracking_number"] in held:
            return APPLIED
        return processing_outcome(order, "UPDATE_TRACKING")


ADAPTER = WishAdapter
