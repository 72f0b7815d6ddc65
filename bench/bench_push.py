"""P4 and P5 — pushing to the marketplaces, measured against the simulators.

    python -m bench.bench_push [--rate 20] [--changes 400] [--workers 4] [--samples 60]

P4: the Walmart account's rate limit is set to --rate requests/s and the simulator's token
    bucket to the same rate (its own burst). --changes acknowledgements are saved, then the
    workers start on the backlog; the figure is pushes per second achieved ÷ the configured
    limit, and the 429s the marketplace answered (target ≥ 90 %, no 429 storms).
P5: with a worker running and no backlog, one change is saved at a time, a different
    marketplace each time; the figure is the time from the commit to the simulator holding
    the change (its write log), median and p95 (target median ≤ 1 s).
A fresh SQLite database, or a new PostgreSQL one when DATABASE_URL points at PostgreSQL.
"""
import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tests import helpers as h


def p4(rate, changes, workers, log_dir, say=print):
    with h.private_redis() as redis_url, h.fresh_database("p4") as database_url, h.simulators(["walmart"]) as sims:
        sim = sims["walmart"]
        accounts = {"walmart-p4": sim.account("walmart-p4", rate_limit=rate, timeout=5)}
        app = h.fulfil_app(database_url, redis_url, accounts)
        orders = h.import_new_orders(app, sim, "walmart-p4", changes)
        sim.faults(rate_limit=rate)  # the marketplace's bucket: `rate` per second, burst `rate`
        # Saved (and enqueued) before the workers start: a backlog from the first moment,
        # so the figure is the pushing rate, not how fast one process can save.
        for order_id in orders:
            h.perform_step(app, order_id, "acknowledge")
        pool = h.Workers(h.worker_env(database_url, redis_url, accounts), log_dir / "p4-workers.log")
        try:
            pool.start(workers)
            h.wait_for(lambda: h.unfinished(app) == 0, timeout=changes / rate * 3 + 30, interval=0.2,
                       message="all pushes")
        finally:
            pool.stop()
        writes = [w for w in sim.writes() if w["call"] == "acknowledge"]
        counters = sim.counters()
    times = sorted(_when(w["at"]) for w in writes)
    # The first second's pushes ride the marketplace's full bucket; the rate is what follows.
    window = (times[-1] - times[0]).total_seconds()
    steady = [t for t in times if (t - times[0]).total_seconds() >= 1.0]
    achieved = (len(steady) - 1) / (steady[-1] - steady[0]).total_seconds() if len(steady) > 1 else float("nan")
    result = {"rate": rate, "pushes": len(writes), "window": window, "achieved": achieved,
              "ratio": achieved / rate, "calls": counters.get("calls", 0), "429": counters.get("429", 0)}
    say("")
    say(f"P4 push throughput — Walmart acknowledgements, account limit {rate:g} req/s, marketplace bucket {rate:g}/s")
    say(f"  pushes                     {len(writes)} in {window:.1f} s ({workers} workers)")
    say(f"  pushes/s after the first s {achieved:.2f}")
    say(f"  ÷ configured limit         {result['ratio'] * 100:.1f} %   (target ≥ 90 %)")
    say(f"  API calls / 429 answers    {result['calls']} / {result['429']}   (target: no 429 storms)")
    return result


def p5(samples, log_dir, say=print):
    with h.private_redis() as redis_url, h.fresh_database("p5") as database_url, h.simulators() as sims:
        accounts = {f"{kind}-p5": sim.account(f"{kind}-p5", rate_limit=50, timeout=5) for kind, sim in sims.items()}
        app = h.fulfil_app(database_url, redis_url, accounts)
        per_kind = -(-samples // len(sims))
        orders = {kind: h.import_new_orders(app, sim, f"{kind}-p5", per_kind) for kind, sim in sims.items()}
        # Acknowledging is fulfil's own step on Ozon and Wish: done before the clock starts.
        for kind in ("ozon", "wish"):
            for order_id in orders[kind]:
                h.perform_step(app, order_id, "acknowledge")
        first_write = {"walmart": ("acknowledge", "acknowledge"), "ozon": ("pack", "ship"), "wish": ("ship", "tracking")}
        pool = h.Workers(h.worker_env(database_url, redis_url, accounts), log_dir / "p5-workers.log").start(1)
        saved = []  # (kind, external id, commit time)
        try:
            _warm_up(app, sims, orders, first_write)
            for index in range(per_kind - 1):
                for kind in sims:
                    order_id = orders[kind][index + 1]
                    h.perform_step(app, order_id, first_write[kind][0])
                    saved.append((kind, _external_id(app, order_id), datetime.now(timezone.utc)))
                    time.sleep(0.15)  # a person's pace: no backlog, every save meets an idle worker
            h.wait_for(lambda: h.unfinished(app) == 0, timeout=60, interval=0.2, message="all pushes")
        finally:
            pool.stop()
        held = {}
        for kind, sim in sims.items():
            for w in sim.writes():
                if w["call"] == first_write[kind][1]:
                    held.setdefault((kind, w["order_id"]), _when(w["at"]))
    latencies = {kind: [(held[(kind, ext)] - at).total_seconds() for k, ext, at in saved if k == kind]
                 for kind in sims}
    everything = sorted(v for values in latencies.values() for v in values)
    say("")
    say("P5 save → the marketplace holds the change (one worker, no backlog)")
    for kind, values in latencies.items():
        values.sort()
        say(f"  {kind:<8} {first_write[kind][0]:<12} median {statistics.median(values) * 1000:6.0f} ms   "
            f"p95 {_p95(values) * 1000:6.0f} ms   ({len(values)} changes)")
    say(f"  all                   median {statistics.median(everything) * 1000:6.0f} ms   "
        f"p95 {_p95(everything) * 1000:6.0f} ms   (target median ≤ 1000 ms)")
    return {"median": statistics.median(everything), "p95": _p95(everything)}


def _warm_up(app, sims, orders, first_write):
    """One change per marketplace before measuring: tokens fetched, connections open."""
    for kind in sims:
        h.perform_step(app, orders[kind][0], first_write[kind][0])
    h.wait_for(lambda: h.unfinished(app) == 0, timeout=30, interval=0.1, message="warm-up")


def _external_id(app, order_id):
    from fulfil.extensions import db
    from fulfil.models import Order

    with app.app_context():
        external_id = db.session.get(Order, order_id).external_id
        db.session.remove()
    return external_id


def _when(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _p95(values):
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="the account's limit, requests/s (P4)")
    parser.add_argument("--changes", type=int, default=400, help="acknowledgements pushed for P4")
    parser.add_argument("--workers", type=int, default=4, help="workers for P4")
    parser.add_argument("--samples", type=int, default=60, help="changes timed for P5")
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="fulfil-bench-push-"))
    throughput = p4(args.rate, args.changes, args.workers, log_dir)
    latency = p5(args.samples, log_dir)
    ok = throughput["ratio"] >= 0.9 and latency["median"] <= 1.0
    print(f"\nresult {'PASS' if ok else 'FAIL'}   (worker logs: {log_dir})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
