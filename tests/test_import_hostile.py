"""Marketplace data is input too: hostile orders served by the simulators over HTTP.

Each marketplace sends one good order, one whose text is unfit to keep as it is (a
10,000-character product name, a NUL byte in the buyer's name) and orders with a
negative, zero or absurd quantity or a NUL in the SKU. The good and the cleaned order
import (the cleaned one with a data warning on its page); each unfit one becomes an import
problem in words; nothing blocks the rest, on SQLite and PostgreSQL alike, and the Sync
problems page never shows SQL or bound parameters.
"""
import re

import pytest
from sqlalchemy.exc import DataError

from fulfil import importer
from fulfil.extensions import db
from fulfil.importer import import_account, sync_accounts_from_config
from fulfil.marketplaces._sanitize import MAX_QUANTITY, check_order
from fulfil.marketplaces.base import RemoteLine, RemoteOrder
from fulfil.models import ImportProblem, MarketplaceAccount, Order, OrderLine

pytestmark = pytest.mark.integration

LONG_NAME = "Very long product name " * 435  # 10,005 characters
# Where each marketplace keeps the fields, in its own wire format (simulators/<kind>.py).
PATHS = {
    "ozon": {"name": ["products", 0, "name"], "quantity": ["products", 0, "quantity"],
             "sku": ["products", 0, "offer_id"], "buyer": ["addressee"]},
    "walmart": {"name": ["orderLines", "orderLine", 0, "item", "productName"],
                "quantity": ["orderLines", "orderLine", 0, "orderLineQuantity", "amount"],
                "sku": ["orderLines", "orderLine", 0, "item", "sku"],
                "buyer": ["shippingInfo", "postalAddress", "name"]},
    "wish": {"name": ["product_information", "name"],
             "quantity": ["order_payment", "general_payment_details", "product_quantity"],
             "sku": ["product_information", "sku"], "buyer": ["full_address", "shipping_detail", "name"]},
}


def buyer(kind, name):
    return {"name": name, "phone": "+70000000000"} if kind == "ozon" else name


def quantity(kind, value):
    return str(value) if kind == "walmart" else value  # Walmart sends amounts as strings


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.mark.parametrize("kind", ["ozon", "walmart", "wish"])
def test_hostile_orders_import_one_by_one(app, sims, client, auth, kind):
    sim, paths = sims[kind], PATHS[kind]
    good, cleaned, negative, zero, absurd, nul_sku, unreadable = sim.generate(7)
    for order_id, changes in {
        cleaned: [(paths["name"], LONG_NAME), (paths["buyer"], buyer(kind, "Ann\x00a Smith"))],
        negative: [(paths["quantity"], quantity(kind, -3))],
        zero: [(paths["quantity"], quantity(kind, 0))],
        absurd: [(paths["quantity"], quantity(kind, 10 ** 12))],
        nul_sku: [(paths["sku"], "SKU\x00-1")],
        unreadable: [(paths["quantity"], "two")],
    }.items():
        sim.admin("POST", f"/orders/{order_id}", json={"set": changes})

    with app.app_context():
        app.config["MARKETPLACE_ACCOUNTS"] = {f"{kind}-sim": sim.settings()}
        sync_accounts_from_config(app)
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == f"{kind}-sim"))
        assert import_account(account) == 2
        account = db.session.get(MarketplaceAccount, account.id)
        assert account.last_import_error is None and account.last_import_ok_at is not None
        imported = {o.external_id: o for o in db.session.scalars(db.select(Order))}
        assert set(imported) == {good, cleaned}
        assert imported[good].import_warnings is None
        warned = imported[cleaned]
        line = db.session.scalar(db.select(OrderLine).where(OrderLine.order_id == warned.id))
        assert len(line.name) == 500 and line.name.endswith("…")
        assert warned.buyer_name == "Anna Smith"
        assert len(warned.import_warnings) == 2
        assert "contained NUL: removed" in " ".join(warned.import_warnings)
        assert "was 10,005 characters long: fulfil keeps the first 499" in " ".join(warned.import_warnings)
        problems = {p.external_id: p.error for p in db.session.scalars(db.select(ImportProblem))}
        assert set(problems) == {negative, zero, absurd, nul_sku, unreadable}
        assert "quantity -3 from" in problems[negative] and f"1 to {MAX_QUANTITY:,} units" in problems[negative]
        assert "quantity 0 from" in problems[zero]
        assert "quantity 1000000000000 from" in problems[absurd]
        assert "contains NUL" in problems[nul_sku] and "does not change ids" in problems[nul_sku]
        assert problems[unreadable].startswith("fulfil cannot read this ")
        assert "a value in it cannot be read" in problems[unreadable]
        assert not any("\x00" in error or "Error(" in error for error in problems.values())
        warned_id = warned.id

        # Importing again changes nothing: no second order, warning or problem.
        assert import_account(db.session.get(MarketplaceAccount, account.id)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(ImportProblem)) == 5

    auth.login("supervisor")
    page = text_of(client.get(f"/orders/{warned_id}"))
    assert "fulfil had to change what" in page and "contained NUL: removed" in page
    sync = text_of(client.get("/sync/problems"))
    assert "quantity -3 from" in sync
    assert not re.search(r"\[SQL|\bINSERT INTO\b|\[parameters", sync)


def test_a_database_refusal_is_stored_in_words_and_logged_in_full(app, sims, monkeypatch, caplog):
    sim = sims["ozon"]
    good, refused = sim.generate(2)

    def upsert(account, remote, warnings=()):
        if remote.external_id == refused:
            raise DataError("INSERT INTO orders (buyer_name) VALUES (%(buyer_name)s)",
                            {"buyer_name": "Secret Buyer"}, Exception("value too long"))
        return real_upsert(account, remote, warnings)

    real_upsert = importer.upsert_order
    monkeypatch.setattr(importer, "upsert_order", upsert)
    with app.app_context():
        app.config["MARKETPLACE_ACCOUNTS"] = {"ozon-sim": sim.settings()}
        sync_accounts_from_config(app)
        account = db.session.scalar(db.select(MarketplaceAccount))
        assert import_account(account) == 1
        problem = db.session.scalar(db.select(ImportProblem))
        assert problem.external_id == refused
        assert problem.error == ("fulfil could not save this Ozon order: the database refused one of its "
                                 "values (too long, out of range or not storable). The details are in the "
                                 "import log (import=record_failed).")
    assert "INSERT INTO orders" in caplog.text  # the rest is in the log, for whoever fixes it


def test_text_is_cleaned_and_ids_are_never_cut():
    order = RemoteOrder(external_id="A-1", order_number="A1", raw_status="x" * 100, status="new",
                        buyer_name="Tab\there\ud800", address_line1="Line\nbreak",
                        lines=[RemoteLine("1", "SKU-1", "ITEM-1", "Thing", 5, 1)])
    warnings = check_order(order, "Ozon")
    assert order.buyer_name == "Tab here" and order.address_line1 == "Line break"
    assert order.raw_status == "x" * 59 + "…"
    assert len(warnings) == 3
    for bad in (RemoteOrder(external_id="A" * 81, order_number="", raw_status="", status="new"),
                RemoteOrder(external_id="A-1", order_number="", raw_status="", status="new",
                            lines=[RemoteLine("1", "S" * 121, "I", "Thing", 5, 1)]),
                RemoteOrder(external_id="A-1", order_number="", raw_status="", status="new",
                            lines=[RemoteLine("1", "S", "I", "Thing", float("inf"), 1)]),
                RemoteOrder(external_id="A-1", order_number="", raw_status="", status="new",
                            lines=[RemoteLine("1", "S", "I", "Thing", 5, 2.5)])):
        with pytest.raises(ValueError):
            check_order(bad, "Ozon")
