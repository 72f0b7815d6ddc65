"""Failed sign-ins are throttled per user name and per address (Flask-Limiter, app's Redis).

Only failures count. A view that turns a password down calls `count_failure()`, and
Flask-Limiter deducts once the answer is made (`deduct_when`); before every attempt it tests
both limits, so a locked name or address is answered 429 — even with the right password —
until the moving window lets the oldest failure go. Sign-in and "change my password" share
the counters: a stolen session cannot guess the current password faster than a sign-in form.
"""
import logging
import math
import time

from flask import current_app, g, render_template, request
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user

from fulfil.extensions import limiter
from fulfil.redis_conn import get_redis

log = logging.getLogger(__name__)
NAME, ADDRESS = "name", "address"
WHAT = {NAME: "user name", ADDRESS: "address"}


def _name_key():
    name = current_user.username if current_user.is_authenticated else request.form.get("username", "")
    return f"{NAME}:{name.strip()[:80]}"


def _address_key():
    return f"{ADDRESS}:{get_remote_address() or 'unknown'}"


def _failed(response):
    return g.get("sign_in_failed", False)


def _refused(request_limit):
    log.warning('auth=refused key="%s" limit="%s"', request_limit.key, request_limit.limit)


def _setting(name):
    return lambda: current_app.config[name]


def throttled(view):
    """Test both limits before the view runs; deduct from both when it counted a failure."""
    for scope, setting, key_func in (("sign-in-name", "SIGNIN_LIMIT_PER_NAME", _name_key),
                                     ("sign-in-address", "SIGNIN_LIMIT_PER_ADDRESS", _address_key)):
        view = limiter.shared_limit(_setting(setting), scope=scope, key_func=key_func, methods=["POST"],
                                    deduct_when=_failed, on_breach=_refused)(view)
    return view


def count_failure():
    """Count this request's failure; return [(what, key, minutes)] for each limit it locks."""
    g.sign_in_failed = True
    locking = []
    for request_limit in limiter.current_limits:
        # Tested, not yet deducted: with one attempt left, this failure is the one that locks.
        if request_limit.remaining <= 1:
            what, _, key = request_limit.request_args[0].partition(":")
            locking.append((WHAT.get(what, what), key, math.ceil(request_limit.limit.get_expiry() / 60)))
    return locking


def minutes_left():
    current = limiter.current_limit
    seconds = current.reset_at - time.time() if current else 60
    return max(1, math.ceil(seconds / 60))


def too_many_attempts(exc):
    minutes = minutes_left()
    message = f"Too many attempts — try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return (render_template("auth/too_many.html", message=message), 429,
            {"Retry-After": str(minutes * 60)})


def init_app(app):
    """Count in the app's own Redis (the same connection, timeouts and fallback as the queues),
    under a prefix of this installation's."""
    app.config["RATELIMIT_STORAGE_URI"] = "redis://"
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"connection_pool": get_redis(app).connection_pool,
                                               "key_prefix": app.config["RQ_QUEUE_PREFIX"] + "-limits"}
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_attempts)
