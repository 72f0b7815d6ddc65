"""Marketplace data is input too: what an imported order may hold before it is saved.

Every adapter turns the marketplace's answer into a `RemoteOrder`; the importer passes each
one through `check_order` before saving it. One rule per kind of field (README, "Design
notes"):

- Identifiers — order, line, item and package ids, the SKU, tracking numbers, the
  currency — are what fulfil sends back to the marketplace and matches on. They are never
  altered: one with control characters (a NUL byte) or longer than fulfil stores refuses
  that order, as an import problem in words.
- Quantities are what the warehouse picks and what fulfil reports as shipped: a whole
  number from 1 to MAX_QUANTITY per line (0 to MAX_QUANTITY per package). Anything else
  refuses the order — fulfil will not guess a count.
- Money must be a finite amount fulfil can store (under 10,000,000,000): else refused.
- Descriptive text — names, the address, e-mail, phone, statuses, carrier names, the
  cancel reason — is cleaned (control characters and broken surrogates removed) and cut
  to what fulfil stores, and the order is imported with a data warning that says what was
  changed; the order page shows it. A tracking page address that does not fit is dropped
  (a cut address leads nowhere), with a warning too.

A refused order never blocks the rest of the import; the next import that brings it with
good data takes it.
"""
import unicodedata
from decimal import Decimal

from fulfil.models import Order, OrderLine, Shipment

MAX_QUANTITY = 10_000
MONEY_LIMIT = Decimal("1e10")  # Numeric(12, 2)
SHOWN = 40  # characters of a refused value quoted in a message


class UnfitOrder(ValueError):
    """The order cannot be imported as it is; the message says why, for a person."""


def _length(column):
    return column.type.length


# field -> (label, stored length); the labels are what the warning and problem say.
ORDER_IDS = {
    "external_id": ("Order id", _length(Order.external_id)),
    "order_number": ("Order number", _length(Order.order_number)),
    "currency": ("Currency", _length(Order.currency)),
}
ORDER_TEXT = {
    "raw_status": ("Status", _length(Order.raw_status)),
    "raw_substatus": ("Substatus", _length(Order.raw_substatus)),
    "fulfilment_mode": ("Fulfilment scheme", _length(Order.fulfilment_mode)),
    "buyer_name": ("Buyer name", _length(Order.buyer_name)),
    "buyer_email": ("Buyer e-mail", _length(Order.buyer_email)),
    "buyer_phone": ("Buyer phone", _length(Order.buyer_phone)),
    "address_line1": ("Address", _length(Order.address_line1)),
    "address_line2": ("Address line 2", _length(Order.address_line2)),
    "city": ("City", _length(Order.city)),
    "region": ("Region", _length(Order.region)),
    "postal_code": ("Postal code", _length(Order.postal_code)),
    "country": ("Country", _length(Order.country)),
    "cancel_reason": ("Cancel reason", _length(Order.cancel_reason)),
}
LINE_IDS = {
    "line_number": ("line number", _length(OrderLine.line_number)),
    "item_id": ("item id", _length(OrderLine.item_id)),
    "sku": ("SKU", _length(OrderLine.sku)),
}
LINE_TEXT = {
    "name": ("product name", _length(OrderLine.name)),
    "status": ("status", _length(OrderLine.status)),
}
SHIPMENT_IDS = {
    "tracking_number": ("tracking number", _length(Shipment.tracking_number)),
    "shipment_ref": ("package id", _length(Shipment.shipment_ref)),
}
SHIPMENT_TEXT = {
    "carrier_name": ("carrier", _length(Shipment.carrier_name)),
}
TRACKING_URL = _length(Shipment.tracking_url)


def unfit_characters(text):
    """The names of control characters and broken surrogates in `text` ("NUL", "U+D800")."""
    found = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            name = {"\x00": "NUL", "\t": "tab", "\n": "line break", "\r": "line break"}.get(ch, f"U+{ord(ch):04X}")
            if name not in found:
                found.append(name)
    return found


def clean_text(text):
    """`text` without control characters or broken surrogates; tabs and line breaks become
    spaces. For anything fulfil stores from outside (PostgreSQL refuses NUL, and no UTF-8
    encoder takes a lone surrogate)."""
    if not isinstance(text, str):
        text = str(text)
    return "".join(" " if ch in "\t\n\r" else ch for ch in text
                   if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cs"))


def shown(text, limit=SHOWN):
    """A value quoted in a message: cleaned, and cut to `limit` characters."""
    text = clean_text(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def check_order(remote, marketplace):
    """Check and clean `remote` (a RemoteOrder) in place. Returns the data warnings (empty
    when nothing was changed); raises UnfitOrder when the order cannot be imported."""
    warnings = []
    if not remote.external_id:
        raise UnfitOrder(f"{marketplace} sent an order without an id: fulfil cannot import it.")
    for name, (label, length) in ORDER_IDS.items():
        _identifier(getattr(remote, name), label, length, marketplace)
    for name, (label, length) in ORDER_TEXT.items():
        setattr(remote, name, _text(getattr(remote, name), label, length, warnings))
    for line in remote.lines:
        where = f"line {shown(line.line_number)}"
        for name, (label, length) in LINE_IDS.items():
            _identifier(getattr(line, name), f"The {label} of {where}", length, marketplace)
        for name, (label, length) in LINE_TEXT.items():
            setattr(line, name, _text(getattr(line, name), f"The {label} of {where}", length, warnings))
        _money(line.price, f"The price of {where}", marketplace)
        _quantity(line.quantity, f"{where.capitalize()} (SKU {shown(line.sku)})", 1, marketplace)
    _money(remote.total, "The order total", marketplace)  # after the lines: it follows from them
    for shipment in remote.shipments:
        where = f"package {shown(shipment.tracking_number or shipment.shipment_ref or '')}".strip()
        for name, (label, length) in SHIPMENT_IDS.items():
            _identifier(getattr(shipment, name), f"The {label} of a package", length, marketplace)
        for name, (label, length) in SHIPMENT_TEXT.items():
            setattr(shipment, name, _text(getattr(shipment, name), f"The {label} of {where}", length, warnings))
        shipment.tracking_url = _url(shipment.tracking_url, where, warnings)
        for number, quantity in shipment.line_quantities.items():
            _quantity(quantity, f"{where.capitalize()}, line {shown(number)}", 0, marketplace)
    return warnings


def unreadable(marketplace, exc):
    """The import problem for a record an adapter could not read at all, in words (the
    exception itself is not for a person: it names Python types, not the marketplace's)."""
    if isinstance(exc, KeyError) and exc.args:
        what = f"the field “{shown(exc.args[0])}” is missing"
    elif isinstance(exc, ArithmeticError):
        what = "an amount in it cannot be computed"
    elif isinstance(exc, ValueError):
        what = f"a value in it cannot be read ({shown(str(exc), 3 * SHOWN)})"
    else:
        what = "a field in it is not of the shape fulfil expects"
    return f"fulfil cannot read this {marketplace} order: {what}. Check it on {marketplace}."


def _identifier(value, label, length, marketplace):
    if value is None:
        return
    text = value if isinstance(value, str) else str(value)
    bad = unfit_characters(text)
    if bad:
        raise UnfitOrder(f"{label} from {marketplace} contains {_list(bad)} ({shown(text)!r}): fulfil "
                         "does not change ids, so it did not import this order. Check it on the marketplace.")
    if length and len(text) > length:
        raise UnfitOrder(f"{label} from {marketplace} is {len(text):,} characters long ({shown(text)!r}); "
                         f"fulfil keeps at most {length}, and does not cut ids, so it did not import this "
                         "order. Check it on the marketplace.")


def _text(value, label, length, warnings):
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    bad = unfit_characters(text)
    if bad:
        text = clean_text(text).strip()
        warnings.append(f"{label} contained {_list(bad)}: removed.")
    if length and len(text) > length:
        warnings.append(f"{label} was {len(text):,} characters long: fulfil keeps the first {length - 1} "
                        "and “…”.")
        text = text[:length - 1] + "…"
    return text


def _url(value, where, warnings):
    if not value:
        return value
    if unfit_characters(value) or len(value) > TRACKING_URL:
        warnings.append(f"The tracking page address of {where} was not a usable address "
                        f"({len(value):,} characters{', with control characters' if unfit_characters(value) else ''}): "
                        "left out.")
        return None
    return value


def _quantity(value, where, lowest, marketplace):
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole or not lowest <= value <= MAX_QUANTITY:
        shown_value = shown(repr(value) if not isinstance(value, (int, str)) else str(value))
        raise UnfitOrder(f"{where}: quantity {shown_value} from {marketplace} — fulfil takes {lowest} to "
                         f"{MAX_QUANTITY:,} units, so it did not import this order. Check it on the marketplace.")


def _money(value, label, marketplace):
    if value is None:
        return
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        amount = Decimal("NaN")
    if not amount.is_finite() or abs(amount) >= MONEY_LIMIT:
        raise UnfitOrder(f"{label} from {marketplace} is {shown(str(value))}, not an amount fulfil can keep, "
                         "so it did not import this order. Check it on the marketplace.")


def _list(names):
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
