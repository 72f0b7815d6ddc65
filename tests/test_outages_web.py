"""What a person sees while the database or Redis is not answering (in-process faults).

The real thing — PostgreSQL and Redis stopped under the running app and workers — is in
tests/test_outages_fault.py; here each failure is made at one precise point.
"""
import logging

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from fulfil import outages
from fulfil.extensions import db, login_manager
from fulfil.models import Order, OutboxEntry
from fulfil.orders import routes
from tests.test_orders_actions import HTMX, fields, load, new_order, post


def database_down(*args, **kwargs):
    raise OperationalError("SELECT 1", {}, psycopg.OperationalError(
        "connection failed: connection to server at 127.0.0.1, port 5432 failed: Connection refused"))


@pytest.fixture(autouse=True)
def no_outage_left_over():
    """Each test starts with every dependency answering (the tracker is per process)."""
    for name in outages.DEPENDENCIES:
        outages.answered(name)
    yield
    for name in outages.DEPENDENCIES:
        outages.answered(name)


def test_a_save_while_the_database_is_down_keeps_the_row_and_says_nothing_was_saved(client, auth, app,
                                                                                    monkeypatch):
    order_id = new_order(app)
    auth.login()
    monkeypatch.setattr(login_manager, "_user_callback", database_down)
    response = post(client, order_id, "acknowledge", fields(order_id))
    assert response.status_code == 503
    assert response.headers["HX-Retarget"] == "#flash"
    assert "The database is not answering — your change was not saved. Try again in a moment." in response.text
    assert "order-row" not in response.text and "Reload" in response.text
    monkeypatch.undo()
    assert load(app, order_id).status == "new"


def test_a_page_while_the_database_is_down_is_plain_with_navigation(client, auth, app, monkeypatch):
    auth.login()
    monkeypatch.setattr(login_manager, "_user_callback", database_down)
    response = client.get("/")
    assert response.status_code == 503
    assert response.text.startswith("<!doctype html>")
    assert "The database is not answering — this could not be shown." in response.text
    for link in ('href="/"', 'href="/bulk', 'href="/sync'):
        assert link in response.text


def test_an_error_page_whose_template_needs_the_database_falls_back_to_the_static_one(client, auth, app,
                                                                                     monkeypatch):
    """A 404 draws error.html, whose header loads the signed-in user: with the database
    gone that fails too, and the plain page answers instead of a bare server error."""
    auth.login()
    monkeypatch.setattr(login_manager, "_user_callback", database_down)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.text and 'href="/bulk' in response.text


def test_a_committed_change_is_reported_saved_when_drawing_the_row_fails(client, auth, app, monkeypatch):
    order_id = new_order(app)
    auth.login()
    monkeypatch.setattr(routes, "_container", database_down)
    response = post(client, order_id, "acknowledge", fields(order_id))
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#flash"
    assert "Your change was saved, but the result could not be shown: the database stopped answering." \
        in response.text
    assert "Reload" in response.text and 'href="/"' in response.text
    assert load(app, order_id).status == "to_pack"


def test_a_commit_that_fails_midway_says_the_outcome_is_unknown(client, auth, app, monkeypatch):
    order_id = new_order(app)
    auth.login()
    with app.app_context():
        monkeypatch.setattr(db.engine.dialect, "do_commit", database_down)
    response = post(client, order_id, "acknowledge", fields(order_id))
    assert response.status_code == 503
    assert "The database is not answering while your change was being saved: it may or may not have " \
           "been saved. Reload to check before doing it again." in response.text


def test_a_save_while_redis_is_down_is_saved_and_its_push_waits_in_the_outbox(client, auth, app, caplog):
    """Enqueuing after the commit fails: the change is saved all the same (the reconciler
    enqueues it once Redis is back), and the log says so once, not once per save."""
    app.config.update(OUTBOX_ENQUEUE=True, _RESOLVED_REDIS_URL="redis://127.0.0.1:1/0")
    order_ids = [new_order(app) for _ in range(3)]
    auth.login()
    caplog.set_level(logging.INFO)
    for order_id in order_ids:
        response = post(client, order_id, "acknowledge", fields(order_id))
        assert response.status_code == 200
        assert "Acknowledge: saved." in response.text
    with app.app_context():
        pending = db.session.scalars(db.select(OutboxEntry.state)).all()
        assert pending == ["pending"] * 3
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)
                                 .where(Order.status == "to_pack")) == 3
    lines = [r.getMessage() for r in caplog.records if "outage=redis" in r.getMessage()]
    assert len(lines) == 1 and "state=unavailable" in lines[0], lines
    assert not any(r.exc_info for r in caplog.records)


def test_the_log_names_a_database_outage_once_and_says_when_it_is_back(client, auth, app, monkeypatch, caplog):
    order_id = new_order(app)
    auth.login()
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(login_manager, "_user_callback", database_down)
    for _ in range(5):
        assert post(client, order_id, "acknowledge", fields(order_id)).status_code == 503
    monkeypatch.undo()
    assert client.get(f"/orders/{order_id}", headers=HTMX).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("fulfil")]
    assert [line.split()[1] for line in lines] == ["state=unavailable", "state=back"], lines
    assert 'where="POST /orders/' in lines[0] and "Connection refused" in lines[0]
    assert "failures=5" in lines[1]
    assert not any(r.exc_info for r in caplog.records)


def test_a_bug_still_logs_its_traceback(client, auth, app, monkeypatch, caplog):
    order_id = new_order(app)
    auth.login()
    monkeypatch.setattr(routes, "_container", lambda *a, **k: 1 / 0)
    response = client.get(f"/orders/{order_id}", headers=HTMX)
    assert response.status_code == 500
    assert "Something went wrong on our side. Nothing was saved; try again." in response.text
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


@pytest.mark.parametrize("message, blamed", [
    ("database is locked", "db"),
    ("no such table: orders", None),
])
def test_sqlite_trouble_is_an_outage_but_a_missing_table_is_a_bug(message, blamed):
    import sqlite3

    assert outages.cause(OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))) == blamed
