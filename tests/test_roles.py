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
