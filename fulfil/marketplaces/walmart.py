"""Walmart Marketplace (US) Orders API v3: purchase orders shipped per line."""

STATUS_MAP = {
    "Created": "new",
    "Acknowledged": "to_pack",
    "Shipped": "in_transit",
    "Delivered": "delivered",
    "Cancelled": "cancelled",
    "Refund": "cancelled",
}

# Walmart's carrier enum (spec: shippingUpdates trackingInfo.carrierName.carrier). Anything
# else goes as otherCarrier with a trackingURL.
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
    "other": "other",
}

# Lines ship separately, each with its own tracking number (partial shipments).
MULTI_PACKAGE = True

# Walmart has no "packed" state and no "delivered" call.
PUSHED_ACTIONS = frozenset({"acknowledge", "ship", "update_tracking", "cancel"})


def supported_actions(order):
    return {"acknowledge", "pack", "ship", "update_tracking", "cancel"}
