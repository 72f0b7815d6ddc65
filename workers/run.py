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

from fulfil.jobs import QUEUES

log = logging.getLogger("workers.run")

WORKER_TTL = 20
MAINTENANCE_INTERVAL = 30
# A worker without Redis retries after 50 ms, then waits twice as long each time, never
# more than RECONNECT_CAP: it is working again within half a second of Redis returning.
RECONNECT_FIRST = 0.05
RECONNECT_CAP = 0.5
# A child that keeps failing right after start waits longer each time, up to
# LONGEST_RESTART_DELAY; while it waits the supervisor asks the database and Redis every
# PROBE_EVERY seconds, and when one of them was away and answers again, it restarts the
# child at once.
LONGEST_RESTART_DELAY = 30.0
PROBE_EVERY = 0.2
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


def worker_class():
    """RQ's SimpleWorker, reconnecting to a lost Redis within RECONNECT_CAP seconds.

    RQ doubles its wait after each failed reconnect, up to a minute, and logs each one: a
    worker took its first job 11 s after Redis was back. Here the wait starts at 50 ms and
    stays under half a second, and the outage is told in fulfil.outages' few lines.
    (A class made on demand: RQ is imported in the children, not before they fork.)
    """
    import redis
    from rq import SimpleWorker
    from rq.exceptions import DequeueTimeout
    from rq.worker import WorkerStatus

    from fulfil import outages

    class Worker(SimpleWorker):
        def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
            # RQ's own loop (rq 2.x), with the short reconnect; fulfil never sets max_idle_time.
            self.procline("Listening on " + ",".join(self.queue_names()))
            wait = RECONNECT_FIRST
            while True:
                try:
                    self.set_state(WorkerStatus.IDLE)
                    self.heartbeat()
                    if self.should_run_maintenance_tasks:
                        self.run_maintenance_tasks()
                    result = self.queue_class.dequeue_any(
                        self._ordered_queues, timeout, connection=self.connection, job_class=self.job_class,
                        serializer=self.serializer, death_penalty_class=self.death_penalty_class)
                    outages.answered("redis")
                    if result is not None:
                        job, queue = result
                        self.reorder_queues(reference_queue=queue)
                        job.redis_server_version = self.get_redis_server_version()
                    break
                except DequeueTimeout:
                    outages.answered("redis")
                except redis.ConnectionError as exc:
                    outages.failed("redis", exc, "worker waiting for jobs")
                    time.sleep(wait)
                    wait = min(wait * 2, RECONNECT_CAP)
            self.heartbeat()
            return result

        def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread):
            # The command channel (rq's "stop job" etc.) reconnects by itself; RQ logs
            # an error every 2 s while Redis is away.
            if not isinstance(exc, redis.ConnectionError):
                raise exc
            outages.failed("redis", exc, "worker command channel")
            time.sleep(RECONNECT_CAP)

    return Worker


def wait_for_redis(connection, stop_waiting=lambda: False):
    """Ping until Redis answers, every RECONNECT_FIRST..RECONNECT_CAP seconds."""
    import redis

    from fulfil import outages

    wait = RECONNECT_FIRST
    while not stop_waiting():
        try:
            connection.ping()
            outages.answered("redis")
            return True
        except redis.RedisError as exc:
            outages.failed("redis", exc, "worker starting")
            time.sleep(wait)
            wait = min(wait * 2, RECONNECT_CAP)
    return False


def work(queues):
    """A worker child: fulfil's RQ SimpleWorker on fulfil's queues.

    When Redis goes away mid-job, RQ's loop ends ("unhandled exception, quitting"): the
    child then waits for Redis and starts working again at once, in the same process,
    instead of exiting into the supervisor's back-off.
    """
    _as_child()
    import redis

    from fulfil import outages
    from fulfil.redis_conn import get_redis
    from fulfil.jobs import queue_name
    from workers.context import app_context

    with app_context() as app:  # left before working: each job enters its own context
        connection = get_redis(app)
        names = [queue_name(app, q) for q in queues]
    # RQ logs every failed job and every lost connection with a traceback: during an
    # outage those become fulfil.outages' counted lines; other failures keep theirs.
    logging.getLogger("rq.worker").addFilter(outages.OutageFilter("worker"))
    Worker = worker_class()
    while True:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # no job in hand: stop at once
        wait_for_redis(connection)
        worker = Worker(names, connection=connection, worker_ttl=WORKER_TTL,
                        maintenance_interval=MAINTENANCE_INTERVAL)
        log.info("worker=started pid=%s queues=%s", os.getpid(), ",".join(names))
        try:
            worker.work(logging_level="WARNING")
        except redis.RedisError as exc:  # RQ's teardown could not tell Redis it stopped
            outages.report(exc, "worker stopping")
        if worker._stop_requested:
            return
        try:
            connection.ping()
        except redis.RedisError:
            continue  # Redis went away under the worker: work again once it is back
        if not outages.is_down("redis"):
            sys.exit(1)  # not an outage: let the supervisor restart this child


def tick(import_every, reconcile_every):
    """The clock child."""
    _as_child()
    from workers import clock

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    clock.run(stop, import_every=import_every, reconcile_every=reconcile_every)


def dependencies_answer():
    """Do the database and Redis answer now? The supervisor asks on connections of its
    own, made and closed here (its children make theirs after the fork)."""
    import redis
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from config import Config
    from fulfil.redis_conn import resolve_redis_url

    try:
        url = resolve_redis_url({"REDIS_URL": Config.REDIS_URL, "REDIS_FALLBACK": Config.REDIS_FALLBACK})
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            client.ping()
        finally:
            client.close()
        database = Config.SQLALCHEMY_DATABASE_URI
        engine = create_engine(database, poolclass=NullPool,
                               connect_args={"connect_timeout": 1} if database.startswith("postgresql") else {})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
        return True
    except Exception:  # any failure means "not yet"; the child's own log says why
        return False


class Supervisor:
    """Keeps the children running; stops them together."""

    def __init__(self, roles, stop_timeout, probe=None):
        self.context = multiprocessing.get_context("fork")
        self.roles = roles  # name -> (target, args)
        self.stop_timeout = stop_timeout
        self.children = {}  # name -> (process, started at, restart delay)
        self.stopping = threading.Event()
        self.probe = probe or dependencies_answer

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
                    delay = min(delay * 2, LONGEST_RESTART_DELAY)
                else:
                    delay = 1.0
                log.warning("run=child_exited role=%s pid=%s exitcode=%s restart_in=%.0f",
                            name, process.pid, code, delay)
                if self.wait_to_restart(delay):
                    break
                self.start(name, delay)
        self.stop_all()

    def wait_to_restart(self, delay):
        """Wait `delay` seconds before a restart — less if the database or Redis was away
        and answers again: the cause has cleared, so waiting longer would only hold the
        work back. True when asked to stop meanwhile."""
        deadline = time.monotonic() + delay
        dependency_away = delay > PROBE_EVERY and not self.probe()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.stopping.wait(min(left, PROBE_EVERY) if dependency_away else left):
                return True
            if dependency_away and self.probe():
                log.info("run=dependencies_back restarting_early_by=%.1fs", max(0.0, deadline - time.monotonic()))
                return False

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
    from config import Config

    parser.add_argument("--workers", type=int, default=Config.WORKERS,
                        help="worker processes (0: only the clock)")
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument("--no-clock", action="store_true", help="workers only (the clock runs elsewhere)")
    clock.add_argument("--clock-only", action="store_true", help="only the clock")
    parser.add_argument("--queues", default=",".join(QUEUES),
                        help="queues the workers take jobs from, in priority order")
    parser.add_argument("--import-interval", type=float,
                        default=Config.IMPORT_INTERVAL,
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
    import workers.bulk, workers.clock, workers.imports, workers.mcf, workers.push, workers.reconcile  # noqa: F401,E401
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
