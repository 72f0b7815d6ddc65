"""Stop-ship over real HTTP (Walmart simulator): a buyer cancels while the order is being
packed → STOP, nothing shipped; a ship Walmart refuses because the buyer cancelled turns
the order into "cancelled — recall the parcel" with a task for the warehouse."""
import pytest

from fulfil.actions import Actor, Package, perform
from fulfil.aftersales.models import Recall
from fulfil.extensions import db
from fulfil.importer import import_account, sync_accounts_from_config
from fulfil.models import Event, MarketplaceAccount, Order, OutboxEntry
from fulfil.ratelimit import limited_adapter
from fulfil.tracking import make_tracking_number
from workers.push import push_entry

pytestmark = pytest.mark.integration


@pytest.fixture
def walmart(app, walmart_sim):
    app.config["MARKETPLACE_ACCOUNTS"] = {"walmart-sim": walmart_sim.settings(slug="walmart-sim", rate_limit=0)}
    app.config["LIVE_CANCEL_CHECK"] = True
    walmart_sim.generate(2, status="Acknowledged", lines=1, quantity=1)
    with app.app_context():
        sync_accounts_from_config()
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == "walmart-sim"))
        account.rate_limit = 0
        db.session.commit()
        import_account(account, limited_adapter(account))
        ids = db.session.scalars(db.select(Order.id).order_by(Order.id)).all()
        db.session.commit()
    return ids


def external_id(order_id):
    return db.session.get(Order, order_id).external_id


def test_buyer_cancels_while_packing_stop_is_shown_and_nothing_ships(app, client, auth, walmart, walmart_sim):
    auth.login("warehouse")
    order_id = walmart[0]
    with app.app_context():
        walmart_sim.admin("POST", "/events", json={"order_id": external_id(order_id), "event": "cancel"})
    page = client.get(f"/floor/pack/{order_id}")
    assert "data-stop-ship" in page.text and "STOP — Walmart cancelled this order" in page.text
    assert "Cancelled by the buyer" in page.text
    shipped = client.post(f"/floor/pack/{order_id}/ship",
                          data={"tracking_number": make_tracking_number("ups"), "carrier": "ups"})
    assert shipped.status_code == 409 and "STOP" in shipped.text
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "cancelled" and not order.shipments
        assert db.session.scalar(db.select(db.func.count(OutboxEntry.id))) == 0


def test_the_order_page_ship_form_checks_the_marketplace_first(app, client, auth, walmart, walmart_sim):
    auth.login("warehouse")
    order_id = walmart[1]
    with app.app_context():
        walmart_sim.admin("POST", "/events", json={"order_id": external_id(order_id), "event": "cancel"})
        version = db.session.get(Order, order_id).version
    opened = client.get(f"/orders/{order_id}/ship?version={version}", headers={"HX-Request": "true"})
    assert opened.status_code == 409 and "notice stop-ship" in opened.text and "Do not ship it" in opened.text


def test_an_order_still_wanted_packs_as_before(app, client, auth, walmart):
    auth.login("warehouse")
    page = client.get(f"/floor/pack/{walmart[0]}")
    assert page.status_code == 200 and "data-stop-ship" not in page.text


def test_the_marketplace_unreachable_does_not_stop_the_floor(app, client, auth, walmart, walmart_sim):
    auth.login("warehouse")
    walmart_sim.faults(error_rate=1.0)
    page = client.get(f"/floor/pack/{walmart[0]}")
    walmart_sim.faults(error_rate=0)
    assert page.status_code == 200 and "Could not ask Walmart just now" in page.text


def test_ship_refused_because_the_buyer_cancelled_becomes_a_recall(app, walmart, walmart_sim):
    order_id = walmart[0]
    with app.app_context():  # the warehouse shipped; the buyer's cancellation lands before the push
        order = db.session.get(Order, order_id)
        perform(order, "ship", Actor(source="ui"), packages=[Package("ups", make_tracking_number("ups"))])
        db.session.commit()
        walmart_sim.admin("POST", "/events", json={"order_id": order.external_id, "event": "cancel"})
        entry_id = db.session.scalar(db.select(OutboxEntry.id).where(OutboxEntry.order_id == order_id))
        db.session.remove()
        push_entry(entry_id)
        entry = db.session.get(OutboxEntry, entry_id)
        order = db.session.get(Order, order_id)
        assert entry.state == "failed" and entry.error_kind == "cancelled"
        assert "Walmart: the order was cancelled — do not deliver. Recall the parcel" in entry.last_error
        assert order.status == "cancelled" and order.cancel_reason == "Cancelled by the buyer"
        recall = db.session.scalar(db.select(Recall).where(Recall.order_id == order_id))
        assert recall is not None and recall.tracking_number == order.shipments[0].tracking_number
        assert db.session.scalar(db.select(Event).where(Event.order_id == order_id, Event.action == "recall"))


def test_a_refusal_for_another_reason_stays_an_ordinary_sync_problem(app, walmart, walmart_sim):
    order_id = walmart[1]
    with app.app_context():
        order = db.session.get(Order, order_id)
        perform(order, "ship", Actor(source="ui"), packages=[Package("ups", make_tracking_number("ups"))])
        db.session.commit()
        entry_id = db.session.scalar(db.select(OutboxEntry.id).where(OutboxEntry.order_id == order_id))
        entry = db.session.get(OutboxEntry, entry_id)
        entry.payload = {**entry.payload, "method_code": "Teleport"}  # Walmart refuses the method
        db.session.commit()
        db.session.remove()
        push_entry(entry_id)
        entry = db.session.get(OutboxEntry, entry_id)
        assert entry.state == "failed" and entry.error_kind == "permanent"
        assert db.session.get(Order, order_id).status == "in_transit"
        assert db.session.scalar(db.select(db.func.count(Recall.id))) == 0


def test_the_floor_lists_parcels_to_recall_until_someone_marks_it_done(app, client, auth, walmart, walmart_sim):
    test_ship_refused_because_the_buyer_cancelled_becomes_a_recall(app, walmart, walmart_sim)
    auth.login("warehouse")
    floor = client.get("/floor/")
    assert "Parcels to recall (1)" in floor.text
    with app.app_context():
        recall_id = db.session.scalar(db.select(Recall.id))
    done = client.post(f"/floor/recalls/{recall_id}/done", data={"note": "Stopped at UPS"})
    assert done.status_code == 303
    assert "Parcels to recall" not in client.get("/floor/").text
    with app.app_context():
        recall = db.session.get(Recall, recall_id)
        assert recall.done_at and recall.done_note == "Stopped at UPS" and recall.done_by.username
    assert client.post("/floor/recalls/999999/done").status_code == 404


def test_orders_imported_already_shipped_have_a_shipped_date(app, walmart_sim):
    """The stuck-in-transit list reads Order.shipped_at: an order imported in transit must have it."""
    app.config["MARKETPLACE_ACCOUNTS"] = {"walmart-sim": walmart_sim.settings(slug="walmart-sim", rate_limit=0)}
    walmart_sim.generate(2, status="Shipped", lines=1, quantity=1)
    with app.app_context():
        sync_accounts_from_config()
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == "walmart-sim"))
        import_account(account, limited_adapter(account))
        orders = db.session.scalars(db.select(Order)).all()
        assert orders and all(o.status == "in_transit" and o.shipped_at is not None for o in orders)
        assert all(o.shipped_at == min(s.shipped_at for s in o.shipments) for o in orders)


def test_any_failure_of_the_check_itself_leaves_the_floor_working(app, walmart):
    """Redis down (the rate limiter and token store live there) is not a MarketplaceError."""
    from redis.exceptions import ConnectionError as RedisDown
    from fulfil.aftersales import stopship

    def redis_down(order):
        raise RedisDown("Error 111 connecting to 127.0.0.1:6379")
    with app.test_request_context(), app.app_context():
        app.config["LIVE_CANCEL_CHECK"] = True
        order = db.session.get(Order, walmart[0])
        check = stopship.check_live(order, fetch=redis_down)
        assert not check.cancelled and "Could not ask Walmart just now" in check.unchecked


def test_the_tablet_asks_briefly_and_never_queues_behind_the_workers(app, walmart, monkeypatch):
    from fulfil import ratelimit
    from fulfil.aftersales import stopship
    asked = []

    class Adapter:
        timeout = 10.0

        def get_order(self, external_id):
            asked.append(self.timeout)
            raise TimeoutError("no answer")
    monkeypatch.setattr(ratelimit, "limited_adapter", lambda account: Adapter())
    with app.test_request_context(), app.app_context():
        app.config["LIVE_CANCEL_CHECK"] = True
        order = db.session.get(Order, walmart[0])
        assert stopship.check_live(order).unchecked and asked == [stopship.LIVE_TIMEOUT]
        monkeypatch.setattr(ratelimit.RateLimiter, "wait_time",  # the workers booked the account up
                            lambda self, account_id, rate: stopship.LIVE_MAX_WAIT + 5)
        assert stopship.check_live(order).unchecked and asked == [stopship.LIVE_TIMEOUT]  # not asked again
