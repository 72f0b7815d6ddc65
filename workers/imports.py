"""Import jobs: pull new and changed orders from every marketplace account.

`import_all` (scheduled by the clock) enqueues one `import_account` job per account, so a
slow or failing marketplace never holds the others back; the fixed job id stops a second
import of the same account from starting while one is queued or running.
"""
import logging

from rq import Queue

from fulfil.extensions import db
from fulfil.importer import import_account as run_import
from fulfil.importer import sync_accounts_from_config
from fulfil.marketplaces.base import MarketplaceError
from fulfil.models import MarketplaceAccount
from fulfil.redis_conn import get_redis
from workers.context import app_context, queue_name, token_store

log = logging.getLogger(__name__)
IMPORT_TIMEOUT = 600


def import_all():
    with app_context() as app:
        sync_accounts_from_config(app)
        queue = Queue(queue_name(app, "import"), connection=get_redis(app))
        ids = db.session.scalars(db.select(MarketplaceAccount.id).where(MarketplaceAccount.enabled)).all()
        db.session.remove()
        for account_id in ids:
            job_id = f"import-account-{account_id}"
            existing = queue.fetch_job(job_id)
            if existing is not None and existing.get_status(refresh=True) in ("queued", "started", "deferred"):
                continue
            queue.enqueue("workers.imports.import_account", account_id, job_id=job_id,
                          job_timeout=IMPORT_TIMEOUT, result_ttl=60, failure_ttl=3600)
        return len(ids)


def import_account(account_id):
    with app_context() as app:
        account = db.session.get(MarketplaceAccount, account_id)
        if account is None or not account.enabled:
            return 0
        try:
            return run_import(account, token_store=token_store(app))
        except MarketplaceError:
            # Recorded on the account (shown to supervisors); the next scheduled run retries.
            return 0
        finally:
            db.session.remove()
