"""Wake-ups: outbox entries to enqueue again at a given moment.

An entry that must wait — a backoff, the marketplace's Retry-After, the read-back of an
asynchronous write — gets its moment in the database (OutboxEntry.next_attempt_at), where
the reconciler finds it within ~2 s even if Redis forgot everything. This sorted set is
the fast path: the clock pops what is due every 0.1 s, so a 1 s Retry-After means 1 s and
an Ozon packing is read back 0.3 s after it was sent, while no worker sits waiting. Scores
are Redis's own clock, so machines whose clocks disagree still agree on "due".
"""
from flask import current_app

from fulfil.redis_conn import get_redis, key

MOST_PER_POP = 1000

# KEYS[1] = the set; ARGV = id1, seconds1, id2, seconds2, ...
_SCHEDULE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[i + 1]), ARGV[i])
end
return #ARGV / 2
"""
# KEYS[1] = the set; ARGV[1] = most to pop. Returns the ids due now, removed from the set.
_POP_DUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


def _set(app):
    return key(app, "wakeups", "push")


def schedule(delays):
    """Wake entries later: {entry_id: seconds from now}."""
    if not delays:
        return
    app = current_app._get_current_object()
    args = [value for entry_id, seconds in delays.items() for value in (entry_id, max(seconds, 0.0))]
    get_redis(app).eval(_SCHEDULE, 1, _set(app), *args)


def pop_due(limit=MOST_PER_POP):
    """Entry ids whose moment has come (each returned once)."""
    app = current_app._get_current_object()
    return [int(entry_id) for entry_id in get_redis(app).eval(_POP_DUE, 1, _set(app), limit)]
