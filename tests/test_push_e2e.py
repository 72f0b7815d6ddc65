"""End to end: a change saved in fulfil reaches the simulators through real RQ workers.

Every test ends with the simulators' write logs proving each change applied exactly once.
"""
import os
import signal
from collections import Counter

import pytest
from sqlalchemy import select

from tests import helpers as harness
from fulfil.extensions import db
from fulfil.marketplaces import adapter_for
from fulfil.marketplaces.base import APPLIED
from fulfil.models import MarketplaceAccount, Order, OutboxEntry
from fulfil.outbox import record, retry
from fulfil.tracking import make_tracking_number
from tests.fixtures_workers import wait_for

pytestmark = pytest.mark.integration

FLOW_WRITES = {kind: {call for action in flow for call in harness.WRITES.get((kind, action), ())}
               for kind, flow in harness.FLOWS.items()}


def import_orders(pipeline, kind, count):
    """New orders on the simulator, imported into fulfil; returns their ids in fulfil."""
    return harness.import_new_orders(pipeline.app, pipeline.sims[kind], f"{kind}-sim", count)


def act(app, order_id, action):
    harness.perform_step(app, order_id, action)  # committed: enqueued after commit


def full_flow(app, kind, order_id):
    """Everything a warehouse does to a new order that the marketplace must learn."""
    for action in harness.FLOWS[kind]:
        act(app, order_id, action)


def external_ids(app, order_ids):
    with app.app_context():
        found = dict(db.session.execute(select(Order.id, Order.external_id).where(Order.id.in_(order_ids))).all())
        db.session.remove()
    return [found[i] for i in order_ids]


def assert_each_once(sim, order_external_ids, calls):
    """Each order got each call exactly once, and nothing was repeated."""
    writes = [w for w in sim.writes() if w["order_id"] in set(order_external_ids)]
    repeats = [w for w in writes if w["outcome"] in harness.REPEATS]
    applied = Counter((w["order_id"], w["call"]) for w in writes if w["outcome"] == "applied")
    assert not repeats, f"{sim.kind}: writes sent twice: {repeats[:5]}"
    wrong = {(o, c): applied[(o, c)] for o in order_external_ids for c in calls if applied[(o, c)] != 1}
    assert not wrong, f"{sim.kind}: (order, call) -> times applied, expected 1: {wrong}"


def assert_confirmed(entries):
    bad = [(e.id, e.action, e.state, e.last_error) for e in entries if e.state != "confirmed"]
    assert not bad, bad


def test_saved_changes_reach_every_marketplace_once(app, pipeline):
    pipeline.start(workers=2)
    orders = {kind: import_orders(pipeline, kind, 3) for kind in ("walmart", "ozon", "wish")}
    for kind, ids in orders.items():
        for order_id in ids:
            full_flow(app, kind, order_id)
    assert_confirmed(pipeline.wait_settled(timeout=30))
    for kind, ids in orders.items():
        assert_each_once(pipeline.sims[kind], external_ids(app, ids), FLOW_WRITES[kind])
    with app.app_context():
        assert set(db.session.scalars(select(Order.sync_state).where(Order.id.in_(sum(orders.values(), []))))) \
            == {"synced"}


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_an_action_through_the_console_reaches_walmart(app, pipeline, client, auth):
    pipeline.start(workers=1)
    (order_id,) = import_orders(pipeline, "walmart", 1)
    auth.login("warehouse")
    with app.app_context():
        version = db.session.get(Order, order_id).version
    prefix = f"order{order_id}-"
    response = client.post(f"/orders/{order_id}/acknowledge", data={prefix + "version": version},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    with app.app_context():
        version = db.session.get(Order, order_id).version
    tracking = make_tracking_number("ups")
    response = client.post(f"/orders/{order_id}/ship", headers={"HX-Request": "true"}, data={
        prefix + "version": version, prefix + "packages-0-carrier": "ups",
        prefix + "packages-0-tracking_number": tracking})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_confirmed(pipeline.wait_settled(timeout=20))
    (external_id,) = external_ids(app, [order_id])
    writes = pipeline.sims["walmart"].writes(external_id)
    assert [w["call"] for w in writes] == ["acknowledge", "shipping"]  # in the order they were made
    assert tracking in str(writes[1]["body"])
    page = client.get(f"/sync/orders/{order_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert page.count("confirmed by Walmart at") == 2 and "hx-trigger" not in page


def test_nothing_lost_when_redis_is_flushed_or_enqueueing_never_happened(app, pipeline):
    orders = import_orders(pipeline, "walmart", 12)
    app.config["OUTBOX_ENQUEUE"] = False  # a crash between commit and enqueue, for a third
    for order_id in orders[:4]:
        act(app, order_id, "acknowledge")
    app.config["OUTBOX_ENQUEUE"] = True
    for order_id in orders[4:]:
        act(app, order_id, "acknowledge")
    assert pipeline.redis.llen("rq:queue:fulfil-push") == 8
    pipeline.redis.flushall()  # ... and Redis loses the other jobs
    pipeline.start(workers=2)
    for order_id in orders:
        act(app, order_id, "ship")
    wait_for(lambda: any(e.state == "confirmed" for e in pipeline.entries()), timeout=20, message="first push")
    pipeline.redis.flushall()  # flushed again while the workers are busy
    assert_confirmed(pipeline.wait_settled(timeout=40))
    assert_each_once(pipeline.sims["walmart"], external_ids(app, orders), {"acknowledge", "shipping"})


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_call_loses_nothing_and_sends_nothing_twice(app, pipeline):
    orders = import_orders(pipeline, "wish", 6)
    sim = pipeline.sims["wish"]
    # Slow answers: the workers are surely inside an HTTP call when they are killed; the
    # simulator still applies those writes, so fulfil must read before writing again.
    sim.faults(latency_ms=1500)
    pipeline.start(workers=2)
    for order_id in orders:
        full_flow(app, "wish", order_id)  # acknowledging is fulfil's own step on Wish
    wait_for(lambda: sum(e.state == "sending" for e in pipeline.entries()) >= 2, timeout=20,
             message="two entries in flight")
    workers = pipeline.children()[:-1]  # the last child is the clock
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    sim.faults(latency_ms=0)
    # The supervisor starts new workers; the killed entries come back when their lease ends.
    wait_for(lambda: len(set(pipeline.children()) - set(workers)) >= 2, timeout=20, message="restarted workers")
    assert_confirmed(pipeline.wait_settled(timeout=60))
    assert "run=child_exited" in pipeline.log()
    assert_each_once(sim, external_ids(app, orders), {"tracking"})


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_a_permanent_failure_is_shown_then_retried(app, pipeline, client, auth):
    pipeline.start(workers=1)
    (order_id,) = import_orders(pipeline, "ozon", 1)
    (external_id,) = external_ids(app, [order_id])
    with app.app_context():
        # A tracking number Ozon refuses: the posting is not packed there yet.
        order = db.session.get(Order, order_id)
        lines = [{"line_number": line.line_number, "item_id": line.item_id, "sku": line.sku,
                  "quantity": line.quantity} for line in order.lines]
        failing = record(order, "ship", {
            "external_id": external_id, "carrier": "russian_post", "carrier_name": "Почта России",
            "tracking_number": make_tracking_number("russian_post"), "lines": lines})
        db.session.commit()
        failing_id = failing.id
    (failed,) = pipeline.wait_settled(timeout=20)
    assert (failed.state, failed.last_error) == ("failed", "HAS_INCORRECT_STATUS")
    auth.login("seller")
    page = client.get("/sync/problems").get_data(as_text=True)
    assert external_id in page and "HAS_INCORRECT_STATUS" in page
    # The seller packs it in Ozon's own cabinet, then retries here.
    with app.app_context():
        ozon = adapter_for(db.session.get(MarketplaceAccount, pipeline.accounts["ozon"]))
    ozon.push("pack", {"external_id": external_id, "packages": [{"lines": lines}]})
    wait_for(lambda: ozon.check("pack", {"external_id": external_id}) == APPLIED, timeout=10, message="packing")
    response = client.post(f"/sync/entries/{failing_id}/retry", data={"back": "problems"})
    assert response.status_code == 303
    assert_confirmed(pipeline.wait_settled(timeout=20))
    assert "HAS_INCORRECT_STATUS" not in client.get("/sync/problems").get_data(as_text=True)


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_one_always_failing_order_never_delays_the_others(app, pipeline):
    sim = pipeline.sims["walmart"]
    orders = import_orders(pipeline, "walmart", 15)
    stuck, others = orders[0], orders[1:]
    sim.admin("POST", "/events", json={"order_id": external_ids(app, [stuck])[0], "event": "cancel"})
    pipeline.start(workers=2)
    act(app, stuck, "acknowledge")  # refused: the buyer cancelled on Walmart
    wait_for(lambda: pipeline.entries(stuck)[0].state == "failed", timeout=20, message="the stuck order to fail")
    # A person keeps retrying it while the warehouse works on everything else.
    for order_id in others:
        act(app, order_id, "acknowledge")
        with app.app_context():
            retry(db.session.scalars(select(OutboxEntry).where(OutboxEntry.order_id == stuck,
                                                               OutboxEntry.state == "failed")).all())
            db.session.commit()
            db.session.remove()
    entries = pipeline.wait_settled(timeout=30)
    assert_confirmed([e for e in entries if e.order_id != stuck])
    stuck_entry = [e for e in entries if e.order_id == stuck][0]
    assert stuck_entry.state == "failed" and "cancelled" in stuck_entry.last_error
    # The others did not wait for it (it never goes through): how fast they go is P5's
    # business (bench.bench_push), not a test's.


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_entries_of_one_order_reach_the_marketplace_in_order(app, pipeline):
    orders = import_orders(pipeline, "walmart", 8)
    pipeline.start(workers=3)
    for order_id in orders:
        act(app, order_id, "acknowledge")
        act(app, order_id, "ship")
    assert_confirmed(pipeline.wait_settled(timeout=30))
    for external_id in external_ids(app, orders):
        calls = [w["call"] for w in pipeline.sims["walmart"].writes(external_id)]
        assert calls == ["acknowledge", "shipping"], (external_id, calls)
