"""What every job needs: the Flask app (built once per worker process), queue names and
the Redis-backed token cache that lets workers share marketplace access tokens."""
import json
from contextlib import contextmanager
from functools import lru_cache

from fulfil.redis_conn import get_redis


@lru_cache(maxsize=1)
def _app():
    from fulfil import create_app
    return create_app()


@contextmanager
def app_context(app=None):
    """Enter the app context (reusing the current one inside tests or the web app)."""
    from flask import current_app, has_app_context

    if has_app_context():
        yield current_app._get_current_object()
        return
    app = app or _app()
    with app.app_context():
        yield app


def queue_name(app, name):
    return f"{app.config['RQ_QUEUE_PREFIX']}-{name}"


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
