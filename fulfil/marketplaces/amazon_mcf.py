"""Amazon Multi-Channel Fulfillment (Fulfillment Outbound API 2020-07-01): a warehouse, not a
marketplace. fulfil sends an order sold elsewhere to Amazon, follows it, and passes Amazon's
carrier and tracking number on to the marketplace that sold it.

Settings keys: client_id, client_secret, refresh_token (Login with Amazon), marketplace_id
(default ATVPDKIKX0DER, amazon.com), region (na | eu | fe, default na) or base_url (an
explicit SP-API host, e.g. a sandbox or the simulator), lwa_url (default Amazon's token
endpoint; with a base_url that is not Amazon's, base_url + /auth/o2/token), timeout.

LWA access tokens live an hour; one is cached per client id in the shared token store
(Redis in workers) and replaced five minutes before it expires, or at once when Amazon
refuses it. Every SP-API call carries it as `x-amz-access-token`.

Outbox actions (payloads written by fulfil.mcf):
    mcf_create  {"request": CreateFulfillmentOrderRequest}  sellerFulfillmentOrderId doubles
                as the idempotency key: Amazon refuses a second create with the same id.
    mcf_cancel  {"seller_fulfillment_order_id"}
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote

import requests

from fulfil.marketplaces.base import (
    APPLIED, NOT_APPLIED, Adapter, AlreadyDone, ImportPage, Permanent, RateLimited, Retryable,
)

log = logging.getLogger(__name__)

BASE = "/fba/outbound/2020-07-01"
REGION_HOSTS = {"na": "https://sellingpartnerapi-na.amazon.com",
                "eu": "https://sellingpartnerapi-eu.amazon.com",
                "fe": "https://sellingpartnerapi-fe.amazon.com"}
LWA_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"
TOKEN_MARGIN = 300  # seconds: a cached token this close to expiry is replaced first
IMPORT_OVERLAP = timedelta(minutes=1)
SHIPPING_SPEEDS = ("Standard", "Expedited", "Priority")
# Amazon's order statuses, what each means for the order in fulfil (data, not ifs).
STATUS_MAP = {
    "New": "at_amazon", "Received": "at_amazon", "Planning": "at_amazon",
    "Processing": "at_amazon", "Complete": "shipped", "CompletePartialled": "shipped",
    "Unfulfillable": "refused", "Invalid": "refused", "Cancelled": "cancelled",
}
STATUS_LABELS = {
    "New": "received by Amazon, not yet checked", "Received": "accepted by Amazon",
    "Planning": "Amazon is planning the shipment", "Processing": "Amazon is picking and packing",
    "Complete": "shipped by Amazon", "CompletePartialled": "partly shipped by Amazon",
    "Unfulfillable": "Amazon cannot fulfil it", "Invalid": "Amazon found the order invalid",
    "Cancelled": "cancelled at Amazon",
}
CANCELLABLE = frozenset({"New", "Received", "Planning"})
# Amazon carrier codes -> fulfil's carrier codes (fulfil.tracking.CARRIERS); everything else,
# Amazon Logistics (AMZN_US ...) included, goes as "other" with Amazon's tracking page.
CARRIER_CODES = {"UPS": "ups", "USPS": "usps", "FEDEX": "fedex", "FedEx": "fedex", "DHL": "dhl"}
AMAZON_TRACKING_URL = "https://track.amazon.com/tracking/{n}"
CARRIER_NAMES = {}
PUSHED_ACTIONS = frozenset({"mcf_create", "mcf_cancel"})
UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError)


def supported_actions(order):
    return set()


@dataclass
class PreviewOption:
    """One shipping speed as Amazon previewed it."""
    speed: str
    fulfillable: bool
    reasons: list = field(default_factory=list)  # Amazon's words: order or item reasons
    fees: Decimal = Decimal("0")
    currency: str = "USD"
    ship_by: datetime | None = None
    arrive_from: datetime | None = None
    arrive_by: datetime | None = None


@dataclass
class McfPackage:
    package_number: int
    carrier_code: str
    tracking_number: str | None

    @property
    def carrier(self):
        return CARRIER_CODES.get(self.carrier_code, "other")

    @property
    def tracking_url(self):
        if self.carrier != "other" or not self.tracking_number:
            return None
        return AMAZON_TRACKING_URL.format(n=self.tracking_number)


@dataclass
class McfShipment:
    shipment_id: str
    status: str  # PENDING SHIPPED CANCELLED_BY_FULFILLER CANCELLED_BY_SELLER
    shipped_at: datetime | None
    items: dict  # sellerFulfillmentOrderItemId -> quantity
    packages: list  # McfPackage


@dataclass
class McfOrderState:
    """A fulfillment order as Amazon has it now. Datetimes are naive UTC."""
    seller_fulfillment_order_id: str
    status: str
    status_updated_at: datetime | None
    displayable_order_id: str = ""
    items: dict = field(default_factory=dict)  # item id -> {"sku", "quantity", "cancelled", "unfulfillable"}
    shipments: list = field(default_factory=list)  # McfShipment; empty from the list call

    @property
    def outcome(self):
        return STATUS_MAP.get(self.status, "at_amazon")


class AmazonMcfAdapter(Adapter):
    kind = "amazon_mcf"

    def __init__(self, settings, token_store=None, session=None):
        super().__init__(settings, token_store, session or requests.Session())
        region = (settings.get("region") or "na").lower()
        self.base_url = (settings.get("base_url") or REGION_HOSTS.get(region) or REGION_HOSTS["na"]).rstrip("/")
        amazon_host = self.base_url.endswith(".amazon.com")
        self.lwa_url = settings.get("lwa_url") or (LWA_URL if amazon_host else self.base_url + "/auth/o2/token")
        self.marketplace_id = settings.get("marketplace_id") or DEFAULT_MARKETPLACE
        self.timeout = float(settings.get("timeout") or 10)
        self.import_days = int(settings.get("import_days") or 7)

    # -- preview -------------------------------------------------------------------------
    def preview(self, address, items, block_amzl=False, speeds=SHIPPING_SPEEDS):
        """[PreviewOption] per shipping speed for these items to this address."""
        body = {"marketplaceId": self.marketplace_id, "address": address, "items": items,
                "shippingSpeedCategories": list(speeds)}
        if block_amzl:
            body["featureConstraints"] = [{"featureName": "BLOCK_AMZL", "featureFulfillmentPolicy": "Required"}]
        answer = self._call("POST", BASE + "/fulfillmentOrders/preview", json=body)
        try:
            return [_preview_option(p) for p in answer["payload"]["fulfillmentPreviews"]]
        except UNREADABLE as exc:
            raise Retryable(f"Amazon sent a preview fulfil cannot read ({exc!r}).")

    # -- reads ---------------------------------------------------------------------------
    def get_order(self, external_id):
        answer = self._call("GET", _order_path(external_id))
        try:
            return _order_state(answer["payload"])
        except UNREADABLE as exc:
            raise Permanent(f"Amazon's fulfillment order {external_id} could not be read: {exc!r}")

    def list_changed(self, cursor):
        """One page of fulfillment orders updated since the cursor: McfOrderStates
        (status only; read each with get_order for its shipments)."""
        cursor = cursor or {}
        started = cursor.get("started") or _iso(_utcnow())
        since = cursor.get("since") or _iso(_utcnow() - timedelta(days=self.import_days))
        params = {"nextToken": cursor["next"]} if cursor.get("next") else {"queryStartDate": since}
        answer = self._call("GET", BASE + "/fulfillmentOrders", params=params)
        try:
            payload = answer.get("payload") or {}
            orders = [_order_state({"fulfillmentOrder": o, "fulfillmentOrderItems": []})
                      for o in payload.get("fulfillmentOrders") or []]
        except UNREADABLE as exc:
            raise Retryable(f"Amazon sent a fulfillment order list fulfil cannot read ({exc!r}).")
        if payload.get("nextToken"):
            return ImportPage(orders, {"since": since, "next": payload["nextToken"], "started": started}, True)
        resume = _iso(datetime.fromisoformat(started.replace("Z", "+00:00")) - IMPORT_OVERLAP)
        return ImportPage(orders, {"since": resume, "next": None}, False)

    # -- writes --------------------------------------------------------------------------
    def push_mcf_create(self, payload):
        request_body = dict(payload["request"], marketplaceId=self.marketplace_id)
        try:
            self._call("POST", BASE + "/fulfillmentOrders", json=request_body)
        except Permanent as exc:
            # A refused second create: Amazon already holds this order, so it is done.
            if exc.status_code == 400 and self._exists(request_body["sellerFulfillmentOrderId"]):
                raise AlreadyDone("Amazon already has this fulfillment order.")
            raise

    def push_mcf_cancel(self, payload):
        order_id = payload["seller_fulfillment_order_id"]
        try:
            self._call("PUT", _order_path(order_id) + "/cancel")
        except Permanent as exc:
            if exc.status_code == 400:
                current = self.get_order(order_id)
                if current.status == "Cancelled":
                    raise AlreadyDone("Amazon already cancelled this fulfillment order.")
                raise Permanent(f"Amazon can no longer cancel it (status {current.status}): {exc.message}",
                                status_code=400, code=exc.code)
            raise

    def check(self, action, payload):
        if action == "mcf_create":
            return APPLIED if self._exists(payload["request"]["sellerFulfillmentOrderId"]) else NOT_APPLIED
        if action == "mcf_cancel":
            current = self.get_order(payload["seller_fulfillment_order_id"])
            return APPLIED if current.status == "Cancelled" else NOT_APPLIED
        raise Permanent(f"Amazon MCF has no call for {action}.")

    def _exists(self, order_id):
        try:
            self._call("GET", _order_path(order_id))
        except Permanent as exc:
            if exc.status_code == 404:
                return False
            raise
        return True

    # -- HTTP ----------------------------------------------------------------------------
    def _call(self, method, path, **kwargs):
        """One SP-API call. A refused token (expired early, revoked) gets one new token and
        one repeat; a second refusal is an auth failure for a person."""
        token = self._token()
        response = self._request(method, self.base_url + path, headers=self._headers(token), **kwargs)
        if response.status_code in (401, 403):
            response = self._request(method, self.base_url + path,
                                     headers=self._headers(self._token(refused=token)), **kwargs)
        return _answer(response)

    @staticmethod
    def _headers(token):
        return {"x-amz-access-token": token, "Accept": "application/json",
                "User-Agent": "fulfil/1.0 (Language=Python)"}

    def _token(self, refused=None):
        key = "amazon-lwa-token:" + self.settings["client_id"]
        cached = self.token_store.get(key)
        if cached and cached["access_token"] != refused and cached["expires_at"] - TOKEN_MARGIN > time.time():
            return cached["access_token"]
        response = self._request("POST", self.lwa_url, data={
            "grant_type": "refresh_token", "refresh_token": self.settings["refresh_token"],
            "client_id": self.settings["client_id"], "client_secret": self.settings["client_secret"]})
        if not response.ok:
            raise _lwa_error(response)
        try:
            body = response.json()
            token, expires_at = body["access_token"], time.time() + float(body["expires_in"])
        except UNREADABLE:
            raise Retryable("Login with Amazon's answer has no access_token or expires_in.")
        self.token_store[key] = {"access_token": token, "expires_at": expires_at}
        log.info("marketplace=amazon_mcf event=token_fetched expires_in=%s", body["expires_in"])
        return token

    def _request(self, method, url, **kwargs):
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise Retryable(f"Amazon did not answer within {self.timeout:g} s.")
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            raise Retryable(f"Could not reach Amazon: {exc}")


ADAPTER = AmazonMcfAdapter


# -- answers and errors ---------------------------------------------------------------------

def _answer(response):
    if not response.ok:
        raise _error(response)
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise Retryable(f"Amazon sent an unreadable answer (HTTP {response.status_code}).",
                        status_code=response.status_code)
    if not isinstance(body, dict):
        raise Retryable("Amazon sent an answer that is not a JSON object.", status_code=response.status_code)
    return body


def _error(response):
    """Amazon's {"errors": [{"code", "message", "details"}]} as a MarketplaceError kind."""
    try:
        errors = [e for e in response.json().get("errors") or [] if isinstance(e, dict)]
    except (ValueError, AttributeError):
        errors = []
    code = next((e.get("code") for e in errors if e.get("code")), None)
    words = []
    for entry in errors:
        for key in ("message", "details"):
            if entry.get(key) and entry[key] not in words:
                words.append(str(entry[key]))
    message = " — ".join(words) or f"HTTP {response.status_code} {response.reason}"
    status = response.status_code
    details = {"status_code": status, "code": code}
    if status == 429:
        return RateLimited(message, retry_after=_rate_wait(response), **details)
    if status >= 500 or status == 408:
        return Retryable(message, **details)
    if status in (401, 403):
        return Permanent("Amazon refused the credentials: " + message, **details)
    return Permanent(message, **details)


def _rate_wait(response):
    """Seconds until one request is allowed again: 1 / the rate Amazon applied."""
    try:
        return max(0.1, 1 / float(response.headers.get("x-amzn-RateLimit-Limit")))
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _lwa_error(response):
    try:
        body = response.json()
        message = f"{body.get('error')}: {body.get('error_description')}"
    except (ValueError, AttributeError):
        message = f"HTTP {response.status_code} {response.reason}"
    if response.status_code >= 500 or response.status_code == 429:
        return Retryable("Login with Amazon: " + message, status_code=response.status_code)
    return Permanent("Login with Amazon refused the credentials: " + message, status_code=response.status_code)


# -- reading Amazon's answers ---------------------------------------------------------------

def _preview_option(preview):
    reasons = list(preview.get("orderUnfulfillableReasons") or [])
    for item in preview.get("unfulfillablePreviewItems") or []:
        why = ", ".join(item.get("itemUnfulfillableReasons") or []) or "unfulfillable"
        reasons.append(f"{item['sellerSku']} × {item['quantity']}: {why}")
    fees, currency = Decimal("0"), "USD"
    for fee in preview.get("estimatedFees") or []:
        fees += Decimal(fee["amount"]["value"])
        currency = fee["amount"]["currencyCode"]
    shipments = preview.get("fulfillmentPreviewShipments") or []
    dates = lambda key, pick: pick((_time(s[key]) for s in shipments if s.get(key)), default=None)  # noqa: E731
    return PreviewOption(speed=preview["shippingSpeedCategory"], fulfillable=bool(preview["isFulfillable"]),
                         reasons=reasons, fees=fees, currency=currency,
                         ship_by=dates("latestShipDate", max), arrive_from=dates("earliestArrivalDate", min),
                         arrive_by=dates("latestArrivalDate", max))


def _order_state(result):
    order = result["fulfillmentOrder"]
    items = {i["sellerFulfillmentOrderItemId"]: {
        "sku": i["sellerSku"], "quantity": int(i["quantity"]), "cancelled": int(i.get("cancelledQuantity") or 0),
        "unfulfillable": int(i.get("unfulfillableQuantity") or 0)} for i in result.get("fulfillmentOrderItems") or []}
    shipments = []
    for shipment in result.get("fulfillmentShipments") or []:
        shipments.append(McfShipment(
            shipment_id=shipment["amazonShipmentId"], status=shipment["fulfillmentShipmentStatus"],
            shipped_at=_time(shipment.get("shippingDate")),
            items={i["sellerFulfillmentOrderItemId"]: int(i["quantity"]) for i in shipment["fulfillmentShipmentItem"]},
            packages=[McfPackage(int(p["packageNumber"]), p["carrierCode"], p.get("trackingNumber"))
                      for p in shipment.get("fulfillmentShipmentPackage") or []]))
    return McfOrderState(seller_fulfillment_order_id=order["sellerFulfillmentOrderId"],
                         status=order["fulfillmentOrderStatus"],
                         status_updated_at=_time(order.get("statusUpdatedDate")),
                         displayable_order_id=order.get("displayableOrderId", ""), items=items,
                         shipments=shipments)


def _order_path(order_id):
    return BASE + "/fulfillmentOrders/" + quote(str(order_id), safe="")


def _utcnow():
    return datetime.now(timezone.utc)


def _iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text):
    """Amazon's ISO 8601 -> naive UTC."""
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def describe(state):
    return STATUS_LABELS.get(state, state)
