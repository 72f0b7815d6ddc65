"""The app's one door to the job layer: every background job, named by its dotted path.

The app never imports a job. It enqueues one by the dotted path the worker imports (RQ's
own way, as microblog's `queue.enqueue("app.tasks.export_posts", ...)`), so `fulfil`
stands on its own and `workers/` stands on it. Each job's path, queue, timeout and TTL
are declared here once; `workers` defines the function under `@job(SPEC)`, which refuses
a spec whose path does not name that very function.

Queues (each name prefixed with RQ_QUEUE_PREFIX, e.g. "fulfil-push"); a worker takes
jobs from the first non-empty queue in this order:
    reconcile  the reconciler: tiny and frequent, so a push backlog never delays it
    push       one job per outbox entry, id "push-<entry id>"
    bulk       applying a large bulk tracking upload, id "bulk-apply-<upload id>"
    import     the importer's and MCF's jobs (slow paging; last, so they never hold pushes back)

Jobs are enqueued with ids (never ORM objects) and reload what they need by id.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from rq import Queue
from rq.job import Job
from rq.utils import utcparse

from fulfil.redis_conn import get_redis
from fulfil.timeutil import utcnow

QUEUES = ("reconcile", "push", "bulk", "import")
# A job waiting in a queue (or scheduled, or waiting on another job) will run: enqueuing
# it again would only run it twice.
WAITING = {"queued", "scheduled", "deferred"}
DAY = 24 * 3600


@dataclass(frozen=True)
class JobSpec:
    func: str  # dotted path the worker imports
    queue: str  # short name, see QUEUES
    timeout: int  # seconds before RQ stops the job
    ttl: int  # seconds the job may wait in its queue before RQ drops it
    result_ttl: int = 0  # results are in the database, not in Redis
    failure_ttl: int = DAY  # failed jobs stay inspectable (rq info) for a day

    def prepare(self, job_id, args):
        return Queue.prepare_data(self.func, args=args, job_id=job_id, timeout=self.timeout,
                                  ttl=self.ttl, result_ttl=self.result_ttl,
                                  failure_ttl=self.failure_ttl)


PUSH = JobSpec("workers.push.push_entry", "push", timeout=300, ttl=DAY)
# A 10,000-row upload takes a while: its own queue keeps it from sitting in front of pushes.
BULK_APPLY = JobSpec("workers.bulk.apply_upload", "bulk", timeout=30 * 60, ttl=DAY)
RECONCILE = JobSpec("workers.reconcile.reconcile", "reconcile", timeout=60, ttl=60)
IMPORT_ALL = JobSpec("workers.imports.import_all", "import", timeout=120, ttl=600)
IMPORT_ACCOUNT = JobSpec("workers.imports.import_account", "import", timeout=600, ttl=600)
MCF_FOLLOW_ALL = JobSpec("workers.mcf.follow_all", "import", timeout=60, ttl=300)
MCF_FOLLOW_ACCOUNT = JobSpec("workers.mcf.follow_account", "import", timeout=300, ttl=300)


def queue_name(app, name):
    return f"{app.config['RQ_QUEUE_PREFIX']}-{name}"


def push_job_id(entry_id):
    return f"push-{entry_id}"


def enqueue_push(entry_ids, check_queue=False):
    """Hand outbox entries to the push workers (after commit, from the reconciler, after a
    retry). Returns the job ids enqueued."""
    return enqueue_unique(PUSH, {push_job_id(i): (i,) for i in entry_ids},
                          started_grace=current_app.config["OUTBOX_STALE_SECONDS"], check_queue=check_queue)


def enqueue_bulk_apply(upload_id):
    """Apply a claimed upload in the background (fulfil.bulk.apply.begin claims it first,
    so a double click never applies twice)."""
    return enqueue_unique(BULK_APPLY, {f"bulk-apply-{upload_id}": (upload_id,)},
                          started_grace=BULK_APPLY.timeout)


def enqueue_unique(spec, calls, started_grace, check_queue=False):
    """Enqueue `calls` ({job_id: args}) unless the same job is already on its way.

    A job is on its way while it waits in its queue, or while it runs and started less
    than `started_grace` seconds ago. A job that "started" longer ago than that is taken
    for one whose worker died (RQ itself notices that only minutes later): enqueuing it
    again is safe because every job here is idempotent.

    `check_queue` (for the reconciler): believe "queued" only of jobs really in the queue.
    A worker killed right after taking a job off the queue leaves it "queued" but nowhere
    to be found (RQ's intermediate queue), and RQ gives up on it only minutes later.
    Returns the ids enqueued.
    """
    if not calls:
        return []
    app = current_app._get_current_object()
    redis = get_redis(app)
    queue = Queue(queue_name(app, spec.queue), connection=redis)
    ids = list(calls)
    with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(Job.key_for(job_id), "status", "started_at")
        if check_queue:
            pipe.lrange(queue.key, 0, -1)
        found = pipe.execute()
    listed = {job_id.decode() for job_id in found.pop()} if check_queue else None
    oldest_live_start = utcnow() - timedelta(seconds=started_grace)
    wanted = [job_id for job_id, (status, started_at) in zip(ids, found)
              if not _on_its_way(job_id, status, started_at, oldest_live_start, listed)]
    if wanted:
        with redis.pipeline() as pipe:
            queue.enqueue_many([spec.prepare(job_id, calls[job_id]) for job_id in wanted], pipeline=pipe)
            pipe.execute()
    return wanted


def _on_its_way(job_id, status, started_at, oldest_live_start, listed):
    status = status.decode() if status else None
    if status in WAITING:
        return listed is None or status != "queued" or job_id in listed
    if status == "started" and started_at:
        return utcparse(started_at.decode()).replace(tzinfo=None) > oldest_live_start
    return False
