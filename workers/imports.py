"""Import jobs: pull new and changed orders from every marketplace account.

`import_all` (scheduled by the clock) enqueues one `import_account` job per account, so a
slow or failing marketplace never holds the others back; the job id per account stops a
second import of the same account from starting while one is on its way.
"""
from flask import current_app

from fulfil import jobs, marketplaces
from fulfil.extensions import db
from fulfil.importer import import_account as run_import
from fulfil.importer import sync_accounts_from_config
from fulfil.marketplaces.base import MarketplaceError
from fulfil.models import MarketplaceAccount
from fulfil.jobs import enqueue_unique
from fulfil.ratelimit import limited_adapter
from workers import job


@job(jobs.IMPORT_ALL)
def import_all():
    sync_accounts_from_config()
    # Fulfilment channels (Amazon MCF) have no orders to import: fulfil.mcf follows them.
    ids = db.session.scalars(db.select(MarketplaceAccount.id).where(
        MarketplaceAccount.enabled, MarketplaceAccount.kind.in_(marketplaces.KINDS))).all()
    db.session.remove()
    enqueue_unique(import_account.spec, {f"import-account-{i}": (i,) for i in ids},
                   started_grace=jobs.IMPORT_ACCOUNT.timeout)
    return len(ids)


@job(jobs.IMPORT_ACCOUNT)
def import_account(account_id):
    account = db.session.get(MarketplaceAccount, account_id)
    if account is None or not account.enabled:
        return 0
    try:
        return run_import(account, limited_adapter(account, current_app._get_current_object()))
    except MarketplaceError:
        # Recorded on the account (shown to supervisors); the next scheduled run retries.
        return 0
    finally:
        db.session.remove()
