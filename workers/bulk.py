"""The RQ job that applies a large bulk upload (the work itself is fulfil.bulk.apply).

Queue "bulk" (prefixed: "fulfil-bulk"): a 10,000-row upload takes a while and must not
sit in front of the push jobs that tell the marketplaces about each change. The job id is
fixed per upload and fulfil.bulk.apply.begin claims the upload before enqueuing, so a
double click never applies twice; running the job again finishes only the rows left.
"""
from fulfil.bulk.apply import apply_upload as run_apply
from fulfil.extensions import db
from workers import DAY, enqueue_unique, job

APPLY_TIMEOUT = 30 * 60


@job("bulk", timeout=APPLY_TIMEOUT, ttl=DAY)
def apply_upload(upload_id):
    try:
        run_apply(upload_id)
    finally:
        db.session.remove()


def enqueue_apply(upload_id):
    enqueue_unique(apply_upload.spec, {f"bulk-apply-{upload_id}": (upload_id,)},
                   started_grace=APPLY_TIMEOUT)
