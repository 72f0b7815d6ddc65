"""The clock: what must happen on time, and nothing else.

    wake-ups    every 0.1 s: outbox entries whose wait is over are enqueued (workers.wakeups)
    reconcile   every ~2 s: workers.reconcile.reconcile, job id "reconcile"
    import-all  every FULFIL_IMPORT_INTERVAL s (30): workers.imports.import_all, id "import-all"
    mcf-follow  every FULFIL_MCF_POLL_INTERVAL s (20): workers.mcf.follow_all, id "mcf-follow"

A fixed job id makes a second enqueue a no-op while the job waits or runs, so a slow run is
never stacked behind another, and two clocks (by mistake) do no harm. Run exactly one.
"""
import logging
import time
from dataclasses import dataclass
from functools import partial

import redis as redis_lib

from config import Config
from fulfil import jobs, outages
from fulfil.jobs import enqueue_push, enqueue_unique
from workers import wakeups
from workers.context import app_context

log = logging.getLogger(__name__)

WAKEUPS_EVERY = 0.1
RECONCILE_EVERY = 2.0


@dataclass
class Task:
    name: str
    every: float
    action: object  # called inside the app context
    due: float = 0.0  # time.monotonic() of the next run


def enqueue_job(spec, job_id):
    enqueue_unique(spec, {job_id: ()}, started_grace=spec.timeout)


def wake_due_entries():
    due = wakeups.pop_due()
    if due:
        enqueue_push(due)


def tasks(import_every, reconcile_every=RECONCILE_EVERY):
    scheduled = [Task("wakeups", WAKEUPS_EVERY, wake_due_entries),
                 Task("reconcile", reconcile_every, partial(enqueue_job, jobs.RECONCILE, "reconcile"))]
    if import_every > 0:
        scheduled.append(Task("import-all", import_every, partial(enqueue_job, jobs.IMPORT_ALL, "import-all")))
    if Config.MCF_POLL_INTERVAL > 0:
        scheduled.append(Task("mcf-follow", Config.MCF_POLL_INTERVAL, partial(enqueue_job, jobs.MCF_FOLLOW_ALL, "mcf-follow")))
    return scheduled


def run(stop, import_every, reconcile_every=RECONCILE_EVERY):
    """Run each task when its time comes until `stop` (a threading.Event) is set."""
    scheduled = tasks(import_every, reconcile_every)
    log.info("clock=started tasks=%s", ",".join(f"{t.name}/{t.every:g}s" for t in scheduled))
    while not stop.is_set():
        with app_context():
            for task in scheduled:
                now = time.monotonic()
                if now < task.due:
                    continue
                task.due = now + task.every
                redis_was_down = outages.is_down("redis")
                try:
                    task.action()
                except redis_lib.RedisError as exc:
                    # Redis down or restarting: the next round tries again; the reconciler
                    # finds in the database whatever a lost wake-up would have enqueued.
                    if outages.report(exc, f"clock task={task.name}") is None:
                        log.warning("clock=task_failed task=%s error=%r", task.name, exc)
                    continue
                outages.answered("redis")
                if redis_was_down:
                    # Back: run every task now rather than when its turn comes (the
                    # reconciler re-enqueues what the outage held back).
                    for other in scheduled:
                        other.due = min(other.due, now)
        stop.wait(max(0.0, min(t.due for t in scheduled) - time.monotonic()))
    log.info("clock=stopped")
