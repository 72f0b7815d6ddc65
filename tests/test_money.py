"""Money: what Ozon and Walmart pay, read over HTTP from the simulators, matched to orders;
the Money page, its lists and exports, the order page's card. Figures are checked as
numbers against what the simulators report."""
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from openpyxl import load_workbook

from fulfil import marketplaces
from fulfil.extensions import db
from fulfil.importer import import_account, sync_accounts_from_config
from fulfil.marketplaces import ozon as ozon_adapter
from fulfil.marketplaces import walmart as walmart_adapter
from fulfil.marketplaces.base import Permanent
from fulfil.models import MarketplaceAccount, Order
from fulfil.money import service
from fulfil.money.models import MoneyTransaction
from fulfil.timeutil import utcnow
from simulators.common import iso
from tests.conftest import make_order

pytestmark = pytest.mark.integration

OZON_OPERATION_FIELDS = {  # Ozon's FinanceTransactionListV3ResponseOperation
    "accruals_for_sale", "amount", "delivery_charge", "items", "operation_date", "operation_id",
    "operation_type", "operation_type_name", "posting", "return_delivery_charge", "sale_commission",
    "services", "type"}
WALMART_COLUMNS = {  # the recon report's columns (developer.walmart.com, Recon Report JSON)
    "Period Start Date", "Period End Date", "Total Payable", "Currency", "Transaction Key",
    "Transaction Posted Timestamp", "Transaction Type", "Transaction Description", "Customer Order #",
    "Customer Order line #", "Purchase Order #", "Purchase Order line #", "Amount", "Amount Type",
    "Ship Qty", "Commission Rate", "Partner Item Id", "Partner Item Name"}


def _account(app, sim):
    with app.app_context():
        app.config["MARKETPLACE_ACCOUNTS"] = {sim.settings()["slug"]: sim.settings()}
        sync_accounts_from_config(app)


def _import_and_sync(app, slug):
    with app.app_context():
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == slug))
        import_account(account)
        service.sync_account(account, marketplaces.adapter_for(account))
        db.session.remove()


def _ozon_ops(sim, posting_number, days=30):
    now = utcnow()
    body = {"filter": {"date": {"from": iso(now - timedelta(days=days)), "to": iso(now + timedelta(minutes=5))},
                       "operation_type": [], "posting_number": posting_number, "transaction_type": "all"},
            "page": 1, "page_size": 1000}
    answer = requests.post(sim.url + "/v3/finance/transaction/list", json=body, timeout=10,
                           headers={"Client-Id": sim.module.DEFAULT_CREDENTIALS["client_id"],
                                    "Api-Key": sim.module.DEFAULT_CREDENTIALS["api_key"]})
    return answer


def _money_of(app, external_id):
    with app.app_context():
        order = db.session.scalar(db.select(Order).where(Order.external_id == external_id))
        return order.id, service.order_money(order), service.expected(order), order.total


@pytest.fixture
def supervisor(auth):
    auth.login("supervisor")


def test_ozon_money_matches_the_simulators_operations_and_payouts(app, ozon_sim, client, supervisor):
    _account(app, ozon_sim)
    paid, waiting, short = ozon_sim.generate(3, scheme="fbs", status="delivered", lines=1)
    now = utcnow()
    ozon_sim.admin("POST", f"/orders/{paid}", json={"set": [[["_delivered_at"], iso(now - timedelta(days=20))]]})
    ozon_sim.admin("POST", f"/orders/{waiting}", json={"set": [[["_delivered_at"], iso(now)]]})
    ozon_sim.admin("POST", f"/orders/{short}", json={"set": [[["_delivered_at"], iso(now - timedelta(days=21))]]})
    with app.app_context():
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == "ozon-sim"))
        import_account(account)
        db.session.remove()
    # Ozon then accrues less for `short` than its price in fulfil (a price changed after the order).
    ozon_sim.admin("POST", f"/orders/{short}", json={"set": [[["products", 0, "price"], "100.0000"]]})
    _import_and_sync_money_only(app, "ozon-sim")

    operation = _ozon_ops(ozon_sim, paid).json()["result"]["operations"][0]
    assert OZON_OPERATION_FIELDS <= set(operation)
    order_id, money, expected, total = _money_of(app, paid)
    assert money.accrued == Decimal(str(operation["accruals_for_sale"])) == total
    assert money.commission == Decimal(str(operation["sale_commission"]))
    assert money.fees == Decimal(str(sum(s["price"] for s in operation["services"])))
    assert money.net == Decimal(str(operation["amount"])) == money.accrued + money.commission + money.fees
    assert money.paid == money.net and money.paid_on is not None
    assert expected == (total * Decimal("0.85")).quantize(Decimal("0.01"))

    _, waiting_money, _, _ = _money_of(app, waiting)
    assert waiting_money.net > 0 and waiting_money.paid == 0 and waiting_money.paid_on is None

    short_id, short_money, short_expected, _ = _money_of(app, short)
    quantity = ozon_sim.admin("GET", f"/orders/{short}")["products"][0]["quantity"]
    short_paid_for_sale = Decimal("85.00") * quantity  # 100.00 each, less 15 %
    assert short_money.accrued == Decimal("100.00") * quantity and short_money.paid == short_money.net

    with app.app_context():  # fulfil saw `waiting` delivered three weeks ago; Ozon has not paid it
        order = db.session.get(Order, _money_of(app, waiting)[0])
        order.delivered_at = now - timedelta(days=21)
        db.session.commit()
        unpaid = service.unpaid_delivered(utcnow(), 14)
        assert [r.order.external_id for r in unpaid] == [waiting]
        less = service.paid_less(utcnow())
        assert [r.order.external_id for r in less] == [short]
        assert less[0].missing == short_expected - short_paid_for_sale
        payouts = [p for p in service.payout_calendar(utcnow()) if p.done]
        assert sum(p.amount for p in payouts) == money.net + short_money.net

    page = client.get("/money/?days=14")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert waiting in html and short in html
    order_page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'id="money-card"' in order_page and "Accrued" in order_page

    csv_text = client.get("/money/export/short.csv?days=14").get_data(as_text=True)
    assert csv_text.startswith("\ufeff") and short in csv_text
    header, row = [line.split(",") for line in csv_text.lstrip("\ufeff").splitlines()[:2]]
    assert Decimal(row[header.index("Missing")]) == short_expected - short_paid_for_sale
    book = load_workbook(io.BytesIO(client.get("/money/export/unpaid.xlsx?days=14").data))
    rows = list(book.active.values)
    assert rows[1][rows[0].index("Order")] == waiting
    assert rows[1][rows[0].index("Days since delivery")] == 21


def _import_and_sync_money_only(app, slug):
    with app.app_context():
        account = db.session.scalar(db.select(MarketplaceAccount).where(MarketplaceAccount.slug == slug))
        service.sync_account(account, marketplaces.adapter_for(account))
        service.sync_account(account, marketplaces.adapter_for(account))  # twice: nothing doubles
        assert db.session.scalar(db.select(db.func.count(MoneyTransaction.id)).where(
            MoneyTransaction.kind == "sale")) == 3
        db.session.remove()


def test_walmart_money_comes_from_the_recon_report(app, walmart_sim):
    _account(app, walmart_sim)
    number, = walmart_sim.generate(1, status="Delivered", lines=1, quantity=2)
    twenty_days_ago = int((utcnow() - timedelta(days=20)).timestamp() * 1000)
    walmart_sim.admin("POST", f"/orders/{number}",
                      json={"set": [[["orderLines", "orderLine", 0, "statusDate"], twenty_days_ago]]})
    _import_and_sync(app, "walmart-sim")

    with app.app_context():
        adapter = marketplaces.adapter_for(db.session.scalar(db.select(MarketplaceAccount)))
        dates = adapter._call("GET", walmart_adapter.RECON_DATES)["availableApReportDates"]
        rows = adapter._call("GET", walmart_adapter.RECON_FILE, params={"reportDate": dates[0]})["reportData"]
    assert len(dates) == 1
    assert all(set(row) <= WALMART_COLUMNS for row in rows)
    mine = [r for r in rows if r.get("Purchase Order #") == number]
    _, money, expected, total = _money_of(app, number)
    assert money.net == sum(Decimal(r["Amount"]) for r in mine) == Decimal(rows[0]["Total Payable"])
    assert money.accrued == total  # price, shipping and tax: the order's total
    assert money.commission == sum(Decimal(r["Amount"]) for r in mine if r["Amount Type"] == "Commission on Product")
    assert money.paid == money.net and money.paid_on.strftime("%m%d%Y") == dates[0]
    assert money.accrued + money.commission >= expected  # not "paid less": commission excludes tax
    with app.app_context():
        assert service.paid_less(utcnow()) == []


def test_walmart_adapter_reads_the_documented_example():
    rows = [{"Period Start Date": "12/11/2025", "Period End Date": "12/19/2025", "Currency": "USD",
             "Transaction Type": "PaymentSummary", "Total Payable": "0.74",
             "Transaction Description": "Deposited in account", "Transaction Posted Timestamp": "01/02/2025"},
            {"Transaction Key": "2020_12_19_317", "Transaction Posted Timestamp": "12/18/2020",
             "Ship Qty": "1", "Amount": "14.98", "Transaction Type": "Sale", "Amount Type": "Product Price",
             "Customer Order #": "6222001976751", "Purchase Order #": "1803550130406",
             "Purchase Order line #": "1"},
            {"Transaction Type": "Sale", "Amount Type": "Commission on Product", "Amount": "-2.25",
             "Purchase Order #": "1803550130406"}]
    from datetime import datetime
    records = walmart_adapter._recon_records("12192025", datetime(2025, 12, 19), rows)
    payout, sale = records
    assert payout.kind == "payout" and payout.amount == Decimal("0.74")
    assert sale.order_external_id == "1803550130406"
    assert (sale.accrued, sale.commission, sale.amount) == (Decimal("14.98"), Decimal("-2.25"), Decimal("12.73"))


def test_ozon_simulator_and_adapter_keep_to_one_month_and_its_paging(app, ozon_sim):
    now = utcnow()
    body = {"filter": {"date": {"from": iso(now - timedelta(days=40)), "to": iso(now)}, "transaction_type": "all"},
            "page": 1, "page_size": 10}
    headers = {"Client-Id": ozon_sim.module.DEFAULT_CREDENTIALS["client_id"],
               "Api-Key": ozon_sim.module.DEFAULT_CREDENTIALS["api_key"]}
    too_long = requests.post(ozon_sim.url + "/v3/finance/transaction/list", json=body, headers=headers, timeout=10)
    assert too_long.status_code == 400 and "PERIOD_IS_TOO_LONG" in too_long.json()["message"]
    body["filter"]["date"]["from"], body["page_size"] = iso(now - timedelta(days=5)), 1001
    assert requests.post(ozon_sim.url + "/v3/finance/transaction/list", json=body, headers=headers,
                         timeout=10).status_code == 400

    numbers = ozon_sim.generate(3, scheme="fbs", status="delivered")
    adapter = ozon_adapter.OzonAdapter(ozon_sim.settings())
    with app.app_context():
        from unittest import mock
        with mock.patch.object(ozon_adapter, "FINANCE_PAGE", 2):  # three operations, two pages
            found = ozon_adapter.money_transactions(adapter, (utcnow() - timedelta(days=70)).replace(tzinfo=None),
                                                    utcnow().replace(tzinfo=None) + timedelta(minutes=1))
    assert sorted(r.order_external_id for r in found if r.kind == "sale") == sorted(numbers)
    # 2 refused calls, then three 28-day windows: two empty (one call each), the last paged twice
    assert requests.get(ozon_sim.url + "/_sim/counters", timeout=10).json()[
        "POST /v3/finance/transaction/list"] == 2 + 1 + 1 + 2


def test_a_marketplace_refusal_saves_nothing(app, ozon_sim):
    settings = ozon_sim.settings(api_key="wrong")
    with app.app_context():
        app.config["MARKETPLACE_ACCOUNTS"] = {"ozon-sim": settings}
        sync_accounts_from_config(app)
        account = db.session.scalar(db.select(MarketplaceAccount))
        with pytest.raises(Permanent):
            service.sync_account(account, marketplaces.adapter_for(account))
        assert db.session.scalar(db.select(db.func.count(MoneyTransaction.id))) == 0


def test_money_page_roles_bad_input_and_formula_guard(app, client, auth):
    with app.app_context():
        order = make_order("walmart", status="delivered", lines=(("SKU-1", 1, "40.00"),))
        order.delivered_at = utcnow() - timedelta(days=30)
        order.account.name = "=HYPERLINK(\"http://x\")"
        db.session.commit()
    auth.login("warehouse")
    assert client.get("/money/").status_code == 403
    auth.logout()
    auth.login("seller")
    bad = client.get("/money/?days=abc")
    assert bad.status_code == 400 and "whole number of days from 1 to 365" in bad.get_data(as_text=True)
    assert client.get("/money/export/nothing.csv").status_code == 404
    assert client.get("/money/export/unpaid.pdf").status_code == 404
    csv_text = client.get("/money/export/unpaid.csv?days=7").get_data(as_text=True)
    assert "'=HYPERLINK" in csv_text
    sheet = load_workbook(io.BytesIO(client.get("/money/export/unpaid.xlsx?days=7").data)).active
    values = list(sheet.values)
    assert values[1][values[0].index("Account")].startswith("'=")
    assert values[1][values[0].index("Expected")] == 34  # 40.00 less 15 %, a number
    assert "Money" in client.get("/orders/").get_data(as_text=True)


def test_the_clock_schedules_the_money_job_and_the_job_reads_each_account(app, ozon_sim, walmart_sim):
    from workers import clock
    from workers import money as money_jobs
    assert any(t.name == "money-sync" for t in clock.tasks(import_every=30))
    assert money_jobs.sync_account.spec.func == "workers.money.sync_account"
    with app.app_context():
        app.config["MARKETPLACE_ACCOUNTS"] = {"ozon-sim": ozon_sim.settings(), "walmart-sim": walmart_sim.settings()}
        sync_accounts_from_config(app)
        ozon_sim.generate(2, scheme="fbs", status="delivered")
        ids = {a.kind: a.id for a in service.accounts_with_money()}
        assert set(ids) == {"ozon", "walmart"}
        assert money_jobs.sync_account(ids["ozon"]) == 2
        assert money_jobs.sync_account(ids["walmart"]) == 0  # nothing settled yet
        ozon_sim.faults(outage=True)  # Ozon down: the job gives up quietly, what was read stays
        assert money_jobs.sync_account(ids["ozon"]) == 0
        assert db.session.scalar(db.select(db.func.count(MoneyTransaction.id))) == 2
