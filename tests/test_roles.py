"""Role checks over the whole URL map, every blueprint included (also ones added later).

Every page wants a signed-in user; every endpoint that changes something names the roles
allowed to (roles_required) and refuses the others with 403.
"""
from fulfil.models import ROLES
from tests.conftest import AuthActions

PUBLIC = {"auth.login", "static", "health.healthz"}
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


def is_public(endpoint):
    # A blueprint's own static folder serves files, like the app's: "bulk.static".
    return endpoint in PUBLIC or endpoint.endswith(".static")


def endpoints(app):
    """(endpoint, method, sample URL) for every rule; path arguments are filled with 1."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = adapter.build(rule.endpoint, {name: 1 for name in rule.arguments}, method=method)
            yield rule.endpoint, method, url


def test_every_page_sends_anonymous_people_to_sign_in(app, client):
    wrong = []
    for endpoint, method, url in endpoints(app):
        if is_public(endpoint):
            continue
        response = client.open(url, method=method)
        if response.status_code != 302 or "/login" not in response.headers.get("Location", ""):
            wrong.append(f"{method} {url} ({endpoint}) answered {response.status_code}")
    assert not wrong, "open to anonymous users:\n" + "\n".join(wrong)


def test_every_change_names_its_roles(app):
    missing = sorted({f"{method} {endpoint}" for endpoint, method, _ in endpoints(app)
                      if method in CHANGES and not is_public(endpoint)
                      and not getattr(app.view_functions[endpoint], "required_roles", None)})
    assert not missing, "changes data without roles_required:\n" + "\n".join(missing)


def test_roles_outside_the_list_get_403(app, users):
    clients = {}
    for role in ROLES:
        clients[role] = app.test_client()
        AuthActions(clients[role]).login(role)
    wrong = []
    for endpoint, method, url in endpoints(app):
        required = getattr(app.view_functions[endpoint], "required_roles", ())
        for role in (r for r in ROLES if required and r not in required):
            status = clients[role].open(url, method=method).status_code
            if status != 403:
                wrong.append(f"{method} {url} ({endpoint}) as {role} answered {status}")
    assert not wrong, "\n".join(wrong)


def test_warehouse_staff_can_work_orders(app, client, auth):
    auth.login("warehouse")
    assert client.get("/").status_code == 200
    assert "warehouse" in app.view_functions["orders.act"].required_roles


def test_admin_pages_are_for_admins_only(app):
    admin_endpoints = {endpoint for endpoint, _, _ in endpoints(app) if endpoint.startswith("admin.")}
    assert {"admin.users", "admin.new_user", "admin.user", "admin.set_role", "admin.reset_password",
            "admin.set_active", "admin.sign_ins"} <= admin_endpoints
    loose = sorted(e for e in admin_endpoints if getattr(app.view_functions[e], "required_roles", ()) != ("admin",))
    assert not loose, "admin pages open to other roles:\n" + "\n".join(loose)


def test_other_roles_change_nobody_through_admin_pages(app, users):
    from fulfil.extensions import db
    from fulfil.models import User

    def accounts():
        with app.app_context():
            return sorted((u.username, u.role, u.active, u.password_hash, u.session_token)
                          for u in db.session.scalars(db.select(User)))

    before = accounts()
    with app.app_context():
        seller = db.session.scalar(db.select(User.id).where(User.username == "seller"))
    posts = [("/admin/users/new", {"username": "intruder", "role": "admin", "password": "x" * 12,
                                   "confirm": "x" * 12}),
             (f"/admin/users/{seller}/role", {"role": "admin"}),
             (f"/admin/users/{seller}/password", {"password": "x" * 12, "confirm": "x" * 12}),
             (f"/admin/users/{seller}/active", {"active": "0"})]
    for role in (r for r in ROLES if r != "admin"):
        client = app.test_client()
        AuthActions(client).login(role)
        for url, data in posts:
            assert client.post(url, data=data).status_code == 403, (role, url)
        assert client.get("/admin/users").status_code == 403
        assert client.get("/account/password").status_code == 200  # everyone's own page
    assert accounts() == before
