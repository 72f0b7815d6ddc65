"""Walmart Marketplace (US) Orders API v3: purchase orders shipped per line.

Settings keys: base_url, client_id, client_secret, timeout (seconds, default 10),
service_name (sent as WM_SVC.NAME, default "Walmart Marketplace"), page_size (orders per
list call, at most 200, default 100), import_days (how far back the first import looks,
default 30), created_days (how old an order may be and still have its changes imported,
default and at most 180: Walmart lists only orders created in the last 180 days).

Import cursor (JSON): {"since": ISO UTC, "next": Walmart's nextCursor or null, "started":
ISO UTC, only while paging}. A run pages through
`GET /v3/orders?createdStartDate=now-created_days&lastModifiedStartDate=since`; at the end,
the next run's `since` is when this run started, less a minute for clock skew between
fulfil and Walmart (importing an order twice is harmless, missing one is not).
createdStartDate is always sent: when absent Walmart takes "current date - 7 days", so a
list by lastModifiedStartDate alone misses every change to an order older than a week.
nextCursor is opaque: it goes back exactly as Walmart sent it (re-encoding breaks the call).

Walmart's API has no dispute status. A customer escalation is read from the order field
`customerEscalation` ({"status": "OPEN", "openedDate", "autoRefundDate"}, epoch ms), which
only the simulator sends: on real Walmart it is absent and `dispute` stays False.
"""
import base64
import json
import logging
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote

import requests

from fulfil.marketplaces._sanitize import unreadable
from fulfil.marketplaces.base import (
    APPLIED, NOT_APPLIED, Adapter, AlreadyDone, ImportPage, Permanent, RateLimited, RemoteLine,
    RemoteOrder, RemoteShipment, Retryable,
)

log = logging.getLogger(__name__)

STATUS_MAP = {
    "Created": "new",
    "Acknowledged": "to_pack",
    "Shipped": "in_transit",
    "Delivered": "delivered",
    "Cancelled": "cancelled",
    "Refund": "cancelled",
}

# How far a line status has come. An order is as far as its least advanced line (a
# cancelled line does not hold the others back); statuses Walmart adds later rank lowest,
# so the order shows as on hold with the new status kept raw.
LINE_PROGRESS = {"Created": 0, "Acknowledged": 1, "Shipped": 2, "Delivered": 3, "Cancelled": 4,
                 "Refund": 5}
OPEN_STATUSES = ("Created", "Acknowledged")  # quantities still to ship or cancel
SHIPPED_STATUSES = ("Shipped", "Delivered")

# The spec's enum for trackingInfo.carrierName.carrier (tests compare it with the spec).
# Any other carrier goes as otherCarrier, which Walmart accepts only with a trackingURL.
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
METHOD_CODES = ("Standard", "Express", "OneDay", "Freight", "WhiteGlove", "Value")
CANCELLATION_REASONS = ("CUSTOMER_REQUESTED_SELLER_TO_CANCEL", "SELLER_CANCEL_PRICING_ERROR",
                        "SELLER_CANCEL_OUT_OF_STOCK", "SELLER_CANCEL_FRAUD_STOP_SHIPMENT",
                        "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE")

# fulfil's cancel reasons (fulfil.actions.CANCEL_REASONS) -> Walmart's. Walmart takes
# CUSTOMER_REQUESTED_SELLER_TO_CANCEL only for lines the buyer asked to cancel on Walmart
# (intentToCancel) and has no "other": a seller's own reason counts as out of stock, the
# reason every seller-side cancellation is scored under anyway. Fraud is Walmart's call
# (the seller e-mails Walmart's risk team), so fulfil never sends it.
CANCEL_REASONS = {
    "out_of_stock": "SELLER_CANCEL_OUT_OF_STOCK",
    "buyer_request": "CUSTOMER_REQUESTED_SELLER_TO_CANCEL",
    "cannot_ship": "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE",
    "pricing_error": "SELLER_CANCEL_PRICING_ERROR",
    "other": "SELLER_CANCEL_OUT_OF_STOCK",
}

# Walmart's cancellationReason codes in the words the order page shows (unknown codes as sent).
CANCEL_REASON_WORDS = {
    "CUSTOMER_CANCELLED": "Cancelled by the buyer",
    "CUSTOMER_REQUESTED_SELLER_TO_CANCEL": "The buyer asked the seller to cancel",
    "SELLER_CANCEL_OUT_OF_STOCK": "Cancelled by the seller: out of stock",
    "SELLER_CANCEL_PRICING_ERROR": "Cancelled by the seller: pricing error",
    "SELLER_CANCEL_FRAUD_STOP_SHIPMENT": "Cancelled by Walmart: suspected fraud, do not ship",
    "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE": "Cancelled by the seller: the address cannot be served",
}

# fulfil carrier code -> the name Walmart accepts (values in CARRIERS go as `carrier`,
# "other" goes as otherCarrier with the package's tracking URL).
CARRIER_NAMES = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "china_post": "China Post",
    "yanwen": "Yanwen",
    "4px": "4PX",
    "yunexpress": "YunExpress",
    "ems": "China Post",
    "ontrac": "OnTrac", "dhl_ecommerce_us": "DHL Ecommerce - US", "lasership": "LS", "uds": "UDS",
    "upsmi": "UPSMI", "fedex_smartpost": "FEDEXSP", "airborne": "Airborne", "pilot": "PILOT",
    "estes": "ESTES", "estes_express": "Estes Express", "saia": "SAIA", "fds_express": "FDS Express",
    "seko": "Seko Worldwide", "hit_delivery": "HIT Delivery", "rl_carriers": "RL Carriers",
    "metropolitan": "Metropolitan Warehouse & Delivery", "yellow_freight": "Yellow Freight Sys",
    "ait": "AIT Worldwide Logistics", "chukou1": "Chukou1", "sendle": "Sendle",
    "landmark_global": "Landmark Global", "sunyou": "Sunyou", "gls": "GLS", "osm": "OSM Worldwide",
    "first_mile": "FIRST MILE", "am_trucking": "AM Trucking", "ceva": "CEVA", "india_post": "India Post",
    "sf_express": "SF Express", "cne": "CNE", "tforce": "TForce Freight", "axlehire": "AxleHire",
    "lso": "LSO", "royal_mail": "Royal Mail", "abf": "ABF Freight System", "wanb": "WanB",
    "roadrunner": "Roadrunner Freight", "meyer": "Meyer Distribution", "aaa_cooper": "AAA Cooper",
    "canada_post": "Canada Post", "southeastern": "Southeastern Freight Lines", "japan_post": "Japan Post",
    "correos_mexico": "Correos de Mexico", "xpo": "XPO Logistics", "jd_logistics": "JD Logistics",
    "ydh": "YDH", "jcex": "JCEX", "flyt": "Flyt", "deutsche_post": "Deutsche Post",
    "better_trucks": "Better Trucks", "asendia": "Asendia", "sfc": "SFC", "ubi": "UBI",
    "epost_global": "ePost Global", "yf_logistics": "YF Logistics", "rxo": "RXO", "shypmax": "Shypmax",
    "winit": "WIN.IT America", "pitt_ohio": "PITT OHIO", "postnord": "PostNord Sweden", "equick": "Equick",
    "whistl": "Whistl", "tusou": "Tusou", "shiprocket": "Shiprocket", "dtdc": "DTDC", "pts": "PTS",
    "other": "other",
}

# Lines ship separately, each with its own tracking number (partial shipments).
MULTI_PACKAGE = True

# Walmart has no "packed" state and no "delivered" call.
PUSHED_ACTIONS = frozenset({"acknowledge", "ship", "update_tracking", "cancel"})

# Walmart's gateway codes for a missing, invalid or expired access token.
AUTH_CODES = frozenset({"UNAUTHORIZED.GMP_GATEWAY_API", "INVALID_TOKEN.GMP_GATEWAY_API"})
TOKEN_MARGIN = 60  # seconds: a cached token this close to expiry is replaced first
IMPORT_OVERLAP = timedelta(minutes=1)
HISTORY_DAYS = 180  # "Only orders created in last 180 days ... can be fetched" (getAllOrders)
COUNTRY_CODES = {"USA": "US"}  # Walmart writes ISO alpha-3; fulfil stores alpha-2
CENT = Decimal("0.01")
# What a record that is not shaped as the spec says raises while being read.
UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError)


def supported_actions(order):
    return {"acknowledge", "pack", "ship", "update_tracking", "cancel"}


class WalmartAdapter(Adapter):
    kind = "walmart"

    def __init__(self, settings, token_store=None, session=None):
        super().__init__(settings, token_store, session or requests.Session())
        self.base_url = settings["base_url"].rstrip("/")
        self.timeout = float(settings.get("timeout") or 10)
        self.service_name = settings.get("service_name") or "Walmart Marketplace"
        self.page_size = min(int(settings.get("page_size") or 100), 200)
        self.import_days = int(settings.get("import_days") or 30)
        self.created_days = min(int(settings.get("created_days") or HISTORY_DAYS), HISTORY_DAYS)

    # -- reads ---------------------------------------------------------------
    def list_changed(self, cursor):
        cursor = cursor or {}
        now = _utcnow()
        started = cursor.get("started") or _iso(now)
        since = cursor.get("since") or _iso(now - timedelta(days=self.import_days))
        if cursor.get("next"):
            path, params = "/v3/orders" + _query(cursor["next"]), None
        else:
            # The created window reaches at least as far back as the changes looked for.
            days = max(self.created_days, self.import_days)
            params = {"createdStartDate": _iso(now - timedelta(days=days)),
                      "lastModifiedStartDate": since, "limit": self.page_size}
            path = "/v3/orders"
        try:
            listing = self._call("GET", path, params=params)["list"]
            meta = listing.get("meta") or {}
            records = (listing.get("elements") or {}).get("order") or []
        except Permanent as exc:
            if exc.status_code != 404:
                raise
            meta, records = {}, []  # Walmart answers 404, not an empty list, when nothing matches
        except UNREADABLE as exc:
            raise Retryable(f"Walmart sent an order list fulfil cannot read ({exc!r}).")
        orders, problems = [], []
        for record in records:
            try:
                orders.append(_remote_order(record))
            except UNREADABLE as exc:
                external_id = record.get("purchaseOrderId", "?") if isinstance(record, dict) else "?"
                problems.append((external_id, unreadable("Walmart", exc),
                                 json.dumps(record, default=str)))
        if meta.get("nextCursor"):
            return ImportPage(orders, {"since": since, "next": meta["nextCursor"], "started": started},
                              True, problems)
        resume = _iso(datetime.fromisoformat(started) - IMPORT_OVERLAP)
        return ImportPage(orders, {"since": resume, "next": None}, False, problems)

    def get_order(self, external_id):
        return self._read(external_id, _remote_order)

    # -- writes --------------------------------------------------------------
    def push_acknowledge(self, payload):
        # Walmart acknowledges a whole order and answers 200 again for one already acknowledged.
        self._call("POST", _order_path(payload["external_id"]) + "/acknowledge")

    def push_ship(self, payload):
        todo = self._plan("ship", payload)
        # Walmart ships only acknowledged lines; the acknowledge entry may still be queued.
        if any(_quantity(entries, _in("Created")) for _, entries, _ in todo):
            self.push_acknowledge(payload)
        self._call("POST", _order_path(payload["external_id"]) + "/shipping",
                   json=_shipment_body(payload, todo))

    def push_update_tracking(self, payload):
        todo = self._plan("update_tracking", payload)
        self._call("POST", _order_path(payload["external_id"]) + "/shipping",
                   json=_shipment_body(payload, todo, correction=True))

    def push_cancel(self, payload):
        reason = CANCEL_REASONS.get(payload.get("reason_code"))
        if reason is None:
            raise Permanent(f"Walmart has no cancellation reason for {payload.get('reason_code')!r}.")
        todo = self._plan("cancel", payload)
        self._call("POST", _order_path(payload["external_id"]) + "/cancel",
                   json=_cancellation_body(reason, todo))

    def check(self, action, payload):
        if action == "acknowledge":
            return APPLIED if self._read(payload["external_id"], _acknowledged) else NOT_APPLIED
        try:
            self._plan(action, payload)
        except AlreadyDone:
            return APPLIED
        return NOT_APPLIED

    def _plan(self, action, payload):
        """Read the order and return [(lineNumber, its status entries, quantity to send)].

        Walmart answers 400 to a change a line already has (shipping a shipped line), so
        lines that have it are left out: AlreadyDone when none is left, Permanent when a
        line holds something else (e.g. shipped with another tracking number).
        """
        if action not in LINE_RULES:
            raise Permanent(f"Walmart has no call for {action}.")
        rules = LINE_RULES[action](payload)
        todo = self._read(payload["external_id"], lambda record: _lines_to_send(rules, record, payload))
        if not todo:
            raise AlreadyDone(f"Walmart already has this {action.replace('_', ' ')}.")
        return todo

    def _read(self, external_id, interpret):
        """interpret(the order as Walmart has it now); an order not shaped as the spec
        says is a Permanent failure (reading it again will not change it)."""
        body = self._call("GET", _order_path(external_id))
        try:
            # The spec's schema has the order bare; its examples and Walmart wrap it in "order".
            return interpret(body["order"] if isinstance(body.get("order"), dict) else body)
        except UNREADABLE as exc:
            raise Permanent(f"Walmart order {external_id} could not be read: {exc!r}")

    # -- HTTP ----------------------------------------------------------------
    def _call(self, method, path, **kwargs):
        """One API call. Walmart refusing the token (expired early, revoked) gets one
        new token and one repeat; a second refusal is an auth failure for a person."""
        token = self._token()
        response = self._send(method, path, token, **kwargs)
        if _token_refused(response):
            response = self._send(method, path, self._token(refused=token), **kwargs)
        return _answer(response)

    def _send(self, method, path, token, **kwargs):
        return self._request(method, path, headers=self._headers({"WM_SEC.ACCESS_TOKEN": token}),
                             **kwargs)

    def _token(self, refused=None):
        """The cached access token, or a new one when there is none, it is about to expire
        or it is the one Walmart just refused. Cached per client_id in the shared store, so
        workers do not each fetch one (another worker may already have replaced it)."""
        key = "walmart-token:" + self.settings["client_id"]
        cached = self.token_store.get(key)
        if cached and cached["access_token"] != refused and cached["expires_at"] - TOKEN_MARGIN > time.time():
            return cached["access_token"]
        pair = f"{self.settings['client_id']}:{self.settings['client_secret']}".encode()
        headers = self._headers({"Authorization": "Basic " + base64.b64encode(pair).decode(),
                                 "Content-Type": "application/x-www-form-urlencoded"})
        body = _answer(self._request("POST", "/v3/token", headers=headers,
                                     data={"grant_type": "client_credentials"}))
        try:
            token, expires_at = body["access_token"], time.time() + float(body["expires_in"])
        except UNREADABLE:
            raise Retryable("Walmart's token answer has no access_token or expires_in.")
        self.token_store[key] = {"access_token": token, "expires_at": expires_at}
        log.info("marketplace=walmart event=token_fetched expires_in=%s", body["expires_in"])
        return token

    def _headers(self, extra):
        return {"WM_SVC.NAME": self.service_name, "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
                "Accept": "application/json", **extra}

    def _request(self, method, path, **kwargs):
        try:
            return self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise Retryable(f"Walmart did not answer within {self.timeout:g} s.")
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            raise Retryable(f"Could not reach Walmart: {exc}")


ADAPTER = WalmartAdapter


# -- answers and errors -----------------------------------------------------------------

def _answer(response):
    """The JSON body of a successful answer; a failure raised as its MarketplaceError kind."""
    if not response.ok:
        raise _error(response)
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise Retryable(f"Walmart sent an unreadable answer (HTTP {response.status_code}, "
                        f"{len(response.content)} bytes).", status_code=response.status_code)


def _errors(response):
    """Error entries from any of Walmart's shapes: {"errors": [...]},
    {"errors": {"error": [...]}} and the gateway's {"error": [...]}."""
    try:
        body = response.json()
    except ValueError:
        return []
    found = body.get("errors", body.get("error")) if isinstance(body, dict) else None
    if isinstance(found, dict):
        found = found.get("error")
    return [entry for entry in found if isinstance(entry, dict)] if isinstance(found, list) else []


def _token_refused(response):
    # An expired token has been seen as 401 and as 400 with INVALID_TOKEN.
    return response.status_code == 401 or (
        response.status_code == 400 and any(e.get("code") in AUTH_CODES for e in _errors(response)))


def _error(response):
    errors = _errors(response)
    code = next((e["code"] for e in errors if e.get("code")), None)
    words = []
    for entry in errors:
        for key in ("message", "description", "info"):
            if entry.get(key) and entry[key] not in words:
                words.append(entry[key])
    message = " — ".join(words) or f"HTTP {response.status_code} {response.reason}"
    status = response.status_code
    details = {"status_code": status, "code": code}
    if status == 429:
        return RateLimited(message, retry_after=_replenishment_wait(response), **details)
    if status >= 500 or status == 408:
        return Retryable(message, **details)
    if status in (401, 403) or code in AUTH_CODES:
        return Permanent("Walmart refused the credentials: " + message, **details)
    return Permanent(message, **details)


def _replenishment_wait(response):
    """Seconds until Walmart's token bucket refills (its header holds epoch milliseconds)."""
    value = (response.headers.get("X-Next-Replenishment-Time")
             or response.headers.get("x-next-replenish-time"))
    try:
        return max(0.1, int(value) / 1000 - time.time())
    except (TypeError, ValueError):
        return None


# -- reading orders ---------------------------------------------------------------------

def _remote_order(record):
    """A Walmart purchase order (wire format) -> RemoteOrder. Raises UNREADABLE errors."""
    shipping = record["shippingInfo"]
    address = shipping["postalAddress"]
    lines, shipments, entries_seen, status_dates = [], {}, [], []
    total, currency, cancel_reasons = Decimal("0"), "USD", []
    for raw_line in record["orderLines"]["orderLine"]:
        item, entries = raw_line["item"], raw_line["orderLineStatuses"]["orderLineStatus"]
        quantity = int(raw_line["orderLineQuantity"]["amount"])
        charges = raw_line["charges"]["charge"]
        products = [c["chargeAmount"] for c in charges if c["chargeType"] == "PRODUCT"]
        currency = products[0]["currency"] if products else currency
        # The PRODUCT charge is for the line's whole quantity. (A quantity below 1 is refused
        # by the import's own check, marketplaces._sanitize, in words: no division by it here.)
        price = (sum((_money(p) for p in products), Decimal("0")) / max(quantity, 1)).quantize(CENT)
        total += sum((_money(c["chargeAmount"]) + _money((c.get("tax") or {}).get("taxAmount"))
                      for c in charges), Decimal("0"))
        line_date = _from_ms(raw_line.get("statusDate"))
        status_dates.append(line_date)
        for entry in entries:
            entries_seen.append(entry["status"])
            if entry.get("cancellationReason"):
                cancel_reasons.append(entry["cancellationReason"])
            if entry.get("trackingInfo"):
                _add_shipment(shipments, raw_line["lineNumber"], entry, line_date)
        lines.append(RemoteLine(line_number=raw_line["lineNumber"], sku=item["sku"],
                                item_id=item.get("productId") or item["sku"],
                                name=item["productName"], price=price, quantity=quantity,
                                status=_least_advanced(e["status"] for e in entries)))
    raw_status = _least_advanced(entries_seen)
    mixed = sorted(set(entries_seen), key=lambda s: LINE_PROGRESS.get(s, -1))
    escalation = record.get("customerEscalation")
    shipped = [s.shipped_at for s in shipments.values() if s.shipped_at]
    delivered = [s.delivered_at for s in shipments.values() if s.delivered_at]
    return RemoteOrder(
        external_id=record["purchaseOrderId"], order_number=record["customerOrderId"],
        raw_status=raw_status, status=STATUS_MAP.get(raw_status, "on_hold"),
        raw_substatus="+".join(mixed)[:60] if len(mixed) > 1 else None,
        ordered_at=_from_time(record["orderDate"]), ship_by=_from_ms(shipping["estimatedShipDate"]),
        updated_at=max(filter(None, status_dates), default=None),
        shipped_at=min(shipped, default=None),
        delivered_at=max(delivered, default=None) if raw_status == "Delivered" else None,
        buyer_name=address["name"], buyer_email=record.get("customerEmailId"),
        buyer_phone=shipping.get("phone"), address_line1=address["address1"],
        address_line2=address.get("address2"), city=address["city"], region=address.get("state"),
        postal_code=address.get("postalCode"),
        country=COUNTRY_CODES.get(address.get("country"), address.get("country")),
        currency=currency, total=total.quantize(CENT),
        cancel_reason=", ".join(dict.fromkeys(CANCEL_REASON_WORDS.get(r, r) for r in cancel_reasons)) or None,
        dispute=bool(escalation) and escalation.get("status") == "OPEN",
        lines=lines, shipments=list(shipments.values()),
        raw={"customerEscalation": escalation} if escalation else {},
    )


def _add_shipment(shipments, line_number, entry, line_date):
    """One package per tracking number, with the quantity of each line it carries."""
    info = entry["trackingInfo"]
    carrier = info.get("carrierName") or {}
    shipment = shipments.get(info["trackingNumber"])
    if shipment is None:
        shipment = shipments[info["trackingNumber"]] = RemoteShipment(
            tracking_number=info["trackingNumber"],
            carrier_name=carrier.get("carrier") or carrier.get("otherCarrier"),
            tracking_url=info.get("trackingURL"), shipped_at=_from_ms(info.get("shipDateTime")))
    shipment.line_quantities[line_number] = shipment.line_quantities.get(line_number, 0) + _units(entry)
    if entry["status"] == "Delivered":
        shipment.delivered_at = max(filter(None, (shipment.delivered_at, line_date)), default=None)


def _least_advanced(statuses):
    return min(statuses, key=lambda status: LINE_PROGRESS.get(status, -1))


def _acknowledged(record):
    statuses = [entry["status"] for line in record["orderLines"]["orderLine"]
                for entry in line["orderLineStatuses"]["orderLineStatus"]]
    return "Created" not in statuses and any(s != "Cancelled" for s in statuses)


# -- line plans for ship / update tracking / cancel ---------------------------------------

def _in(*statuses, tracking=None):
    """A test for status entries: one of `statuses` (and with this tracking number, if given)."""
    def matches(entry):
        return entry["status"] in statuses and (tracking is None or _tracking_of(entry) == tracking)
    return matches


def _quantity(entries, matches):
    return sum(_units(e) for e in entries if matches(e))


def _units(entry):
    return int(entry["statusQuantity"]["amount"])


def _tracking_of(entry):
    return (entry.get("trackingInfo") or {}).get("trackingNumber")


# action -> payload -> (entries that already have the change, entries it is made from, verb)
LINE_RULES = {
    "ship": lambda p: (_in(*SHIPPED_STATUSES, tracking=p["tracking_number"]), _in(*OPEN_STATUSES),
                       f"shipped with tracking {p['tracking_number']}"),
    "update_tracking": lambda p: (_in(*SHIPPED_STATUSES, tracking=p["tracking_number"]),
                                  _in(*SHIPPED_STATUSES, tracking=p["old_tracking_number"]),
                                  f"moved from tracking {p['old_tracking_number']} to {p['tracking_number']}"),
    "cancel": lambda p: (_in("Cancelled"), _in(*OPEN_STATUSES), "cancelled"),
}


def _lines_to_send(rules, record, payload):
    has_change, source, verb = rules
    lines = {line["lineNumber"]: line for line in record["orderLines"]["orderLine"]}
    todo = []
    for wanted in payload["lines"]:
        number = str(wanted["line_number"])
        if number not in lines:
            raise Permanent(f"Walmart order {payload['external_id']} has no line {number}.")
        entries = lines[number]["orderLineStatuses"]["orderLineStatus"]
        missing = int(wanted["quantity"]) - _quantity(entries, has_change)
        if missing <= 0:
            continue
        if _quantity(entries, source) < missing:
            raise Permanent(f"Line {number}: Walmart has it as {_describe(entries)}, so it cannot be {verb}.")
        todo.append((number, entries, missing))
    return todo


def _describe(entries):
    return ", ".join(f"{_units(e)} {e['status']}" + (f" (tracking {_tracking_of(e)})" if _tracking_of(e) else "")
                     for e in entries)


def _each(quantity):
    return {"unitOfMeasurement": "EACH", "amount": str(quantity)}


def _shipment_body(payload, todo, correction=False):
    """orderShipment for shippingUpdates; a correction replaces old_tracking_number's
    tracking (processMode PARTIAL_UPDATE with currentTrackingInfo)."""
    carrier = payload.get("carrier_name") or ""
    info = {"shipDateTime": _to_ms(payload.get("shipped_at")),
            "carrierName": {"carrier": carrier} if carrier in CARRIERS else {"otherCarrier": carrier},
            "methodCode": payload.get("method_code") or "Standard",
            "trackingNumber": payload["tracking_number"]}
    if payload.get("tracking_url"):
        info["trackingURL"] = payload["tracking_url"]
    lines = []
    for number, _, quantity in todo:
        status = {"status": "Shipped", "statusQuantity": _each(quantity), "trackingInfo": info}
        if correction:
            status["currentTrackingInfo"] = {"trackingNumber": payload["old_tracking_number"]}
        # sellerOrderId is required by the spec; it is printed on return labels.
        lines.append({"lineNumber": number, "sellerOrderId": payload["external_id"],
                      "orderLineStatuses": {"orderLineStatus": [status]}})
    shipment = {"orderLines": {"orderLine": lines}}
    if correction:
        shipment["processMode"] = "PARTIAL_UPDATE"
    return {"orderShipment": shipment}


def _cancellation_body(reason, todo):
    return {"orderCancellation": {"orderLines": {"orderLine": [
        {"lineNumber": number, "orderLineStatuses": {"orderLineStatus": [
            {"status": "Cancelled", "cancellationReason": reason, "statusQuantity": _each(quantity)}]}}
        for number, _, quantity in todo]}}}


# -- small conversions ------------------------------------------------------------------

def _order_path(external_id):
    return "/v3/orders/" + quote(str(external_id), safe="")


def _money(amount):
    return Decimal(str(amount["amount"])) if amount else Decimal("0")


def _utcnow():
    return datetime.now(timezone.utc)


def _iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _query(next_cursor):
    """nextCursor as the query string to append: as sent ("?limit=..&hasMoreElements=.."),
    only given its "?" when Walmart left it off."""
    return next_cursor if next_cursor.startswith("?") else "?" + next_cursor


def _from_time(value):
    """orderDate: epoch milliseconds everywhere Walmart answers, but a date-time string in
    the schema of GET /v3/orders/{purchaseOrderId}; both -> naive UTC."""
    if isinstance(value, str) and not value.isdigit():
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment.astimezone(timezone.utc) if moment.tzinfo else moment).replace(tzinfo=None)
    return _from_ms(value)


def _from_ms(value):
    """Epoch milliseconds -> naive UTC datetime (fulfil stores naive UTC)."""
    if value is None:
        return None
    return datetime.fromtimestamp(int(value) / 1000, timezone.utc).replace(tzinfo=None)


def _to_ms(iso_text):
    """An outbox ISO time (naive means UTC) -> epoch milliseconds; now when absent."""
    moment = datetime.fromisoformat(iso_text) if iso_text else _utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)
