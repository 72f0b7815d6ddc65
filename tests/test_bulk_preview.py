"""Every verdict the preview gives, and that it looks orders up in batches."""
import pytest
from sqlalchemy import event

from fulfil.actions import Actor, Package, perform
from fulfil.bulk.lookup import load_order_facts, load_orders
from fulfil.bulk.models import Upload
from fulfil.bulk.parsing import read_pasted
from fulfil.bulk.preview import check_rows, rows_from
from fulfil.extensions import db
from fulfil.tracking import make_tracking_number
from tests.conftest import make_order


def check(app, lines, acknowledge=False, header="Order\tCarrier\tTracking", load=load_order_facts):
    """Rows of `lines` (tab-separated, under `header`) with the preview's verdicts."""
    sheet = read_pasted("\n".join([header, *lines]), 5000)
    upload = Upload(rows=sheet.rows, has_header=True, mapping=sheet.mapping)
    return check_rows(rows_from(upload), acknowledge, load)


def shipped(order, carrier="ups"):
    number = make_tracking_number(carrier)
    perform(order, "ship", Actor(), packages=[Package(carrier, number)])
    return number


def test_will_ship_with_the_carrier_given_or_detected(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        make_order("wish", external_id="W2", status="to_pack")
        rows = check(app, [f"PO1\tUPS\t{make_tracking_number('ups')}", f"w2\t\t{make_tracking_number('usps')}"])
        assert [r.verdict for r in rows] == ["ship", "ship"]
        assert (rows[1].carrier, rows[1].detected) == ("usps", True)
        assert rows[1].order.external_id == "W2"  # order numbers match in any case


def test_an_order_id_with_one_e_is_not_taken_for_excel_notation(app):
    """Hex order ids ('123456E78901') look like 1.2E+11 only to a careless check: Excel
    always writes 'E+'. (Found by the hostile-rows fuzz test, about 1 run in 200.)"""
    with app.app_context():
        make_order("walmart", external_id="123456E78901", status="to_pack")
        row = check(app, [f"123456E78901\tUPS\t{make_tracking_number('ups')}"])[0]
        assert row.verdict == "ship", row.reason


def test_same_number_again_is_already_so(app):
    with app.app_context():
        order = make_order("walmart", external_id="PO1", status="to_pack")
        number = shipped(order)
        rows = check(app, [f"PO1\tUPS\t{number}", f"PO1\t\t{number.lower()}"])
        assert [r.verdict for r in rows] == ["same", "same"]


def test_new_number_on_a_shipped_order_updates_its_tracking(app):
    with app.app_context():
        order = make_order("walmart", external_id="PO1", status="to_pack")
        old = shipped(order)
        rows = check(app, [f"PO1\tFedEx\t{make_tracking_number('fedex')}"])
        assert rows[0].verdict == "update"
        assert rows[0].reason == f"Replaces {old}."


def test_same_number_with_another_carrier_corrects_the_carrier(app):
    with app.app_context():
        order = make_order("walmart", external_id="PO1", status="to_pack")
        number = make_tracking_number("fedex")
        perform(order, "ship", Actor(), packages=[Package("fedex", number)])
        assert check(app, [f"PO1\tOther\t{number}"])[0].verdict == "error"  # Walmart: URL needed
        rows = check(app, [f"PO1\tOther\t{number}\thttps://track.example/{number}"],
                     header="Order\tCarrier\tTracking\tTracking URL")
        assert (rows[0].verdict, rows[0].reason) == ("update", "Carrier FedEx → Other carrier.")


@pytest.mark.parametrize("setup, line, reason", [
    (lambda: None, "NOPE\tUPS\t{ups}", "Order NOPE not found"),
    (lambda: make_order("ozon", external_id="P-1", status="ready", mode="FBO"), "P-1\tUPS\t{ups}",
     "Fulfilled by Ozon (FBO)"),
    (lambda: make_order("walmart", external_id="PO1", status="cancelled"), "PO1\tUPS\t{ups}",
     "Order PO1 is cancelled"),
    (lambda: make_order("walmart", external_id="PO1", status="new"), "PO1\tUPS\t{ups}",
     "Not acknowledged yet: Walmart ships acknowledged orders only"),
    (lambda: make_order("ozon", external_id="P-1", status="to_pack"), "P-1\tRussian Post\t{ru}",
     "Ozon takes a tracking number once the order is packed"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "PO1\tTeleport\t{ups}",
     "Carrier “Teleport” is not one we know"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "PO1\tRussian Post\t{ru}",
     "Walmart does not accept Russian Post as a carrier"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "PO1\tUPS\t1Z999AA10123456785",
     "fails the UPS check digit"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "PO1\tUPS\t{ru}",
     "is not a UPS tracking number"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "PO1\t\tABC123",
     "does not match any carrier"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "PO1\tUSPS\t9.40011E+21",
     "Excel turned the tracking number into 9.40011E+21"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "\tUPS\t{ups}",
     "No order number"),
    (lambda: make_order("walmart", external_id="PO1", status="to_pack"), "PO1\tUPS\t",
     "No tracking number"),
])
def test_error_verdicts(app, setup, line, reason):
    with app.app_context():
        setup()
        text = line.format(ups=make_tracking_number("ups"), ru=make_tracking_number("russian_post"))
        row = check(app, [text])[0]
        assert row.verdict == "error"
        assert reason in row.reason


def test_acknowledge_too_makes_new_orders_valid(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="new")
        row = check(app, [f"PO1\tUPS\t{make_tracking_number('ups')}"], acknowledge=True)[0]
        assert (row.verdict, row.acknowledge) == ("ship", True)


def test_ambiguous_order_number(app):
    with app.app_context():
        first = make_order("ozon", external_id="1111-0001-1", status="ready")
        second = make_order("ozon", external_id="1111-0001-2", status="ready")
        first.order_number = second.order_number = "1111-0001"
        from fulfil.search import index_order
        index_order(first)
        index_order(second)
        row = check(app, [f"1111-0001\tRussian Post\t{make_tracking_number('russian_post')}"])[0]
        assert row.verdict == "error"
        assert "matches 2 orders (1111-0001-1, 1111-0001-2)" in row.reason


def test_number_twice_in_the_file_for_different_orders_fails_both_rows(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        make_order("walmart", external_id="PO2", status="to_pack")
        number = make_tracking_number("ups")
        rows = check(app, [f"PO1\tUPS\t{number}", f"PO2\tUPS\t{number}"])
        assert [r.verdict for r in rows] == ["error", "error"]
        assert "on rows 2, 3 for different orders" in rows[0].reason


def test_number_already_on_another_order(app):
    with app.app_context():
        number = shipped(make_order("walmart", external_id="PO1", status="to_pack"))
        make_order("walmart", external_id="PO2", status="to_pack")
        row = check(app, [f"PO2\tUPS\t{number}"])[0]
        assert (row.verdict, row.reason) == ("error", f"{number} is already the tracking number of order PO1.")


def test_partial_shipments_by_sku_and_quantity(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack", lines=(("A", 3, "5.00"), ("B", 1, "2.00")))
        first, second = make_tracking_number("ups"), make_tracking_number("ups")
        rows = check(app, [f"PO1\tUPS\t{first}\tA\t2", f"PO1\tUPS\t{first}\tB\t",
                           f"PO1\tUPS\t{second}\tA\t2", f"PO1\tUPS\t{second}\tC\t1",
                           f"PO1\tUPS\t{second}\tB\t1"],
                     header="Order\tCarrier\tTracking\tSKU\tQty")
        assert [r.verdict for r in rows] == ["ship", "ship", "error", "error", "error"]
        assert rows[2].reason == "Quantity 2 is more than the 1 left to ship of A."
        assert rows[3].reason == "C is not on order PO1 (it has A, B)."
        assert rows[4].reason == "Nothing left to ship of B on order PO1."
        assert [r.quantity for r in rows[:2]] == [2, 1]


def test_one_tracking_number_per_order_where_the_marketplace_says_so(app):
    with app.app_context():
        make_order("wish", external_id="W1", status="to_pack")
        rows = check(app, [f"W1\tUPS\t{make_tracking_number('ups')}", f"W1\tUPS\t{make_tracking_number('ups')}"])
        assert [r.verdict for r in rows] == ["error", "error"]
        assert "Wish takes one tracking number per order, and rows 2, 3 give 2" in rows[0].reason


def test_which_package_to_update_needs_a_sku_when_there_are_several(app):
    with app.app_context():
        order = make_order("walmart", external_id="PO1", status="to_pack",
                           lines=(("A", 1, "5.00"), ("B", 1, "2.00")))
        line_a, line_b = order.lines
        perform(order, "ship", Actor(), packages=[Package("ups", make_tracking_number("ups"), lines={line_a.id: 1}),
                                                  Package("ups", make_tracking_number("ups"), lines={line_b.id: 1})])
        rows = check(app, [f"PO1\tUPS\t{make_tracking_number('ups')}\t", f"PO1\tUPS\t{make_tracking_number('ups')}\tB"],
                     header="Order\tCarrier\tTracking\tSKU")
        assert rows[0].verdict == "error" and "add a SKU column" in rows[0].reason
        assert rows[1].verdict == "update" and rows[1].shipment.lines[0].order_line_id == line_b.id


@pytest.mark.parametrize("value, reason", [
    ("31.02.2025", "is not a date we can read"),
    ("2999-01-01", "is in the future"),
])
def test_ship_date_checks(app, value, reason):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        row = check(app, [f"PO1\tUPS\t{make_tracking_number('ups')}\t{value}"],
                    header="Order\tCarrier\tTracking\tShip date")[0]
        assert row.verdict == "error" and reason in row.reason


def test_ship_date_is_read_in_the_sellers_formats(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        row = check(app, [f"PO1\tUPS\t{make_tracking_number('ups')}\t31.03.2025"],
                    header="Order\tCarrier\tTracking\tShip date")[0]
        # Midday in the seller's time zone (America/New_York in tests) that day, in UTC.
        assert row.verdict == "ship" and row.shipped_at.isoformat() == "2025-03-31T16:00:00"


def test_orders_are_looked_up_in_batches(app):
    with app.app_context():
        lines = []
        for i in range(1200):
            make_order("walmart", external_id=f"PO{i}", status="to_pack")
            lines.append(f"PO{i}\tUPS\t{make_tracking_number('ups')}")
        db.session.commit()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            rows = check(app, lines)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert all(r.verdict == "ship" for r in rows)
        # 3 batches × (search keys, order numbers, orders, lines, packages, package lines,
        # numbers in use)
        assert len(statements) <= 21


def test_preview_facts_and_orm_orders_give_the_same_verdicts(app):
    """The preview reads plain-query OrderFacts, the apply ORM Orders: same verdicts."""
    with app.app_context():
        shipped_order = make_order("walmart", external_id="PO1", status="to_pack",
                                   lines=(("A", 2, "5.00"), ("B", 1, "2.00")))
        line_a = shipped_order.lines[0]
        first = make_tracking_number("ups")
        perform(shipped_order, "ship", Actor(), packages=[Package("ups", first, lines={line_a.id: 1})])
        make_order("walmart", external_id="PO2", status="new")
        make_order("ozon", external_id="P-3", status="to_pack")
        make_order("ozon", external_id="P-4", status="ready", mode="FBO")
        make_order("wish", external_id="W5", status="in_transit")
        shipped(make_order("wish", external_id="W6", status="to_pack"))
        lines = [f"PO1\tUPS\t{first}\tA\t", f"PO1\tUPS\t{make_tracking_number('ups')}\tA\t1",
                 f"PO1\tUPS\t{make_tracking_number('ups')}\tB\t2", f"PO2\tUPS\t{make_tracking_number('ups')}\t\t",
                 f"P-3\tRussian Post\t{make_tracking_number('russian_post')}\t\t",
                 f"P-4\tUPS\t{make_tracking_number('ups')}\t\t", f"W5\tUPS\t{make_tracking_number('ups')}\t\t",
                 f"W6\tFedEx\t{make_tracking_number('fedex')}\t\t", f"NOPE\tUPS\t{first}\t\t"]
        for acknowledge in (False, True):
            verdicts = [[(r.verdict, r.reason, r.quantity, r.acknowledge) for r in
                         check(app, lines, acknowledge, "Order\tCarrier\tTracking\tSKU\tQty", load)]
                        for load in (load_order_facts, load_orders)]
            assert verdicts[0] == verdicts[1]
            assert {v[0] for v in verdicts[0]} == {"same", "ship", "error", "update"}
