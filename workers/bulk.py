"""The RQ job that applies a large bulk upload (the work itself is fulfil.bulk.apply).

Queue "bulk" (fulfil.jobs.BULK_APPLY): a 10,000-row upload takes a while and must not sit
in front of the push jobs that tell the marketplaces about each change. The job id is
fixed per upload and fulfil.bulk.apply.begin claims the upload before enqueuing, so a
double click never applies twice; running the job again finishes only the rows left.
"""
from fulfil import jobs
from fulfil.bulk.apply import apply_upload as run_apply
from fulfil.extensions import db
from workers import job


@job(jobs.BULK_APPLY)
def apply_upload(upload_id):
    try:
        run_apply(upload_id)
    finally:
        db.session.remove()
