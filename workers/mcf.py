"""Amazon MCF jobs: follow every MCF account (scheduled by the clock).

`follow_all` enqueues one `follow_account` per enabled MCF account; the job id per account
keeps a slow run from being stacked behind another.
"""
from flask import current_app

from fulfil import jobs
from fulfil.extensions import db
from fulfil.marketplaces.base import MarketplaceError
from fulfil.mcf.follow import follow_account as run_follow
from fulfil.mcf.service import KIND
from fulfil.models import MarketplaceAccount
from fulfil.jobs import enqueue_unique
from fulfil.ratelimit import limited_adapter
from workers import job


@job(jobs.MCF_FOLLOW_ALL)
def follow_all():
    ids = db.session.scalars(db.select(MarketplaceAccount.id).where(
        MarketplaceAccount.enabled, MarketplaceAccount.kind == KIND)).all()
    db.session.remove()
    enqueue_unique(follow_account.spec, {f"mcf-follow-{i}": (i,) for i in ids}, started_grace=jobs.MCF_FOLLOW_ACCOUNT.timeout)
    return len(ids)


@job(jobs.MCF_FOLLOW_ACCOUNT)
def follow_account(account_id):
    account = db.session.get(MarketplaceAccount, account_id)
    if account is None or not account.enabled or account.kind != KIND:
        return 0
    try:
        return run_follow(account, limited_adapter(account, current_app._get_current_object()))
    except MarketplaceError:
        return 0  # recorded on the account; the next scheduled run retries
    finally:
        db.session.remove()
