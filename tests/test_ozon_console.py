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
