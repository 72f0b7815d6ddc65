"""Inline actions: each action through its HTMX form, conflicts between tablets, bad input."""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from fulfil.actions import Actor, Package, perform
from fulfil.extensions import db
from fulfil.models import Event, Order, OutboxEntry, Shipment, User
from fulfil.orders import routes
from fulfil.timeutil import utcnow
from fulfil.tracking import make_tracking_number
from tests.conftest import make_order

HTMX = {"HX-Request": "true"}
UPS = "1Z999AA10123456784"


def new_order(app, kind="walmart", **kwargs):
    with app.app_context():
        order = make_order(kind, **kwargs)
        db.session.commit()
        return order.id


def load(app, order_id):
    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge(order)
        return order


def fields(order_id, version=1, **values):
    """Form data as the page sends it: every name carries the order's prefix."""
    data = {"version": version, **values}
    return {f"order{order_id}-{name}": value for name, value in data.items()}


def post(client, order_id, action, data, view="row"):
    return client.post(f"/orders/{order_id}/{action}?view={view}", data=data, headers=HTMX)


def count(app, model):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_acknowledge_then_pack_in_the_row(client, auth, app):
    order_id = new_order(app)
    auth.login()
    response = post(client, order_id, "acknowledge", fields(order_id))
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<article class="order-row')
    assert ">To pack<" in response.text and "waiting to sync" in response.text
    assert "Acknowledge: saved. Sending to Walmart…" in response.text
    response = post(client, order_id, "pack", fields(order_id, version=2))
    assert ">Ready to ship<" in response.text
    assert load(app, order_id).status == "ready"
    with app.app_context():
        events = db.session.scalars(db.select(Event).order_by(Event.id)).all()
        assert [(e.action, e.actor, e.source) for e in events] == [("acknowledge", "Warehouse", "ui"),
                                                                   ("pack", "Warehouse", "ui")]


def test_open_the_ship_form_and_ship_one_package(client, auth, app):
    order_id = new_order(app, status="to_pack")
    auth.login()
    form = client.get(f"/orders/{order_id}/ship?view=row&version=1", headers=HTMX)
    assert form.status_code == 200
    assert f'name="order{order_id}-packages-0-tracking_number"' in form.text
    assert f'name="order{order_id}-version" type="hidden" value="1"' in form.text
    response = post(client, order_id, "ship", fields(order_id, **{
        "packages-0-carrier": "ups", "packages-0-tracking_number": "1z999 aa1 0123456784"}) | _all_lines(app, order_id))
    assert response.status_code == 200, response.text
    assert ">In transit<" in response.text
    with app.app_context():
        shipment = db.session.scalar(db.select(Shipment))
        assert (shipment.carrier, shipment.tracking_number) == ("ups", UPS)
        assert db.session.scalar(db.select(OutboxEntry.action)) == "ship"


def _all_lines(app, order_id, package=0):
    """The quantity fields of a Walmart package, each line with everything left."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        data = {}
        for index, line in enumerate(order.lines):
            data[f"order{order_id}-packages-{package}-lines-{index}-line_id"] = line.id
            data[f"order{order_id}-packages-{package}-lines-{index}-quantity"] = line.quantity_left
        return data


def test_walmart_ships_lines_in_several_packages(client, auth, app):
    order_id = new_order(app, status="to_pack", lines=(("A", 2, "5.00"), ("B", 1, "3.00")))
    with app.app_context():
        line_a, line_b = (line.id for line in db.session.get(Order, order_id).lines)
    auth.login()
    first = {"packages-0-carrier": "", "packages-0-tracking_number": UPS,
             "packages-0-lines-0-line_id": line_a, "packages-0-lines-0-quantity": 1,
             "packages-0-lines-1-line_id": line_b, "packages-0-lines-1-quantity": 0}
    added = post(client, order_id, "ship", fields(order_id, add_package="Add another package", **first))
    assert added.status_code == 200
    assert "Package 2" in added.text and UPS in added.text  # typed values kept
    # The new package offers what the first one leaves: one A and the B.
    assert re.search(rf'name="order{order_id}-packages-1-lines-0-quantity"[^>]*value="1"', added.text)
    assert re.search(rf'name="order{order_id}-packages-1-lines-1-quantity"[^>]*value="1"', added.text)
    usps = make_tracking_number("usps")
    second = {"packages-1-carrier": "usps", "packages-1-tracking_number": usps,
              "packages-1-lines-0-line_id": line_a, "packages-1-lines-0-quantity": 0,
              "packages-1-lines-1-line_id": line_b, "packages-1-lines-1-quantity": 1}
    response = post(client, order_id, "ship", fields(order_id, **first, **second))
    assert response.status_code == 200, response.text
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "to_pack"  # one A is still to ship: a partial shipment
        assert [line.quantity_left for line in order.lines] == [1, 0]
        assert sorted(s.tracking_number for s in order.shipments) == sorted([UPS, usps])


def test_one_tracking_number_per_wish_order(client, auth, app):
    order_id = new_order(app, "wish", status="to_pack")
    auth.login()
    form = client.get(f"/orders/{order_id}/ship?view=row&version=1", headers=HTMX)
    assert "Add another package" not in form.text
    response = post(client, order_id, "ship", fields(order_id, **{
        "packages-0-carrier": "ups", "packages-0-tracking_number": UPS,
        "packages-1-carrier": "usps", "packages-1-tracking_number": make_tracking_number("usps")}))
    assert response.status_code == 422
    assert "Wish takes one tracking number per order" in response.text
    assert count(app, Shipment) == 0


def test_wrong_tracking_number_says_what_is_wrong_and_keeps_the_input(client, auth, app):
    order_id = new_order(app, status="to_pack")
    auth.login()
    response = post(client, order_id, "ship", fields(order_id, **{
        "packages-0-carrier": "ups", "packages-0-tracking_number": "RA123456785RU"}) | _all_lines(app, order_id))
    assert response.status_code == 422
    assert "RA123456785RU is not a UPS tracking number" in response.text
    assert 'value="RA123456785RU"' in response.text
    assert load(app, order_id).status == "to_pack"
    assert count(app, Shipment) == 0 and count(app, OutboxEntry) == 0 and count(app, Event) == 0


def test_edit_tracking_of_a_package(client, auth, app):
    order_id = new_order(app, status="to_pack")
    with app.app_context():
        order = db.session.get(Order, order_id)
        perform(order, "ship", Actor(), packages=[Package("ups", UPS)])
        db.session.commit()
        shipment_id, version = order.shipments[0].id, order.version
    auth.login()
    form = client.get(f"/orders/{order_id}/update_tracking?version={version}&shipment={shipment_id}", headers=HTMX)
    assert f'value="{UPS}"' in form.text  # the number to correct is filled in
    usps = make_tracking_number("usps")
    response = post(client, order_id, "update_tracking", fields(
        order_id, version=version, shipment_id=shipment_id, carrier="usps", tracking_number=usps), view="page")
    assert response.status_code == 200, response.text
    assert 'id="order-detail"' in response.text and usps in response.text
    with app.app_context():
        assert db.session.get(Shipment, shipment_id).tracking_number == usps


def test_mark_delivered_where_the_marketplace_allows(client, auth, app):
    order_id = new_order(app, "ozon", status="in_transit")
    walmart_id = new_order(app, "walmart", status="in_transit")
    auth.login()
    assert "Mark delivered" not in client.get(f"/orders/{walmart_id}").text
    assert "Mark delivered" in client.get(f"/orders/{order_id}").text
    response = post(client, order_id, "deliver", fields(order_id))
    assert response.status_code == 200
    assert load(app, order_id).status == "delivered"


def test_cancel_needs_a_reason(client, auth, app):
    order_id = new_order(app)
    auth.login()
    response = post(client, order_id, "cancel", fields(order_id, reason_code="", note=""))
    assert response.status_code == 422
    assert "Choose why the order is cancelled." in response.text
    response = post(client, order_id, "cancel", fields(order_id, reason_code="other", note=""))
    assert "Say why the order is cancelled." in response.text
    response = post(client, order_id, "cancel", fields(order_id, reason_code="out_of_stock", note="last one broke"))
    assert response.status_code == 200
    order = load(app, order_id)
    assert (order.status, order.cancel_reason) == ("cancelled", "Out of stock: last one broke")


def test_open_and_close_a_dispute_with_a_deadline(client, auth, app):
    order_id = new_order(app, status="in_transit")
    auth.login()
    zone = ZoneInfo("America/New_York")
    local = (datetime.now(zone) + timedelta(days=2)).replace(hour=17, minute=30, second=0, microsecond=0)
    response = post(client, order_id, "open_dispute",
                    fields(order_id, note="Buyer says the box was empty", deadline=local.strftime("%Y-%m-%dT%H:%M")),
                    view="page")
    assert response.status_code == 200, response.text
    assert "Buyer says the box was empty" in response.text
    order = load(app, order_id)
    assert order.dispute_open and order.dispute_deadline == local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    response = post(client, order_id, "close_dispute", fields(order_id, version=order.version, note="Refunded"))
    assert response.status_code == 200
    assert not load(app, order_id).dispute_open


def test_bad_dispute_deadline_is_refused(client, auth, app):
    order_id = new_order(app, status="in_transit")
    auth.login()
    response = post(client, order_id, "open_dispute", fields(order_id, note="x", deadline="tomorrow-ish"))
    assert response.status_code == 422
    assert "Not a valid datetime value" in response.text
    assert 'value="tomorrow-ish"' in response.text
    assert not load(app, order_id).dispute_open


def test_second_tablet_gets_a_conflict_and_keeps_what_it_typed(client, auth, app):
    order_id = new_order(app, status="to_pack")
    with app.app_context():  # the first tablet opens a dispute: shipping is still possible
        order = db.session.get(Order, order_id)
        seller = db.session.scalar(db.select(User).where(User.username == "seller"))
        perform(order, "open_dispute", Actor(seller), note="Buyer asked for gift wrap")
        db.session.commit()
    auth.login()
    response = post(client, order_id, "ship", fields(order_id, version=1, **{
        "packages-0-carrier": "ups", "packages-0-tracking_number": UPS}) | _all_lines(app, order_id))
    assert response.status_code == 409
    assert "Someone else changed this order while you were working" in response.text
    assert "it is now To pack" in response.text and "Open dispute by Seller" in response.text
    assert f'value="{UPS}"' in response.text  # still in the form, ready to save again
    assert f'name="order{order_id}-version" type="hidden" value="2"' in response.text
    assert count(app, Shipment) == 0


def test_conflict_when_the_action_is_no_longer_possible_lists_what_was_typed(client, auth, app):
    order_id = new_order(app, status="to_pack")
    with app.app_context():
        order = db.session.get(Order, order_id)
        perform(order, "ship", Actor(), packages=[Package("usps", make_tracking_number("usps"))])
        db.session.commit()
    auth.login()
    response = post(client, order_id, "ship", fields(order_id, version=1, **{
        "packages-0-carrier": "ups", "packages-0-tracking_number": UPS}) | _all_lines(app, order_id))
    assert response.status_code == 409
    assert "it is now In transit" in response.text
    assert "Not saved — what you entered" in response.text and UPS in response.text
    assert 'name="order' not in response.text.split("Not saved")[1].split("</dl>")[0]  # a list, not a form
    assert count(app, Shipment) == 1


def test_a_save_that_loses_the_race_at_commit_is_a_conflict(client, auth, app, monkeypatch):
    """Both tablets pass the version check; the database refuses the second UPDATE."""
    order_id = new_order(app)
    real_perform = routes.perform

    def other_tablet_saves_first(order, *args, **kwargs):
        with db.engine.begin() as connection:
            connection.execute(update(Order).where(Order.id == order_id)
                               .values(version=Order.version + 1, status="to_pack"))
        return real_perform(order, *args, **kwargs)

    monkeypatch.setattr(routes, "perform", other_tablet_saves_first)
    auth.login()
    response = post(client, order_id, "acknowledge", fields(order_id))
    assert response.status_code == 409
    assert "Someone else changed this order while you were working" in response.text
    assert count(app, Event) == 0 and count(app, OutboxEntry) == 0


def test_opening_a_form_on_a_changed_order_says_so(client, auth, app):
    order_id = new_order(app, status="to_pack")
    auth.login()
    response = client.get(f"/orders/{order_id}/cancel?view=row&version=0", headers=HTMX)
    assert response.status_code == 409
    assert "Someone else changed this order" in response.text


def test_actions_the_order_does_not_allow(client, auth, app):
    order_id = new_order(app, "ozon", mode="FBO")
    auth.login()
    page = client.get(f"/orders/{order_id}").text
    assert "Fulfilled by Ozon (FBO)" in page and "Acknowledge" not in page
    response = post(client, order_id, "acknowledge", fields(order_id))
    assert response.status_code == 409
    assert "Fulfilled by Ozon (FBO)" in response.text
    assert client.get(f"/orders/{order_id}/ship?version=1", headers=HTMX).status_code == 409
    assert count(app, Event) == 0


def test_bad_input_is_answered_clearly(client, auth, app):
    order_id = new_order(app, status="to_pack")
    auth.login()
    assert client.get("/orders/999999").status_code == 404
    assert post(client, 999999, "acknowledge", {}).status_code == 404
    assert post(client, order_id, "explode", fields(order_id)).status_code == 404
    assert client.get(f"/orders/{order_id}/acknowledge").status_code == 404  # one-tap: nothing to open
    response = post(client, order_id, "pack", fields(order_id, version="abc"))
    assert response.status_code == 422 and "reload the order and try again" in response.text
    response = post(client, order_id, "ship", fields(order_id, **{
        "packages-0-carrier": "ups", "packages-0-tracking_number": UPS,
        "packages-0-lines-0-line_id": "1", "packages-0-lines-0-quantity": "lots"}))
    assert response.status_code == 422 and "Enter a quantity" in response.text
    response = post(client, order_id, "ship", fields(order_id, **{
        "packages-0-carrier": "pigeon", "packages-0-tracking_number": UPS}))
    assert response.status_code == 422 and "Not a valid choice" in response.text
    response = post(client, order_id, "ship", fields(order_id, **{
        "packages-0-carrier": "other", "packages-0-tracking_number": "ABC123456789",
        "packages-0-tracking_url": "javascript:alert(1)"}))
    assert response.status_code == 422 and "starting with https://" in response.text
    assert load(app, order_id).status == "to_pack" and count(app, Event) == 0


def test_notes_are_escaped(client, auth, app):
    order_id = new_order(app, status="in_transit")
    auth.login()
    post(client, order_id, "open_dispute", fields(order_id, note="<img src=x onerror=alert(1)>"))
    page = client.get(f"/orders/{order_id}").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_without_htmx_a_save_redirects_to_the_order(client, auth, app):
    order_id = new_order(app)
    auth.login()
    response = client.post(f"/orders/{order_id}/acknowledge", data=fields(order_id))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/orders/{order_id}")


def test_ship_by_shows_in_the_row_after_an_action(client, auth, app):
    order_id = new_order(app, ship_by=utcnow() - timedelta(days=3))
    auth.login()
    response = post(client, order_id, "acknowledge", fields(order_id))
    assert "days late" in response.text
