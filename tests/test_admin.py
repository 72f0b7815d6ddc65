"""Admins manage people in the browser: create users, set roles, reset passwords,
deactivate and reactivate. Each change ends the person's sessions everywhere and is audited;
refused input saves nothing."""
import pytest

from fulfil.auth.models import AuthEvent
from fulfil.extensions import db
from fulfil.models import User
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-fresh-password"


def signed_in(app, username, password=PASSWORD, remember=False):
    client = app.test_client()
    data = {"username": username, "password": password, **({"remember": "y"} if remember else {})}
    assert client.post("/login", data=data).status_code == 302, username
    return client


def is_signed_in(client):
    return client.get("/").status_code == 200


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == username))


def account(app, username):
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        return user and {"role": user.role, "active": user.active, "token": user.session_token,
                         "password_ok": user.check_password(PASSWORD)}


def audit(app):
    with app.app_context():
        return [(e.kind, e.username, e.actor.username if e.actor else None, e.detail)
                for e in db.session.scalars(db.select(AuthEvent).order_by(AuthEvent.id))]


@pytest.fixture
def admin(app, users):
    return signed_in(app, "admin")


def test_the_people_page_lists_everyone_with_their_role(admin):
    page = admin.get("/admin/users").get_data(as_text=True)
    for name in ("warehouse", "seller", "supervisor", "admin"):
        assert f">{name}</a>" in page
    assert admin.get("/admin/").status_code == 200


def test_an_admin_adds_a_person_who_can_then_sign_in(app, admin):
    response = admin.post("/admin/users/new", data={"username": "packer.one", "display_name": "Pat Packer",
                                                    "role": "warehouse", "password": NEW_PASSWORD,
                                                    "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert "packer.one can sign in now" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert is_signed_in(signed_in(app, "packer.one", NEW_PASSWORD))
    assert ("created", "packer.one", "admin", "role warehouse") in audit(app)


@pytest.mark.parametrize("form, message", [
    ({"username": "seller"}, "There is already a user called seller."),
    ({"username": "two words"}, "Use letters, digits, dots, dashes and underscores only."),
    ({"username": "x" * 81}, "A user name has at most 80 characters."),
    ({"username": ""}, "Enter a user name."),
    ({"display_name": "Bad\x07Name"}, "A name cannot hold control characters."),  # a NUL is refused earlier (fulfil.inputs)
    ({"role": "owner"}, "Not a valid choice"),
    ({"password": "short", "confirm": "short"}, "A password needs 10 to 200 characters."),
    ({"confirm": "something-else"}, "The two passwords differ."),
    ({"username": "longname12", "password": "LongName12", "confirm": "LongName12"},
     "A password must not be the user name."),
])
def test_adding_a_person_refuses_bad_input_and_saves_nothing(app, admin, form, message):
    data = {"username": "newbie", "display_name": "", "role": "seller", "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD, **form}
    response = admin.post("/admin/users/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 4
        assert db.session.scalar(db.select(db.func.count(AuthEvent.id)).where(AuthEvent.kind == "created")) == 0


def test_a_role_change_ends_the_persons_sessions_everywhere(app, admin):
    tablet, desk = signed_in(app, "seller"), signed_in(app, "seller", remember=True)
    kept = app.test_client()
    kept.set_cookie("remember_token", desk.get_cookie("remember_token").value)
    assert tablet.get("/bulk/").status_code == 200  # sellers may upload
    response = admin.post(f"/admin/users/{user_id(app, 'seller')}/role", data={"role": "warehouse"})
    assert response.status_code == 303
    assert not is_signed_in(tablet) and not is_signed_in(desk) and not is_signed_in(kept)
    again = signed_in(app, "seller")
    assert again.get("/bulk/").status_code == 403  # the new role, not the old one
    assert ("role_changed", "seller", "admin", "seller → warehouse") in audit(app)
    assert is_signed_in(admin)


def test_saving_the_same_role_changes_nothing(app, admin):
    before = account(app, "seller")
    response = admin.post(f"/admin/users/{user_id(app, 'seller')}/role", data={"role": "seller"})
    assert response.status_code == 303 and account(app, "seller") == before


def test_a_password_reset_signs_the_person_out_and_only_the_new_password_works(app, admin):
    seller = signed_in(app, "seller")
    response = admin.post(f"/admin/users/{user_id(app, 'seller')}/password",
                          data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert not is_signed_in(seller)
    assert app.test_client().post("/login", data={"username": "seller", "password": PASSWORD}).status_code == 200
    assert is_signed_in(signed_in(app, "seller", NEW_PASSWORD))
    assert ("password_reset", "seller", "admin", "") in audit(app)


def test_a_bad_new_password_is_refused_and_the_old_one_still_works(app, admin):
    seller = signed_in(app, "seller")
    response = admin.post(f"/admin/users/{user_id(app, 'seller')}/password",
                          data={"password": "short", "confirm": "short"})
    assert response.status_code == 422 and "A password needs 10" in response.get_data(as_text=True)
    assert account(app, "seller")["password_ok"] and is_signed_in(seller)


def test_deactivating_signs_out_and_locks_out_until_reactivated(app, admin):
    seller = signed_in(app, "seller", remember=True)
    target = user_id(app, "seller")
    assert admin.post(f"/admin/users/{target}/active", data={"active": "0"}).status_code == 303
    assert not is_signed_in(seller)
    refused = app.test_client().post("/login", data={"username": "seller", "password": PASSWORD})
    assert refused.status_code == 200 and "Wrong user name or password." in refused.get_data(as_text=True)
    assert "Deactivated" in admin.get("/admin/users").get_data(as_text=True)
    assert admin.post(f"/admin/users/{target}/active", data={"active": "1"}).status_code == 303
    assert is_signed_in(signed_in(app, "seller"))
    kinds = [kind for kind, name, actor, _ in audit(app) if name == "seller" and actor == "admin"]
    assert kinds == ["deactivated", "reactivated"]


def test_admins_cannot_lock_themselves_out(app, admin):
    me = user_id(app, "admin")
    before = account(app, "admin")
    for path, data in ((f"/admin/users/{me}/role", {"role": "warehouse"}),
                       (f"/admin/users/{me}/active", {"active": "0"}),
                       (f"/admin/users/{me}/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})):
        response = admin.post(path, data=data)
        assert response.status_code == 422, path
        assert "your own account here; ask another admin" in response.get_data(as_text=True)
    assert account(app, "admin") == before and is_signed_in(admin)


@pytest.mark.parametrize("path, data", [
    ("/admin/users/999/role", {"role": "seller"}),
    ("/admin/users/99999999999999999999/role", {"role": "seller"}),
    ("/admin/users/0/active", {"active": "0"}),
])
def test_unknown_people_are_404(admin, path, data):
    assert admin.post(path, data=data).status_code == 404


@pytest.mark.parametrize("data", [{"active": "maybe"}, {}])
def test_a_bad_access_choice_is_refused(app, admin, data):
    response = admin.post(f"/admin/users/{user_id(app, 'seller')}/active", data=data)
    assert response.status_code == 422 and "Say whether to deactivate or reactivate." in response.get_data(as_text=True)
    assert account(app, "seller")["active"]


def test_the_command_line_reset_ends_sessions_too(app, runner, users):
    seller = signed_in(app, "seller")
    result = runner.invoke(args=["fulfil", "create-user", "seller", "--role", "seller",
                                 "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert not is_signed_in(seller)
    short = runner.invoke(args=["fulfil", "create-user", "someone", "--password", "short"])
    assert short.exit_code != 0 and "A password needs 10" in short.output
