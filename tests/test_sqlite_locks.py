"""SQLite waits for another writer instead of answering "database is locked".

The web app, the workers and the importer share one SQLite file on a laptop. A write in
a savepoint (the importer's per-order upsert, bulk apply, batch actions) used to open a
deferred transaction whose read snapshot could not be upgraded while another connection
wrote: SQLite refused at once, whatever the busy timeout.
"""
import sqlite3
import threading

import pytest

from fulfil import SQLITE_BUSY_TIMEOUT_MS, create_app
from fulfil.extensions import db
from fulfil.models import User


@pytest.fixture
def sqlite_app(tmp_path):
    path = tmp_path / "locks.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    app.config["DB_PATH"] = str(path)
    with app.app_context():
        db.create_all()
        add_user("first")
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def add_user(name):
    db.session.add(User(username=name, role="warehouse", display_name=name, password_hash="x"))


def test_every_connection_waits_for_locks(sqlite_app):
    with sqlite_app.app_context():
        waits = db.session.execute(db.text("PRAGMA busy_timeout")).scalar()
        journal = db.session.execute(db.text("PRAGMA journal_mode")).scalar()
    assert waits == SQLITE_BUSY_TIMEOUT_MS >= 10_000
    assert journal == "wal"


def test_a_savepoint_takes_the_write_lock_before_it_reads(sqlite_app):
    other = sqlite3.connect(sqlite_app.config["DB_PATH"], timeout=0, isolation_level=None)
    with sqlite_app.app_context():
        with db.session.begin_nested():
            db.session.scalar(db.select(User).where(User.username == "first"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # the write lock is ours already
            add_user("second")
        db.session.commit()
    other.execute("BEGIN IMMEDIATE")  # and free again after the commit
    other.execute("ROLLBACK")
    other.close()


def test_a_write_in_a_savepoint_waits_for_another_writer(sqlite_app):
    """The failure as it happened: read in a savepoint, another process writes, then ours."""
    errors = []

    def other_writer():
        try:
            with sqlite_app.app_context():
                add_user("other")
                db.session.commit()
        except Exception as exc:  # reported below: a thread's exception would vanish
            errors.append(exc)

    with sqlite_app.app_context():
        with db.session.begin_nested():
            db.session.scalar(db.select(User).where(User.username == "first"))
            writer = threading.Thread(target=other_writer)
            writer.start()
            writer.join(1.0)  # give it the chance to write between our read and our write
            add_user("ours")
            db.session.flush()
        db.session.commit()
        writer.join()
        names = set(db.session.scalars(db.select(User.username)))
    assert not errors
    assert names == {"first", "other", "ours"}
