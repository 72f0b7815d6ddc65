"""Fixtures for the push pipeline.

Unit tests: `fake_marketplace` puts a scripted adapter in place of Walmart's, and the test
calls the job functions in-process against the test Redis.

End-to-end tests: `pipeline` starts real worker processes (`python -m workers.run`) on the
test Redis and the test's database (SQLite file or PostgreSQL — the `app` fixture is
parametrized over both), with marketplace accounts pointing at the simulators.
"""
from dataclasses import dataclass, field

import pytest
import redis as redis_lib

from tests import helpers as harness
from tests.helpers import wait_for  # noqa: F401  (the push tests import it from here)
from fulfil.extensions import db
from fulfil.marketplaces.base import APPLIED, NOT_APPLIED, Adapter
from fulfil.models import OutboxEntry
from tests.conftest import make_account





@pytest.fixture
def clean_redis(redis_url):
    """The session's Redis, emptied: no job, lock or rate-limit slot from another test."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    return client


# -- a scripted marketplace for unit tests --------------------------------------------------

@dataclass
class Remote:
    """What the fake marketplace holds and how it answers.

    `script[(call, external_id)]` is a list of answers used one per call (the last one
    repeats): an exception instance to raise, or for "check" a check() answer.
    `applied` records every write the marketplace applied, as (action, external_id).
    """
    applied: list = field(default_factory=list)
    calls: list = field(default_factory=list)  # (call, action, external_ids)
    script: dict = field(default_factory=dict)
    batch_limits: dict = field(default_factory=dict)
    async_actions: frozenset = frozenset()

    def answer(self, call, external_id):
        answers = self.script.get((call, external_id))
        if not answers:
            return None
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def writes(self, action=None):
        return [a for a in self.applied if action is None or a[0] == action]


class FakeAdapter(Adapter):
    kind = "walmart"
    remote = None  # set by the fixture

    @property
    def ASYNC_ACTIONS(self):
        return self.remote.async_actions

    def list_changed(self, cursor):
        raise NotImplementedError

    def get_order(self, external_id):
        raise NotImplementedError

    def _write(self, action, payload):
        answer = self.remote.answer("push", payload["external_id"])
        if isinstance(answer, BaseException):
            raise answer
        self.remote.applied.append((action, payload["external_id"]))

    def push(self, action, payload):
        self.remote.calls.append(("push", action, [payload["external_id"]]))
        self._write(action, payload)

    def push_batch(self, action, payloads):
        self.remote.calls.append(("push_batch", action, [p["external_id"] for p in payloads]))
        results = []
        for payload in payloads:
            try:
                self._write(action, payload)
                results.append(None)
            except Exception as exc:
                results.append(exc)
        return results

    def check(self, action, payload):
        self.remote.calls.append(("check", action, [payload["external_id"]]))
        answer = self.remote.answer("check", payload["external_id"])
        if isinstance(answer, BaseException):
            raise answer
        if answer is not None:
            return answer
        return APPLIED if (action, payload["external_id"]) in self.remote.applied else NOT_APPLIED


@pytest.fixture
def fake_marketplace(app, clean_redis, monkeypatch):
    """Walmart's adapter replaced by FakeAdapter; returns the Remote it talks to."""
    from fulfil.marketplaces import walmart

    remote = Remote()

    class Scripted(FakeAdapter):
        pass

    Scripted.remote = remote
    Scripted.BATCH_LIMITS = remote.batch_limits
    monkeypatch.setattr(walmart, "ADAPTER", Scripted, raising=False)
    with app.app_context():
        make_account("walmart").rate_limit = 0  # unlimited: unit tests do not wait
        db.session.commit()
    return remote


# -- real workers for end-to-end tests ------------------------------------------------------

@dataclass
class Pipeline:
    """Real workers on the test database and Redis, accounts on the simulators."""
    app: object
    redis: redis_lib.Redis
    sims: dict
    accounts: dict  # kind -> MarketplaceAccount id
    workers: harness.Workers

    def start(self, workers=2):
        self.workers.start(workers)
        return self

    def children(self):
        return self.workers.children()

    def log(self):
        return self.workers.log()

    def entries(self, order_id=None):
        with self.app.app_context():
            query = db.select(OutboxEntry).order_by(OutboxEntry.id)
            if order_id is not None:
                query = query.where(OutboxEntry.order_id == order_id)
            rows = db.session.scalars(query).all()
            db.session.expunge_all()
            db.session.remove()
            return rows

    def wait_settled(self, timeout=60):
        """Every entry confirmed or failed; returns the entries."""
        def settled():
            rows = self.entries()
            return rows if rows and all(e.state in ("confirmed", "failed") for e in rows) else None
        try:
            return wait_for(settled, timeout=timeout, interval=0.2, message="entries to settle")
        except AssertionError:
            raise AssertionError("entries did not settle: "
                                 + ", ".join(f"{e.id}:{e.action}:{e.state}:{e.last_error}" for e in self.entries())
                                 + "\n--- worker log ---\n" + self.log()[-6000:])


@pytest.fixture
def pipeline(app, clean_redis, redis_url, sims, tmp_path):
    """Accounts on the simulators (in the database and in config), workers not yet started:
    call `pipeline.start()`. Outbox entries are enqueued after commit, as in production."""
    accounts, settings = {}, {}
    with app.app_context():
        for kind, sim in sims.items():
            slug = f"{kind}-sim"
            settings[slug] = sim.settings(timeout=2)
            account = make_account(kind, slug=slug)
            account.base_url, account.rate_limit = sim.url, 200
            db.session.flush()
            accounts[kind] = account.id
        db.session.commit()
    # A new dict: TestConfig's one is shared by every app of the session.
    app.config.update(MARKETPLACE_ACCOUNTS={**app.config["MARKETPLACE_ACCOUNTS"], **settings},
                      OUTBOX_ENQUEUE=True, OUTBOX_STALE_SECONDS=4)
    env = harness.worker_env(app.config["SQLALCHEMY_DATABASE_URI"], redis_url,
                             {slug: dict(value, rate_limit=200) for slug, value in settings.items()},
                             FULFIL_OUTBOX_STALE_SECONDS=4, FULFIL_TIMEZONE="UTC")
    line = Pipeline(app, clean_redis, sims, accounts, harness.Workers(env, tmp_path / "workers.log"))
    yield line
    line.workers.stop()
