"""What a scan means when it is not an item at the pack station.

A scanner types a number and Enter anywhere in fulfil; this decides where that goes: one
order with that number (posting, PO#, tracking, shipment id) opens; a product's SKU or
barcode opens the product; anything else says clearly that nothing has it.
"""
from dataclasses import dataclass

from flask import url_for

from fulfil.catalogue.service import find_product
from fulfil.orders.queries import scan as scan_orders


@dataclass(frozen=True)
class ScanTarget:
    url: str
    message: str | None = None  # a miss, said loudly


def resolve(code):
    code = (code or "").strip()[:120]
    if not code:
        return ScanTarget(url_for("orders.index"))
    orders = scan_orders(code)
    if len(orders) == 1:
        return ScanTarget(url_for("orders.order", order_id=orders[0]))
    product = find_product(code)
    if len(orders) > 1:  # an SKU on several orders, or a shared order number: show them all
        return ScanTarget(url_for("orders.index", tab="all", q=code))
    if product is not None:
        return ScanTarget(url_for("catalogue.show", sku=product.sku))
    return ScanTarget(url_for("orders.index"), f"NOT FOUND: nothing has the number {code} — no order, "
                                               "tracking number, SKU or barcode. Check it and scan again.")
