"""fulfil: one console to fulfil Ozon, Walmart and Wish orders."""
import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from fulfil.extensions import csrf, db, login_manager, migrate
from fulfil.secret_key import configure_secret_key


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    if test_config is None:
        app.config.from_object("config.Config")
    elif isinstance(test_config, dict):
        app.config.from_object("config.TestConfig")
        app.config.update(test_config)
    else:
        app.config.from_object(test_config)
    configure_secret_key(app)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    _make_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"])

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)

    from fulfil import admin, auth, cli, errors, health, inputs, orders, sync, supervisor, bulk, templating
    from fulfil import catalogue, floor
    from fulfil.auth import throttle
    from fulfil.mcf.routes import bp as mcf_bp
    from fulfil.security import headers
    from fulfil.accounts.routes import bp as accounts_bp

    inputs.init_app(app)
    headers.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    throttle.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(sync.bp)
    app.register_blueprint(supervisor.bp)
    app.register_blueprint(bulk.bp)
    app.register_blueprint(catalogue.bp)
    app.register_blueprint(floor.bp)
    app.register_blueprint(mcf_bp)
    app.register_blueprint(accounts_bp)
    return app


# How long a SQLite connection waits for another one's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 15_000


def _is_sqlite(dbapi_connection):
    return type(dbapi_connection).__module__.startswith("sqlite3")


def _make_sqlite_folder(url):
    """A SQLite file database's folder (instance/ by default) is made when an app is."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets the web app read while a worker writes; busy_timeout waits instead of failing
    (set first, so that even switching to WAL waits for a lock)."""
    if _is_sqlite(dbapi_connection):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_takes_the_write_lock(conn, name):
    """A savepoint outside a transaction would open a deferred one: its first SELECT takes a
    read snapshot, and the write that follows cannot wait for a busy writer (SQLite answers
    "database is locked" at once rather than risk a deadlock, busy_timeout or not). The
    importer, bulk apply and batch actions all write in savepoints, so such a transaction
    starts with BEGIN IMMEDIATE instead: it waits for the write lock up front, where the
    busy timeout applies. (Plain transactions need nothing: pysqlite begins them at their
    first write, which waits too.)"""
    dbapi_connection = conn.connection.dbapi_connection
    if _is_sqlite(dbapi_connection) and not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")
