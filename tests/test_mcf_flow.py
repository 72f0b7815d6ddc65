"""Amazon MCF end to end over real HTTP: a Walmart order (imported from the Walmart
simulator) goes to Amazon (the MCF simulator) from the order page, through the outbox,
and Amazon's real carrier and tracking reach Walmart through the ordinary ship push —
exactly once, with faults. Also: refused orders come back, cancels, routing rules,
the placeholder as an explicit choice and sending many at once."""
import pytest

from fulfil.extensions import db
from fulfil.importer import import_account, sync_accounts_from_config
from fulfil.mcf import service
from fulfil.mcf.follow import follow_account
from fulfil.mcf.models import McfOrder, McfSku
from fulfil.models import Event, ImportProblem, MarketplaceAccount, Order, OutboxEntry
from fulfil.ratelimit import limited_adapter
from tests.conftest import make_order
from workers.push import push_entry


@pytest.fixture
def channel(app, walmart_sim, mcf_sim):
    """A Walmart account and an MCF account on the simulators, Walmart orders imported."""
    app.config["MARKETPLACE_ACCOUNTS"] = {
        "walmart-sim": walmart_sim.settings(slug="walmart-sim", rate_limit=0),
        "mcf-sim": mcf_sim.settings(slug="mcf-sim", name="Amazon MCF sim", rate_limit=0)}
    walmart_sim.generate(3, status="Created", lines=1, quantity=1)
    mcf_sim.admin("POST", "/options", json={"step_seconds": 0})
    with app.app_context():
        sync_accounts_from_config()
        for account in db.session.scalars(db.select(MarketplaceAccount)):
            account.rate_limit = 0
        db.session.commit()
        walmart = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == "walmart-sim"))
        import_account(walmart, limited_adapter(walmart))
    return app


def accounts():
    walmart = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == "walmart-sim"))
    mcf = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == "mcf-sim"))
    return walmart, mcf


def push_all():
    """Run the push job for every unfinished entry until none is left (as the workers do)."""
    for _ in range(10):
        ids = db.session.scalars(db.select(OutboxEntry.id).where(OutboxEntry.state.in_(("pending", "sending")))
                                 .order_by(OutboxEntry.id)).all()
        db.session.remove()
        if not ids:
            return
        for entry_id in ids:
            push_entry(entry_id)


def follow():
    _, mcf = accounts()
    follow_account(mcf, limited_adapter(mcf))
    db.session.remove()


def first_order():
    return db.session.scalars(db.select(Order).order_by(Order.id)).first()


def send_from_page(client, order_id, speed="Standard", block_amzl=False):
    _, mcf = accounts()
    form = {"account": str(mcf.id), "shipping_speed": speed}
    if block_amzl:
        form["block_amzl"] = "y"
    preview = client.post(f"/mcf/orders/{order_id}/preview", data=form, headers={"HX-Request": "true"})
    assert preview.status_code == 200, preview.text
    assert "Amazon's preview" in preview.text and "Confirm: send to Amazon" in preview.text
    sent = client.post(f"/mcf/orders/{order_id}/send", data=form, headers={"HX-Request": "true"})
    assert sent.status_code == 200, sent.text
    return sent


def test_walmart_order_reaches_shipped_with_amazons_tracking_exactly_once(channel, client, auth, walmart_sim, mcf_sim):
    auth.login("seller")
    with channel.app_context():
        order = first_order()
        order_id, external_id = order.id, order.external_id
        page = client.get(f"/orders/{order_id}")
        assert "Amazon MCF" in page.text and "Send to Amazon MCF" in page.text
        sent = send_from_page(client, order_id, block_amzl=True)
        assert "Sent to Amazon as WM-" in sent.text
        db.session.remove()
        order = db.session.get(Order, order_id)
        assert order.open_to_ship is False  # out of the warehouse's pick lists
        push_all()  # acknowledge to Walmart, create at Amazon
        follow()  # Amazon has shipped (step 0): the ship goes in the outbox
        push_all()  # the ship reaches Walmart
        mcf = db.session.scalar(db.select(McfOrder))
        assert mcf.status == "Complete" and not mcf.active
        package = mcf.shipments[0]["packages"][0]
        assert package["carrier_code"] in ("UPS", "USPS")  # BLOCK_AMZL kept Amazon Logistics out
        order = db.session.get(Order, order_id)
        assert order.status == "in_transit" and order.sync_state == "synced"
        assert order.shipments[0].tracking_number == package["tracking_number"]
        follow()  # nothing new: nothing sent twice
        push_all()
    walmart = walmart_sim.admin("GET", f"/orders/{external_id}")
    infos = [s["trackingInfo"] for line in walmart["orderLines"]["orderLine"]
             for s in line["orderLineStatuses"]["orderLineStatus"] if s.get("trackingInfo")]
    assert [i["trackingNumber"] for i in infos] == [package["tracking_number"]]
    assert infos[0]["carrierName"]["carrier"] == package["carrier_code"]
    creates = [w for w in mcf_sim.writes() if w["call"] == "createFulfillmentOrder"]
    assert [w["outcome"] for w in creates] == ["applied"]
    ships = [w for w in walmart_sim.writes(external_id) if "ship" in w["call"].lower()]
    assert len(ships) == 1


def test_amazon_logistics_goes_to_walmart_as_other_carrier_with_url(channel, walmart_sim, mcf_sim):
    with channel.app_context():
        walmart, mcf_account = accounts()
        orders = db.session.scalars(db.select(Order).order_by(Order.id)).all()
        for order in orders:
            service.send(order, mcf_account, service.Actor(source="ui"))
        db.session.commit()
        push_all()
        follow()
        push_all()
        carriers = {}
        for mcf in db.session.scalars(db.select(McfOrder)):
            carriers[mcf.order.external_id] = mcf.shipments[0]["packages"][0]
            assert mcf.order.sync_state == "synced"
    for external_id, package in carriers.items():
        record = walmart_sim.admin("GET", f"/orders/{external_id}")
        info = next(s["trackingInfo"] for line in record["orderLines"]["orderLine"]
                    for s in line["orderLineStatuses"]["orderLineStatus"] if s.get("trackingInfo"))
        assert info["trackingNumber"] == package["tracking_number"]
        if package["carrier_code"] == "AMZN_US":
            assert info["carrierName"] == {"otherCarrier": "other"}
            assert info["trackingURL"].endswith(package["tracking_number"])


def test_create_retried_after_faults_makes_one_amazon_order(channel, mcf_sim):
    with channel.app_context():
        _, mcf_account = accounts()
        order = first_order()
        service.send(order, mcf_account, service.Actor(source="ui"))
        db.session.commit()
        entry_id = db.session.scalar(db.select(OutboxEntry.id).where(OutboxEntry.action == "mcf_create"))
        mcf_sim.faults(burst_429=1)
        push_all()
        entry = db.session.get(OutboxEntry, entry_id)
        if entry.state != "confirmed":  # waiting out the 429: pretend the wait is over
            entry.next_attempt_at = None
            db.session.commit()
            push_all()
        # The create's answer lost after Amazon took it: the worker sends it again.
        entry = db.session.get(OutboxEntry, entry_id)
        assert entry.state == "confirmed"
        entry.state, entry.next_attempt_at = "pending", None
        db.session.commit()
        push_all()
        assert db.session.get(OutboxEntry, entry_id).state == "confirmed"
    creates = [w["outcome"] for w in mcf_sim.writes() if w["call"] == "createFulfillmentOrder"]
    assert creates.count("applied") == 1


def test_unfulfillable_is_a_sync_problem_in_amazons_words_and_back_to_the_warehouse(channel, mcf_sim):
    with channel.app_context():
        _, mcf_account = accounts()
        order = first_order()
        mcf_sim.admin("POST", "/stock", json={order.lines[0].sku: 0})
        service.send(order, mcf_account, service.Actor(source="ui"))
        db.session.commit()
        order_id = order.id
        push_all()
        follow()
        order = db.session.get(Order, order_id)
        mcf = db.session.scalar(db.select(McfOrder))
        assert mcf.status == "Unfulfillable" and not mcf.active
        assert order.open_to_ship is True and order.status == "to_pack"
        problem = db.session.scalar(db.select(ImportProblem))
        assert problem.external_id == order.external_id
        assert "found no inventory" in problem.error and f"{order.lines[0].sku}: 1 unfulfillable" in problem.error
        assert service.why_not_send(order) is None  # may go again (a new id)
        again = service.send(order, mcf_account, service.Actor(source="ui"))
        assert again.seller_fulfillment_order_id.endswith("-2")


def test_buyer_cancel_on_walmart_cancels_at_amazon(channel, walmart_sim, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 600})
    with channel.app_context():
        walmart, mcf_account = accounts()
        order = first_order()
        service.send(order, mcf_account, service.Actor(source="ui"))
        db.session.commit()
        order_id, external_id = order.id, order.external_id
        push_all()
        walmart_sim.admin("POST", "/events", json={"order_id": external_id, "event": "cancel"})
        import_account(walmart, limited_adapter(walmart))
        assert db.session.get(Order, order_id).status == "cancelled"
        follow()  # sees the cancelled order, asks Amazon to cancel
        push_all()
        follow()
        mcf = db.session.scalar(db.select(McfOrder))
        assert mcf.status == "Cancelled" and not mcf.active
    assert [w["call"] for w in mcf_sim.writes()] == ["createFulfillmentOrder", "cancelFulfillmentOrder"]


def test_cancel_too_late_is_flagged(channel, walmart_sim, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 600})
    with channel.app_context():
        walmart, mcf_account = accounts()
        order = first_order()
        service.send(order, mcf_account, service.Actor(source="ui"))
        db.session.commit()
        external_id = order.external_id
        push_all()
        sfoid = db.session.scalar(db.select(McfOrder.seller_fulfillment_order_id))
        for _ in range(3):
            mcf_sim.admin("POST", "/events", json={"order_id": sfoid, "event": "advance"})
        walmart_sim.admin("POST", "/events", json={"order_id": external_id, "event": "cancel"})
        import_account(walmart, limited_adapter(walmart))
        follow()
        mcf = db.session.scalar(db.select(McfOrder))
        assert mcf.status == "Processing" and "can no longer cancel it" in mcf.problem
        assert db.session.scalar(db.select(ImportProblem.error)) == mcf.problem
    assert [w["call"] for w in mcf_sim.writes()] == ["createFulfillmentOrder"]


def test_cancel_from_the_page_returns_the_order(channel, client, auth, mcf_sim):
    mcf_sim.admin("POST", "/options", json={"step_seconds": 600})
    auth.login("seller")
    with channel.app_context():
        order_id = first_order().id
        _, mcf_account = accounts()
        mcf_id = mcf_account.id
    form = {"account": str(mcf_id), "shipping_speed": "Standard"}
    client.post(f"/mcf/orders/{order_id}/preview", data=form, headers={"HX-Request": "true"})
    assert "Sent to Amazon as" in client.post(f"/mcf/orders/{order_id}/send", data=form,
                                              headers={"HX-Request": "true"}).text
    with channel.app_context():
        push_all()
    answer = client.post(f"/mcf/orders/{order_id}/cancel", headers={"HX-Request": "true"})
    assert "Cancellation sent to Amazon" in answer.text
    with channel.app_context():
        push_all()
        follow()
        order = db.session.get(Order, order_id)
        assert order.open_to_ship is True
        assert db.session.scalar(db.select(McfOrder.status)) == "Cancelled"


def test_routing_rule_sends_matching_orders_on_arrival(channel, walmart_sim, mcf_sim):
    with channel.app_context():
        walmart, mcf_account = accounts()
        ids = walmart_sim.generate(4, status="Created", lines=1, quantity=1)
        skus = {walmart_sim.admin("GET", f"/orders/{i}")["orderLines"]["orderLine"][0]["item"]["sku"] for i in ids}
        routed_sku = sorted(skus)[0]
        db.session.add(McfSku(account_id=mcf_account.id, sku=routed_sku, mcf_sku="AMZ-" + routed_sku,
                              auto_route=True, shipping_speed="Expedited"))
        db.session.add(McfSku(account_id=mcf_account.id, sku="OFF-BY-DEFAULT", mcf_sku="X", auto_route=False))
        db.session.commit()
        import_account(walmart, limited_adapter(walmart))
        routed = db.session.scalars(db.select(McfOrder)).all()
        assert routed and all(m.routed_by == "rule" and m.shipping_speed == "Expedited" for m in routed)
        assert all(m.order.lines[0].sku == routed_sku and not m.order.open_to_ship for m in routed)
        others = db.session.scalars(db.select(Order).where(Order.id.not_in([m.order_id for m in routed]))).all()
        assert all(o.open_to_ship for o in others if o.status in ("new", "to_pack"))
        push_all()
    create = next(w for w in mcf_sim.writes() if w["call"] == "createFulfillmentOrder")
    assert create["body"]["items"][0]["sellerSku"] == "AMZ-" + routed_sku  # SKU mapping


def test_placeholder_only_with_the_explicit_tick(channel, client, auth):
    auth.login("seller")
    with channel.app_context():
        order = first_order()
        order_id = order.id
        order.status = "to_pack"
        db.session.commit()
        page = client.get(f"/orders/{order_id}")
        assert "cannot be changed" in page.text
        refused = client.post(f"/mcf/orders/{order_id}/placeholder", headers={"HX-Request": "true"})
        assert refused.status_code == 422 and "Tick that you understand" in refused.text
        assert db.session.get(Order, order_id).shipments == []
        done = client.post(f"/mcf/orders/{order_id}/placeholder", data={"confirm": "y"}, headers={"HX-Request": "true"})
        assert done.status_code == 200
        db.session.remove()
        order = db.session.get(Order, order_id)
        assert [(s.carrier, s.tracking_number) for s in order.shipments] == [("usps", "12345")]
        entry = db.session.scalar(db.select(OutboxEntry).where(OutboxEntry.action == "ship"))
        assert entry.payload["carrier_name"] == "USPS"
        assert db.session.scalar(db.select(Event).where(Event.action == "placeholder_tracking")) is not None


def test_send_many_at_once_preview_then_confirm(channel, client, auth, mcf_sim):
    auth.login("seller")
    with channel.app_context():
        _, mcf_account = accounts()
        numbers = [o.external_id for o in db.session.scalars(db.select(Order).order_by(Order.id))]
        text = "\n".join(numbers + ["NO-SUCH-ORDER"])
        form = {"account": str(mcf_account.id), "numbers": text, "shipping_speed": "Standard"}
        preview = client.post("/mcf/send", data={**form, "step": "preview"})
        assert preview.status_code == 200 and "No order with this number." in preview.text
        assert f"Confirm: send {len(numbers)} orders to Amazon" in preview.text
        assert db.session.scalar(db.select(McfOrder)) is None  # a preview sends nothing
        confirm = client.post("/mcf/send", data={**form, "step": "confirm"})
        assert confirm.text.count("Sent as WM-") == len(numbers)
        again = client.post("/mcf/send", data={**form, "step": "confirm"})
        assert again.text.count("This order is already at Amazon.") == len(numbers)
        assert len(db.session.scalars(db.select(McfOrder)).all()) == len(numbers)


@pytest.mark.parametrize("form, words", [
    ({}, "Not a valid choice"),
    ({"account": "999999"}, "Not a valid choice"),
    ({"account": "{mcf}", "shipping_speed": "Overnight"}, "Not a valid choice"),
])
def test_hostile_send_input_is_refused_plainly(channel, client, auth, form, words):
    auth.login("seller")
    with channel.app_context():
        _, mcf_account = accounts()
        order_id = first_order().id
        data = {k: v.replace("{mcf}", str(mcf_account.id)) for k, v in form.items()}
        answer = client.post(f"/mcf/orders/{order_id}/send", data=data, headers={"HX-Request": "true"})
        assert answer.status_code == 422 and words in answer.text
        assert db.session.scalar(db.select(McfOrder)) is None


def test_ozon_fbs_may_not_go_to_amazon(app):
    with app.app_context():
        fbs = make_order("ozon", mode="FBS")
        rfbs = make_order("ozon", mode="rFBS")
        assert "only rFBS orders" in service.third_party_rule(fbs)
        assert service.third_party_rule(rfbs) is None


def test_sku_rules_page(channel, client, auth):
    auth.login("seller")
    with channel.app_context():
        _, mcf_account = accounts()
        saved = client.post("/mcf/skus", data={"account": str(mcf_account.id), "source_account": "",
                                               "sku": " EAR-BT-01 ", "mcf_sku": "", "auto_route": "y",
                                               "shipping_speed": "Standard"})
        assert saved.status_code == 303
        row = db.session.scalar(db.select(McfSku))
        assert (row.sku, row.mcf_sku, row.auto_route) == ("EAR-BT-01", "EAR-BT-01", True)
        empty = client.post("/mcf/skus", data={"account": str(mcf_account.id), "source_account": "", "sku": ""})
        assert empty.status_code == 422 and "Enter our SKU." in empty.text
