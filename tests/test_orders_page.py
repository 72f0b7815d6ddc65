"""The order page, the packing slip and the as-you-type tracking check."""
import re
from datetime import timedelta

import pytest
from flask import url_for

from fulfil.actions import Actor, Package, perform
from fulfil.extensions import db
from fulfil.models import User
from fulfil.orders import barcode
from fulfil.timeutil import utcnow
from tests.conftest import make_order

HTMX = {"HX-Request": "true"}


@pytest.fixture
def ozon_order(app):
    """An rFBS posting with two lines, shipped by the warehouse, then disputed; and a second
    posting of the same Ozon order."""
    with app.app_context():
        order = make_order("ozon", status="ready", ship_by=utcnow() - timedelta(hours=5),
                           lines=(("MUG-RED", 2, "450.00"), ("TEE-L", 1, "1200.00")), buyer="Ivan Sidorov")
        order.raw_status, order.raw_substatus = "awaiting_deliver", "posting_awaiting_passport_data"
        order.buyer_phone = "+7 900 000-00-00"
        sibling = make_order("ozon", status="new")
        sibling.order_number = order.order_number
        worker = db.session.scalar(db.select(User).where(User.username == "warehouse"))
        perform(order, "ship", Actor(worker), packages=[Package("russian_post", "RA123456785RU")])
        perform(order, "open_dispute", Actor(worker), note="Buyer says one mug arrived broken")
        db.session.commit()
        return {"id": order.id, "sibling": sibling.id, "sibling_number": sibling.external_id,
                "external_id": order.external_id}


def test_order_page_shows_what_the_ozon_guide_names(client, auth, ozon_order):
    auth.login()
    page = client.get(f"/orders/{ozon_order['id']}").text
    assert f"Posting {ozon_order['external_id']}" in page
    assert "awaiting_deliver · posting_awaiting_passport_data" in page  # raw status + substatus
    assert ">Ozon ID<" in page and "ITEM-MUG-RED" in page and "MUG-RED" in page
    assert "900.00 ₽" in page  # cost = 450 × 2
    assert "2,100.00 ₽" in page  # the order's cost in total
    assert "fulfilment rFBS" in page
    assert "5 h late" not in page  # shipped: no longer late
    assert 'data-copy="jane@example.com"' in page and "+7 900 000-00-00" in page
    assert "1 Main St" in page and "Springfield" in page


def test_order_page_shows_packages_history_dispute_and_siblings(client, auth, ozon_order):
    auth.login()
    page = client.get(f"/orders/{ozon_order['id']}").text
    assert 'href="https://www.pochta.ru/tracking?barcode=RA123456785RU"' in page
    assert "2 × MUG-RED; 1 × TEE-L" in page  # what the package carries
    assert re.search(r"<strong>Ship</strong>\s*Ready to ship → In transit\s*<span class=\"muted\">by Warehouse</span>",
                     page)
    assert "Buyer says one mug arrived broken" in page
    assert f'href="/orders/{ozon_order["sibling"]}">{ozon_order["sibling_number"]}</a>' in page


def test_order_page_loads_the_sync_state_of_each_change(client, auth, app, ozon_order):
    auth.login()
    page = client.get(f"/orders/{ozon_order['id']}").text
    with app.test_request_context():
        url = url_for("sync.order_sync", order_id=ozon_order["id"])
    assert f'hx-get="{url}" hx-trigger="load"' in page
    assert "waiting to send" in client.get(url, headers=HTMX).text  # the ship, on its way


def test_fbo_orders_are_read_only_with_the_reason(client, auth, app):
    with app.app_context():
        order = make_order("ozon", mode="FBO", status="ready")
        db.session.commit()
        order_id = order.id
    auth.login()
    page = client.get(f"/orders/{order_id}").text
    assert "Fulfilled by Ozon (FBO): Ozon packs and ships this order" in page
    assert "hx-post" not in page


def test_the_page_body_alone_for_htmx(client, auth, ozon_order):
    auth.login()
    response = client.get(f"/orders/{ozon_order['id']}", headers=HTMX)
    assert response.text.lstrip().startswith('<div id="order-detail"')


def test_packing_slip(client, auth, ozon_order):
    auth.login()
    page = client.get(f"/orders/{ozon_order['id']}/slip").text
    assert '<svg class="barcode"' in page and f'aria-label="Barcode {ozon_order["external_id"]}"' in page
    assert "Ivan Sidorov" in page and "+7 900 000-00-00" in page
    # Each line: SKU, name, the marketplace's item id, its own barcode, the quantity.
    assert re.search(r"<strong data-sku>MUG-RED</strong>.*?<div class=\"slip-name\" data-line-name>Product MUG-RED</div>"
                     r".*?Ozon ID ITEM-MUG-RED.*?aria-label=\"Barcode MUG-RED\".*?<td class=\"num qty\" data-quantity>2</td>",
                     page, re.S)
    assert client.get("/orders/999999/slip").status_code == 404


def test_code128_symbols_and_check_digit():
    # Start B, "P" "O" in set B, then "1234" in set C; check = (104 + 48·1 + 47·2 + 99·3 + 12·4 + 34·5) % 103
    assert barcode.symbols("PO1234") == [104, 48, 47, 99, 12, 34, (104 + 48 + 94 + 297 + 48 + 170) % 103]
    assert barcode.symbols("12345")[:3] == [105, 12, 34]  # odd digit count: the last one in set B
    assert barcode.svg("заказ") == ""  # not encodable: the slip shows the number as text only


def check(client, order_id, **values):
    prefixed = {f"order{order_id}-packages-0-{name}": value for name, value in values.items()}
    return client.get(f"/orders/{order_id}/tracking-check", query_string=prefixed, headers=HTMX).text


def test_tracking_check_as_you_type(client, auth, app):
    with app.app_context():
        order = make_order("ozon", status="ready")
        db.session.commit()
        order_id = order.id
    auth.login()
    assert check(client, order_id, tracking_number="  ").strip() == ""
    hint = check(client, order_id, tracking_number="1z999aa10123456784", carrier="")
    assert "UPS tracking number (recognised from the number)" in hint
    hint = check(client, order_id, tracking_number="RA123456785RU", carrier="ups")
    assert "RA123456785RU is not a UPS tracking number" in hint
    assert 'data-set-carrier="russian_post"' in hint  # one tap picks the right carrier
    hint = check(client, order_id, tracking_number="RA123456786RU", carrier="russian_post")
    assert "fails the Russian Post check digit" in hint
    hint = check(client, order_id, tracking_number="<b>", carrier="ups")
    assert "only letters and digits" in hint and "<b>" not in hint


def test_tracking_check_knows_the_marketplace(client, auth, app):
    with app.app_context():
        order = make_order("wish", status="to_pack")
        db.session.commit()
        order_id = order.id
    auth.login()
    hint = check(client, order_id, tracking_number="ABC1234567890", carrier="other")
    assert "Wish does not accept Other carrier as a carrier" in hint
    assert client.get("/orders/999999/tracking-check").status_code == 404


def test_unknown_order_is_a_clear_404(client, auth):
    auth.login()
    response = client.get("/orders/424242")
    assert response.status_code == 404
    assert "There is nothing at this address" in response.text
    assert client.get("/orders/not-a-number").status_code == 404
