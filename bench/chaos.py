"""R1 — chaos: changes are never lost and never applied twice, whatever breaks.

    python -m bench.chaos [--changes 2000] [--workers 4] [--kill-every 3] [--fault-seconds 30]
                          [--converge-timeout 120] [--seed 7]

A fresh database (SQLite; DATABASE_URL=postgresql+psycopg://.../db runs it on a new
PostgreSQL database of that server), a private Redis and the three simulators. New orders
are imported from the simulators and worked on — acknowledged, packed (Ozon), shipped — as
fast as one warehouse process can commit, `--changes` outbox entries in all, while:
  - a random worker is SIGKILLed every --kill-every seconds (workers.run starts a new one),
  - Redis is flushed once, halfway through,
  - every simulator answers 10 % of calls with a 5xx and hangs 5 % past the workers'
    1 s timeout, bursts 429s every few seconds, and cuts some answers in half after
    applying the write (an outcome the worker cannot know),
  - Ozon packing and Wish processing sometimes fail after accepting a write.
Then the faults stop. It prints the changes lost and writes applied twice (from the
simulators' own write logs) and the time until every change was confirmed.
Targets (PRODUCT.md R1): 0 lost, 0 applied twice, all confirmed ≤ 120 s after faults stop.
"""
import argparse
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import push_harness as h


@dataclass
class Result:
    changes: int
    lost: int
    twice: int
    converge_seconds: float | None  # None: not all confirmed within the timeout
    kills: int
    flushes: int
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
    """Kills workers, flushes Redis once, and keeps the simulators misbehaving until stopped."""

    def __init__(self, workers, redis_url, sims, kill_every, flush_after, rng):
        super().__init__(daemon=True, name="chaos")
        self.workers, self.sims, self.rng = workers, sims, rng
        self.redis = h.redis_lib.Redis.from_url(redis_url)
        self.kill_every, self.flush_after = kill_every, flush_after
        self.stop = threading.Event()
        self.kills = self.flushes = 0

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
            if not self.flushes and now - started >= self.flush_after:
                self.redis.flushall()
                self.flushes = 1
            if tick % 8 == 0:  # every ~4 s a burst of 429s somewhere
                self.rng.choice(list(self.sims.values())).faults(burst_429=15)
            if tick % 10 == 5:  # every ~5 s a couple of answers torn after the write
                self.rng.choice(list(self.sims.values())).tear_answers(2)


def run(changes=2000, workers=4, kill_every=3.0, fault_seconds=30.0, converge_timeout=120.0, seed=7,
        log_dir=None, say=print):
    rng = random.Random(seed)
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="fulfil-chaos-"))
    with h.private_redis() as redis_url, h.fresh_database("chaos") as database_url, h.simulators() as sims:
        accounts = {f"{kind}-chaos": sim.account(f"{kind}-chaos", rate_limit=200, timeout=1)
                    for kind, sim in sims.items()}
        app = h.fulfil_app(database_url, redis_url, accounts, OUTBOX_STALE_SECONDS=5)
        plan = orders_per_kind(changes)
        say(f"chaos: importing {sum(plan.values())} new orders from the simulators ...")
        orders = [(kind, order_id) for kind, count in plan.items()
                  for order_id in h.import_new_orders(app, sims[kind], f"{kind}-chaos", count)]
        pool = h.Workers(h.worker_env(database_url, redis_url, accounts, FULFIL_OUTBOX_STALE_SECONDS=5),
                         log_dir / "workers.log").start(workers)
        chaos = Chaos(pool, redis_url, sims, kill_every, flush_after=fault_seconds / 2, rng=rng)
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
            chaos.faults_off()
            faults_stopped = time.monotonic()
            say(f"chaos: faults stopped after {faults_stopped - began:.1f} s "
                f"({chaos.kills} workers killed, Redis flushed {chaos.flushes}x); converging ...")
            try:
                h.wait_for(lambda: h.unfinished(app) == 0, converge_timeout, interval=0.25, message="convergence")
                converged = time.monotonic() - faults_stopped
            except TimeoutError:
                converged = None
            result = h.audit(app, sims)
        finally:
            chaos.stop.set()
            pool.stop()
    return Result(made, len(result.lost), len(result.twice), converged, chaos.kills, chaos.flushes, result,
                  log_dir / "workers.log")


def make_changes(app, orders, rng):
    """Work every order through its flow, orders interleaved at random (one commit per step)."""
    steps = {order: list(h.FLOWS[order[0]]) for order in orders}
    made = 0
    while steps:
        order = rng.choice(list(steps))
        made += h.perform_step(app, order[1], steps[order].pop(0), rng)
        if not steps[order]:
            del steps[order]
    return made


def report(result, converge_timeout, say=print):
    audit = result.audit
    say("")
    say("R1 chaos — workers SIGKILLed, Redis flushed, simulators failing 10 % / timing out 5 % / bursting 429")
    say(f"  changes made               {result.changes}")
    say(f"  workers killed             {result.kills}")
    say(f"  Redis flushes              {result.flushes}")
    say(f"  confirmed / failed         {audit.confirmed} / {audit.failed}")
    say(f"  changes lost               {result.lost}      (target 0)")
    say(f"  writes applied twice       {result.twice}      (target 0)")
    converged = (f"{result.converge_seconds:.1f} s" if result.converge_seconds is not None
                 else f"NOT within {converge_timeout:g} s")
    say(f"  time to converge           {converged}   (target ≤ 120 s after faults stop)")
    for entry in audit.lost[:10]:
        say(f"    lost: entry={entry[0]} action={entry[1]} order={entry[2]} missing={entry[3]}")
    for write in audit.twice[:10]:
        say(f"    twice: order={write[0]} call={write[1]} times={write[2]}")
    say(f"  result                     {'PASS' if result.ok else 'FAIL'}   (worker log: {result.log_path})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between worker kills")
    parser.add_argument("--fault-seconds", type=float, default=30.0,
                        help="faults last at least this long (and until every change is saved)")
    parser.add_argument("--converge-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result = run(args.changes, args.workers, args.kill_every, args.fault_seconds, args.converge_timeout, args.seed)
    report(result, args.converge_timeout)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
