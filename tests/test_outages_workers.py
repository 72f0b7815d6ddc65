"""Workers, locks and the supervisor while the database or Redis is away (in-process)."""
import logging
import threading

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy.exc import OperationalError

from fulfil import outages
from fulfil.extensions import db
from fulfil.redis_conn import get_redis
from workers import push
from workers.locks import Locks
from workers.push import push_entry
from workers.run import PROBE_EVERY, Supervisor
from tests.conftest import make_order
from tests.test_push_jobs import add, entry


def connection_dropped():
    return OperationalError("UPDATE outbox_entries ...", {}, psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly"))


@pytest.fixture(autouse=True)
def no_outage_left_over():
    for name in outages.DEPENDENCIES:
        outages.answered(name)
    yield
    for name in outages.DEPENDENCIES:
        outages.answered(name)


def test_an_answer_the_database_could_not_take_at_once_is_recorded_on_a_retry(app, fake_marketplace,
                                                                            monkeypatch):
    """The marketplace took the change; the database dropped the connection twice while
    it was being recorded: the job retries at once, the entry is confirmed on its first
    attempt, and the marketplace was written to once."""
    record_once = push.Batch._record_once
    drops = []

    def flaky(batch, started):
        if len(drops) < 2:
            drops.append(1)
            raise connection_dropped()
        return record_once(batch, started)

    monkeypatch.setattr(push.Batch, "_record_once", flaky)
    monkeypatch.setattr(push, "RECORD_RETRY_WAITS", (0, 0, 0))
    with app.app_context():
        order = make_order("walmart")
        entry_id, external_id = add(order, "acknowledge").id, order.external_id
        db.session.commit()
        assert push_entry(entry_id) == "done"
        sent = entry(entry_id)
        assert (sent.state, sent.attempts) == ("confirmed", 1)
    assert len(drops) == 2
    assert fake_marketplace.writes() == [("acknowledge", external_id)]


def test_a_database_away_longer_than_the_retries_fails_the_job_and_keeps_the_lease(app, fake_marketplace,
                                                                                  monkeypatch):
    def always(batch, started):
        raise connection_dropped()

    monkeypatch.setattr(push.Batch, "_record_once", always)
    monkeypatch.setattr(push, "RECORD_RETRY_WAITS", (0, 0))
    with app.app_context():
        order = make_order("walmart")
        entry_id = add(order, "acknowledge").id
        db.session.commit()
        with pytest.raises(OperationalError):
            push_entry(entry_id)
        # Sent, outcome not recorded: the lease brings it to the reconciler, which reads
        # the marketplace back before any second write.
        assert entry(entry_id).state == "sending"


def test_a_lost_redis_while_releasing_locks_is_no_error(app, clean_redis, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    with app.app_context():
        locks = Locks(get_redis(app), app, "order")
        assert locks.acquire(7)

        def refused(*args, **kwargs):
            raise redis_lib.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        monkeypatch.setattr(locks, "_release", refused)
        with locks:
            pass  # __exit__ releases: the lost connection must not escape
    assert [r.getMessage().split()[1] for r in caplog.records if r.name == "fulfil.outages"] == \
        ["state=unavailable"]


class RecordingStop:
    """A stand-in for the supervisor's stop event: records each wait, never sleeps."""

    def __init__(self):
        self.waits = []

    def wait(self, seconds):
        self.waits.append(seconds)
        return False

    def is_set(self):
        return False


def test_the_supervisor_restarts_as_soon_as_the_dependencies_answer_again():
    answers = iter([False, False, False, True])
    supervisor = Supervisor({}, stop_timeout=1, probe=lambda: next(answers))
    supervisor.stopping = RecordingStop()
    assert supervisor.wait_to_restart(30.0) is False
    # Probed before waiting and after each short wait; restarted at the first answer.
    assert len(supervisor.stopping.waits) == 3
    assert all(wait <= PROBE_EVERY for wait in supervisor.stopping.waits)


def test_the_supervisor_waits_out_its_back_off_when_the_dependencies_were_fine():
    """A child failing for another reason (a bug, bad config) must not restart in a spin."""
    probes = []
    supervisor = Supervisor({}, stop_timeout=1, probe=lambda: probes.append(1) or True)
    supervisor.stopping = RecordingStop()
    supervisor.stopping.wait = lambda seconds: supervisor.stopping.waits.append(seconds) or True
    assert supervisor.wait_to_restart(8.0) is True  # the stop came during the one long wait
    assert len(probes) == 1 and len(supervisor.stopping.waits) == 1
    assert supervisor.stopping.waits[0] > 7


def test_repeated_failures_are_summed_up_not_logged_each(caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    clock = [100.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: clock[0])
    error = redis_lib.ConnectionError("Connection refused.")
    for _ in range(30):  # 3 s of failures every 0.1 s
        outages.failed("redis", error, "clock task=wakeups")
        clock[0] += 0.1
    clock[0] += 3
    outages.failed("redis", error, "clock task=wakeups")
    outages.answered("redis")
    outages.answered("redis")
    lines = [r.getMessage() for r in caplog.records if r.name == "fulfil.outages"]
    assert [line.split()[1] for line in lines] == ["state=unavailable", "state=still_unavailable", "state=back"]
    assert "failures=31" in lines[1] and "failures=31" in lines[2]


def test_rq_tracebacks_of_an_outage_become_counted_lines(caplog):
    caplog.set_level(logging.INFO)
    rq_log = logging.getLogger("test.rq.worker")
    outage_filter = outages.OutageFilter("worker")
    rq_log.addFilter(outage_filter)
    try:
        for error in (connection_dropped(), ValueError("a bug")):
            try:
                raise error
            except Exception:
                rq_log.error("job push-1: exception raised while executing", exc_info=True)
    finally:
        rq_log.removeFilter(outage_filter)
    kept = [r for r in caplog.records if r.name == "test.rq.worker"]
    assert len(kept) == 1 and kept[0].exc_info[0] is ValueError
    assert any("outage=db state=unavailable" in r.getMessage() for r in caplog.records)


def test_outage_bookkeeping_is_safe_across_threads():
    error = redis_lib.ConnectionError("Connection refused.")
    threads = [threading.Thread(target=lambda: [outages.failed("redis", error, "t") for _ in range(200)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outages._OUTAGES["redis"].failures == 800
