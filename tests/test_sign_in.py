"""Sign-in: failed attempts are throttled per user name and per address (in the test
Redis), recorded with lock-outs in the audit; unknown names cost a password check; sign-in
starts a new session; sign-out and a password change end the user's sessions everywhere."""
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from werkzeug.security import check_password_hash

from fulfil import create_app
from fulfil.auth import accounts
from fulfil.auth.models import AuthEvent
from fulfil.extensions import db, limiter
from fulfil.models import User
from tests.conftest import PASSWORD, AuthActions

WRONG = "not-the-password"


def attempt(client, username, password=WRONG, address="127.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def events(app, kind=None):
    with app.app_context():
        query = db.select(AuthEvent).order_by(AuthEvent.id)
        if kind:
            query = query.where(AuthEvent.kind == kind)
        return [(e.kind, e.username, e.address, e.detail) for e in db.session.scalars(query)]


def test_thirty_wrong_passwords_meet_a_429_that_says_how_long(app, client, users):
    statuses = [attempt(client, "admin").status_code for _ in range(30)]
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}
    refused = attempt(client, "admin", PASSWORD)  # even the right password, while locked
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    minutes = int(re.search(r"Too many attempts — try again in (\d+) minutes?\.", page).group(1))
    assert 1 <= minutes <= 15 and int(refused.headers["Retry-After"]) == minutes * 60
    assert len(events(app, "failed")) == 10  # refused attempts never reach the password check
    assert events(app, "locked_out") == [("locked_out", "admin", "127.0.0.1",
                                          "user name admin locked for 15 minutes")]
    assert attempt(client, "seller", PASSWORD).status_code == 302  # another name from here still may


def test_many_names_from_one_address_lock_the_address_only(app, client, users):
    for number in range(20):
        assert attempt(client, f"nobody{number}", address="192.0.2.7").status_code == 200
    assert attempt(client, "warehouse", PASSWORD, address="192.0.2.7").status_code == 429
    assert attempt(client, "warehouse", PASSWORD, address="192.0.2.8").status_code == 302
    assert ("locked_out", "nobody19", "192.0.2.7", "address 192.0.2.7 locked for 15 minutes") in events(app)


def test_one_name_from_many_addresses_locks_the_name(app, client, users):
    for number in range(10):
        attempt(client, "supervisor", address=f"198.51.100.{number}")
    assert attempt(client, "supervisor", PASSWORD, address="198.51.100.200").status_code == 429


def test_successful_sign_ins_do_not_count(app, client, users):
    auth = AuthActions(client)
    for _ in range(12):
        assert auth.login("seller").status_code == 302
        auth.logout()
    assert attempt(client, "seller", PASSWORD).status_code == 302
    assert len(events(app, "signed_in")) == 13 and len(events(app, "signed_out")) == 12


def test_counting_lives_in_redis_shared_by_every_app(app, client, users):
    for _ in range(10):
        attempt(client, "admin")
    # A second web process (another app on the same Redis) sees the lock at once.
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "REDIS_URL": app.config["REDIS_URL"], "WTF_CSRF_ENABLED": False})
    assert attempt(other.test_client(), "admin", PASSWORD).status_code == 429
    with other.app_context():
        db.engine.dispose()


def test_with_redis_down_sign_in_works_and_is_still_throttled(app, users, monkeypatch):
    monkeypatch.setattr(limiter, "_storage_dead", limiter._storage_dead)  # put back after the test
    down = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "_RESOLVED_REDIS_URL": "redis://127.0.0.1:1/0", "WTF_CSRF_ENABLED": False})
    client = down.test_client()
    assert attempt(client, "seller", PASSWORD).status_code == 302
    statuses = [attempt(down.test_client(), "admin").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    with down.app_context():
        db.engine.dispose()


def test_unknown_names_cost_a_password_check_like_wrong_passwords(app, client, users, monkeypatch):
    checked = []

    def spy(pwhash, password):
        checked.append(pwhash.split("$", 1)[0])  # the method and its cost, e.g. scrypt:32768:8:1
        return check_password_hash(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", spy)
    monkeypatch.setattr(User, "check_password", lambda self, password: spy(self.password_hash, password))
    attempt(client, "no-such-person")
    attempt(client, "admin")
    assert len(checked) == 2 and checked[0] == checked[1]
    assert [e[3] for e in events(app, "failed")] == ["unknown user name", "wrong password"]


def test_sign_in_starts_a_new_session(app, client, users):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["csrf_token"] = "known-to-the-attacker"
    AuthActions(client).login("seller")
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("csrf_token") != "known-to-the-attacker"
        assert session["_user_id"]


def test_hostile_session_ids_sign_nobody_in(app, client, users):
    for user_id in ("1", "not-a-token", "a" * 31 + "\x00", "0" * 32, ["list"]):
        with client.session_transaction() as session:
            session["_user_id"] = user_id
        response = client.get("/")
        assert response.status_code == 302 and "/login" in response.headers["Location"], user_id


def _signed_in(app, username, remember=False):
    client = app.test_client()
    data = {"username": username, "password": PASSWORD, **({"remember": "y"} if remember else {})}
    assert client.post("/login", data=data).status_code == 302
    return client


def _remember_only(app, client):
    """A client holding only `client`'s remember-me cookie (its session long expired)."""
    other = app.test_client()
    other.set_cookie("remember_token", client.get_cookie("remember_token").value)
    return other


def is_signed_in(client):
    return client.get("/").status_code == 200


def test_signing_out_ends_the_users_sessions_on_every_device(app, users):
    tablet, desk = _signed_in(app, "seller"), _signed_in(app, "seller", remember=True)
    kept_cookie = _remember_only(app, desk)
    supervisor = _signed_in(app, "supervisor")
    assert is_signed_in(desk) and is_signed_in(kept_cookie)
    tablet.post("/logout")
    assert not is_signed_in(tablet) and not is_signed_in(desk) and not is_signed_in(kept_cookie)
    assert is_signed_in(supervisor)  # other people stay signed in


def test_changing_my_password_ends_my_other_sessions_and_keeps_this_one(app, users):
    here, elsewhere = _signed_in(app, "warehouse"), _signed_in(app, "warehouse", remember=True)
    kept_cookie = _remember_only(app, elsewhere)
    response = here.post("/account/password", data={"current": PASSWORD, "password": "a-new-long-pass",
                                                     "confirm": "a-new-long-pass"})
    assert response.status_code == 303
    assert is_signed_in(here) and not is_signed_in(elsewhere) and not is_signed_in(kept_cookie)
    assert attempt(app.test_client(), "warehouse", PASSWORD).status_code == 200  # old one refused
    assert attempt(app.test_client(), "warehouse", "a-new-long-pass").status_code == 302
    assert events(app, "password_changed")[0][:2] == ("password_changed", "warehouse")


@pytest.mark.parametrize("form, message", [
    ({"current": WRONG, "password": "a-new-long-pass", "confirm": "a-new-long-pass"},
     "The current password is not right."),
    ({"current": PASSWORD, "password": "short", "confirm": "short"}, "A password needs 10 to 200 characters."),
    ({"current": PASSWORD, "password": "a-new-long-pass", "confirm": "another-one-here"}, "The two passwords differ."),
    ({"current": PASSWORD, "password": "Warehouse ", "confirm": "Warehouse "},
     "A password must not be the user name."),
    ({"current": PASSWORD, "password": "warehouse1", "confirm": "warehouse1"}, None),
])
def test_change_password_refuses_bad_input_and_saves_nothing(app, users, form, message):
    client = _signed_in(app, "warehouse")
    response = client.post("/account/password", data=form)
    if message is None:
        assert response.status_code == 303
        return
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert is_signed_in(client)
    assert attempt(app.test_client(), "warehouse", PASSWORD).status_code == 302


def test_wrong_current_passwords_count_towards_the_lock(app, users):
    client = _signed_in(app, "warehouse")
    for _ in range(10):
        client.post("/account/password", data={"current": WRONG, "password": "a-new-long-pass",
                                                "confirm": "a-new-long-pass"})
    assert client.post("/account/password", data={"current": PASSWORD}).status_code == 429
    assert attempt(app.test_client(), "warehouse", PASSWORD, address="192.0.2.50").status_code == 429


def test_the_audit_list_is_for_admins(app, client, users):
    attempt(client, "no-such-person")
    admin = _signed_in(app, "admin")
    page = admin.get("/admin/sign-ins").get_data(as_text=True)
    assert "Sign-in failed" in page and "no-such-person" in page and "unknown user name" in page
    assert "Signed in" in page
    only = admin.get("/admin/sign-ins?user=no-such-person").get_data(as_text=True)
    assert "no-such-person" in only and "Signed in" not in only
    assert _signed_in(app, "supervisor").get("/admin/sign-ins").status_code == 403
    for before in ("x", "-1", "99999999999999999999", "１"):
        assert admin.get(f"/admin/sign-ins?before={before}").status_code == 400


def test_the_audit_list_pages_back(app, client, users):
    with app.app_context():
        for number in range(105):
            accounts.record("failed", username=f"name{number:03d}", detail="wrong password")
        db.session.commit()
    admin = _signed_in(app, "admin")
    first = admin.get("/admin/sign-ins").get_data(as_text=True)
    assert "name104" in first and "name005" not in first
    older = re.search(r'href="(/admin/sign-ins\?before=\d+)"', first).group(1)
    rest = admin.get(older).get_data(as_text=True)
    assert "name000" in rest and "name005" in rest and "name104" not in rest


def test_a_nul_in_the_name_is_refused_before_sign_in_on_every_database(app, client, users):
    response = attempt(client, "adm\x00in")  # no name holds a NUL: refused with every other NUL (fulfil.inputs)
    assert response.status_code == 400 and "NUL character" in response.text
    assert attempt(client, "admin", "wrong").status_code == 200  # the sign-in page still answers


def test_the_migration_gives_existing_users_tokens_of_their_own(tmp_path):
    url = "sqlite:///" + str(tmp_path / "old.sqlite3")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="0006_floor")
        engine = create_engine(url)
        with engine.begin() as conn:
            for name in ("old1", "old2"):
                conn.execute(text("INSERT INTO users (username, display_name, password_hash, role, active, "
                                  "created_at) VALUES (:n, '', 'x', 'seller', 1, '2026-01-01')"), {"n": name})
        upgrade()
        with engine.connect() as conn:
            tokens = conn.execute(text("SELECT session_token FROM users")).scalars().all()
        engine.dispose()
        db.engine.dispose()
    assert len(set(tokens)) == 2 and all(re.fullmatch("[0-9a-f]{32}", t) for t in tokens)
