"""P3: bulk tracking upload of 10,000 rows — preview time, apply time, peak memory.

    python -m bench.bench_bulk [--rows 10000] [--background 40000] [--profile [tottime]]

The database holds `--background` ordinary orders (bench.dataset) plus one order ready to
ship per row. The upload is a CSV file (half the rows with a carrier, half leaving it to
be recognised from the number) posted through the Flask test client after a small warm-up
upload, so the preview time is the server's: reading, checking every row against the
orders, storing the upload. The apply is run directly (no RQ), inline in this process,
as fulfil.bulk.apply does it: a batch of orders at a time in one transaction, written by
fulfil.bulk.write. `--profile` prints where the apply's time goes (cProfile). Peak memory
is the process's peak resident set size during preview and apply (Linux resets it
through /proc/self/clear_refs first).
SQLite by default; DATABASE_URL=postgresql+psycopg://... for PostgreSQL (a database of
its own is created and dropped).
Targets (PRODUCT.md P3): preview ≤ 2 s, apply ≤ 3 s, peak memory ≤ 250 MB.
"""
import argparse
import cProfile
import csv
import io
import os
import pstats
import random
import resource
import time
from decimal import Decimal
from pathlib import Path

from bench.dataset import build_orders, ensure_accounts
from fulfil import create_app
from fulfil.bulk.apply import begin
from fulfil.bulk.models import Upload
from fulfil.extensions import db
from fulfil.models import Order, OrderLine, SearchKey, Shipment, User
from fulfil.tracking import CARRIERS, make_tracking_number
from fulfil.timeutil import utcnow
from tests.helpers import fresh_database

TARGETS = {"preview": 2.0, "apply": 3.0, "peak": 250.0}
CARRIER_MIX = ("ups", "usps", "fedex", "dhl", "yanwen", "4px")


def add_orders_to_ship(count):
    """`count` Walmart and Wish orders waiting for tracking (to_pack), with search keys.
    Returns their external ids."""
    accounts = [a for a in ensure_accounts() if a.kind in ("walmart", "wish")]
    first_id = (db.session.scalar(db.select(db.func.max(Order.id))) or 0) + 1
    first_line = (db.session.scalar(db.select(db.func.max(OrderLine.id))) or 0) + 1
    now = utcnow()
    orders, lines, keys, external_ids = [], [], [], []
    for i in range(count):
        order_id, account = first_id + i, accounts[i % 2]
        external_id = f"BULK{order_id:09d}"
        external_ids.append(external_id)
        orders.append(dict(id=order_id, account_id=account.id, marketplace=account.kind,
                           external_id=external_id, order_number=f"B{order_id:09d}", status="to_pack",
                           open_to_ship=True, raw_status="", fulfilment_mode="seller", ordered_at=now,
                           ship_by=now, buyer_name="Bulk Buyer", address_line1="1 Main St", city="Austin",
                           currency="USD", total=Decimal("9.99"), sync_state="synced", version=1,
                           created_at=now, updated_at=now))
        lines.append(dict(id=first_line + i, order_id=order_id, line_number="1", sku="SKU-1",
                          item_id=f"I{order_id}", name="Product", price=Decimal("9.99"), quantity=1))
        keys += [dict(key=external_id.lower(), order_id=order_id), dict(key=f"b{order_id:09d}", order_id=order_id)]
    for table, rows in ((Order, orders), (OrderLine, lines), (SearchKey, keys)):
        for start in range(0, len(rows), 5000):
            db.session.execute(db.insert(table), rows[start:start + 5000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("orders", "order_lines"):
            db.session.execute(db.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                       f"(SELECT max(id) FROM {table}))"))
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()
    return external_ids


def upload_csv(external_ids, seed=3):
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["PO#", "Carrier", "Tracking Number"])
    for index, external_id in enumerate(external_ids):
        carrier = CARRIER_MIX[index % len(CARRIER_MIX)]
        label = CARRIERS[carrier].label if index % 2 else ""
        writer.writerow([external_id, label, make_tracking_number(carrier, rng)])
    return out.getvalue().encode("utf-8")


def reset_peak_memory():
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_memory_mb(reset_worked):
    if reset_worked:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url, rows, background, profile=None):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "OUTBOX_ENQUEUE": False,
                      "TESTING": False, "BULK_MAX_ROWS": rows, "BULK_INLINE_MAX_ROWS": rows})
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        if background:
            build_orders(background)
        external_ids = add_orders_to_ship(rows)
        data = upload_csv(external_ids)
        print(f"  built {background + rows:,} orders and a {len(data) / 1024:.0f} KB CSV of {rows:,} rows "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        db.session.remove()
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "bench"})
    # Warm up as a server that has been up a while has: the first request compiles the
    # queries. The small upload is only previewed, never applied.
    client.post("/bulk/", data={"file": (io.BytesIO(upload_csv(external_ids[:20])), "warm-up.csv")},
                content_type="multipart/form-data")
    reset = reset_peak_memory()

    started, cpu = time.perf_counter(), time.process_time()
    response = client.post("/bulk/", data={"file": (io.BytesIO(data), "tracking.csv")},
                           content_type="multipart/form-data")
    preview, preview_cpu = time.perf_counter() - started, time.process_time() - cpu
    if response.status_code != 303:
        raise SystemExit(f"upload answered {response.status_code}")

    with app.app_context():
        upload = db.session.scalar(db.select(Upload).where(Upload.filename == "tracking.csv"))
        verdicts = [v["verdict"] for v in upload.verdicts]
        if verdicts.count("ship") != rows:
            raise SystemExit(f"preview: {rows - verdicts.count('ship')} rows would not ship")
        user = db.session.scalar(db.select(User).where(User.username == "bench"))
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        begin(upload, user)  # BULK_INLINE_MAX_ROWS = rows: applies here, not through RQ
        if profiler:
            profiler.disable()
        apply, apply_cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler:
            pstats.Stats(profiler).sort_stats(profile).print_stats(50)
        shipped = db.session.scalar(db.select(db.func.count()).select_from(Shipment))
        if shipped != rows:
            raise SystemExit(f"apply: {shipped} of {rows} orders shipped")
        db.session.remove()
        db.engine.dispose()
    return {"preview": (preview, preview_cpu), "apply": (apply, apply_cpu), "peak": (peak_memory_mb(reset), None)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--background", type=int, default=40_000, help="other orders in the database")
    parser.add_argument("--profile", nargs="?", const="cumulative", choices=("cumulative", "tottime"),
                        help="print a cProfile of the apply, sorted so")
    args = parser.parse_args(argv)
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "SQLite"
    print(f"P3 — bulk tracking upload of {args.rows:,} rows on {backend}")
    with fresh_database("bulk") as url:
        figures = measure(url, args.rows, args.background, args.profile)
    # CPU seconds too: on a busy machine the wall clock also counts other processes' turns.
    units = {"preview": "s", "apply": "s", "peak": "MB"}
    for name, (value, cpu) in figures.items():
        target, unit = TARGETS[name], units[name]
        verdict = "meets" if value <= target else "MISSES"
        busy = f", {cpu:.2f} s CPU" if cpu is not None else ""
        print(f"P3 {name:<8}{value:>8.2f} {unit:<3}({verdict} ≤ {target:g} {unit}{busy})")


if __name__ == "__main__":
    main()
