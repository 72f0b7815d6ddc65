"""R1 — chaos, the run itself: `bench.chaos` prints it, tests/test_push_chaos.py runs it small.

A fresh database — on a PostgreSQL server of its own (initdb on a free port, when the
Debian server binaries are installed), else SQLite; DATABASE_URL=postgresql+psycopg://.../db
runs it on a new database of that server instead (which it cannot restart) — a private
redis-server and the three simulators. New orders are imported from the simulators and
worked on — acknowledged, packed (Ozon), shipped — as fast as one warehouse process can
commit, `--changes` outbox entries in all, while:
  - a random worker is SIGKILLed every --kill-every seconds (workers.run starts a new one),
  - Redis is stopped for --redis-stop-seconds a fifth of the way through (saves go on:
    their pushes wait in the outbox), and flushed once, halfway through,
  - the database is restarted (its own PostgreSQL) three quarters of the way through;
    a save it interrupts is tried again, as a person would,
  - every simulator answers 10 % of calls with a 5xx and hangs 5 % past the workers'
    1 s timeout, bursts 429s every few seconds, and cuts some answers in half after
    applying the write (an outcome the worker cannot know),
  - Ozon packing and Wish processing sometimes fail after accepting a write.
Then the faults stop. It prints the changes lost and writes applied twice (from the
simulators' own write logs) and the time until every change was confirmed.
Targets (PRODUCT.md R1): 0 lost, 0 applied twice, all confirmed ≤ 120 s after faults stop.
"""
import os
import random
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import helpers as h


@dataclass
class Result:
    changes: int
    lost: int
    twice: int
    converge_seconds: float | None  # None: not all confirmed within the timeout
    kills: int
    flushes: int
    redis_stops: int
    db_restarts: int
    audit: h.Audit
    log_path: Path

    @property
    def ok(self):
        return self.lost == 0 and self.twice == 0 and self.converge_seconds is not None


def orders_per_kind(changes):
    """Walmart and Ozon orders bring two changes each (acknowledge + ship, pack + ship),
    Wish orders one (ship): a fifth of the changes for each of the first two."""
    return {"walmart": changes // 5, "ozon": changes // 5, "wish": changes - 4 * (changes // 5)}


class Chaos(threading.Thread):
    """Kills workers, stops Redis for a while, flushes it once, restarts the database once,
    and keeps the simulators misbehaving until stopped."""

    def __init__(self, workers, redis_server, sims, kill_every, fault_seconds, rng, postgres=None,
                 redis_stop_seconds=5.0):
        super().__init__(daemon=True, name="chaos")
        self.workers, self.sims, self.rng = workers, sims, rng
        self.redis_server, self.postgres = redis_server, postgres
        self.redis = h.redis_lib.Redis.from_url(redis_server.url)
        self.kill_every = kill_every
        self.redis_stop_at, self.redis_stop_seconds = fault_seconds / 5, redis_stop_seconds
        self.flush_after = fault_seconds / 2
        self.restart_db_at = fault_seconds * 3 / 4
        self.stop = threading.Event()
        self.kills = self.flushes = self.redis_stops = self.db_restarts = 0
        self.redis_back_at = None

    def faults_on(self):
        for sim in self.sims.values():
            # The accounts' HTTP timeout is 1 s (see run): a 1.5 s hang is a timeout to the workers.
            sim.faults(error_rate=0.10, timeout_rate=0.05, timeout_seconds=1.5)
        self.sims["ozon"].options(ship_fail_rate=0.03)
        self.sims["wish"].options(processing_failure_rate=0.03)

    def faults_off(self):
        for sim in self.sims.values():
            sim.faults(error_rate=0, timeout_rate=0, burst_429=0)
            sim.tear_answers(0)
        self.sims["ozon"].options(ship_fail_rate=0)
        self.sims["wish"].options(processing_failure_rate=0)

    def run(self):
        started = time.monotonic()
        next_kill = started + self.kill_every
        tick = 0
        while not self.stop.wait(0.5):
            tick += 1
            now = time.monotonic()
            if now >= next_kill:
                next_kill = now + self.kill_every
                workers = self.workers.children()[:-1]  # the last child is the clock
                if workers and self.workers.kill(self.rng.choice(workers)):
                    self.kills += 1
            if not self.redis_stops and now - started >= self.redis_stop_at:
                self.redis_server.stop()
                self.redis_stops, self.redis_back_at = 1, now + self.redis_stop_seconds
            if self.redis_back_at is not None and now >= self.redis_back_at:
                self.redis_server.start()
                self.redis_back_at = None
            if not self.flushes and self.redis_back_at is None and now - started >= self.flush_after:
                self.redis.flushall()
                self.flushes = 1
            if self.postgres is not None and not self.db_restarts and now - started >= self.restart_db_at:
                self.postgres.restart()
                self.db_restarts = 1
            if tick % 8 == 0:  # every ~4 s a burst of 429s somewhere
                self.rng.choice(list(self.sims.values())).faults(burst_429=15)
            if tick % 10 == 5:  # every ~5 s a couple of answers torn after the write
                self.rng.choice(list(self.sims.values())).tear_answers(2)


    def finish(self):
        """After stop: Redis running again if the faults ended inside its outage."""
        if self.redis_back_at is not None:
            self.redis_server.start()
            self.redis_back_at = None


@contextmanager
def chaos_database(kind):
    """(database URL, PostgresServer or None): a server of our own can be restarted."""
    if kind == "private-postgres":
        with h.private_postgres() as postgres:
            yield postgres.create_database("chaos"), postgres
    else:
        with h.fresh_database("chaos") as url:
            yield url, None


def default_database():
    own = h.postgres_binaries() is not None and not os.environ.get("DATABASE_URL")
    return "private-postgres" if own else "sqlite"


def run(changes=2000, workers=4, kill_every=3.0, fault_seconds=30.0, converge_timeout=120.0, seed=7,
        log_dir=None, say=print, redis_stop_seconds=5.0, database=None):
    rng = random.Random(seed)
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="fulfil-chaos-"))
    servers = []
    with h.private_redis(servers) as redis_url, chaos_database(database or default_database()) as (
            database_url, postgres), h.simulators() as sims:
        accounts = {f"{kind}-chaos": sim.account(f"{kind}-chaos", rate_limit=200, timeout=1)
                    for kind, sim in sims.items()}
        app = h.fulfil_app(database_url, redis_url, accounts, OUTBOX_STALE_SECONDS=5)
        plan = orders_per_kind(changes)
        say(f"chaos: importing {sum(plan.values())} new orders from the simulators ...")
        orders = [(kind, order_id) for kind, count in plan.items()
                  for order_id in h.import_new_orders(app, sims[kind], f"{kind}-chaos", count)]
        pool = h.Workers(h.worker_env(database_url, redis_url, accounts, FULFIL_OUTBOX_STALE_SECONDS=5),
                         log_dir / "workers.log").start(workers)
        chaos = Chaos(pool, servers[0], sims, kill_every, fault_seconds, rng, postgres=postgres,
                      redis_stop_seconds=redis_stop_seconds)
        try:
            chaos.faults_on()
            chaos.start()
            began = time.monotonic()
            made = make_changes(app, orders, rng)
            say(f"chaos: {made} changes saved in {time.monotonic() - began:.1f} s while workers were killed")
            while time.monotonic() - began < fault_seconds:
                time.sleep(0.2)
            chaos.stop.set()
            chaos.join()
            chaos.finish()
            chaos.faults_off()
            faults_stopped = time.monotonic()
            say(f"chaos: faults stopped after {faults_stopped - began:.1f} s "
                f"({chaos.kills} workers killed, Redis stopped {chaos.redis_stops}x and flushed "
                f"{chaos.flushes}x, database restarted {chaos.db_restarts}x); converging ...")
            try:
                h.wait_for(lambda: h.unfinished(app) == 0, converge_timeout, interval=0.25, message="convergence")
                converged = time.monotonic() - faults_stopped
            except TimeoutError:
                converged = None
            result = h.audit(app, sims)
        finally:
            chaos.stop.set()
            chaos.join()
            chaos.finish()
            pool.stop()
    return Result(made, len(result.lost), len(result.twice), converged, chaos.kills, chaos.flushes,
                  chaos.redis_stops, chaos.db_restarts, result, log_dir / "workers.log")


def make_changes(app, orders, rng):
    """Work every order through its flow, orders interleaved at random (one commit per step)."""
    steps = {order: list(h.FLOWS[order[0]]) for order in orders}
    made = 0
    while steps:
        order = rng.choice(list(steps))
        made += perform_until_saved(app, order[1], steps[order].pop(0), rng)
        if not steps[order]:
            del steps[order]
    return made


def perform_until_saved(app, order_id, action, rng):
    """One step, tried again while the database is away (restarting), as a person would
    after "the database is not answering". A COMMIT cut off midway may have gone through:
    the step is then no longer allowed, and counted as done (its entries are audited)."""
    from fulfil import outages
    from fulfil.status import ActionNotAllowed

    interrupted = False
    while True:
        try:
            return h.perform_step(app, order_id, action, rng)
        except ActionNotAllowed:
            if not interrupted:
                raise
            return 1
        except Exception as exc:
            if outages.cause(exc) != "db":
                raise
            interrupted = True
            time.sleep(0.05)
