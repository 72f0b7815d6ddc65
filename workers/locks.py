"""Short Redis locks that a job keeps alive while it works (redash's locks, plus a heartbeat).

A lock is a key set with NX and a short TTL. While the job holds it, one background
thread renews it every third of the TTL, so slow work never outlives the lock, and a
SIGKILLed worker frees it within the TTL. If Redis lost the key (a flush, a restart) the
renewal takes it again; if someone else holds it by then, the lock is marked lost and the
job stops before its next write.
"""
import logging
import threading
import uuid

import redis as redis_lib

from fulfil import outages
from fulfil.redis_conn import key

log = logging.getLogger(__name__)

TTL_SECONDS = 5.0

# KEYS = lock keys; ARGV = token, ttl ms. Per key: 1 = still ours (renewed or re-taken), 0 = lost.
_RENEW = """
local held = {}
for i, k in ipairs(KEYS) do
  local owner = redis.call('GET', k)
  if owner == ARGV[1] or not owner then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
"""
_RELEASE = """
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 1
"""


class Locks:
    """The locks one job holds, e.g. `Locks(redis, app, "order")`, kept alive by one thread."""

    def __init__(self, redis, app, kind, ttl=TTL_SECONDS):
        self.redis, self.app, self.kind, self.ttl = redis, app, kind, ttl
        self.token = uuid.uuid4().hex
        self._held = {}  # name -> key
        self._lost = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def acquire(self, name):
        """Take the lock on `name` if it is free; True when this job holds it."""
        lock_key = key(self.app, "lock", self.kind, name)
        if not self.redis.set(lock_key, self.token, nx=True, px=int(self.ttl * 1000)):
            return False
        with self._guard:
            self._held[name] = lock_key
            if self._thread is None:
                self._thread = threading.Thread(target=self._keep_alive, daemon=True,
                                                name=f"locks-{self.kind}")
                self._thread.start()
        return True

    def holds(self, name):
        with self._guard:
            return name in self._held and name not in self._lost

    def release(self, name):
        with self._guard:
            lock_key = self._held.pop(name, None)
            self._lost.discard(name)
        if lock_key:
            self._release_keys([lock_key])

    def release_all(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._guard:
            keys, self._held = list(self._held.values()), {}
        if keys:
            self._release_keys(keys)

    def _release_keys(self, keys):
        # Redis gone while letting go: the keys expire within the TTL by themselves, so
        # this is no reason to fail the job — nor, from __exit__, to kill its worker.
        try:
            self._release(keys=keys, args=[self.token])
        except redis_lib.RedisError as exc:
            if outages.report(exc, f"lock release kind={self.kind}") is None:
                log.warning("lock=release_failed kind=%s keys=%s error=%r", self.kind, len(keys), exc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release_all()

    def _keep_alive(self):
        while not self._stop.wait(self.ttl / 3):
            with self._guard:
                names = list(self._held)
                keys = [self._held[n] for n in names]
            if not keys:
                continue
            try:
                held = self._renew(keys=keys, args=[self.token, int(self.ttl * 1000)])
            except redis_lib.RedisError as exc:
                # Unrenewed, the keys expire and another worker may take them: stop writing.
                log.warning("lock=renew_failed kind=%s names=%s error=%r", self.kind, names, exc)
                held = [0] * len(names)
            with self._guard:
                self._lost.update(n for n, ok in zip(names, held) if not ok)
