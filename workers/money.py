"""Payout jobs: read what every Ozon and Walmart account was paid (scheduled by the clock).

`sync_all` enqueues one `sync_account` per enabled account whose marketplace reports money;
the job id per account keeps a slow run from being stacked behind another.
"""
import logging

from flask import current_app

from fulfil import jobs
from fulfil.extensions import db
from fulfil.jobs import enqueue_unique
from fulfil.marketplaces.base import MarketplaceError
from fulfil.models import MarketplaceAccount
from fulfil.money import service
from fulfil.ratelimit import limited_adapter
from workers import job

log = logging.getLogger(__name__)


@job(jobs.MONEY_SYNC_ALL)
def sync_all():
    ids = [a.id for a in service.accounts_with_money()]
    db.session.remove()
    enqueue_unique(jobs.MONEY_SYNC_ACCOUNT, {f"money-sync-{i}": (i,) for i in ids},
                   started_grace=jobs.MONEY_SYNC_ACCOUNT.timeout)
    return len(ids)


@job(jobs.MONEY_SYNC_ACCOUNT)
def sync_account(account_id):
    account = db.session.get(MarketplaceAccount, account_id)
    if account is None or not account.enabled:
        return 0
    try:
        return service.sync_account(account, limited_adapter(account, current_app._get_current_object()))
    except MarketplaceError as exc:
        db.session.rollback()
        log.warning("money=sync_failed account=%s kind=%s error=%s", account.slug, exc.kind, exc.message)
        return 0  # the next scheduled run retries
    finally:
        db.session.remove()
