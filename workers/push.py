"""Push outbox entries to the marketplaces (PRODUCT.md "How a change reaches the marketplace").

Jobs and order
    `fulfil.jobs.enqueue_push(entry_ids)` enqueues `push_entry(entry_id)` with job id "push-<entry id>"
    (a second enqueue is a no-op while that job is on its way). The job works on the
    entry's *order*: holding a short Redis lock on the order it sends the order's
    unfinished entries oldest first, so "ship" never overtakes "acknowledge", while jobs of
    different orders run in parallel on any number of workers. A job that finds its order
    locked leaves at once: the holder sends that entry too, and after letting the lock go
    it enqueues whatever arrived meanwhile.

An entry's life
    pending --(attempts + 1)--> sending --> confirmed
                                   |------> pending again, next_attempt_at later
                                   |        (retryable, 429, Retry-After, not confirmed yet)
                                   '------> failed (the marketplace's words; a person retries)
    While an entry is "sending", next_attempt_at is its lease: when a worker dies mid-call
    the reconciler finds the entry once the lease ends (OUTBOX_STALE_SECONDS). An entry
    left "sending", or pending after a retryable failure (a timeout or a 5xx may still have
    been applied), has an unknown outcome: the next attempt reads the marketplace first
    (adapter.check) and writes only if the change is not there, so nothing is applied twice.
    Entries of an order queued behind a failed one wait until a person retries it.

Waiting never holds a worker. Backoff (full jitter), the marketplace's Retry-After and
the read-back of an asynchronous write (Ozon packing, Wish tracking) set next_attempt_at
and a wake-up (workers.wakeups): the clock enqueues the entry again at that moment, and
should Redis forget the wake-up, the reconciler finds the entry in the database.
"""
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased

from fulfil import jobs, marketplaces, outages
from fulfil.aftersales import stopship
from fulfil.extensions import db
from fulfil.jobs import enqueue_push
from fulfil.marketplaces.base import (APPLIED, IN_PROGRESS, NOT_APPLIED, AlreadyDone, MarketplaceError,
                                      RateLimited, Retryable)
from fulfil.models import OutboxEntry
from fulfil.outbox import store_sync_state
from fulfil.ratelimit import limited_adapter, limiter
from fulfil.redis_conn import get_redis
from fulfil.timeutil import utcnow
from workers import job, wakeups
from workers.locks import Locks

log = logging.getLogger(__name__)

UNFINISHED = ("pending", "sending")
BACKOFF_BASE = 1.0  # seconds; the ceiling doubles with every attempt ...
# ... up to a minute: after an outage everything is through within a minute, and the
# shared rate limit, not the backoff, keeps the load on the marketplace in bounds.
BACKOFF_CAP = 60.0
# An asynchronous write is read back this long after it was sent (most settle within a
# second), then at half its age so far — sparser the longer it takes — at most every 5 s.
CONFIRM_FIRST = 0.3
CONFIRM_CAP = 5.0
# A worker waits this long at most for the account's rate limit; a longer wait (after a
# 429, or many workers on a slow account) reschedules the entry and frees the worker.
LONGEST_RATE_WAIT = 2.0
# Waits between attempts to record outcomes while the database is away (~3 s in all).
RECORD_RETRY_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def confirm_delay(sent_at, now=None):
    age = ((now or utcnow()) - sent_at).total_seconds() if sent_at else 0.0
    return min(CONFIRM_CAP, max(CONFIRM_FIRST, age / 2))


def backoff(attempts, rng=random):
    """Full jitter: uniform over [0, min(cap, base * 2^(attempts-1))] (AWS's "full jitter")."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return rng.uniform(0, ceiling)


@job(jobs.PUSH)
def push_entry(entry_id):
    """Send the unfinished entries of `entry_id`'s order, oldest first."""
    order_id = db.session.scalar(select(OutboxEntry.order_id).where(
        OutboxEntry.id == entry_id, OutboxEntry.state.in_(UNFINISHED)))
    db.session.close()
    if order_id is None:
        return "finished already"
    app = current_app._get_current_object()
    with Locks(get_redis(app), app, "order") as locks:
        if not locks.acquire(order_id):
            log.info("push=skipped entry=%s order=%s reason=order_busy", entry_id, order_id)
            return "order busy"
        touched = _push_order(order_id, locks)
    # Entries committed while we held the locks had their own jobs turned away: send them now.
    enqueue_push(due_heads(order_ids=touched))
    return "done"


def _push_order(order_id, locks):
    """Work through the order's entries while they are due; returns every order touched."""
    touched = {order_id}
    while locks.holds(order_id):
        head = _head(order_id)
        if head is None or head.state == "failed":
            break
        if not _due(head):
            # Woken early (or by another entry's job): sleep again until the head is due.
            wakeups.schedule({head.id: (head.next_attempt_at - utcnow()).total_seconds()})
            break
        partners = _lock_partners(head, locks)
        touched.update(partners.values())
        batch = Batch([head.id, *partners], locks)
        try:
            batch.run()
        finally:
            for partner_order in partners.values():
                locks.release(partner_order)
        if not batch.confirmed(head.id):
            break
    db.session.close()
    return touched


def _head(order_id):
    """The order's oldest entry not yet confirmed (failed ones included: they block)."""
    return db.session.scalar(select(OutboxEntry).where(
        OutboxEntry.order_id == order_id, OutboxEntry.state != "confirmed").order_by(OutboxEntry.id).limit(1))


def _due(entry, now=None):
    return entry.next_attempt_at is None or entry.next_attempt_at <= (now or utcnow())


def _due_heads_statement():
    earlier = aliased(OutboxEntry)
    unfinished_before = exists().where(earlier.order_id == OutboxEntry.order_id,
                                       earlier.id < OutboxEntry.id, earlier.state != "confirmed")
    return (select(OutboxEntry.id, OutboxEntry.order_id)
            .where(OutboxEntry.state.in_(UNFINISHED),
                   or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= bindparam("now")),
                   ~unfinished_before)
            .order_by(OutboxEntry.id))


# Built once: every job runs these, and building them costs more than running them.
_DUE_HEADS = _due_heads_statement()
_DUE_HEADS_FIRST = _DUE_HEADS.limit(bindparam("limit"))
_DUE_HEADS_OF_ORDERS = _DUE_HEADS.where(OutboxEntry.order_id.in_(bindparam("order_ids", expanding=True)))
_BATCH_PARTNERS = _DUE_HEADS.where(OutboxEntry.account_id == bindparam("account_id"),
                                   OutboxEntry.action == bindparam("action"),
                                   OutboxEntry.order_id != bindparam("order_id")).limit(bindparam("limit"))


def due_heads(order_ids=None, limit=5000):
    """Ids of entries that may be sent now: due, and first in line in their order (of
    `order_ids`, or the oldest `limit` of all: a longer backlog is taken on later calls)."""
    if order_ids is not None:
        rows = db.session.execute(_DUE_HEADS_OF_ORDERS, {"now": utcnow(), "order_ids": list(order_ids)})
    else:
        rows = db.session.execute(_DUE_HEADS_FIRST, {"now": utcnow(), "limit": limit})
    ids = [row.id for row in rows]
    db.session.close()
    return ids


def _lock_partners(head, locks):
    """Due first-in-line entries of other orders to send with `head` in one call, where
    the marketplace takes several at once (adapter BATCH_LIMITS). Returns {entry: order}."""
    limit = marketplaces.module_for(head.account.kind).ADAPTER.BATCH_LIMITS.get(head.action, 1)
    if limit <= 1:
        return {}
    rows = db.session.execute(_BATCH_PARTNERS, {
        "now": utcnow(), "account_id": head.account_id, "action": head.action, "order_id": head.order_id,
        "limit": limit * 2}).all()
    partners = {}
    for row in rows:
        if len(partners) == limit - 1:
            break
        if row.order_id not in partners.values() and locks.acquire(row.order_id):
            partners[row.id] = row.order_id
    return partners


@dataclass
class Item:
    """One entry in flight, as plain data: no ORM object crosses the HTTP calls."""
    entry_id: int
    order_id: int
    payload: dict
    attempts: int
    sent_at: object  # datetime of the latest send, None before the first
    unknown: bool  # an earlier send may have been applied: read before writing
    outcome: "Outcome | None" = None
    remote: object = None  # the order as the marketplace has it, read after a refused ship


@dataclass(frozen=True)
class Outcome:
    # confirmed | sending (awaiting confirmation) | pending | failed, or deferred: not
    # tried at all (the account's rate limit is far off), only next_attempt_at moves.
    state: str
    delay: float = 0.0  # seconds until next_attempt_at
    error: MarketplaceError | None = None


CONFIRMED = Outcome("confirmed")
UNTOUCHED = Outcome("untouched")


class Batch:
    """Entries of one account and one action sent together (one entry, mostly)."""

    def __init__(self, entry_ids, locks):
        self.locks = locks
        entries = db.session.scalars(select(OutboxEntry).where(OutboxEntry.id.in_(entry_ids))
                                     .order_by(OutboxEntry.id)).all()
        now = utcnow()
        # A partner may have been sent by another worker between our query and our lock.
        entries = [e for e in entries if e.state in UNFINISHED and _due(e, now)]
        self.items = [Item(e.id, e.order_id, dict(e.payload or {}), e.attempts, e.sent_at,
                           unknown=e.state == "sending" or e.error_kind == "retryable")
                      for e in entries]
        if entries:
            account = entries[0].account
            self.action = entries[0].action
            self.account_id, self.account_slug, self.rate = account.id, account.slug, account.rate_limit
            self.adapter = limited_adapter(account)
            self.limiter = limiter()
            self.stale = current_app.config["OUTBOX_STALE_SECONDS"]
        # Close before the slow HTTP calls: no connection or transaction held while waiting.
        db.session.close()

    def confirmed(self, entry_id):
        return any(i.entry_id == entry_id and i.outcome == CONFIRMED for i in self.items)

    def run(self):
        if not self.items:
            return
        started = time.monotonic()
        try:
            wait = self.limiter.wait_time(self.account_id, self.rate)
            if wait > LONGEST_RATE_WAIT:
                for item in self.items:
                    item.outcome = Outcome("deferred", delay=wait)
            else:
                self._read_back()
                self._write()
        except Exception as exc:
            # Not a marketplace answer (a bug, a database or Redis failure): record what we
            # know, treat the rest as "outcome unknown", and let RQ see the exception. What
            # is stored is shown on Sync problems: words, never the exception's text (a
            # database error's carries its SQL and bound parameters) — that goes to the log.
            error = Retryable(f"fulfil could not finish sending: {_internal(exc)}. It tries again by "
                              "itself; the details are in the worker log (push=internal_error).")
            log.warning("push=internal_error account=%s action=%s entries=%s", self.account_slug,
                        self.action, [i.entry_id for i in self.items], exc_info=exc)
            for item in self.items:
                if item.outcome is None:
                    item.outcome = Outcome("pending", delay=backoff(item.attempts), error=error)
            self._record(started)
            raise
        self._record(started)

    # -- steps -------------------------------------------------------------------------
    def _read_back(self):
        """Entries whose earlier send has an unknown outcome: does the marketplace hold them?"""
        for item in self.items:
            if not item.unknown:
                continue
            try:
                remote = self.adapter.check(self.action, item.payload)
            except MarketplaceError as exc:
                # Still unknown: it stays "sending", so the next attempt reads first too.
                item.outcome = self._after_error(item, exc, sent=True)
                continue
            if remote == APPLIED:
                item.outcome = CONFIRMED
            elif remote == IN_PROGRESS:
                item.outcome = Outcome("sending", delay=confirm_delay(item.sent_at))
            elif remote == NOT_APPLIED:
                # Never arrived, or the marketplace dropped it after accepting it (Ozon
                # "ship_failed", Wish processing FAILED): sent again below.
                log.info("push=resend entry=%s order=%s action=%s attempts=%s reason=not_applied",
                         item.entry_id, item.order_id, self.action, item.attempts)
            else:
                raise ValueError(f"{type(self.adapter).__name__}.check answered {remote!r}")

    def _write(self):
        to_send = []
        for item in self.items:
            if item.outcome is not None:
                continue
            if self.locks.holds(item.order_id):
                to_send.append(item)
            else:
                # The order's lock was lost (Redis flushed, someone else took it): leave the
                # entry exactly as it is; its lease makes sure it is looked at again.
                item.outcome = UNTOUCHED
        if not to_send:
            return
        self._take_lease(to_send)
        try:
            if len(to_send) == 1:
                self.adapter.push(self.action, to_send[0].payload)
                results = [None]
            else:
                results = self.adapter.push_batch(self.action, [i.payload for i in to_send])
        except MarketplaceError as exc:
            results = [exc] * len(to_send)
        for item, result in zip(to_send, results):
            if isinstance(result, RateLimited):
                # Refused unread: not an attempt, so 429 bursts do not stretch the backoff.
                item.attempts -= 1
            if result is not None:
                item.outcome = self._after_error(item, result)
            elif self.action in self.adapter.ASYNC_ACTIONS:
                # Accepted, not applied yet: read back shortly (the worker does not wait).
                item.outcome = Outcome("sending", delay=CONFIRM_FIRST)
            else:
                item.outcome = CONFIRMED

    def _after_error(self, item, exc, sent=False):
        """What a marketplace error means for the entry. `sent`: a write may be applied
        and only reading it failed, so it stays "sending" (read before any rewrite)."""
        if isinstance(exc, AlreadyDone):
            return CONFIRMED
        if isinstance(exc, RateLimited):
            delay = exc.retry_after if exc.retry_after is not None else backoff(item.attempts)
            # Everyone waits: the marketplace counts the account's calls, not this worker's.
            self.limiter.pause(self.account_id, self.rate, delay)
        elif isinstance(exc, Retryable):
            delay = exc.retry_after if exc.retry_after is not None else backoff(item.attempts)
        else:
            if self.action in stopship.SHIP_ACTIONS:  # refused because the buyer cancelled?
                item.remote = self._read_order(item)
            return Outcome("failed", error=exc)
        return Outcome("sending" if sent else "pending", delay=delay, error=exc)

    def _read_order(self, item):
        try:
            return self.adapter.get_order(item.payload["external_id"])
        except (MarketplaceError, KeyError) as exc:
            log.info("push=read_after_refusal entry=%s failed: %s", item.entry_id, exc)
            return None

    def _take_lease(self, items):
        now = utcnow()
        ids = [i.entry_id for i in items]
        db.session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(ids)).values(
            state="sending", attempts=OutboxEntry.attempts + 1, sent_at=now,
            next_attempt_at=now + timedelta(seconds=self.stale)))
        db.session.commit()
        db.session.close()
        for item in items:
            item.attempts, item.sent_at = item.attempts + 1, now

    def _record(self, started):
        """Write every outcome, and the orders' sync state, in one transaction.

        The marketplace may have accepted a change already: a database that drops the
        connection (a restart) gets a few short retries, so a sub-second restart costs
        sub-seconds rather than the entry's lease (OUTBOX_STALE_SECONDS), after which
        the reconciler would read the marketplace back and record it then.
        """
        for wait in (*RECORD_RETRY_WAITS, None):
            try:
                return self._record_once(started)
            except DBAPIError as exc:
                if wait is None or outages.cause(exc) != "db":
                    raise
                outages.failed("db", exc, "push recording outcomes")
                try:
                    db.session.rollback()
                except DBAPIError:
                    pass  # the dead connection is discarded; the retry checks out a new one
                time.sleep(wait)

    def _record_once(self, started):
        decided = {i.entry_id: i for i in self.items if i.outcome not in (None, UNTOUCHED)}
        if not decided:
            return
        now = utcnow()
        entries = db.session.scalars(select(OutboxEntry).where(OutboxEntry.id.in_(list(decided)))).all()
        for entry in entries:
            item = decided[entry.id]
            outcome = item.outcome
            if outcome.state == "deferred":
                entry.next_attempt_at = now + timedelta(seconds=outcome.delay)
                continue
            entry.state, entry.attempts = outcome.state, item.attempts
            entry.next_attempt_at = (None if outcome.state in ("confirmed", "failed")
                                     else now + timedelta(seconds=outcome.delay))
            if outcome.state == "confirmed":
                entry.confirmed_at = now
            if outcome.error is not None:
                entry.error_kind, entry.last_error = outcome.error.kind, outcome.error.message
            cancelled = item.remote is not None and stopship.after_refusal(entry.order, entry.action, item.remote)
            if cancelled:
                entry.error_kind, entry.last_error = "cancelled", cancelled
            elif outcome.state == "confirmed":
                entry.error_kind = entry.last_error = None
        store_sync_state({e.order_id for e in entries})
        db.session.commit()
        wakeups.schedule({i.entry_id: i.outcome.delay for i in decided.values()
                          if i.outcome.state in ("pending", "sending", "deferred")})
        elapsed_ms = (time.monotonic() - started) * 1000
        for item in decided.values():
            self._log(item, elapsed_ms)
        db.session.close()

    def _log(self, item, elapsed_ms):
        outcome = item.outcome
        level = logging.WARNING if outcome.state == "failed" else logging.INFO
        log.log(level, "push=%s entry=%s order=%s account=%s action=%s attempts=%s batch=%s "
                "next_in=%.1f ms=%.0f error_kind=%s error=%r",
                outcome.state, item.entry_id, item.order_id, self.account_slug, self.action,
                item.attempts, len(self.items), outcome.delay, elapsed_ms,
                outcome.error.kind if outcome.error else None,
                outcome.error.message if outcome.error else None)


def _internal(exc):
    """A failure inside fulfil, in a few words for the Sync problems page."""
    return {"db": "the database stopped answering",
            "redis": "the job queue (Redis) stopped answering"}.get(outages.cause(exc),
                                                                     f"an error inside fulfil ({type(exc).__name__})")
