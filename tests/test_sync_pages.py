"""The live sync fragment of an order and the Sync problems page."""
from datetime import timedelta

import pytest
from rq import Queue

from fulfil.extensions import db
from fulfil.jobs import queue_name
from fulfil.models import ImportProblem, OutboxEntry
from fulfil.outbox import record, refresh_sync_state
from fulfil.redis_conn import get_redis
from fulfil.timeutil import utcnow
from tests.conftest import make_order

HTMX = {"HX-Request": "true"}


def add(order, action, state="pending", **fields):
    entry = record(order, action, {"external_id": order.external_id, "tracking_number": fields.pop("tracking", None)}
                   if "tracking" in fields else {"external_id": order.external_id})
    entry.state = state
    for name, value in fields.items():
        setattr(entry, name, value)
    db.session.flush()
    return entry.id


def state_of(app, entry_id):
    with app.app_context():
        return db.session.get(OutboxEntry, entry_id).state


def queued(app):
    with app.app_context():
        return set(Queue(queue_name(app, "push"), connection=get_redis(app)).job_ids)


@pytest.fixture
def order_with(app):
    """Make an order with outbox entries in the given states; returns (order id, entry ids)."""
    def make(*entries):
        with app.app_context():
            order = make_order("walmart", external_id="PO-1001")
            ids = [add(order, action, state, **fields) for action, state, fields in entries]
            refresh_sync_state(order)  # as the push job leaves it
            db.session.commit()
            return order.id, ids
    return make


def test_fragment_polls_while_a_change_is_moving(client, auth, order_with):
    order_id, _ = order_with(("acknowledge", "confirmed", {"confirmed_at": utcnow()}),
                             ("ship", "sending", {"tracking": "1Z999AA10123456784", "attempts": 1}))
    auth.login()
    page = client.get(f"/sync/orders/{order_id}", headers=HTMX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in page and 'hx-swap="outerHTML"' in page
    assert "confirmed by Walmart at" in page
    assert "Ship · 1Z999AA10123456784" in page and "sending to Walmart" in page


def test_fragment_stops_polling_when_all_is_confirmed_or_failed(client, auth, order_with):
    order_id, _ = order_with(("acknowledge", "confirmed", {"confirmed_at": utcnow()}),
                             ("cancel", "failed", {"last_error": "Order <b>is</b> already shipped",
                                                   "error_kind": "permanent", "attempts": 1}))
    auth.login()
    page = client.get(f"/sync/orders/{order_id}", headers=HTMX).get_data(as_text=True)
    assert "hx-trigger" not in page
    assert "Walmart says: <q>Order &lt;b&gt;is&lt;/b&gt; already shipped</q>" in page
    assert "Retry</button>" in page


def test_fragment_shows_changes_held_behind_a_failure_without_polling(client, auth, order_with):
    order_id, _ = order_with(("acknowledge", "failed", {"last_error": "Unauthorized"}), ("ship", "pending", {}))
    auth.login()
    page = client.get(f"/sync/orders/{order_id}", headers=HTMX).get_data(as_text=True)
    assert "waiting for the failed change above" in page and "hx-trigger" not in page


def test_fragment_says_when_a_retry_comes(client, auth, order_with):
    order_id, _ = order_with(("acknowledge", "pending", {
        "attempts": 2, "error_kind": "retryable", "last_error": "Service Unavailable",
        "next_attempt_at": utcnow() + timedelta(seconds=30)}))
    auth.login()
    page = client.get(f"/sync/orders/{order_id}", headers=HTMX).get_data(as_text=True)
    assert "will try again in 30 s" in page or "will try again in 29 s" in page
    assert "attempt 2: Service Unavailable" in page


def test_retry_from_the_order_resends_and_polls_again(app, client, auth, order_with, clean_redis):
    order_id, (failed,) = order_with(("acknowledge", "failed", {"last_error": "Unauthorized", "attempts": 1}))
    auth.login("warehouse")
    page = client.post(f"/sync/entries/{failed}/retry", data={"back": "order"}, headers=HTMX).get_data(as_text=True)
    assert state_of(app, failed) == "pending"
    assert 'hx-trigger="every 1s"' in page and 'id="order-sync-' in page
    assert queued(app) == {f"push-{failed}"}
    # Without HTMX: back to the order page.
    response = client.post(f"/sync/entries/{failed}/retry", data={"back": "order"})
    assert response.status_code == 303 and response.location.endswith(f"/orders/{order_id}")


def test_problems_page_lists_failures_retries_and_import_problems(app, client, auth, order_with):
    order_with(("acknowledge", "failed", {"last_error": "INVALID_REQUEST_CONTENT", "attempts": 1}),
               ("ship", "pending", {"tracking": "1Z999AA10123456784"}))
    with app.app_context():
        other = make_order("walmart", external_id="PO-2002")
        add(other, "acknowledge", "pending", attempts=5, last_error="Service Unavailable", error_kind="retryable")
        db.session.add(ImportProblem(account_id=other.account_id, external_id="PO-3003",
                                     error="Could not read this order: KeyError('orderLines')"))
        db.session.commit()
    auth.login("warehouse")
    page = client.get("/sync/problems").get_data(as_text=True)
    assert "PO-1001" in page and "INVALID_REQUEST_CONTENT" in page and "Acknowledge" in page
    assert "Still retrying" in page and "PO-2002" in page and "Service Unavailable" in page
    assert "PO-3003" in page and "KeyError" in page
    assert "Retry all" not in page  # supervisors only


def test_retry_one_from_the_problems_page(app, client, auth, order_with, clean_redis):
    _, (failed,) = order_with(("acknowledge", "failed", {"last_error": "Unauthorized"}))
    auth.login("warehouse")
    page = client.post(f"/sync/entries/{failed}/retry", data={"back": "problems"}, headers=HTMX).get_data(as_text=True)
    assert 'id="sync-problems"' in page and "Acknowledge: sending again." in page
    assert state_of(app, failed) == "pending"
    response = client.post(f"/sync/entries/{failed}/retry", data={"back": "problems"})
    assert response.status_code == 303 and response.location.endswith("/sync/problems")


def test_retry_all_is_for_supervisors(app, client, auth, order_with, clean_redis):
    _, ids = order_with(("acknowledge", "failed", {"last_error": "x"}), ("ship", "failed", {"last_error": "y"}))
    auth.login("warehouse")
    assert client.post("/sync/problems/retry-all").status_code == 403
    auth.logout()
    auth.login("supervisor")
    page = client.get("/sync/problems").get_data(as_text=True)
    assert "Retry all 2" in page
    page = client.post("/sync/problems/retry-all", headers=HTMX).get_data(as_text=True)
    assert "2 failed changes: sending again." in page
    assert [state_of(app, i) for i in ids] == ["pending", "pending"]


def test_sync_pages_need_a_login_and_csrf(app, client, auth, order_with):
    order_id, (failed,) = order_with(("acknowledge", "failed", {"last_error": "x"}))
    assert client.get(f"/sync/orders/{order_id}").status_code == 302
    assert client.get("/sync/problems").status_code == 302
    auth.login()
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/sync/entries/{failed}/retry", data={"back": "order"}).status_code == 400
    assert state_of(app, failed) == "failed"
    assert client.get("/sync/orders/999999", headers=HTMX).status_code == 404


def test_a_refusal_reaches_the_top_of_the_order_page_and_the_header_follows(client, auth, order_with):
    order_id, _ = order_with(("ship", "failed", {"last_error": "Order line 1 cannot ship 1: it is 1 Cancelled",
                                                 "error_kind": "permanent", "attempts": 1}))
    auth.login("warehouse")
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert f'<div id="order-alert-{order_id}" class="order-alert"></div>' in page  # filled by the fragment
    fragment = client.get(f"/sync/orders/{order_id}", headers=HTMX).get_data(as_text=True)
    alert = fragment[fragment.index(f'id="order-alert-{order_id}"'):]
    assert 'hx-swap-oob="true"' in alert and 'role="alert"' in alert
    assert "refused “Ship”: Order line 1 cannot ship 1: it is 1 Cancelled — nothing changed at" in alert
    assert "Sync problems" not in alert  # a warehouse worker cannot open that page: not offered
    header = fragment[fragment.index(f'id="order-state-{order_id}"'):]
    assert 'hx-swap-oob="true"' in header and "sync failed" in header


def test_a_cancellation_refusal_says_what_to_do_in_the_marketplaces_words(client, auth, order_with):
    words = "Walmart: the order was cancelled — do not deliver. Recall the parcel from the carrier."
    order_id, _ = order_with(("ship", "failed", {"last_error": words, "error_kind": "cancelled", "attempts": 1}))
    auth.login("seller")
    fragment = client.get(f"/sync/orders/{order_id}", headers=HTMX).get_data(as_text=True)
    alert = fragment[fragment.index(f'id="order-alert-{order_id}"'):]
    assert words in alert and "refused" not in alert


def test_nothing_failed_means_an_empty_alert(client, auth, order_with):
    order_id, _ = order_with(("ship", "confirmed", {}))
    auth.login("warehouse")
    fragment = client.get(f"/sync/orders/{order_id}", headers=HTMX).get_data(as_text=True)
    alert = fragment[fragment.index(f'id="order-alert-{order_id}"'):]
    assert "data-refusal" not in alert
