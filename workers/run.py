"""Start fulfil's RQ workers and the clock, and stop them together.

    python -m workers.run [--workers 2] [--no-clock | --clock-only] [--queues reconcile,push,bulk,import]
                          [--import-interval 30] [--reconcile-interval 2]

One process per worker plus one for the clock, all children of this one. A child that
dies (a crash, an OOM kill, `kill -9`) is started again; SIGTERM or SIGINT here stops
them all: workers finish the job in hand (a second signal, or --stop-timeout, kills).
Workers elsewhere need only the same DATABASE_URL, REDIS_URL and FULFIL_ACCOUNTS* (run
the clock on exactly one machine).

Workers are RQ SimpleWorkers: each job runs in the worker process itself, so HTTP
connections, database connections and tokens stay warm between jobs, and a SIGKILL takes
the job down with its worker, never leaving an orphaned work horse writing on. Dead jobs
are noticed by fulfil itself, in seconds: order locks expire after 5 s, entry leases
after OUTBOX_STALE_SECONDS, and the reconciler re-enqueues. RQ's own bookkeeping is kept
short too: worker_ttl 20 s and registry maintenance every 30 s (RQ's defaults are 420 s
and 10 minutes), so `rq info` soon stops listing a killed worker and its job.
"""
import argparse
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

from workers import QUEUES

log = logging.getLogger("workers.run")

WORKER_TTL = 20
MAINTENANCE_INTERVAL = 30
LOG_FORMAT = "%(asctime)s level=%(levelname)s pid=%(process)d logger=%(name)s %(message)s"


def configure_logging():
    # Before create_app, whose basicConfig then leaves this key=value format alone.
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)


def _as_child():
    """Common start of every child: own signal handling, own process group (a Ctrl-C in
    the terminal reaches the parent only, which stops the children once), and a watch on
    the parent so a SIGKILLed parent never leaves workers running unsupervised."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setpgrp()
    configure_logging()
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        log.warning("run=parent_gone pid=%s", os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def work(queues):
    """A worker child: RQ SimpleWorker on fulfil's queues."""
    _as_child()
    from rq import SimpleWorker

    from fulfil.redis_conn import get_redis
    from workers.context import app_context, queue_name

    with app_context() as app:  # left before working: each job enters its own context
        connection = get_redis(app)
        names = [queue_name(app, q) for q in queues]
    worker = SimpleWorker(names, connection=connection, worker_ttl=WORKER_TTL,
                          maintenance_interval=MAINTENANCE_INTERVAL)
    log.info("worker=started pid=%s queues=%s", os.getpid(), ",".join(names))
    worker.work(logging_level="WARNING")


def tick(import_every, reconcile_every):
    """The clock child."""
    _as_child()
    from workers import clock

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    clock.run(stop, import_every=import_every, reconcile_every=reconcile_every)


class Supervisor:
    """Keeps the children running; stops them together."""

    def __init__(self, roles, stop_timeout):
        self.context = multiprocessing.get_context("fork")
        self.roles = roles  # name -> (target, args)
        self.stop_timeout = stop_timeout
        self.children = {}  # name -> (process, started at, restart delay)
        self.stopping = threading.Event()

    def start(self, name, delay=1.0):
        target, args = self.roles[name]
        process = self.context.Process(target=target, args=args, name=f"fulfil-{name}", daemon=False)
        process.start()
        self.children[name] = (process, time.monotonic(), delay)
        log.info("run=started role=%s pid=%s", name, process.pid)

    def run(self):
        for name in self.roles:
            self.start(name)
        while not self.stopping.wait(0.5):
            for name, (process, started, delay) in list(self.children.items()):
                if process.is_alive():
                    continue
                code = process.exitcode
                if code is not None and code < 0:
                    delay = 0.5  # killed by a signal (kill -9, OOM): back at once
                elif time.monotonic() - started < 10:
                    # Failing right after start (database down, bad config): wait longer
                    # each time instead of spinning.
                    delay = min(delay * 2, 30.0)
                else:
                    delay = 1.0
                log.warning("run=child_exited role=%s pid=%s exitcode=%s restart_in=%.0f",
                            name, process.pid, code, delay)
                if self.stopping.wait(delay):
                    break
                self.start(name, delay)
        self.stop_all()

    def request_stop(self, signum, frame):
        if self.stopping.is_set():  # second signal: no more waiting
            self.kill_all()
        self.stopping.set()

    def stop_all(self):
        log.info("run=stopping children=%s", len(self.children))
        for process, _, _ in self.children.values():
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for process, _, _ in self.children.values():
            process.join(max(0.0, deadline - time.monotonic()))
        self.kill_all()
        log.info("run=stopped")

    def kill_all(self):
        for process, _, _ in self.children.values():
            if process.is_alive():
                log.warning("run=killing pid=%s", process.pid)
                process.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FULFIL_WORKERS", "2")),
                        help="worker processes (0: only the clock)")
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument("--no-clock", action="store_true", help="workers only (the clock runs elsewhere)")
    clock.add_argument("--clock-only", action="store_true", help="only the clock")
    parser.add_argument("--queues", default=",".join(QUEUES),
                        help="queues the workers take jobs from, in priority order")
    parser.add_argument("--import-interval", type=float,
                        default=float(os.environ.get("FULFIL_IMPORT_INTERVAL", "30")),
                        help="seconds between imports of every account (0: never)")
    parser.add_argument("--reconcile-interval", type=float, default=2.0)
    parser.add_argument("--stop-timeout", type=float, default=30.0,
                        help="seconds workers get to finish their job when stopping")
    args = parser.parse_args(argv)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = set(queues) - set(QUEUES)
    if unknown:
        parser.error(f"unknown queues: {', '.join(sorted(unknown))} (known: {', '.join(QUEUES)})")

    configure_logging()
    # Loaded once here, before any fork: a restarted child is ready in a moment, not after
    # importing everything again. (Modules only: no app, no connection is made before fork.)
    import workers.clock  # noqa: F401
    roles = {}
    if not args.clock_only:
        for number in range(1, args.workers + 1):
            roles[f"worker-{number}"] = (work, (queues,))
    if not args.no_clock:
        roles["clock"] = (tick, (args.import_interval, args.reconcile_interval))
    if not roles:
        parser.error("nothing to run: --no-clock with --workers 0")
    supervisor = Supervisor(roles, args.stop_timeout)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    log.info("run=starting workers=%s clock=%s queues=%s", sum(r[0] is work for r in roles.values()),
             "clock" in roles, ",".join(queues))
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
