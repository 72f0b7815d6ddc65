"""R1 — chaos: changes are never lost and never applied twice, whatever breaks.

    python -m bench.chaos [--changes 2000] [--workers 4] [--kill-every 3] [--fault-seconds 30]
                          [--redis-stop-seconds 5] [--database private-postgres|sqlite]
                          [--converge-timeout 120] [--seed 7]

What breaks and how (workers killed, Redis stopped and flushed, the database restarted,
simulators misbehaving) is written once, in tests/chaos.py, which does the run.
Targets (PRODUCT.md R1): 0 lost, 0 applied twice, all confirmed ≤ 120 s after faults stop.
"""
import argparse
import sys

from tests.chaos import run


def report(result, converge_timeout, say=print):
    audit = result.audit
    say("")
    say("R1 chaos — workers SIGKILLed, Redis stopped and flushed, the database restarted, simulators failing "
        "10 % / timing out 5 % / bursting 429")
    say(f"  changes made               {result.changes}")
    say(f"  workers killed             {result.kills}")
    say(f"  Redis stops / flushes      {result.redis_stops} / {result.flushes}")
    say(f"  database restarts          {result.db_restarts}")
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
    parser.add_argument("--redis-stop-seconds", type=float, default=5.0,
                        help="how long Redis stays stopped (a fifth of the way through the faults)")
    parser.add_argument("--database", choices=("private-postgres", "sqlite"), default=None,
                        help="private-postgres: a server of its own, restarted once (the default when "
                             "the PostgreSQL server binaries are installed and DATABASE_URL is unset); "
                             "sqlite: no restart (a new database on DATABASE_URL's server when it is set)")
    parser.add_argument("--converge-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result = run(args.changes, args.workers, args.kill_every, args.fault_seconds, args.converge_timeout, args.seed,
                 redis_stop_seconds=args.redis_stop_seconds, database=args.database)
    report(result, args.converge_timeout)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
