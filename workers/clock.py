"""The clock: enqueues the periodic jobs, each with a fixed job id.

    reconcile   workers.reconcile.reconcile, every ~2 s
    import-all  workers.imports.import_all, every FULFIL_IMPORT_INTERVAL seconds (30)

A fixed id makes a second enqueue a no-op while the job waits or runs, so one slow run is
never stacked behind another, and two clocks (by mistake) do no harm.
"""
import logging
import time
from dataclasses import dataclass

import redis as redis_lib

from workers import JobSpec, enqueue_unique
from workers.context import app_context
from workers.reconcile import reconcile

log = logging.getLogger(__name__)

RECONCILE_EVERY = 2.0
IMPORT_ALL = JobSpec("workers.imports.import_all", "import", timeout=120, ttl=600)


@dataclass
class Tick:
    job_id: str
    spec: JobSpec
    every: float
    due: float = 0.0  # time.monotonic() of the next enqueue


def schedule(import_every, reconcile_every=RECONCILE_EVERY):
    ticks = [Tick("reconcile", reconcile.spec, reconcile_every)]
    if import_every > 0:
        ticks.append(Tick("import-all", IMPORT_ALL, import_every))
    return ticks


def run(stop, import_every, reconcile_every=RECONCILE_EVERY):
    """Enqueue each job when its time comes until `stop` (a threading.Event) is set."""
    ticks = schedule(import_every, reconcile_every)
    log.info("clock=started jobs=%s", ",".join(f"{t.job_id}/{t.every:g}s" for t in ticks))
    while not stop.is_set():
        now = time.monotonic()
        for tick in ticks:
            if now < tick.due:
                continue
            tick.due = now + tick.every
            try:
                with app_context():
                    enqueue_unique(tick.spec, {tick.job_id: ()}, started_grace=tick.spec.timeout)
            except redis_lib.RedisError as exc:
                # Redis down or restarting: the next tick tries again; nothing waits on this one.
                log.warning("clock=enqueue_failed job=%s error=%r", tick.job_id, exc)
        stop.wait(max(0.05, min(t.due for t in ticks) - time.monotonic()))
    log.info("clock=stopped")
