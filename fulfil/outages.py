"""The database or Redis not answering: say so in a few lines, not in a traceback flood.

Every process (web app, worker, clock) tells this module about each failure caused by a
dependency that stopped answering (`failed`) and about each success of that dependency
(`answered`). The log then reads, for a 20 s database stop:

    outage=db state=unavailable where="POST /orders/7/acknowledge" error="OperationalError: ..."
    outage=db state=still_unavailable for=5s failures=41 where="POST /orders/9/ship"
    ...
    outage=db state=back after=20.3s failures=163

The first failure names the cause once; repeats are counted and summed up at most every
REPEAT_EVERY seconds; the first success after an outage says it is back.
"""
import logging
import sys
import threading
import time

import redis
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import Pool

log = logging.getLogger("fulfil.outages")

REPEAT_EVERY = 5.0
DEPENDENCIES = ("db", "redis")
# SQLite reports its own trouble as OperationalError, but so it does a missing table (a
# bug, which must keep its traceback): only these mean "the database cannot answer now".
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error",
                       "database table is locked")


def cause(exc):
    """'db' or 'redis' when `exc` (or what it was raised from) says that dependency is not
    answering — refused or dropped connections, a server shutting down, timeouts — else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            return "redis"
        if isinstance(exc, sa_exc.DBAPIError) and _database_unavailable(exc):
            return "db"
        if isinstance(exc, sa_exc.TimeoutError):  # no connection free in the pool
            return "db"
        exc = exc.__cause__ or exc.__context__
    return None


def _database_unavailable(exc):
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        return str(exc.orig).lower().startswith(_SQLITE_UNAVAILABLE)
    return True


def describe(exc):
    """One short line for the log: the driver's own error, without SQL or traceback."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    return f"{type(orig).__name__}: {text[:200]}" if text else type(orig).__name__


class _Outage:
    def __init__(self, name):
        self.name = name
        self.guard = threading.Lock()
        self.down_since = None  # time.monotonic() of the first failure, None while fine
        self.failures = 0
        self.logged_at = 0.0


_OUTAGES = {name: _Outage(name) for name in DEPENDENCIES}


def failed(dependency, exc, where):
    """Count a failure caused by `dependency` ('db' or 'redis'); log it when it is the
    first of an outage, or the first after REPEAT_EVERY seconds of silence."""
    outage = _OUTAGES[dependency]
    now = time.monotonic()
    with outage.guard:
        first = outage.down_since is None
        if first:
            outage.down_since, outage.failures = now, 0
        outage.failures += 1
        if not first and now - outage.logged_at < REPEAT_EVERY:
            return
        outage.logged_at = now
        down_for, failures = now - outage.down_since, outage.failures
    if first:
        log.warning('outage=%s state=unavailable where="%s" error="%s"', dependency, where, describe(exc))
    else:
        log.warning('outage=%s state=still_unavailable for=%.0fs failures=%s where="%s"',
                    dependency, down_for, failures, where)


def answered(dependency):
    """`dependency` just answered: if it was down, say it is back (once)."""
    outage = _OUTAGES[dependency]
    if outage.down_since is None:  # the common case: no lock, nothing to do
        return
    with outage.guard:
        if outage.down_since is None:
            return
        down_for, failures = time.monotonic() - outage.down_since, outage.failures
        outage.down_since, outage.failures = None, 0
    log.warning("outage=%s state=back after=%.1fs failures=%s", dependency, down_for, failures)


def is_down(dependency):
    return _OUTAGES[dependency].down_since is not None


def report(exc, where):
    """`failed` for whichever dependency `exc` blames; returns it (None: not an outage)."""
    dependency = cause(exc)
    if dependency is not None:
        failed(dependency, exc, where)
    return dependency


@event.listens_for(Pool, "checkout")
def _database_answered(dbapi_connection, connection_record, connection_proxy):
    # A checkout succeeds only with a live connection (pool_pre_ping): the database is up.
    answered("db")


class OutageFilter(logging.Filter):
    """For loggers of libraries (RQ) that log a full traceback for every failure: a record
    logged while handling an outage becomes a count in this module instead."""

    def __init__(self, where):
        super().__init__()
        self.where = where

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
        if exc is None or record.levelno < logging.WARNING:
            return True
        return report(exc, self.where) is None
