"""Ozon postings in the console, imported from the Ozon simulator over real HTTP: who
delivers decides the actions, cancel reasons are Ozon's own for each posting, marked goods
are refused with what to do in Ozon's seller area."""
import pytest

from fulfil.extensions import db
from fulfil.importer import import_account, sync_accounts_from_config
from fulfil.models import MarketplaceAccount, Order, OutboxEntry
from fulfil.status import allowed_actions

pytestmark = pytest.mark.integration

HTMX = {"HX-Request": "true"}


@pytest.fixture
def ozon(app, sims):
    """The Ozon simulator with an account on it in fulfil; `ozon.load(*numbers)` imports
    and returns {posting number: order id}."""
    sim = sims["ozon"]
    with app.app_context():
        app.config["MARKETPLACE_ACCOUNTS"] = {"ozon-sim": sim.settings()}
        sync_accounts_from_config(app)

    def load(*numbers):
        with app.app_context():
            import_account(db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == "ozon-sim")))
            found = dict(db.session.execute(db.select(Order.external_id, Order.id)
                                            .where(Order.external_id.in_(numbers))).all())
            db.session.remove()
        return [found[n] for n in numbers]

    sim.load = load
    return sim


def fields(order_id, version, **values):
    return {f"order{order_id}-{name}": value for name, value in {"version": version, **values}.items()}


def version_of(app, order_id):
    with app.app_context():
        return db.session.get(Order, order_id).version


def test_who_delivers_decides_the_actions_of_an_imported_posting(app, ozon, client, auth):
    numbers = [ozon.generate(1, scheme="rfbs", status="awaiting_deliver", tpl_integration_type=tpl)[0]
               for tpl in ("aggregator", "3pl_tracking", "non_integrated")]
    fbs, = ozon.generate(1, scheme="fbs", status="awaiting_deliver")
    ids = ozon.load(*numbers, fbs)
    with app.app_context():
        orders = [db.session.get(Order, i) for i in ids]
        assert [(o.fulfilment_mode, o.delivery_scheme) for o in orders] == [
            ("rFBS", "aggregator"), ("rFBS", "3pl_tracking"), ("rFBS", "non_integrated"), ("FBS", "ozon")]
        assert ["ship" in allowed_actions(o) for o in orders] == [False, True, True, False]
    auth.login()
    page = client.get(f"/orders/{ids[0]}").text
    assert ">Ship<" not in page and "Ozon&#39;s partner carrier carries this posting" in page
    response = client.get(f"/orders/{ids[0]}/ship?version={version_of(app, ids[0])}", headers=HTMX)
    assert response.status_code == 409 and "takes no tracking number from the seller" in response.text


def test_a_marked_posting_is_not_packed_here_and_the_page_says_where(app, ozon, client, auth):
    number, = ozon.generate(1, scheme="fbs", status="awaiting_packaging", marked=True)
    order_id, = ozon.load(number)
    auth.login()
    client.post(f"/orders/{order_id}/acknowledge?view=page", data=fields(order_id, version_of(app, order_id)),
                headers=HTMX)
    page = client.get(f"/orders/{order_id}").text
    assert "Mark packed" not in page and "Ozon&#39;s seller area" in page
    response = client.post(f"/orders/{order_id}/pack?view=page", data=fields(order_id, version_of(app, order_id)),
                           headers=HTMX)
    assert response.status_code == 409 and "Честный ЗНАК" in response.text
    with app.app_context():  # acknowledging is fulfil's own step on Ozon: nothing was sent at all
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxEntry)) == 0


def test_the_cancel_form_offers_ozons_reasons_for_this_posting(app, ozon, client, auth):
    waiting, packed = ozon.generate(2, scheme="rfbs", status="awaiting_packaging")
    with ozon.state.lock:
        ozon.state.orders[packed]["status"] = "awaiting_deliver"
    waiting_id, packed_id = ozon.load(waiting, packed)
    auth.login()
    form = client.get(f"/orders/{packed_id}/cancel?view=page&version={version_of(app, packed_id)}", headers=HTMX).text
    assert 'value="ozon-400"' in form and 'value="ozon-402"' in form and 'value="ozon-352"' not in form
    assert "Other reason" not in form  # fulfil's own list is not offered where Ozon has one
    form = client.get(f"/orders/{waiting_id}/cancel?view=page&version={version_of(app, waiting_id)}", headers=HTMX).text
    assert 'value="ozon-352"' in form and "Товар закончился у продавца" in form

    # 402 needs a note; a reason Ozon does not offer for this posting is refused clearly.
    version = version_of(app, packed_id)
    response = client.post(f"/orders/{packed_id}/cancel?view=page", headers=HTMX,
                           data=fields(packed_id, version, reason_code="ozon-402", note=""))
    assert response.status_code == 422 and "Say why the order is cancelled." in response.text
    response = client.post(f"/orders/{packed_id}/cancel?view=page", headers=HTMX,
                           data=fields(packed_id, version, reason_code="ozon-352", note=""))
    assert response.status_code == 422 and "no longer offered" in response.text
    response = client.post(f"/orders/{packed_id}/cancel?view=page", headers=HTMX,
                           data=fields(packed_id, version, reason_code="ozon-400", note="box crushed"))
    assert response.status_code == 200, response.text
    with app.app_context():
        order = db.session.get(Order, packed_id)
        entry, = db.session.scalars(db.select(OutboxEntry).where(OutboxEntry.order_id == packed_id))
        assert (order.status, order.cancel_reason) == ("cancelled", "Остался только бракованный товар: box crushed")
        assert (entry.action, entry.payload["cancel_reason_id"]) == ("cancel", 400)


def test_the_cancel_form_falls_back_to_fulfils_reasons_when_ozon_does_not_answer(app, ozon, client, auth):
    number, = ozon.generate(1, scheme="rfbs", status="awaiting_packaging")
    order_id, = ozon.load(number)
    ozon.faults(outage=True)
    auth.login()
    form = client.get(f"/orders/{order_id}/cancel?view=page&version={version_of(app, order_id)}", headers=HTMX).text
    assert "Ozon did not list its cancel reasons" in form and "Circle is open" in form
    assert 'value="out_of_stock"' in form
    response = client.post(f"/orders/{order_id}/cancel?view=page", headers=HTMX,
                           data=fields(order_id, version_of(app, order_id), reason_code="out_of_stock"))
    assert response.status_code == 200
    with app.app_context():
        entry, = db.session.scalars(db.select(OutboxEntry).where(OutboxEntry.order_id == order_id))
        assert "cancel_reason_id" not in entry.payload  # the adapter picks Ozon's when it sends


# -- not accepted -> dispute at Ozon, through the outbox and the push job --------------------

def push(app, order_id):
    """Run the push job for the order's first unfinished entry, as a worker would; returns
    the order's entries afterwards."""
    from workers.push import push_entry
    with app.app_context():
        head = db.session.scalar(db.select(OutboxEntry.id).where(OutboxEntry.order_id == order_id,
                                                                 OutboxEntry.state != "confirmed")
                                 .order_by(OutboxEntry.id).limit(1))
        db.session.remove()
        push_entry(head)
        rows = db.session.scalars(db.select(OutboxEntry).where(OutboxEntry.order_id == order_id)
                                  .order_by(OutboxEntry.id)).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def make_due(app, order_id):
    from fulfil.timeutil import utcnow
    with app.app_context():
        for entry in db.session.scalars(db.select(OutboxEntry).where(OutboxEntry.order_id == order_id)):
            entry.next_attempt_at = utcnow()
        db.session.commit()


def test_not_accepted_opens_a_dispute_at_ozon_once_even_when_the_push_is_retried(
        app, ozon, client, auth, clean_redis):
    number, = ozon.generate(1, scheme="fbs", status="awaiting_deliver")
    ozon.admin("POST", "/events", json={"order_id": number, "event": "not_accepted"})
    order_id, = ozon.load(number)
    with app.app_context():
        db.session.scalar(db.select(MarketplaceAccount)).rate_limit = 0
        db.session.commit()
    auth.login()
    form = client.get(f"/orders/{order_id}/open_dispute?view=page&version={version_of(app, order_id)}",
                      headers=HTMX).text
    assert "This files a dispute at Ozon as well" in form
    response = client.post(f"/orders/{order_id}/open_dispute?view=page", headers=HTMX, data=fields(
        order_id, version_of(app, order_id), note="Handed to the Ozon driver on Monday, signed sheet"))
    assert response.status_code == 200, response.text
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.status, order.dispute_open) == ("dispute", True)

    # Ozon takes the arbitration but the answer is lost on the way back: outcome unknown.
    ozon.admin("POST", "/ozon/options", json={"garble_next": 1})
    entry, = push(app, order_id)
    assert (entry.action, entry.state, entry.error_kind) == ("open_dispute", "pending", "retryable")
    make_due(app, order_id)
    entry, = push(app, order_id)  # reads Ozon back first: the dispute is there, nothing resent
    assert entry.state == "confirmed", entry.last_error
    arbitrations = [w for w in ozon.writes(number) if w["call"] == "arbitration"]
    assert [w["outcome"] for w in arbitrations] == ["applied"]
    assert ozon.admin("GET", "/counters")["POST /v2/posting/fbs/arbitration"] == 1
    sync = client.get(f"/sync/orders/{order_id}").text
    assert "Open dispute" in sync and "confirmed by Ozon" in sync

    # Ozon's answer comes back with the import; then the parcel is handed over again.
    ozon.load(number)
    with app.app_context():
        assert db.session.get(Order, order_id).raw_status == "arbitration"
    page = client.get(f"/orders/{order_id}").text
    assert "Hand over again" in page
    response = client.post(f"/orders/{order_id}/hand_on?view=page", headers=HTMX,
                           data=fields(order_id, version_of(app, order_id)))
    assert response.status_code == 200, response.text
    entries = push(app, order_id)
    assert [(e.action, e.state) for e in entries] == [("open_dispute", "confirmed"), ("hand_on", "confirmed")]
    assert ozon.admin("GET", f"/orders/{number}")["status"] == "awaiting_deliver"
    ozon.load(number)
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.status, order.raw_status, order.dispute_open) == ("ready", "awaiting_deliver", False)


def test_disputes_stay_in_fulfil_where_the_marketplace_has_no_call_for_them(app, ozon, client, auth):
    number, = ozon.generate(1, scheme="rfbs", status="delivered")
    ozon_id, = ozon.load(number)
    with app.app_context():
        from tests.conftest import make_order
        walmart_id = make_order("walmart", status="in_transit").id
        db.session.commit()
    auth.login()
    for order_id in (ozon_id, walmart_id):
        form = client.get(f"/orders/{order_id}/open_dispute?view=page&version={version_of(app, order_id)}",
                          headers=HTMX).text
        assert "files a dispute at" not in form
        response = client.post(f"/orders/{order_id}/open_dispute?view=page", headers=HTMX,
                               data=fields(order_id, version_of(app, order_id), note="Buyer says it never came"))
        assert response.status_code == 200, response.text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxEntry)) == 0
        assert all(db.session.get(Order, i).dispute_open for i in (ozon_id, walmart_id))
        assert db.session.get(Order, ozon_id).status == "delivered"
    assert [w for w in ozon.writes(number) if w["call"] == "arbitration"] == []
