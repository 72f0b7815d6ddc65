"""Fixtures for the push pipeline.

Unit tests: `fake_marketplace` puts a scripted adapter in place of Walmart's, and the test
calls the job functions in-process against the test Redis.

End-to-end tests: `pipeline` starts real worker processes (`python -m workers.run`) on the
test Redis and the test's database (SQLite file or PostgreSQL — the `app` fixture is
parametrized over both), with marketplace accounts pointing at the simulators.
"""
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis as redis_lib
import requests

from fulfil.extensions import db
from fulfil.marketplaces.base import APPLIED, NOT_APPLIED, Adapter
from fulfil.models import OutboxEntry
from tests.conftest import make_account

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


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
    env: dict
    sims: dict
    accounts: dict  # kind -> MarketplaceAccount id
    log_path: Path
    process: subprocess.Popen = None

    def start(self, workers=2, extra=()):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workers.run", "--workers", str(workers), *extra],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(lambda: len(self.children()) == workers + ("--no-clock" not in extra),
                 timeout=20, message="worker processes")
        return self

    def children(self):
        """Pids of the worker and clock processes (children of workers.run)."""
        if self.process is None or self.process.poll() is not None:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        # Children left behind (their parent was SIGKILLed) stop when they see it gone.
        self.process = None

    def log(self):
        return self.log_path.read_text(errors="replace")

    def entries(self, order_id=None):
        with self.app.app_context():
            query = db.select(OutboxEntry).order_by(OutboxEntry.id)
            if order_id is not None:
                query = query.where(OutboxEntry.order_id == order_id)
            rows = db.session.scalars(query).all()
            db.session.expunge_all()
            db.session.remove()
            return rows

    def wait_settled(self, timeout=60, states=("confirmed", "failed")):
        """Every entry confirmed or failed; returns the entries."""
        def settled():
            rows = self.entries()
            return rows if rows and all(e.state in states for e in rows) else None
        try:
            return wait_for(settled, timeout=timeout, interval=0.2, message="entries to settle")
        except AssertionError:
            raise AssertionError("entries did not settle: "
                                 + ", ".join(f"{e.id}:{e.action}:{e.state}:{e.last_error}" for e in self.entries())
                                 + "\n--- worker log ---\n" + self.log()[-6000:])


def account_env(slug, settings, rate_limit):
    prefix = "FULFIL_ACCOUNT_" + slug.upper().replace("-", "_") + "_"
    env = {prefix + k.upper(): str(v) for k, v in settings.items() if k != "slug"}
    env[prefix + "RATE_LIMIT"] = str(rate_limit)
    return env


def pipeline_env(app, redis_url, sims, rate_limit=200, **overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULFIL_ACCOUNT")}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               REDIS_URL=redis_url, FULFIL_REDIS_FALLBACK="0", FULFIL_IMPORT_INTERVAL="0",
               FULFIL_OUTBOX_STALE_SECONDS="4", FULFIL_TIMEZONE="UTC",
               FULFIL_ACCOUNTS=",".join(sim.settings()["slug"] for sim in sims.values()))
    for sim in sims.values():
        env.update(account_env(sim.settings()["slug"], sim.settings(timeout=2), rate_limit))
    env.update({k: str(v) for k, v in overrides.items()})
    return env


@pytest.fixture
def pipeline(app, clean_redis, redis_url, sims, tmp_path):
    """Accounts on the simulators (in the database and in config), workers not yet started:
    call `pipeline.start()`. Outbox entries are enqueued after commit, as in production."""
    accounts = {}
    with app.app_context():
        for kind, sim in sims.items():
            settings = sim.settings(timeout=2)
            account = make_account(kind, slug=settings["slug"])
            account.base_url, account.rate_limit = sim.url, 200
            # A new dict: TestConfig's one is shared by every app of the session.
            app.config["MARKETPLACE_ACCOUNTS"] = {**app.config["MARKETPLACE_ACCOUNTS"],
                                                  settings["slug"]: settings}
            db.session.flush()
            accounts[kind] = account.id
        db.session.commit()
    app.config.update(OUTBOX_ENQUEUE=True, OUTBOX_STALE_SECONDS=4)
    line = Pipeline(app, clean_redis, pipeline_env(app, redis_url, sims), sims, accounts,
                    tmp_path / "workers.log")
    yield line
    line.stop()


def sim_writes(sim, order_id=None):
    response = requests.get(sim.url + "/_sim/writes", params={"order_id": order_id} if order_id else {},
                            timeout=10)
    response.raise_for_status()
    return response.json()["writes"]
