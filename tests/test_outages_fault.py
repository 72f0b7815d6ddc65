"""Real outages under the running app and workers: PostgreSQL and Redis of this test's own
(tests.helpers starts them: initdb on a free port, a redis-server), stopped and
started again while the warehouse saves and the workers push to the Walmart simulator.

- saves during a database stop get the clear message, and nothing is saved;
- saves during a Redis stop are kept, and reach the simulator within 5 s after Redis is back;
- a database restart while changes are in flight loses nothing and sends nothing twice;
- the simulator's write log shows each change once; the logs say it in a few lines.
"""
import logging
import time
import uuid

import pytest

from tests import helpers as harness
from fulfil.extensions import db
from fulfil.models import Order, OutboxEntry
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.integration

HTMX = {"HX-Request": "true"}
SLUG = "walmart-sim"


class Stack:
    """fulfil's app (in this process) and workers (`python -m workers.run`) on a private
    PostgreSQL and Redis, the Walmart account on the simulator."""

    def __init__(self, postgres, redis_server, sim, workdir):
        self.postgres, self.redis, self.sim = postgres, redis_server, sim
        database_url = postgres.create_database("fulfil_" + uuid.uuid4().hex[:8])
        accounts = {SLUG: sim.settings(timeout=2, rate_limit=200)}
        self.app = harness.fulfil_app(database_url, redis_server.url, accounts, OUTBOX_STALE_SECONDS=4,
                                      WTF_CSRF_ENABLED=False, TESTING=True)
        with self.app.app_context():
            make_user("warehouse", "warehouse")
            db.session.commit()
            db.session.remove()
        self.workers = harness.Workers(harness.worker_env(database_url, redis_server.url, accounts,
                                                          FULFIL_OUTBOX_STALE_SECONDS=4),
                                       workdir / "workers.log")
        self.client = self.app.test_client()

    def login(self):
        response = self.client.post("/login", data={"username": "warehouse", "password": PASSWORD})
        assert response.status_code == 302

    def new_orders(self, count):
        return harness.import_new_orders(self.app, self.sim, SLUG, count)

    def acknowledge(self, order_id):
        return self.client.post(f"/orders/{order_id}/acknowledge?view=row", headers=HTMX,
                                data={f"order{order_id}-version": 1})

    def orders(self, order_ids):
        with self.app.app_context():
            rows = db.session.execute(db.select(Order.id, Order.external_id, Order.status)
                                      .where(Order.id.in_(order_ids))).all()
            db.session.remove()
        return {row.id: row for row in rows}

    def entries(self, order_ids):
        with self.app.app_context():
            rows = db.session.execute(db.select(OutboxEntry.order_id, OutboxEntry.state)
                                      .where(OutboxEntry.order_id.in_(order_ids))).all()
            db.session.remove()
        return rows

    def acknowledged_on_walmart(self, order_ids):
        external = {row.external_id for row in self.orders(order_ids).values()}
        return [w for w in self.sim.writes() if w["call"] == "acknowledge" and w["order_id"] in external]


@pytest.fixture(scope="module")
def stack(_sim_servers, tmp_path_factory):
    if harness.postgres_binaries() is None:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
                    "apt-get install postgresql")
    sim = _sim_servers["walmart"]
    sim.reset()
    workdir = tmp_path_factory.mktemp("outages")
    with harness.private_postgres() as postgres:
        redis_server = harness.RedisServer(workdir).start()
        line = Stack(postgres, redis_server, sim, workdir)
        line.workers.start(2)
        line.login()
        try:
            yield line
        finally:
            line.workers.stop()
            redis_server.stop()
            with line.app.app_context():
                db.engine.dispose()


@pytest.fixture
def web_log(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def outage_lines(records, dependency):
    return [r.getMessage() for r in records if r.getMessage().startswith(f"outage={dependency} ")]


def test_saves_while_the_database_is_stopped_say_so_and_save_nothing(stack, web_log):
    order_ids = stack.new_orders(3)
    stack.postgres.stop()
    try:
        for order_id in order_ids:
            response = stack.acknowledge(order_id)
            assert response.status_code == 503
            assert response.headers["HX-Retarget"] == "#flash"
            assert "The database is not answering — your change was not saved. Try again in a moment." \
                in response.text
            assert "order-row" not in response.text
        page = stack.client.get("/")
        assert page.status_code == 503 and 'href="/sync' in page.text
    finally:
        stack.postgres.start()
    assert {row.status for row in stack.orders(order_ids).values()} == {"new"}
    assert stack.entries(order_ids) == []
    lines = outage_lines(web_log.records, "db")
    assert len(lines) == 2 and "state=unavailable" in lines[0] and "state=back" in lines[1], lines
    assert "failures=4" in lines[1]
    assert not [r for r in web_log.records if r.exc_info], "a traceback in the web app's log"

    # Back: the same saves go through and reach Walmart, once each.
    for order_id in order_ids:
        assert stack.acknowledge(order_id).status_code == 200
    writes = harness.wait_for(lambda: len(stack.acknowledged_on_walmart(order_ids)) == 3 and
                              stack.acknowledged_on_walmart(order_ids), timeout=15, interval=0.1,
                              message="acknowledgements on Walmart")
    assert sorted(w["outcome"] for w in writes) == ["applied"] * 3


def test_saves_while_redis_is_stopped_are_kept_and_pushed_soon_after_it_returns(stack, web_log):
    order_ids = stack.new_orders(3)
    workers_before = stack.workers.children()
    stack.redis.stop()
    try:
        for order_id in order_ids:
            response = stack.acknowledge(order_id)
            assert response.status_code == 200
            assert "Acknowledge: saved." in response.text
        assert {state for _, state in stack.entries(order_ids)} == {"pending"}
        # Long enough for the workers to be deep in a reconnect back-off (RQ's own waits
        # 1, 2, 4, 8 s: its workers would come back only ~7 s after Redis did).
        time.sleep(8)
    finally:
        stack.redis.start()
    # Within 5 s of Redis returning, every change saved meanwhile is on Walmart, once.
    writes = harness.wait_for(lambda: len(stack.acknowledged_on_walmart(order_ids)) == 3 and
                              stack.acknowledged_on_walmart(order_ids), timeout=5, interval=0.05,
                              message="acknowledgements on Walmart after Redis returned")
    assert sorted(w["outcome"] for w in writes) == ["applied"] * 3
    assert stack.workers.children() == workers_before, "a worker died while Redis was away"
    lines = outage_lines(web_log.records, "redis")
    assert len(lines) == 1 and "state=unavailable" in lines[0], lines
    log = stack.workers.log()
    assert "outage=redis state=unavailable" in log and "outage=redis state=back" in log
    assert "Traceback" not in log, log[-4000:]


def test_a_database_restart_under_pushes_loses_nothing_and_sends_nothing_twice(stack):
    order_ids = stack.new_orders(8)
    for order_id in order_ids[:4]:
        assert stack.acknowledge(order_id).status_code == 200
    stack.postgres.restart()
    for order_id in order_ids[4:]:
        assert stack.acknowledge(order_id).status_code == 200
    harness.wait_for(lambda: {state for _, state in stack.entries(order_ids)} == {"confirmed"}, timeout=30,
                     interval=0.1, message="every entry confirmed after the restart")
    writes = stack.acknowledged_on_walmart(order_ids)
    assert sorted(w["order_id"] for w in writes) == sorted(r.external_id for r in stack.orders(order_ids).values())
    assert {w["outcome"] for w in writes} == {"applied"}
    assert "Traceback" not in stack.workers.log(), stack.workers.log()[-4000:]
