"""End to end with real workers and the clock: Walmart orders go to Amazon MCF and reach
"shipped" on Walmart with Amazon's real carrier and tracking, without anyone typing
anything, under faults (5xx and 429 on both sides, a worker killed), exactly once."""
from collections import Counter

import pytest

from tests import helpers as harness
from fulfil.extensions import db
from fulfil.actions import Actor
from fulfil.mcf import service
from fulfil.mcf.models import McfOrder
from fulfil.models import MarketplaceAccount, Order
from tests.fixtures_workers import wait_for

pytestmark = pytest.mark.integration


def test_walmart_orders_shipped_by_amazon_reach_walmart_once_under_faults(pipeline):
    app, walmart_sim, mcf_sim = pipeline.app, pipeline.sims["walmart"], pipeline.sims["amazon_mcf"]
    order_ids = harness.import_new_orders(app, walmart_sim, "walmart-sim", 6)
    mcf_sim.admin("POST", "/options", json={"step_seconds": 0.3})
    with app.app_context():
        account = db.session.get(MarketplaceAccount, pipeline.accounts["amazon_mcf"])
        for order_id in order_ids:
            service.send(db.session.get(Order, order_id), account, Actor(source="ui"), block_amzl=False)
        db.session.commit()
        db.session.remove()
    mcf_sim.faults(error_rate=0.2, burst_429=4)
    walmart_sim.faults(error_rate=0.15)
    pipeline.workers.env["FULFIL_MCF_POLL_INTERVAL"] = "0.5"
    pipeline.start(2)
    wait_for(lambda: len([w for w in mcf_sim.writes() if w["outcome"] == "applied"]) >= 2, 60,
             message="first creates at Amazon")
    pipeline.workers.kill(pipeline.children()[0])  # a worker dies mid-way; the runner restarts it

    def all_shipped():
        with app.app_context():
            statuses = db.session.scalars(db.select(Order.status).where(Order.id.in_(order_ids))).all()
            synced = db.session.scalars(db.select(Order.sync_state).where(Order.id.in_(order_ids))).all()
            db.session.remove()
        return set(statuses) == {"in_transit"} and set(synced) == {"synced"}

    try:
        wait_for(all_shipped, 300, interval=0.3, message="orders shipped by Amazon and synced to Walmart")
    except AssertionError:
        raise AssertionError(pipeline.log()[-6000:])
    pipeline.wait_settled()

    with app.app_context():
        tracking = {}
        for mcf in db.session.scalars(db.select(McfOrder)):
            packages = [p for s in mcf.shipments for p in s["packages"]]
            tracking[mcf.order.external_id] = {p["tracking_number"] for p in packages}
            assert mcf.status == "Complete" and sorted(mcf.pushed_packages) == sorted(
                p["package_number"] for p in packages)
        db.session.remove()
    creates = Counter(w["order_id"] for w in mcf_sim.writes()
                      if w["call"] == "createFulfillmentOrder" and w["outcome"] == "applied")
    assert len(creates) == len(order_ids) and set(creates.values()) == {1}
    for external_id, numbers in tracking.items():
        record = walmart_sim.admin("GET", f"/orders/{external_id}")
        on_walmart = {s["trackingInfo"]["trackingNumber"] for line in record["orderLines"]["orderLine"]
                      for s in line["orderLineStatuses"]["orderLineStatus"] if s.get("trackingInfo")}
        assert on_walmart == numbers
        statuses = {s["status"] for line in record["orderLines"]["orderLine"]
                    for s in line["orderLineStatuses"]["orderLineStatus"]}
        assert statuses == {"Shipped"}
    repeats = [w for w in walmart_sim.writes() if w["outcome"] in harness.REPEATS]
    assert repeats == []
