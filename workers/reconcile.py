"""The reconciler: no change for a marketplace is ever lost.

The clock enqueues it every ~2 s. It works from the database alone: every entry that may
be sent now (due, and first in line in its order) and whose job is not on its way gets
enqueued. So a crash between commit and enqueue, a Redis flush or restart, or a SIGKILLed
worker loses nothing: a killed worker's entries stay "sending" until their lease
(OUTBOX_STALE_SECONDS) ends, and are then sent again after reading the marketplace first.
Retries and confirmations that wait for later (next_attempt_at) come back the same way.
Enqueuing an entry whose job already waits in the queue is a no-op, so running often
costs little; a job a killed worker took off the queue but never started is found too.
"""
import logging

from fulfil import jobs
from fulfil.jobs import enqueue_push
from workers import job
from workers.push import due_heads

log = logging.getLogger(__name__)


@job(jobs.RECONCILE)
def reconcile():
    due = due_heads()
    enqueued = enqueue_push(due, check_queue=True)
    if enqueued:
        log.info("reconcile=enqueued count=%s due=%s first=%s", len(enqueued), len(due), enqueued[0])
    return len(enqueued)
