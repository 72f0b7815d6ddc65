"""fulfil: one console to fulfil Ozon, Walmart and Wish orders."""
import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from fulfil.extensions import csrf, db, login_manager, migrate


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    if test_config is None:
        app.config.from_object("config.Config")
    elif isinstance(test_config, dict):
        app.config.from_object("config.TestConfig")
        app.config.update(test_config)
    else:
        app.config.from_object(test_config)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    _make_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"])

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)

    from fulfil import auth, cli, errors, health, orders, sync, supervisor, bulk, templating
    from fulfil import catalogue, floor
    from fulfil.mcf.routes import bp as mcf_bp

    templating.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(sync.bp)
    app.register_blueprint(supervisor.bp)
    app.register_blueprint(bulk.bp)
    app.register_blueprint(catalogue.bp)
    app.register_blueprint(floor.bp)
    app.register_blueprint(mcf_bp)
    return app


def _make_sqlite_folder(url):
    """A SQLite file database's folder (instance/ by default) is made when an app is."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets the web app read while a worker writes; busy_timeout waits instead of failing."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()
