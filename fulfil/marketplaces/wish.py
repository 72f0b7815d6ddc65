"""Wish Merchant API v3: one order is one product variation; every write is asynchronous."""

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

# One Wish order carries one tracking number.
MULTI_PACKAGE = False

# Wish has no acknowledge or packed state; cancelling is a refund.
PUSHED_ACTIONS = frozenset({"ship", "update_tracking", "cancel"})


def supported_actions(order):
    return {"acknowledge", "pack", "ship", "update_tracking", "cancel"}
