"""Stock per SKU: on hand, reserved, available; counts, shipments, returns, stock takes."""
import io
from datetime import timedelta

import pytest
from openpyxl import Workbook

from fulfil.actions import Actor, Package, perform
from fulfil.bulk.parsing import read_upload
from fulfil.catalogue.models import Product
from fulfil.extensions import db
from fulfil.mcf.models import McfOrder
from fulfil.models import Shipment, ShipmentLine
from fulfil.stock import service
from fulfil.stock.importing import import_take
from fulfil.stock.models import StockLevel, StockMovement
from fulfil.stock.service import StockError, apply_orders, count, receive_return, stock_for
from fulfil.timeutil import utcnow
from fulfil.tracking import make_tracking_number
from tests.conftest import make_account, make_order

PERSON = Actor(source="ui")


def products(*skus):
    for sku in skus:
        db.session.add(Product(sku=sku, name=f"Product {sku}"))
    db.session.flush()


def movements(sku):
    return db.session.scalars(db.select(StockMovement).where(StockMovement.sku == sku)
                              .order_by(StockMovement.id)).all()


def ship(order, **lines):
    return perform(order, "ship", PERSON, packages=[Package("ups", make_tracking_number("ups"), lines=lines)])


def test_count_sets_on_hand_and_open_orders_reserve(app):
    with app.app_context():
        products("A", "B")
        count("A", "10", PERSON, note="first count")
        make_order("walmart", status="new", lines=(("A", 3, "5.00"),))
        make_order("walmart", status="to_pack", lines=(("A", 2, "5.00"), ("B", 1, "1.00")))
        make_order("walmart", status="cancelled", lines=(("A", 50, "5.00"),))  # not open: no reservation
        make_order("ozon", mode="FBO", status="new", lines=(("A", 40, "5.00"),))  # Ozon's shelf
        db.session.commit()
        stock = stock_for(["A", "B", "C"])
        assert set(stock) == {"A"}  # B has no count yet, C is no product
        assert (stock["A"].on_hand, stock["A"].reserved, stock["A"].available) == (10, 5, 5)
        [movement] = movements("A")
        assert (movement.kind, movement.quantity, movement.on_hand_after, movement.note) == ("count", 10, 10, "first count")
        count("A", 7, PERSON)
        assert [m.quantity for m in movements("A")] == [10, -3]
        assert db.session.get(StockLevel, "A").on_hand == 7


@pytest.mark.parametrize("text, words", [("", "empty"), ("-1", "negative"), ("2.5", "whole number"),
                                         ("abc", "not a number"), ("99999999999", "more than any shelf")])
def test_bad_counts_say_what_is_wrong(app, text, words):
    with app.app_context():
        products("A")
        with pytest.raises(StockError, match=words):
            count("A", text, PERSON)


def test_count_of_an_unknown_sku_is_refused(app):
    with app.app_context():
        with pytest.raises(StockError, match="no product with SKU NOPE"):
            count("NOPE", 3, PERSON)


def test_shipping_takes_stock_once_however_often_it_is_applied(app):
    with app.app_context():
        products("A", "B")
        count("A", 10, PERSON)
        count("B", 4, PERSON)
        order = make_order("walmart", status="to_pack", lines=(("A", 3, "5.00"), ("B", 1, "1.00")))
        line_a, line_b = order.lines
        ship(order, **{str(line_a.id): 2})  # a first package: 2 of A
        db.session.commit()
        assert (db.session.get(StockLevel, "A").on_hand, db.session.get(StockLevel, "B").on_hand) == (8, 4)
        assert stock_for(["A"])["A"].reserved == 1
        for _ in range(3):
            assert apply_orders([order.id], PERSON) == []
        ship(order)  # the rest
        db.session.commit()
        assert (db.session.get(StockLevel, "A").on_hand, db.session.get(StockLevel, "B").on_hand) == (7, 3)
        assert apply_orders([order.id], PERSON) == []
        shipped = [m for m in movements("A") if m.kind == "ship"]
        assert [(m.quantity, m.order_id, m.order_line_id) for m in shipped] == [(-2, order.id, line_a.id),
                                                                               (-1, order.id, line_a.id)]
        assert stock_for(["A"])["A"].reserved == 0


def test_a_package_the_marketplace_drops_puts_the_units_back(app):
    with app.app_context():
        products("A")
        count("A", 5, PERSON)
        order = make_order("wish", status="to_pack", lines=(("A", 2, "5.00"),))
        ship(order)
        db.session.commit()
        assert db.session.get(StockLevel, "A").on_hand == 3
        order.shipments.clear()  # the importer's _drop_shipments_the_marketplace_dropped
        db.session.flush()
        [back] = apply_orders([order.id], Actor(source="marketplace"))
        db.session.commit()
        assert (back.quantity, back.on_hand_after) == (2, 5)
        assert apply_orders([order.id], PERSON) == []


def test_orders_ozon_or_amazon_ship_and_packages_before_the_first_count_leave_the_shelf_alone(app):
    with app.app_context():
        products("A")
        count("A", 5, PERSON)
        level = db.session.get(StockLevel, "A")
        old = make_order("walmart", status="in_transit", lines=(("A", 1, "5.00"),))
        shipment = Shipment(order=old, tracking_number="OLD1", shipped_at=level.tracked_since - timedelta(days=2))
        shipment.lines.append(ShipmentLine(order_line=old.lines[0], quantity=1))
        db.session.add(shipment)
        fbo = make_order("ozon", mode="FBO", status="in_transit", lines=(("A", 1, "5.00"),))
        shipment = Shipment(order=fbo, tracking_number="FBO1", shipped_at=utcnow())
        shipment.lines.append(ShipmentLine(order_line=fbo.lines[0], quantity=1))
        db.session.add(shipment)
        amazon = make_order("walmart", status="to_pack", lines=(("A", 2, "5.00"),))
        db.session.add(McfOrder(order=amazon, account=make_account("amazon_mcf"), seller_fulfillment_order_id="X-1",
                                active=True, status="Processing"))
        db.session.flush()
        assert stock_for(["A"])["A"].reserved == 0  # Amazon's to ship
        ship(amazon)
        assert apply_orders([old.id, fbo.id, amazon.id], PERSON) == []
        db.session.commit()
        assert db.session.get(StockLevel, "A").on_hand == 5


def test_a_return_adds_stock_back_once(app):
    with app.app_context():
        products("A")
        count("A", 5, PERSON)
        order = make_order("walmart", status="to_pack", lines=(("A", 2, "5.00"),))
        ship(order)
        line = order.lines[0]
        first = receive_return(line, 1, PERSON, ref="RMA-1")
        again = receive_return(line, 1, PERSON, ref="RMA-1")
        db.session.commit()
        assert again.id == first.id and db.session.get(StockLevel, "A").on_hand == 4
        receive_return(line, 1, PERSON, ref="RMA-2")
        with pytest.raises(StockError, match="more than the 0 shipped and not yet returned"):
            receive_return(line, 1, PERSON, ref="RMA-3")
        db.session.commit()
        assert db.session.get(StockLevel, "A").on_hand == 5
        assert [m.kind for m in movements("A")] == ["count", "ship", "return", "return"]


def test_adjust_needs_a_reason_and_never_goes_below_zero(app):
    with app.app_context():
        products("A")
        count("A", 2, PERSON)
        with pytest.raises(StockError, match="Say why"):
            service.adjust("A", -1, PERSON, "")
        with pytest.raises(StockError, match="cannot take off 3"):
            service.adjust("A", -3, PERSON, "damaged")
        service.adjust("A", -2, PERSON, "damaged in the rain")
        db.session.commit()
        assert db.session.get(StockLevel, "A").on_hand == 0


def _xlsx(rows):
    book = Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def test_stock_take_from_xlsx_counts_every_row(app):
    with app.app_context():
        products("A", "B")
        count("A", 1, PERSON)
        sheet = read_upload(_xlsx([["SKU", "On hand", "Lead time"], ["A", 12, 10], ["B", 0, None]]), "take.xlsx", 100)
        result = import_take(sheet, PERSON, "stock take take.xlsx")
        db.session.commit()
        assert (result.errors, result.counted, result.changed) == ([], 2, 1)
        assert db.session.get(StockLevel, "A").on_hand == 12
        assert db.session.get(StockLevel, "A").lead_time_days == 10
        assert db.session.get(StockLevel, "B").on_hand == 0


def test_stock_take_with_a_bad_row_saves_nothing(app):
    with app.app_context():
        products("A", "B")
        data = "SKU;Quantity\nA;5\nB;-2\nZZZ;1\nA;3\n".encode()
        result = import_take(read_upload(data, "take.csv", 100), PERSON, "stock take")
        assert result.errors == ["Line 3: B: The quantity cannot be negative.",
                                 "Line 5: SKU A is also on line 2.",
                                 "Line 4: there is no product with SKU ZZZ: add it to the catalogue "
                                 "(or import the catalogue) first."]
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count()).select_from(StockLevel)) == 0
        result = import_take(read_upload("Name;Price\nx;1\n".encode(), "t.csv", 100), PERSON, "")
        assert "SKU and Quantity" in result.errors[0]
