"""Reading what the marketplaces pay, and the figures built on it.

Rules (one place each):
- An order's money = its "sale" transactions: accrued, commission, fees (negative), net =
  their amounts; paid = the net of those whose payout has happened (paid_on set).
- Walmart reports only settled money (a recon report is a deposited period), so its sales
  come paid. Ozon reports sales as they accrue and payouts apart: a payout pays every sale
  of the account dated before it that no earlier payout paid (PAYOUT RULE, see _apply_payouts).
- Expected = order total minus the commission at the marketplace's rate
  (config MONEY_COMMISSION_RATES, default 15 % for Ozon and Walmart), to the cent. An order is
  "paid less than expected" when what it was paid for the sale (accrued + commission of its
  paid sales; fees are shown apart and not part of the rule) is short of that by more than a
  cent (rounding).
- Wish is not read yet (its adapter has no money_transactions): its orders are left out.
- "Delivered but not paid after N days": delivered (or, if fulfil never saw the delivery,
  shipped) at least N days ago and no paid sale yet.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import case, func, select

from fulfil import marketplaces
from fulfil.extensions import db
from fulfil.models import MarketplaceAccount, Order
from fulfil.money.models import ZERO, MoneyTransaction
from fulfil.timeutil import utcnow

CENT = Decimal("0.01")
TOLERANCE = CENT
DEFAULT_RATES = {"ozon": "0.15", "walmart": "0.15"}
LOOKBACK_DAYS = 62


def _module(kind):
    try:
        return marketplaces.module_for(kind)
    except (KeyError, ValueError, ImportError):
        return None


def commission_rate(kind):
    rates = {**DEFAULT_RATES, **(current_app.config.get("MONEY_COMMISSION_RATES") or {})}
    return Decimal(str(rates.get(kind, "0")))


def expected(order):
    return (order.total * (1 - commission_rate(order.marketplace))).quantize(CENT, ROUND_HALF_UP)


# -- reading the marketplaces --------------------------------------------------------------

def sync_account(account, adapter, now=None):
    """Store every money movement of the last LOOKBACK_DAYS (config MONEY_LOOKBACK_DAYS),
    match sales to orders and payouts to sales; commits. Returns how many were read.
    Raises the adapter's MarketplaceError, with nothing saved."""
    fetch = getattr(_module(account.kind), "money_transactions", None)
    if fetch is None:
        return 0
    now = now or utcnow()
    days = int(current_app.config.get("MONEY_LOOKBACK_DAYS") or LOOKBACK_DAYS)
    records = fetch(adapter, now - timedelta(days=days), now)
    known = {t.external_id: t for t in db.session.scalars(select(MoneyTransaction).where(
        MoneyTransaction.account_id == account.id,
        MoneyTransaction.external_id.in_([r.external_id for r in records])))} if records else {}
    numbers = {r.order_external_id for r in records if r.order_external_id}
    orders = dict(db.session.execute(select(Order.external_id, Order.id).where(
        Order.account_id == account.id, Order.external_id.in_(numbers))).all()) if numbers else {}
    for record in records:
        row = known.get(record.external_id)
        if row is None:
            row = MoneyTransaction(account_id=account.id, external_id=record.external_id)
            db.session.add(row)
        row.kind, row.occurred_at, row.currency = record.kind, record.occurred_at, record.currency[:3]
        row.order_external_id = record.order_external_id
        row.order_id = orders.get(record.order_external_id)
        row.accrued, row.commission, row.fees = record.accrued, record.commission, record.fees
        row.amount, row.description = record.amount, record.description[:200]
        if record.paid_on is not None:
            row.paid_on = record.paid_on
    db.session.flush()
    _apply_payouts(account.id)
    db.session.commit()
    return len(records)


def _apply_payouts(account_id):
    """PAYOUT RULE: each payout, oldest first, pays the sales dated before it not paid yet."""
    payouts = db.session.execute(select(MoneyTransaction.occurred_at, MoneyTransaction.paid_on).where(
        MoneyTransaction.account_id == account_id, MoneyTransaction.kind == "payout")
        .order_by(MoneyTransaction.occurred_at)).all()
    for occurred_at, paid_on in payouts:
        db.session.execute(db.update(MoneyTransaction).where(
            MoneyTransaction.account_id == account_id, MoneyTransaction.kind == "sale",
            MoneyTransaction.paid_on.is_(None), MoneyTransaction.occurred_at < occurred_at)
            .values(paid_on=paid_on), execution_options={"synchronize_session": False})


# -- figures -------------------------------------------------------------------------------

@dataclass
class OrderMoney:
    accrued: Decimal
    commission: Decimal
    fees: Decimal
    net: Decimal
    paid: Decimal
    paid_sale: Decimal  # accrued + commission of the paid sales: what "expected" is held to
    currency: str
    paid_on: date | None


def _sums():
    paid = MoneyTransaction.paid_on.isnot(None)
    return (func.coalesce(func.sum(MoneyTransaction.accrued), 0).label("accrued"),
            func.coalesce(func.sum(MoneyTransaction.commission), 0).label("commission"),
            func.coalesce(func.sum(MoneyTransaction.fees), 0).label("fees"),
            func.coalesce(func.sum(MoneyTransaction.amount), 0).label("net"),
            func.coalesce(func.sum(case((paid, MoneyTransaction.amount), else_=0)), 0).label("paid"),
            func.coalesce(func.sum(case((paid, MoneyTransaction.accrued + MoneyTransaction.commission),
                                        else_=0)), 0).label("paid_sale"),
            func.max(MoneyTransaction.paid_on).label("paid_on"), func.count(MoneyTransaction.id).label("count"))


def _money(row, currency):
    *figures, paid_on, count = row
    return OrderMoney(*(Decimal(str(f or 0)).quantize(CENT) for f in figures), currency=currency, paid_on=paid_on)


def order_money(order):
    """The order's money, or None when no marketplace has reported any for it yet."""
    row = db.session.execute(select(*_sums()).where(MoneyTransaction.order_id == order.id,
                                                     MoneyTransaction.kind == "sale")).one()
    return _money(row, order.currency) if row[-1] else None


@dataclass
class Row:
    order: Order
    money: OrderMoney | None
    expected: Decimal
    days: int | None = None  # since delivered

    @property
    def missing(self):
        got = self.money.paid_sale if self.money else ZERO
        return max(ZERO, self.expected - got)


def _orders_with_money(conditions, money_conditions=(), paid_none=False):
    """(order, *sums) per order: the sums over its sales (those meeting `money_conditions`)
    in a subquery, so the order's eager-loaded account stays out of the GROUP BY."""
    sums = select(MoneyTransaction.order_id, *_sums(),
                  func.count(MoneyTransaction.paid_on).label("paid_count")).where(
        MoneyTransaction.kind == "sale", MoneyTransaction.order_id.isnot(None), *money_conditions
    ).group_by(MoneyTransaction.order_id).subquery()
    figures = [c for c in sums.c if c.name not in ("order_id", "paid_count")]
    query = (select(Order, *figures).outerjoin(sums, sums.c.order_id == Order.id)
             .where(Order.marketplace.in_(money_kinds()), *conditions))
    if paid_none:
        query = query.where(func.coalesce(sums.c.paid_count, 0) == 0)
    else:
        query = query.where(sums.c.order_id.isnot(None))
    return db.session.execute(query.order_by(Order.id)).all()


def money_kinds():
    return [k for k in ("ozon", "walmart", "wish") if callable(getattr(_module(k), "money_transactions", None))]


def unpaid_delivered(now, days):
    """Delivered at least `days` ago and not paid at all yet, longest waiting first."""
    delivered = func.coalesce(Order.delivered_at, Order.shipped_at)
    rows = _orders_with_money([Order.status == "delivered", delivered <= now - timedelta(days=days)],
                              paid_none=True)
    found = []
    for order, *figures in rows:
        when = order.delivered_at or order.shipped_at
        found.append(Row(order, _money(figures, order.currency) if figures[-1] else None, expected(order),
                         (now - when).days))
    return sorted(found, key=lambda r: -r.days)


def paid_less(now):
    """Paid (for the sale) short of expected by more than a cent, biggest shortfall first."""
    rows = _orders_with_money([], [MoneyTransaction.paid_on.isnot(None)])
    found = [Row(order, _money(figures, order.currency), expected(order)) for order, *figures in rows]
    return sorted((r for r in found if r.missing > TOLERANCE), key=lambda r: -r.missing)


@dataclass
class PayoutDay:
    day: date
    account: MarketplaceAccount
    amount: Decimal
    currency: str
    done: bool  # False: money accrued and waiting for the next payout (its day estimated)


def next_payout_day(today):
    """Ozon and Walmart pay twice a month here: the day after the 15th and the month's end."""
    if today.day < 16:
        return today.replace(day=16)
    return (today.replace(day=28) + timedelta(days=4)).replace(day=1)


def payout_calendar(now, days_back=62):
    """Payouts made in the last `days_back` days, newest first, then what waits per account."""
    since = (now - timedelta(days=days_back)).date()
    made = [PayoutDay(t.paid_on, t.account, t.amount, t.currency, True) for t in db.session.scalars(
        select(MoneyTransaction).where(MoneyTransaction.kind == "payout", MoneyTransaction.paid_on >= since)
        .order_by(MoneyTransaction.paid_on.desc(), MoneyTransaction.id))]
    waiting = db.session.execute(
        select(MoneyTransaction.account_id, MoneyTransaction.currency, func.sum(MoneyTransaction.amount))
        .where(MoneyTransaction.kind == "sale", MoneyTransaction.paid_on.is_(None))
        .group_by(MoneyTransaction.account_id, MoneyTransaction.currency)).all()
    upcoming = [PayoutDay(next_payout_day(now.date()), db.session.get(MarketplaceAccount, account_id),
                          Decimal(str(total)).quantize(CENT), currency, False)
                for account_id, currency, total in waiting]
    return upcoming + made


def accounts_with_money():
    return db.session.scalars(select(MarketplaceAccount).where(
        MarketplaceAccount.enabled, MarketplaceAccount.kind.in_(money_kinds()))).all()
