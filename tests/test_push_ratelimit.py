"""The shared rate limiter, the backoff and the order locks: units on the test Redis."""
import random
import time
from types import SimpleNamespace

import pytest
import requests
from requests.adapters import BaseAdapter

from fulfil.ratelimit import LimitedSession, RateLimiter
from workers.locks import Locks
from workers.push import BACKOFF_BASE, BACKOFF_CAP, backoff
from tests.fixtures_workers import wait_for


# Only the key prefix is read from the app: these tests need no database.
APP = SimpleNamespace(config={"RQ_QUEUE_PREFIX": "fulfil"})


@pytest.fixture
def limiter_app(clean_redis):
    return RateLimiter(clean_redis, APP)


def booked_until(redis, account_id):
    """The account's next free slot (GCRA's TAT), in Redis's microseconds."""
    return int(redis.get(f"fulfil:rate:{account_id}"))


def test_slots_are_spaced_evenly_for_every_worker(clean_redis, redis_url):
    import redis as redis_lib

    one, other = RateLimiter(clean_redis, APP), RateLimiter(redis_lib.Redis.from_url(redis_url), APP)
    booked, waits = [], []
    for limiter in (one, other, one, other):
        waits.append(limiter.reserve(7, 1))  # one request a second
        booked.append(booked_until(clean_redis, 7))
    # Two workers share one schedule: each booking is exactly one interval after the last,
    # whoever makes it, and each later slot is further off than the one before.
    assert [later - earlier for earlier, later in zip(booked, booked[1:])] == [1_000_000] * 3
    assert waits[0] == 0 and waits == sorted(waits) and waits[-1] <= 3.0
    assert RateLimiter(clean_redis, APP).reserve(8, 1) == 0  # other accounts are not held up


def test_wait_time_books_nothing(limiter_app, clean_redis):
    limiter_app.reserve(1, 0.1)  # the next slot is 10 s away
    booked = booked_until(clean_redis, 1)
    first, second = limiter_app.wait_time(1, 0.1), limiter_app.wait_time(1, 0.1)
    assert booked_until(clean_redis, 1) == booked
    assert 0 < second <= first <= 10.0


def test_a_429_pauses_the_account_for_retry_after(limiter_app, clean_redis):
    seconds, micros = clean_redis.time()
    limiter_app.pause(1, 50, 30.0)
    # Booked until Retry-After from now, on Redis's clock.
    assert 30_000_000 <= booked_until(clean_redis, 1) - (seconds * 1_000_000 + micros) < 31_000_000
    assert 0 < limiter_app.wait_time(1, 50) <= 30.0
    paused_until = booked_until(clean_redis, 1)
    # A shorter pause later never shortens the wait.
    limiter_app.pause(1, 50, 1.0)
    assert booked_until(clean_redis, 1) == paused_until


def test_no_limit_means_no_wait(limiter_app):
    assert [limiter_app.reserve(1, 0) for _ in range(5)] == [0.0] * 5


class Answer200(BaseAdapter):
    """A transport that answers every request at once, recording it in `log`."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def send(self, request, **kwargs):
        self.log.append(("sent", request.path_url))
        response = requests.Response()
        response.status_code, response.request, response._content = 200, request, b"{}"
        return response

    def close(self):
        pass


class RecordingLimiter:
    def __init__(self, log):
        self.log = log

    def acquire(self, account_id, rate):
        self.log.append(("slot", account_id, rate))
        return 0.0


def test_every_call_of_a_limited_session_waits_for_its_slot():
    log = []
    session = LimitedSession(RecordingLimiter(log), account_id=3, rate=20)
    session.mount("http://marketplace/", Answer200(log))
    paths = ("/token", "/orders/1", "/orders/1/ship", "/orders/1")
    for path in paths:
        assert session.get("http://marketplace" + path).status_code == 200
    # Token fetches, reads and writes alike: each is sent only after its slot is booked.
    assert log == [step for path in paths for step in (("slot", 3, 20), ("sent", path))]


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 8, 12, 30])
def test_backoff_is_full_jitter_below_a_doubling_ceiling(attempts):
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
    rng = random.Random(attempts)
    delays = [backoff(attempts, rng) for _ in range(500)]
    assert all(0 <= d <= ceiling for d in delays)
    # Spread over the whole range, not bunched at the ceiling (which would synchronise retries).
    assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_a_lock_is_renewed_while_held_and_freed_on_release(clean_redis):
    holder, other = Locks(clean_redis, APP, "order", ttl=0.9), Locks(clean_redis, APP, "order")
    assert holder.acquire(12)
    time.sleep(2.0)  # over twice the TTL: only renewal keeps it
    assert holder.holds(12) and not other.acquire(12)
    holder.release_all()
    assert other.acquire(12)
    other.release_all()


def test_a_lock_lost_in_a_flush_is_taken_back_unless_someone_else_has_it(clean_redis):
    holder = Locks(clean_redis, APP, "order", ttl=0.9)
    assert holder.acquire(1) and holder.acquire(2)
    clean_redis.flushdb()
    thief = Locks(clean_redis, APP, "order")
    assert thief.acquire(2)
    wait_for(lambda: not holder.holds(2), timeout=5, message="the renewal to find lock 2 taken")
    assert holder.holds(1) and clean_redis.get("fulfil:lock:order:1") == holder.token.encode()
    holder.release_all()  # never frees a lock someone else holds
    assert clean_redis.get("fulfil:lock:order:2") == thief.token.encode()
    thief.release_all()
