"""Build a large, realistic order database fast (Core bulk inserts), for the benchmarks.

Orders are spread over the three marketplaces and all statuses with ship-by times around
now, so every list tab has plenty of rows — like a busy seller's real data, only more.
"""
import random
from datetime import timedelta
from decimal import Decimal

from fulfil.extensions import db
from fulfil.models import MarketplaceAccount, Order, OrderLine, SearchKey, User
from fulfil.timeutil import today_bounds, utcnow
from simulators.common import PRODUCTS, US_FIRST, US_LAST

STATUS_WEIGHTS = (("new", 10), ("to_pack", 6), ("ready", 4), ("in_transit", 25), ("delivered", 45),
                  ("cancelled", 8), ("dispute", 1), ("on_hold", 1))
CHUNK = 5000


def ensure_accounts():
    accounts = []
    for kind in ("ozon", "walmart", "wish"):
        slug = f"{kind}-bench"
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == slug))
        if account is None:
            account = MarketplaceAccount(slug=slug, kind=kind, name=f"{kind.title()} bench",
                                         base_url="http://127.0.0.1:9", rate_limit=20)
            db.session.add(account)
        accounts.append(account)
    if db.session.scalar(db.select(User.id).where(User.username == "bench")) is None:
        user = User(username="bench", role="admin", display_name="Bench")
        user.set_password("bench")
        db.session.add(user)
    db.session.commit()
    return accounts


def build_orders(count, seed=1):
    """Insert `count` orders (+ lines and search keys). Returns the number inserted."""
    rng = random.Random(seed)
    accounts = ensure_accounts()
    statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
    now = utcnow()
    today_end = today_bounds(now)[1]
    start_id = (db.session.scalar(db.select(db.func.max(Order.id))) or 0) + 1
    line_id = (db.session.scalar(db.select(db.func.max(OrderLine.id))) or 0) + 1
    done = 0
    while done < count:
        orders, lines, keys = [], [], []
        for i in range(min(CHUNK, count - done)):
            order_id = start_id + done + i
            account = accounts[order_id % 3]
            status = rng.choice(statuses)
            open_ = status in ("new", "to_pack", "ready")
            ship_by = now + timedelta(hours=rng.uniform(-72, 96) if open_ else rng.uniform(-2000, -24))
            if open_ and rng.random() < 0.15:
                # Due today: the same share of the list at every size, whatever the hour.
                ship_by = now + (today_end - now) * rng.random()
            name = f"{rng.choice(US_FIRST)} {rng.choice(US_LAST)}"
            external = f"{account.kind[:2].upper()}{order_id:09d}"
            product, sku, price = rng.choice(PRODUCTS)
            quantity = rng.randint(1, 3)
            orders.append(dict(id=order_id, account_id=account.id, marketplace=account.kind,
                               external_id=external, order_number=f"N{order_id:09d}", status=status,
                               open_to_ship=open_, raw_status=status, fulfilment_mode="seller",
                               ordered_at=ship_by - timedelta(days=2), ship_by=ship_by,
                               buyer_name=name, address_line1="1 Main St", city="Austin",
                               currency="USD", total=Decimal(str(price)) * quantity,
                               sync_state="synced", version=1, created_at=now, updated_at=now))
            lines.append(dict(id=line_id, order_id=order_id, line_number="1", sku=sku,
                              item_id=f"I{order_id}", name=product, price=Decimal(str(price)),
                              quantity=quantity))
            line_id += 1
            for key in {external.lower(), f"n{order_id:09d}", sku.lower(), name.lower(),
                        *name.lower().split()}:
                keys.append(dict(key=key, order_id=order_id))
        db.session.execute(db.insert(Order), orders)
        db.session.execute(db.insert(OrderLine), lines)
        db.session.execute(db.insert(SearchKey), keys)
        db.session.commit()
        done += len(orders)
    if db.engine.dialect.name == "postgresql":
        _fix_sequences()
        db.session.commit()
        # What autovacuum does to a live database: without a visibility map, PostgreSQL
        # cannot answer counts from the index alone.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(db.text("VACUUM ANALYZE"))
    else:
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return done


def _fix_sequences():
    for table in ("orders", "order_lines"):
        db.session.execute(db.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
