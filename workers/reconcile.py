"""The reconciler: no change for a marketplace is ever lost.

The clock enqueues it every ~2 s. It works from the database alone: every entry that may
be sent now (due, and first in line in its order) and whose job is not on its way gets
enqueued. So a crash between commit and enqueue, a Redis flush or restart, or a SIGKILLed
worker loses nothing: a killed worker's entries stay "sending" until their lease
(OUTBOX_STALE_SECONDS) ends, and are then sent again after reading the marketplace first.
Retries and confirmations that wait for later (next_attempt_at) come back the same way.
Enqueuing an entry whose job already waits is a no-op, so running often costs little.
"""
import logging

from workers import job
from workers.push import due_heads, enqueue_push

log = logging.getLogger(__name__)

# Entries looked at per run; a longer backlog is taken on the next runs, oldest first.
MOST_PER_RUN = 5000


@job("reconcile", timeout=60, ttl=60)
def reconcile():
    due = due_heads(limit=MOST_PER_RUN)
    enqueued = enqueue_push(due)
    if enqueued:
        log.info("reconcile=enqueued count=%s due=%s first=%s", len(enqueued), len(due), enqueued[0])
    return len(enqueued)
