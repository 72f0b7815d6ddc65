"""Names the order console shows for each marketplace's numbers, in the sellers' words."""
from fulfil.tracking import CARRIERS

# What a marketplace calls the number fulfil stores as Order.external_id ...
NUMBER_LABELS = {"ozon": "Posting", "walmart": "PO#", "wish": "Order"}
# ... and as Order.order_number (Ozon groups several postings under one order number).
ORDER_NUMBER_LABELS = {"ozon": "Order", "walmart": "Customer order", "wish": "Transaction"}
# ... and as OrderLine.item_id.
ITEM_ID_LABELS = {"ozon": "Ozon ID", "walmart": "Walmart item", "wish": "Wish product"}


def package_label(shipment):
    """'UPS 1Z999AA10123456784': how a person recognises a package."""
    carrier = CARRIERS[shipment.carrier].label if shipment.carrier in CARRIERS else shipment.carrier_name
    return " ".join(filter(None, (carrier, shipment.tracking_number)))
