"""/healthz: a stranger learns ok or degraded; a signed-in admin learns what is wrong."""
import pytest
from rq import Queue

from fulfil.extensions import db
from fulfil.models import OutboxEntry
from fulfil.redis_conn import get_redis
from tests.conftest import make_order


def test_anonymous_callers_get_only_the_status(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("role", ["warehouse", "seller", "supervisor"])
def test_staff_who_are_not_admins_get_only_the_status(app, client, auth, role):
    auth.login(role)
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_admins_get_each_check_the_outbox_and_the_queues(app, client, auth):
    with app.app_context():
        order = make_order("walmart")
        db.session.add(OutboxEntry(order=order, account=order.account, action="acknowledge",
                                   payload={}, idempotency_key="health-1"))
        db.session.commit()
    redis = get_redis(app)
    ours = Queue(app.config["RQ_QUEUE_PREFIX"] + "-healthtest", connection=redis)
    theirs = Queue("another-app-healthtest", connection=redis)
    for queue in (ours, theirs):
        queue.enqueue("os.getcwd")
    try:
        auth.login("admin")
        answer = client.get("/healthz").get_json()
    finally:
        ours.delete(delete_jobs=True)
        theirs.delete(delete_jobs=True)
    backend = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0].split("+")[0]
    assert answer["status"] == "ok"
    assert answer["checks"] == {"database": {"ok": True, "backend": backend}, "redis": {"ok": True}}
    assert answer["outbox"] == {"pending": 1}
    assert answer["queues"][ours.name] == 1
    assert theirs.name not in answer["queues"]


def test_redis_down_is_degraded_for_all_and_explained_to_admins(app, client, auth, monkeypatch):
    import redis

    from fulfil import health

    def unreachable():
        raise redis.ConnectionError("refused")

    auth.login("admin")
    monkeypatch.setattr(health, "get_redis", lambda: type("Down", (), {"ping": staticmethod(unreachable)})())
    answer = client.get("/healthz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert "queues" not in body
    client.post("/logout")
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 503
    assert anonymous.get_json() == {"status": "degraded"}
