"""Ozon Seller API: FBS/rFBS postings (the seller's work) and FBO postings (read-only)."""

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
        actions |= {"update_tracking", "deliver"}
        if order.status == "ready":
            actions.add("ship")
    return actions
