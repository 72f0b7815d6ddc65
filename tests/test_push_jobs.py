"""The push job against a scripted marketplace: order, outcomes, retries, batching, enqueueing."""
from datetime import timedelta

import pytest
from rq import Queue
from rq.job import Job
from rq.utils import utcformat

from fulfil.extensions import db
from fulfil.jobs import enqueue_push, queue_name
from fulfil.marketplaces.base import (APPLIED, IN_PROGRESS, NOT_APPLIED, AlreadyDone, Permanent,
                                      RateLimited, Retryable)
from fulfil.models import Order, OutboxEntry
from fulfil.outbox import record, retry
from fulfil.ratelimit import limiter
from fulfil.redis_conn import get_redis
from fulfil.timeutil import utcnow
from workers import push, wakeups
from workers.clock import wake_due_entries
from workers.locks import Locks
from workers.push import due_heads, push_entry
from workers.reconcile import reconcile
from tests.conftest import make_order
from tests.fixtures_workers import wait_for


def add(order, action, **payload):
    """A new outbox entry for `order`, flushed so its id can be kept across the job."""
    new = record(order, action, {"external_id": order.external_id, **payload})
    db.session.flush()
    return new


def entry(entry_id):
    db.session.expire_all()
    return db.session.get(OutboxEntry, entry_id)


def order_row(order_id):
    db.session.expire_all()
    return db.session.get(Order, order_id)


def make_due(*entry_ids):
    for entry_id in entry_ids:
        db.session.get(OutboxEntry, entry_id).next_attempt_at = utcnow()
    db.session.commit()


def queued_ids(app, name="push"):
    return set(Queue(queue_name(app, name), connection=get_redis(app)).job_ids)


def test_entry_sent_once_confirmed_and_order_version_kept(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        first = add(order, "acknowledge").id
        db.session.commit()
        order_id, version = order.id, order.version
        assert push_entry(first) == "done"
        sent = entry(first)
        assert (sent.state, sent.attempts, sent.error_kind) == ("confirmed", 1, None)
        assert sent.confirmed_at is not None and sent.next_attempt_at is None
        order = order_row(order_id)
        # A finished push must not turn a tablet's open form into a false conflict.
        assert order.sync_state == "synced" and order.version == version
        assert push_entry(first) == "finished already"
    assert fake_marketplace.writes() == [("acknowledge", order.external_id)]


def test_entries_of_one_order_go_oldest_first(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        first, second = add(order, "acknowledge").id, add(order, "ship", tracking_number="1Z").id
        db.session.commit()
        push_entry(second)  # the later entry's job still sends the earlier one first
        assert [entry(i).state for i in (first, second)] == ["confirmed", "confirmed"]
    assert [a for a, _ in fake_marketplace.writes()] == ["acknowledge", "ship"]


def test_a_busy_order_is_left_to_the_job_holding_it(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        first = add(order, "acknowledge").id
        db.session.commit()
        with Locks(get_redis(app), app, "order") as other_worker:
            assert other_worker.acquire(order.id)
            assert push_entry(first) == "order busy"
            assert entry(first).state == "pending"
        assert push_entry(first) == "done"
    assert len(fake_marketplace.writes()) == 1


def test_retryable_backs_off_then_reads_before_sending_again(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        first = add(order, "acknowledge").id
        db.session.commit()
        fake_marketplace.script[("push", order.external_id)] = [Retryable("Gateway Timeout", status_code=504)]
        before = utcnow()
        push_entry(first)
        failed = entry(first)
        assert (failed.state, failed.error_kind, failed.last_error, failed.attempts) == \
            ("pending", "retryable", "Gateway Timeout", 1)
        assert before <= failed.next_attempt_at <= utcnow() + timedelta(seconds=push.BACKOFF_BASE)
        assert order_row(order.id).sync_state == "pending"
        # The timeout hid a success: the marketplace holds the change after all.
        fake_marketplace.applied.append(("acknowledge", order.external_id))
        make_due(first)
        push_entry(first)
        done = entry(first)
        assert (done.state, done.attempts, done.last_error) == ("confirmed", 1, None)
    assert [c[0] for c in fake_marketplace.calls] == ["push", "check"]
    assert len(fake_marketplace.writes()) == 1


def test_an_interrupted_send_is_read_back_then_sent(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        interrupted = add(order, "acknowledge")
        # A worker died mid-call: the entry is left "sending" until its lease ends.
        interrupted.state, interrupted.attempts = "sending", 1
        interrupted.next_attempt_at = utcnow() - timedelta(seconds=1)
        first = interrupted.id
        db.session.commit()
        push_entry(first)
        assert (entry(first).state, entry(first).attempts) == ("confirmed", 2)
    assert [c[0] for c in fake_marketplace.calls] == ["check", "push"]


def test_rate_limited_waits_exactly_retry_after_and_pauses_the_account(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        order.account.rate_limit = 1000
        first = add(order, "acknowledge").id
        db.session.commit()
        fake_marketplace.script[("push", order.external_id)] = [RateLimited("REQUEST_THRESHOLD_VIOLATED", retry_after=10.0)]
        before = utcnow()
        push_entry(first)
        waiting = entry(first)
        # Refused unread: a 429 is not an attempt (bursts must not stretch the backoff).
        assert (waiting.state, waiting.error_kind, waiting.attempts) == ("pending", "rate_limited", 0)
        delay = (waiting.next_attempt_at - before).total_seconds()
        assert 10.0 <= delay <= 12.0
        # Every worker now waits before calling this account again.
        assert 8.0 <= limiter(app).wait_time(order.account_id, 1000) <= 10.0
        # A job for another order of the account does not hold a worker for 10 s: it reschedules.
        other = make_order("walmart")
        second = add(other, "acknowledge").id
        db.session.commit()
        push_entry(second)
        deferred = entry(second)
        assert (deferred.state, deferred.attempts) == ("pending", 0)
        assert deferred.next_attempt_at > utcnow() + timedelta(seconds=5)
    assert fake_marketplace.writes() == []


def test_permanent_fails_with_the_marketplace_words_and_holds_the_orders_later_entries(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        first, second = add(order, "acknowledge").id, add(order, "ship", tracking_number="1Z").id
        db.session.commit()
        fake_marketplace.script[("push", order.external_id)] = [Permanent("PO is cancelled", status_code=400)]
        push_entry(first)
        failed = entry(first)
        assert (failed.state, failed.error_kind, failed.last_error) == ("failed", "permanent", "PO is cancelled")
        assert entry(second).state == "pending"
        assert order_row(order.id).sync_state == "failed"
        assert due_heads() == []  # the ship waits behind the failed acknowledge
        assert fake_marketplace.writes() == []

        fake_marketplace.script.clear()
        retry([entry(first)])
        db.session.commit()
        assert order_row(order.id).sync_state == "pending"
        assert due_heads() == [first]
        push_entry(first)
        assert [entry(i).state for i in (first, second)] == ["confirmed", "confirmed"]
        assert entry(first).last_error is None
        assert order_row(order.id).sync_state == "synced"
    assert [a for a, _ in fake_marketplace.writes()] == ["acknowledge", "ship"]


def test_already_done_counts_as_confirmed(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        first = add(order, "acknowledge").id
        db.session.commit()
        fake_marketplace.script[("push", order.external_id)] = [AlreadyDone("already acknowledged")]
        push_entry(first)
        assert entry(first).state == "confirmed"


def test_an_asynchronous_write_is_read_back_later_without_holding_the_worker(app, fake_marketplace):
    fake_marketplace.async_actions = frozenset({"ship"})
    with app.app_context():
        order = make_order("walmart")
        first = add(order, "ship", tracking_number="1Z").id
        db.session.commit()
        fake_marketplace.script[("check", order.external_id)] = [IN_PROGRESS, APPLIED]
        push_entry(first)
        accepted = entry(first)
        assert (accepted.state, accepted.attempts) == ("sending", 1)
        assert accepted.next_attempt_at <= utcnow() + timedelta(seconds=push.CONFIRM_FIRST)
        # The clock wakes it when the read-back is due.
        wait_for(lambda: wakeups.pop_due() == [first], timeout=2, message="the wake-up")
        push_entry(first)
        assert entry(first).state == "sending"  # still processing on the marketplace
        make_due(first)
        push_entry(first)
        assert (entry(first).state, entry(first).attempts) == ("confirmed", 1)
    assert [c[0] for c in fake_marketplace.calls] == ["push", "check", "check"]


def test_entries_wait_for_an_asynchronous_write_to_be_confirmed(app, fake_marketplace):
    fake_marketplace.async_actions = frozenset({"ship"})
    with app.app_context():
        order = make_order("walmart")
        first, second = add(order, "ship", tracking_number="1Z").id, add(order, "deliver").id
        db.session.commit()
        push_entry(second)
        assert [entry(i).state for i in (first, second)] == ["sending", "pending"]
        make_due(first)
        push_entry(second)
        assert [entry(i).state for i in (first, second)] == ["confirmed", "confirmed"]
    assert [a for a, _ in fake_marketplace.writes()] == ["ship", "deliver"]


def test_an_asynchronous_write_the_marketplace_dropped_is_sent_again(app, fake_marketplace):
    fake_marketplace.async_actions = frozenset({"ship"})
    with app.app_context():
        order = make_order("walmart")
        number, first = order.external_id, add(order, "ship", tracking_number="1Z").id
        db.session.commit()
        push_entry(first)
        fake_marketplace.script[("check", number)] = [NOT_APPLIED]  # e.g. Ozon's ship_failed
        make_due(first)
        push_entry(first)
        assert (entry(first).state, entry(first).attempts) == ("sending", 2)
    assert [c[0] for c in fake_marketplace.calls] == ["push", "check", "push"]


def test_confirmation_reads_get_sparser_the_longer_a_write_takes():
    sent = utcnow()
    assert push.confirm_delay(sent, sent) == push.CONFIRM_FIRST
    assert push.confirm_delay(sent, sent + timedelta(seconds=4)) == 2.0
    assert push.confirm_delay(sent, sent + timedelta(minutes=5)) == push.CONFIRM_CAP


def test_a_due_wake_up_is_enqueued_by_the_clock(app, clean_redis):
    with app.app_context():
        wakeups.schedule({7: 0, 8: 60})
        wake_due_entries()
        assert queued_ids(app) == {"push-7"}
        assert wakeups.pop_due() == []  # 8 is not due for a minute, 7 was taken once


def test_an_unexpected_error_leaves_the_entry_retryable_and_reaches_rq(app, fake_marketplace, caplog):
    with app.app_context():
        order = make_order("walmart")
        first = add(order, "acknowledge").id
        db.session.commit()
        fake_marketplace.script[("push", order.external_id)] = [RuntimeError("adapter bug")]
        with pytest.raises(RuntimeError, match="adapter bug"):
            push_entry(first)
        broken = entry(first)
        assert (broken.state, broken.error_kind, broken.attempts) == ("pending", "retryable", 1)
        # Sync problems shows words; the exception's own text (SQL, for a database error)
        # is in the log only.
        assert "an error inside fulfil (RuntimeError)" in broken.last_error
        assert "adapter bug" not in broken.last_error
        assert "push=internal_error" in caplog.text and "adapter bug" in caplog.text


def test_batches_keep_each_items_outcome(app, fake_marketplace):
    fake_marketplace.batch_limits["update_tracking"] = 20
    with app.app_context():
        orders = [make_order("walmart") for _ in range(4)]
        numbers = [o.external_id for o in orders]
        entries = [add(o, "update_tracking", tracking_number=f"T{i}").id for i, o in enumerate(orders[:3])]
        # The fourth order's tracking waits behind its acknowledge: not part of the batch.
        blocked_ack = add(orders[3], "acknowledge").id
        blocked = add(orders[3], "update_tracking", tracking_number="T3").id
        db.session.commit()
        fake_marketplace.script[("push", numbers[1])] = [Permanent("INVALID_TRACKING_NUMBER")]
        fake_marketplace.script[("push", numbers[3])] = [Retryable("busy")]
        push_entry(entries[0])
        assert [entry(e).state for e in entries] == ["confirmed", "failed", "confirmed"]
        assert entry(entries[1]).last_error == "INVALID_TRACKING_NUMBER"
        assert entry(blocked).state == "pending" and entry(blocked_ack).attempts == 0
    batch_calls = [c for c in fake_marketplace.calls if c[0] == "push_batch"]
    assert batch_calls == [("push_batch", "update_tracking", numbers[:3])]


def test_enqueue_is_a_noop_while_the_job_waits(app, clean_redis):
    with app.app_context():
        assert enqueue_push([1, 2]) == ["push-1", "push-2"]
        assert enqueue_push([1, 2]) == []
        assert queued_ids(app) == {"push-1", "push-2"}
        # A job that "started" longer ago than the lease belongs to a worker that died.
        clean_redis.hset(Job.key_for("push-1"), mapping={
            "status": "started", "started_at": utcformat(utcnow() - timedelta(seconds=60))})
        clean_redis.hset(Job.key_for("push-2"), mapping={
            "status": "started", "started_at": utcformat(utcnow())})
        assert enqueue_push([1, 2]) == ["push-1"]
        clean_redis.flushdb()  # Redis lost everything: enqueue again
        assert enqueue_push([2]) == ["push-2"]
        # A worker killed just after taking push-2 off the queue: "queued", but in no queue.
        clean_redis.delete(Queue(queue_name(app, "push"), connection=clean_redis).key)
        assert enqueue_push([2]) == []
        assert enqueue_push([2], check_queue=True) == ["push-2"]


def test_reconciler_enqueues_what_is_due_and_first_in_line(app, clean_redis, fake_marketplace):
    with app.app_context():
        now = utcnow()
        due, later, in_flight, stale, failed = (make_order("walmart") for _ in range(5))
        due_entry = add(due, "acknowledge")
        add(later, "acknowledge").next_attempt_at = now + timedelta(minutes=1)
        flight = add(in_flight, "acknowledge")
        flight.state, flight.next_attempt_at = "sending", now + timedelta(seconds=20)
        stale_entry = add(stale, "acknowledge")
        stale_entry.state, stale_entry.next_attempt_at = "sending", now - timedelta(seconds=1)
        failed_entry = add(failed, "acknowledge")
        failed_entry.state = "failed"
        add(failed, "ship")  # held behind the failure
        db.session.commit()
        expected = {f"push-{due_entry.id}", f"push-{stale_entry.id}"}
        assert reconcile() == 2
        assert queued_ids(app) == expected
        assert reconcile() == 0


def test_sync_state_update_leaves_other_order_fields_alone(app, fake_marketplace):
    with app.app_context():
        order = make_order("walmart")
        first = add(order, "acknowledge").id
        db.session.commit()
        updated_at = order.updated_at
        push_entry(first)
        assert order_row(order.id).updated_at == updated_at
