"""Import from the simulators over real HTTP: upsert, idempotent, poison records isolated."""
from decimal import Decimal

import pytest
import requests

from fulfil.extensions import db
from fulfil.importer import import_account, sync_accounts_from_config
from fulfil.marketplaces import adapter_for
from fulfil.marketplaces.base import ImportPage, RemoteLine, RemoteOrder
from fulfil.models import Event, ImportProblem, MarketplaceAccount, Order

pytestmark = pytest.mark.integration


def _account(app, sim):
    app.config["MARKETPLACE_ACCOUNTS"] = {f"{sim.kind}-sim": sim.settings()}
    sync_accounts_from_config(app)
    return db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == f"{sim.kind}-sim"))


def _counts():
    return (db.session.scalar(db.select(db.func.count()).select_from(Order)),
            db.session.scalar(db.select(db.func.count()).select_from(Event)))


@pytest.mark.parametrize("kind", ["ozon", "walmart", "wish"])
def test_import_is_complete_and_idempotent(app, sims, kind):
    sim = sims.get(kind)
    if sim is None:
        pytest.skip(f"{kind} simulator not built yet")
    ids = sim.generate(12)
    with app.app_context():
        account = _account(app, sim)
        assert import_account(account) >= len(ids)
        orders, events = _counts()
        assert orders >= len(ids)
        imported = set(db.session.scalars(db.select(Order.external_id)))
        assert set(ids) <= imported
        for order in db.session.scalars(db.select(Order)):
            assert order.lines, order.external_id
            assert order.ship_by is not None
            assert order.total == sum((line.cost for line in order.lines), Decimal("0")) or order.total > 0
        account = db.session.get(MarketplaceAccount, account.id)
        assert account.last_import_ok_at is not None and account.last_import_error is None
        # A second run changes nothing.
        import_account(account)
        assert _counts() == (orders, events)


def test_ozon_v4_posting_with_money_object_prices_imports(app, sims):
    sim = sims["ozon"]
    number, = sim.generate(1, scheme="fbs", status="awaiting_packaging", lines=2)
    products = sim.admin("GET", f"/orders/{number}")["products"]
    with app.app_context():
        assert import_account(_account(app, sim)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(ImportProblem)) == 0
        order = db.session.scalar(db.select(Order).where(Order.external_id == number))
        assert sorted((line.item_id, line.price, line.quantity) for line in order.lines) == sorted(
            (str(p["sku"]), Decimal(p["price"]), p["quantity"]) for p in products)
        assert (order.currency, order.total) == ("RUB", sum(Decimal(p["price"]) * p["quantity"] for p in products))


def test_marketplace_side_cancel_is_applied_and_audited(app, sims):
    sim = sims.get("walmart") or pytest.skip("walmart simulator not built yet")
    order_id = sim.generate(1)[0]
    with app.app_context():
        account = _account(app, sim)
        import_account(account)
        requests.post(sim.url + "/_sim/events", json={"order_id": order_id, "event": "cancel"},
                      timeout=5).raise_for_status()
        import_account(db.session.get(MarketplaceAccount, account.id))
        order = db.session.scalar(db.select(Order).where(Order.external_id == order_id))
        assert order.status == "cancelled" and not order.open_to_ship
        sources = {e.source for e in db.session.scalars(db.select(Event).where(Event.order_id == order.id))}
        assert "marketplace" in sources


def test_poison_record_is_isolated(app, sims, monkeypatch):
    sim = sims.get("ozon") or pytest.skip("ozon simulator not built yet")
    with app.app_context():
        account = _account(app, sim)
        good = RemoteOrder(external_id="GOOD-1", order_number="G1", raw_status="awaiting_packaging",
                           status="new", lines=[RemoteLine("1", "SKU", "1", "Thing", Decimal("5"), 1)])
        # A record whose lines cannot be read: the upsert fails half-way through it.
        bad = RemoteOrder(external_id="BAD-1", order_number="B1", raw_status="awaiting_packaging",
                          status="new", lines=[RemoteLine("1", "SKU", "1", "Thing", Decimal("5"), 1), None])
        page = ImportPage(orders=[bad, good], cursor={"done": True}, has_more=False,
                          problems=[("UNREADABLE-1", "posting without products", "{}")])
        monkeypatch.setattr(type(adapter_for(account)), "list_changed", lambda self, cursor: page)
        import_account(account)
        assert db.session.scalar(db.select(Order.external_id)) == "GOOD-1"
        problems = {p.external_id for p in db.session.scalars(db.select(ImportProblem))}
        assert problems == {"BAD-1", "UNREADABLE-1"}
        import_account(db.session.get(MarketplaceAccount, account.id))  # no duplicate problems
        assert db.session.scalar(db.select(db.func.count()).select_from(ImportProblem)) == 2
