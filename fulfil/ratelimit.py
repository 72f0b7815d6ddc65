"""How any process calls a marketplace: under the account's rate limit, shared by every
worker, web process and command on every machine (GCRA in Redis), with access tokens
shared through Redis too.

GCRA keeps one number per account, the theoretical arrival time (TAT) of the next
request. `reserve` books the next free slot in one Lua call and says how long to wait
for it; the caller sleeps that long and sends. Booking a slot (instead of "try, sleep, try
again") spaces the requests of any number of workers evenly at the account's rate, so
fulfil stays just under the marketplace's own bucket and uses nearly all of it. The clock
is Redis's, so machines with skewed clocks still share one schedule.

A 429 pauses the account: `pause` moves the TAT past the marketplace's Retry-After, so no
worker sends to that account again before the marketplace said it may.
"""
import json
import logging
import time

import requests
from flask import current_app

from fulfil.marketplaces import adapter_for
from fulfil.redis_conn import get_redis, key

log = logging.getLogger(__name__)

# Requests let through back to back. 1 = evenly spaced: the marketplace's bucket never
# sees two of our requests closer together than 1/rate, whatever the network does.
BURST = 1

# KEYS[1] = TAT key; ARGV = interval µs, tolerance µs, "1" to book the slot. Returns µs to wait.
_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait < 0 then wait = 0 end
if ARGV[3] == '1' then
  tat = tat + tonumber(ARGV[1])
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
return wait
"""
# KEYS[1] = TAT key; ARGV = pause µs, tolerance µs: no slot before now + pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
if until_ > tat then
  redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', math.ceil((until_ - now) / 1000) + 1000)
end
return 1
"""


class RateLimiter:
    """GCRA per account; `rate` is requests per second (0 or less: no limit)."""

    def __init__(self, redis, app):
        self.redis, self.app = redis, app
        self._slot = redis.register_script(_SLOT)
        self._pause = redis.register_script(_PAUSE)

    def _key(self, account_id):
        return key(self.app, "rate", account_id)

    @staticmethod
    def _micros(rate):
        interval = 1_000_000 / rate
        return interval, (BURST - 1) * interval

    def reserve(self, account_id, rate):
        """Book the account's next request slot; returns the seconds to wait for it."""
        if rate <= 0:
            return 0.0
        interval, tolerance = self._micros(rate)
        return self._slot(keys=[self._key(account_id)], args=[interval, tolerance, 1]) / 1e6

    def wait_time(self, account_id, rate):
        """Seconds until the account's next free slot, booking nothing."""
        if rate <= 0:
            return 0.0
        interval, tolerance = self._micros(rate)
        return self._slot(keys=[self._key(account_id)], args=[interval, tolerance, 0]) / 1e6

    def acquire(self, account_id, rate):
        wait = self.reserve(account_id, rate)
        if wait > 0:
            time.sleep(wait)
        return wait

    def pause(self, account_id, rate, seconds):
        """Nobody sends to the account for `seconds` (the marketplace's Retry-After)."""
        if seconds <= 0:
            return
        tolerance = self._micros(rate)[1] if rate > 0 else 0
        self._pause(keys=[self._key(account_id)], args=[int(seconds * 1e6), tolerance])


class LimitedSession(requests.Session):
    """A requests session that waits for a slot of the account's rate limit before every
    request, so every adapter call counts: token fetches, reads, writes and read-backs."""

    def __init__(self, limiter, account_id, rate):
        super().__init__()
        self.limiter, self.account_id, self.rate = limiter, account_id, rate

    def request(self, method, url, *args, **kwargs):
        waited = self.limiter.acquire(self.account_id, self.rate)
        if waited > 1:
            log.info("ratelimit=waited account_id=%s seconds=%.2f", self.account_id, waited)
        return super().request(method, url, *args, **kwargs)


def limiter(app=None):
    app = app or current_app._get_current_object()
    return RateLimiter(get_redis(app), app)


# One session per account and rate in each worker process: connections stay open between
# jobs (a TLS handshake per push would cost more than the push).
_sessions = {}


def limited_session(account, app=None):
    app = app or current_app._get_current_object()
    cache_key = (app.config["RQ_QUEUE_PREFIX"], account.id, account.rate_limit)
    session = _sessions.get(cache_key)
    if session is None:
        session = _sessions[cache_key] = LimitedSession(limiter(app), account.id, account.rate_limit)
    return session


class RedisTokenStore:
    """A dict-like cache in Redis: adapters keep access tokens here so every worker uses
    the same token instead of each fetching its own (Walmart tokens live 15 minutes)."""

    def __init__(self, redis, prefix="fulfil:token:"):
        self.redis, self.prefix = redis, prefix

    def get(self, key, default=None):
        raw = self.redis.get(self.prefix + key)
        return json.loads(raw) if raw else default

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        self.redis.set(self.prefix + key, json.dumps(value), ex=30 * 24 * 3600)

    def __contains__(self, key):
        return bool(self.redis.exists(self.prefix + key))

    def pop(self, key, default=None):
        value = self.get(key, default)
        self.redis.delete(self.prefix + key)
        return value


def token_store(app):
    return RedisTokenStore(get_redis(app))


def limited_adapter(account, app=None):
    """The account's adapter as workers, the web app and `flask fulfil sync` use it: every call under the account's shared rate
    limit, access tokens shared with every other worker through Redis."""
    app = app or current_app._get_current_object()
    return adapter_for(account, token_store=token_store(app), session=limited_session(account, app),
                       app=app)
