"""Take docs/orders-tablet.png: the order list on a portrait tablet (768×1024), realistic data.

    PYTHONPATH=. .venv/bin/python docs/screenshot_orders.py [--tab past_due] [--out docs/orders-tablet.png]

Builds a throw-away SQLite database with a morning's worth of Ozon, Walmart and Wish
orders, serves the app on a free port and photographs the list with Debian's Chromium
(FULFIL_CHROMIUM overrides the path).
"""
import argparse
import os
import random
import shutil
import socket
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from fulfil import create_app
from fulfil.actions import Actor, Package, perform
from fulfil.extensions import db
from fulfil.models import MarketplaceAccount, Order, OrderLine, User
from fulfil.search import index_order
from fulfil.status import is_open
from fulfil.timeutil import utcnow
from fulfil.tracking import make_tracking_number
from simulators.common import PRODUCTS, RU_FIRST, RU_LAST, US_FIRST, US_LAST, run_in_thread

ROOT = Path(__file__).resolve().parent
ACCOUNTS = (("ozon", "ozon-main", "Main store", "RUB"), ("walmart", "walmart-us", "US store", "USD"),
            ("wish", "wish-main", "Gadgets", "USD"))
# What each marketplace calls the unified statuses used here.
RAW_STATUS = {
    "ozon": {"new": "awaiting_packaging", "to_pack": "awaiting_packaging", "ready": "awaiting_deliver",
             "in_transit": "delivering"},
    "walmart": {"new": "Created", "to_pack": "Acknowledged", "ready": "Acknowledged", "in_transit": "Shipped"},
    "wish": {"new": "APPROVED", "to_pack": "APPROVED", "ready": "APPROVED", "in_transit": "SHIPPED"},
}


def seed(rng):
    """Some sixty orders: mostly open, ship-by deadlines spread around now."""
    user = User(username="demo", role="warehouse", display_name="Dana (warehouse)")
    user.set_password("demo")
    db.session.add(user)
    accounts = [MarketplaceAccount(slug=slug, kind=kind, name=name) for kind, slug, name, _ in ACCOUNTS]
    db.session.add_all(accounts)
    now = utcnow()
    for number in range(60):
        account, (kind, _, _, currency) = accounts[number % 3], ACCOUNTS[number % 3]
        status = rng.choice(("new", "new", "to_pack", "ready", "in_transit"))
        first, last = (RU_FIRST, RU_LAST) if kind == "ozon" else (US_FIRST, US_LAST)
        external_id = {"ozon": f"{rng.randint(10**7, 10**8 - 1)}-{rng.randint(1, 9):04d}-1",
                       "walmart": str(rng.randint(10**12, 10**13 - 1)),
                       "wish": f"{rng.getrandbits(96):024x}"}[kind]
        order = Order(account=account, marketplace=kind, external_id=external_id,
                      order_number=external_id.rsplit("-", 1)[0] if kind == "ozon" else str(rng.randint(10**8, 10**9)),
                      status=status, open_to_ship=is_open(status), raw_status=RAW_STATUS[kind][status],
                      fulfilment_mode="FBS" if kind == "ozon" else "seller",
                      ordered_at=now - timedelta(hours=rng.uniform(12, 72)),
                      ship_by=now + timedelta(hours=rng.uniform(-30, 40)),
                      buyer_name=f"{rng.choice(first)} {rng.choice(last)}", address_line1="1 Main St",
                      city="Austin", currency=currency)
        for line_number in range(1, rng.choice((2, 2, 2, 3))):
            name, sku, price = rng.choice(PRODUCTS)
            price = Decimal(str(price * 90 if currency == "RUB" else price)).quantize(Decimal("1.00"))
            order.lines.append(OrderLine(line_number=str(line_number), sku=sku, item_id=str(rng.randint(10**8, 10**9)),
                                         name=name, price=price, quantity=rng.choice((1, 1, 2, 3))))
        order.total = sum((line.cost for line in order.lines), Decimal("0"))
        db.session.add(order)
        db.session.flush()
        index_order(order)
        if status == "ready" and kind != "ozon" and rng.random() < 0.3:
            perform(order, "ship", Actor(user), packages=[Package("usps", make_tracking_number("usps", rng))])
            order.ship_by = now - timedelta(hours=rng.uniform(1, 20))
        order.sync_state = "failed" if number % 7 == 3 else "pending" if number % 5 == 1 else "synced"
    db.session.commit()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tab", default="past_due")
    parser.add_argument("--out", default=str(ROOT / "orders-tablet.png"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workdir = tempfile.mkdtemp(prefix="fulfil-shot-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/shot.sqlite3", "WTF_CSRF_ENABLED": True,
                      "FULFIL_TIMEZONE": "America/Chicago", "OUTBOX_ENQUEUE": False, "TESTING": False})
    with app.app_context():
        db.create_all()
        seed(random.Random(7))
    port = free_port()
    server = run_in_thread(app, port)
    chromium = os.environ.get("FULFIL_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 768, "height": 1024}, base_url=f"http://127.0.0.1:{port}")
            page.goto("/login")
            page.get_by_label("User name").fill("demo")
            page.get_by_label("Password").fill("demo")
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"/?tab={args.tab}")
            page.screenshot(path=args.out)
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
