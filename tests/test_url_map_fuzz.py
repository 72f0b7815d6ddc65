"""Hostile input to every route of the URL map, as every role, on SQLite and PostgreSQL.

Hypothesis draws a rule (any blueprint's, also ones added later), a method it takes, a
role (anonymous or one of fulfil.models.ROLES), path values for its arguments, and a query
string and form of names the code reads (found in fulfil's source) or random ones, with
values chosen to hurt: numbers beyond 32 and 64 bits, negatives, digits that are not
ASCII, U+10FFFF, NUL, line breaks, very long text, dates of the year 9999, javascript:
URLs. Every answer must be below 500, and a refused one (4xx) must leave every table's
row count as it was ("nothing saved half-way").

FULFIL_FUZZ_EXAMPLES sets the number of requests per database (default 250: about half
a minute each here); the test prints how many it generated.
"""
import io
import os
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fulfil.extensions import db, limiter
from fulfil.models import ROLES, OutboxEntry, User
from fulfil.outbox import record
from fulfil.tracking import make_tracking_number
from tests.conftest import PASSWORD, AuthActions, make_account, make_order

EXAMPLES = int(os.environ.get("FULFIL_FUZZ_EXAMPLES", "250"))
SOURCE = Path(__file__).resolve().parent.parent / "fulfil"
# Refused requests that record something on purpose: (endpoint, table).
RECORDS_REFUSALS = {
    ("floor.pack_scan", "pack_scans"),  # every scan, wrong ones too (the packers page counts them)
}

HOSTILE = [
    "", " ", "0", "1", "2", "3", "-1", "-9223372036854775809", str(2**31 - 1), str(2**31), str(2**63),
    "9" * 19, "9" * 40, "9" * 5000, "1.5", "1e309", "NaN", "inf", "²", "١٢", "０",
    "\x00", "a\x00b", "\U0010ffff", "abc\U0010ffff", "\ud7ff", "\ufeff", "\u2028", "\n", "\r\n", "x\ny",
    "%00", "%0a", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "javascript:alert(1)",
    "https://evil.example/", "//evil.example", "/\\evil.example", "9999-12-31T23:59", "0001-01-01T00:00",
    "2025-01-01T00:00:00~1", "9999-12-31T23:59:59~" + "9" * 20, "~", "x" * 10_000, "on", "true", "null",
    # and plausible ones, so requests get past the first check to the code behind it
    "1Z999AA10123456784", "ship", "cancel", "open_dispute", "update_tracking", "all", "new", "walmart",
    "ups", "other", "out_of_stock", "order", "problems", "https://www.lso.com/track?n=1", "SKU-1",
    (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"), "4006381333931",
]
# Random text without NUL: the NUL rule refuses it before any view (HOSTILE still sends it).
random_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
text_values = st.one_of(st.sampled_from(HOSTILE), random_text,
                        st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=4).map("".join))
int_path_values = st.one_of(st.sampled_from(["1", "2", "3"]),  # the seeded rows, often
                            st.sampled_from(["1", "2", "3", "0", "00", "-1", "١", "2147483647", "2147483648",
                                             "9" * 10, "9" * 19, "9" * 5000]),
                            st.integers(min_value=-5, max_value=10**25).map(str))
path_values = st.one_of(st.sampled_from(["ship", "cancel", "open_dispute", "close_dispute", "acknowledge", "pack",
                                         "deliver", "update_tracking", "tracking-check", "slip", "past_due",
                                         "disputes", "SKU-1", "app.css"]),
                        text_values.filter(bool))


def field_names():
    """Names the code reads from query strings and forms, and its WTForms fields, with the
    prefixes order forms use (order1-..., order1-packages-0-...)."""
    names = set()
    for path in SOURCE.rglob("*.py"):
        code = path.read_text(encoding="utf-8")
        names.update(re.findall(r"request\.(?:args|form|values)\.get(?:list)?\(\s*\"([^\"]+)\"", code))
        names.update(re.findall(r"^\s+(\w+) = (?:\w+\.)?\w*Field\(", code, re.MULTILINE))
    prefixed = {f"order{n}-{name}" for n in (1, 2) for name in names}
    prefixed |= {f"order1-packages-{i}-{name}" for i in (0, 1) for name in
                 ("carrier", "tracking_number", "tracking_url", "lines-0-line_id", "lines-0-quantity")}
    return sorted(names | prefixed | {"column_0", "column_1", "column_2", "csrf_token", "ids"})


NAMES = field_names()
params = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=10)),
                         st.one_of(text_values, st.lists(text_values, min_size=2, max_size=3)), max_size=6)
files = st.dictionaries(st.sampled_from(["file", "photo"]),
                        st.tuples(st.binary(max_size=300), st.sampled_from(["a.csv", "a.xlsx", "p.jpg", "x\x00.txt"])),
                        max_size=1)


def rules(app):
    """(rule, method) for every rule of the URL map but static files."""
    return sorted(((rule, method) for rule in app.url_map.iter_rules() if not rule.endpoint.endswith("static")
                   for method in sorted(rule.methods - {"HEAD", "OPTIONS"})),
                  key=lambda pair: (pair[0].rule, pair[1]))


_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def converters(rule):
    """{argument: converter name} of a rule: {"order_id": "int", "action": None}."""
    return {name: converter for converter, name in _ARGUMENT.findall(rule.rule)}


def build_path(rule, values):
    def value(match):
        converter, name = match.group(1), match.group(2)
        return quote(values[name], safe="/" if converter == "path" else "")
    return _ARGUMENT.sub(value, rule.rule)


def row_counts():
    tables = db.metadata.sorted_tables
    counts = db.session.execute(select(*[select(func.count()).select_from(t).scalar_subquery() for t in tables])).one()
    db.session.rollback()
    return dict(zip((t.name for t in tables), counts))


def seed(app, users):
    """Something for the ids 1..3 to find: orders in several states, a failed change, uploads
    at the column step and checked, a pick list, a product."""
    with app.app_context():
        make_account("amazon_mcf", "mcf-test")
        first = make_order("walmart", status="new", lines=(("SKU-1", 2, "5.00"),))
        make_order("walmart", status="ready")
        make_order("ozon", status="in_transit")
        make_order("wish", status="to_pack")
        entry = record(first, "acknowledge", {"external_id": first.external_id})
        entry.state, entry.last_error = "failed", "Bad Request"
        db.session.commit()
        externals = [o for (o,) in db.session.execute(select(OutboxEntry.payload))]
    admin = app.test_client()
    AuthActions(admin).login("admin")
    number = make_tracking_number("ups")
    steps = [admin.post("/bulk/", data={"pasted": "a\tb\tc\n1\t2\t3"}),
             admin.post("/bulk/", data={"pasted": f"Order #\tCarrier\tTracking #\n"
                                                  f"{externals[0]['external_id']}\tUPS\t{number}"}),
             admin.post("/floor/picks/due-today"),
             admin.post("/catalogue/new", data={"sku": "SKU-1", "name": "Mug", "barcodes": "4006381333931"})]
    assert all(step.status_code < 400 for step in steps), [step.status_code for step in steps]


# Requests after which the seeded people may be signed out, or their role, password or
# account changed: everyone is put back and signed in again before the next one.
RESETS_PEOPLE = ("auth.logout", "auth.change_password", "admin.")
HOSTILE_ADDRESS = "203.0.113.7"  # anonymous failures lock this address, not the role clients'


def sign_in_everyone(app):
    """The seeded users as they were (role, active, password) and a signed-in client each."""
    with app.app_context():
        for user in db.session.scalars(select(User).where(User.username.in_(ROLES))):
            user.role, user.active = user.username, True
            if not user.check_password(PASSWORD):
                user.set_password(PASSWORD)
        db.session.commit()
        limiter.reset()
    clients = {"anonymous": app.test_client()}
    clients["anonymous"].environ_base["REMOTE_ADDR"] = HOSTILE_ADDRESS
    for role in ROLES:
        clients[role] = app.test_client()
        response = AuthActions(clients[role]).login(role)
        assert response.status_code == 302, f"{role} could not sign in again: {response.status_code}"
    return clients


def test_every_route_survives_hostile_input_as_every_role(app, users, capsys):
    seed(app, users)
    pairs = rules(app)
    clients = sign_in_everyone(app)
    with app.app_context():
        counts = row_counts()
    generated, statuses, answered, started = 0, {}, set(), time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def walk(data):
        nonlocal clients, counts, generated
        rule, method = data.draw(st.sampled_from(pairs), label="rule")
        role = data.draw(st.sampled_from(["anonymous", *ROLES]), label="role")
        values = {name: data.draw(int_path_values if converter == "int" else path_values, label=name)
                  for name, converter in converters(rule).items()}
        path = build_path(rule, values)
        query = data.draw(params, label="query")
        form = data.draw(params, label="form") if method != "GET" else {}
        upload = data.draw(files, label="files") if method != "GET" else {}
        body = {**form, **{name: (io.BytesIO(content), filename) for name, (content, filename) in upload.items()}}
        headers = data.draw(st.sampled_from([{}, {"HX-Request": "true"},
                                             {"HX-Request": "true", "HX-Current-URL": "javascript:alert(1)"}]))
        generated += 1
        response = clients[role].open(path, method=method, query_string=query, data=body or None,
                                         headers=headers)
        status = response.status_code
        statuses[status // 100] = statuses.get(status // 100, 0) + 1
        if status < 400:
            answered.add(rule.endpoint)
        where = f"{method} {path} as {role} ({rule.endpoint}) query={query!r} form={form!r} headers={headers!r}"
        assert status < 500, f"{where} answered {status}"
        with app.app_context():
            now = row_counts()
        if 400 <= status < 500:
            changed = {table for table in now if now[table] != counts[table]
                       and (rule.endpoint, table) not in RECORDS_REFUSALS}
            assert not changed, f"{where} answered {status} but changed {sorted(changed)}"
        if method != "GET" and status < 400 and rule.endpoint.startswith(RESETS_PEOPLE):
            clients = sign_in_everyone(app)
            with app.app_context():
                now = row_counts()
        counts = now

    walk()
    seconds = time.monotonic() - started
    with app.app_context():
        backend = db.engine.dialect.name
    with capsys.disabled():
        print(f"\nURL-map fuzz on {backend}: {generated} generated requests over {len(pairs)} rule/method "
              f"pairs in {seconds:.0f} s; answers by class: "
              + ", ".join(f"{k}xx {v}" for k, v in sorted(statuses.items()))
              + f"; {len(answered)} of {len({rule.endpoint for rule, _ in pairs})} endpoints answered below 400")
    assert generated >= min(EXAMPLES, 50)
