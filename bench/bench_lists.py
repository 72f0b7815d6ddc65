"""P1 and P2: order list pages at 2,000 and 200,000 orders, and an inline status change.

    python -m bench.bench_lists [--big 200000] [--small 2000] [--repeat 40]

Server time is measured around the WSGI call (Flask's test client: routing, queries,
templates — no network). Each run also times a floor: a signed-in page with nothing on it
(the layout every page extends, behind the same login and role check), so each page's
time ÷ floor says what the page costs beyond what the stack itself does. SQLite by default; set DATABASE_URL=postgresql+psycopg://... for
PostgreSQL (the benchmark creates and drops databases of its own there).
Targets (PRODUCT.md): P1 median ≤ 30 ms per list page and 200k ÷ 2k ≤ 1.5; P2 median ≤ 25 ms.
"""
import argparse
import os
import statistics
import time

from flask import render_template

from bench.dataset import build_orders
from fulfil import create_app
from fulfil.auth.roles import WORK_ORDERS, roles_required
from fulfil.extensions import db
from fulfil.models import Order
from tests.helpers import fresh_database

FLOOR = "floor (empty page)"

PAGES = {
    FLOOR: "/_bench/floor",
    "new": "/?tab=new",
    "due today": "/?tab=due_today",
    "past due": "/?tab=past_due",
    "in transit": "/?tab=in_transit",
    "all": "/?tab=all",
    "search 'smi'": "/?tab=all&q=smi",
    "search order no.": "/?tab=all&q=N000001",
    "next page (htmx)": None,  # filled in: the 'load more' URL of the past-due list
}


def timed(client, method, url, **kwargs):
    start = time.perf_counter()
    response = getattr(client, method)(url, **kwargs)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code >= 400:
        raise SystemExit(f"{method.upper()} {url} answered {response.status_code}")
    return elapsed, response


def measure(url, size, repeat):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                      "OUTBOX_ENQUEUE": False, "TESTING": False})
    app.add_url_rule("/_bench/floor", "bench_floor", roles_required(*WORK_ORDERS)(_floor))
    results = {}
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        build_orders(size)
        print(f"  built {size:,} orders in {time.perf_counter() - started:.1f} s", flush=True)
        client = app.test_client()
        client.post("/login", data={"username": "bench", "password": "bench"})
        pages = dict(PAGES)
        pages["next page (htmx)"] = _next_page_url(client)
        for name, page_url in pages.items():
            headers = {"HX-Request": "true"} if "htmx" in name else {}
            for _ in range(3):  # warm caches, as a server that has been up a while has
                timed(client, "get", page_url, headers=headers)
            results[name] = statistics.median(timed(client, "get", page_url, headers=headers)[0]
                                              for _ in range(repeat))
        results["P2 acknowledge"] = _inline_change(client, repeat)
        db.session.remove()
        db.engine.dispose()
    return results


def _floor():
    return render_template("base.html")


def _next_page_url(client):
    """The URL the list's 'load more' would fetch after the first past-due page."""
    import re

    html = client.get("/?tab=past_due").get_data(as_text=True)
    match = re.search(r'hx-get="(/orders/rows\?[^"]*after=[^"]*)"', html)
    if not match:
        raise SystemExit("could not find the list's next-page link")
    return match.group(1).replace("&amp;", "&")


def _inline_change(client, repeat):
    """Median time of 'acknowledge' from the list (HTMX partial), outbox entry included."""
    orders = db.session.execute(db.select(Order.id, Order.version).where(
        Order.status == "new", Order.marketplace == "walmart").limit(repeat + 3)).all()
    db.session.remove()
    times = []
    for order_id, version in orders:
        elapsed, _ = timed(client, "post", f"/orders/{order_id}/acknowledge?view=row",
                           data={f"order{order_id}-version": version}, headers={"HX-Request": "true"})
        times.append(elapsed)
    return statistics.median(times[3:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args(argv)
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "SQLite"
    print(f"P1/P2 — list pages and inline change on {backend}")
    figures = {}
    for label, size in (("small", args.small), ("big", args.big)):
        with fresh_database(f"lists_{label}") as url:
            figures[label] = measure(url, size, args.repeat)
    floor_small, floor_big = figures["small"][FLOOR], figures["big"][FLOOR]
    print(f"\n{'page':<22}{args.small:>10,} {args.big:>10,}   ratio  ÷floor {args.small:,}/{args.big:,}   target")
    worst_ratio, worst_ms = 0.0, 0.0
    for name in figures["big"]:
        small, big = figures["small"][name], figures["big"][name]
        ratio = big / small if small else float("inf")
        target = "" if name == FLOOR else "≤ 25 ms" if name.startswith("P2") else "≤ 30 ms, ≤ 1.5"
        print(f"{name:<22}{small:>8.1f}ms {big:>8.1f}ms {ratio:>7.2f}  {small / floor_small:>6.1f} / "
              f"{big / floor_big:<6.1f}  {target}")
        if name != FLOOR and not name.startswith("P2"):
            worst_ratio, worst_ms = max(worst_ratio, ratio), max(worst_ms, big)
    p2 = figures["big"]["P2 acknowledge"]
    print(f"\nP1 worst median {worst_ms:.1f} ms ({'meets' if worst_ms <= 30 else 'MISSES'} ≤ 30 ms), "
          f"worst ratio {worst_ratio:.2f} ({'meets' if worst_ratio <= 1.5 else 'MISSES'} ≤ 1.5)")
    print(f"P2 median {p2:.1f} ms ({'meets' if p2 <= 25 else 'MISSES'} ≤ 25 ms)")


if __name__ == "__main__":
    main()
