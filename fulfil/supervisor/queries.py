"""The supervisor's working lists, counts and the accounts' sync and import state.

A page shows the first LIST_LIMIT orders of each list and counts that stop at COUNT_CAP,
both read along the orders indexes, so the dashboard costs the same with 2,000 or 200,000
orders. The exception is disputes: no index has dispute_open, so that list is one pass
over the table. The CSV export streams a whole list in batches.
"""
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import selectinload

from fulfil.extensions import db
from fulfil.models import MARKETPLACES, Event, ImportProblem, MarketplaceAccount, Order, OutboxEntry
from fulfil.status import STATUS_LABELS
from fulfil.timeutil import today_bounds
from fulfil.wording import plural

LIST_LIMIT = 50
COUNT_CAP = 1000  # like the orders tabs: past 1,000 the exact number changes nothing anyone does
EXPORT_BATCH = 500
DISPUTE_STATUSES = ("dispute", "not_accepted")
# Walmart's SOP: a customer escalation not resolved within 48 hours may be refunded by Walmart.
WALMART_REFUND_AFTER = timedelta(hours=48)


@dataclass(frozen=True)
class Count:
    """A count that stopped at COUNT_CAP: shown as "1,000+" rather than scanning on."""
    value: int
    capped: bool = False

    @classmethod
    def of(cls, value):
        """From a count of up to COUNT_CAP + 1 rows."""
        return cls(min(value, COUNT_CAP), value > COUNT_CAP)

    def __add__(self, other):
        return Count(self.value + other.value, self.capped or other.capped)

    def __str__(self):
        return f"{self.value:,}{'+' if self.capped else ''}"


@dataclass(frozen=True)
class WorkList:
    key: str
    title: str
    conditions: tuple
    order_by: tuple
    options: tuple = ()
    shows_refund_risk: bool = False

    def refund_risks(self, orders, now):
        return walmart_refund_risks(orders, now) if self.shows_refund_risk else {}


def work_lists(now, stuck_days):
    """The four lists a supervisor works from, as of `now` (naive UTC)."""
    _, today_end = today_bounds(now)
    open_to_ship = Order.open_to_ship == true()
    return {wl.key: wl for wl in (
        WorkList("past_due", "Past due", (open_to_ship, Order.ship_by < now), (Order.ship_by, Order.id)),
        # Orders already late today are past due, not due today: each order is counted once.
        WorkList("due_today", "Due today", (open_to_ship, Order.ship_by >= now, Order.ship_by < today_end),
                 (Order.ship_by, Order.id)),
        WorkList("disputes", "Disputes and escalations",
                 (or_(Order.dispute_open == true(), Order.status.in_(DISPUTE_STATUSES)),),
                 (Order.dispute_deadline.asc().nulls_last(), Order.ship_by, Order.id),
                 shows_refund_risk=True),
        # In ship-by order, not shipped-at order: the list then walks ix_orders_status_ship_by
        # and stops after a page (there is no index on shipped_at); the two orders nearly agree.
        WorkList("stuck_in_transit", f"In transit for more than {plural(stuck_days, 'day')}",
                 (Order.status == "in_transit", Order.shipped_at < now - timedelta(days=stuck_days)),
                 (Order.ship_by, Order.id), (selectinload(Order.shipments),)),
    )}


def count(work_list, *conditions):
    """How many orders are on the list (optionally narrowed), stopping at COUNT_CAP."""
    capped = select(Order.id).where(*work_list.conditions, *conditions).limit(COUNT_CAP + 1).subquery()
    return Count.of(db.session.scalar(select(func.count()).select_from(capped)))


def order_batches(work_list):
    """The whole list, EXPORT_BATCH orders at a time, without holding it all in memory."""
    query = (select(Order).where(*work_list.conditions).order_by(*work_list.order_by)
             .options(*work_list.options).execution_options(yield_per=EXPORT_BATCH))
    yield from db.session.scalars(query).partitions()


@dataclass(frozen=True)
class Section:
    work_list: WorkList
    count: Count
    orders: list
    refund_risks: dict  # order id -> "refund risk in N h" (Walmart escalations only)


def section(work_list, now):
    """The list's count and first orders from one walk along it: lists without an index
    (disputes) then cost one scan, not two."""
    ids = db.session.scalars(select(Order.id).where(*work_list.conditions).order_by(*work_list.order_by)
                             .limit(COUNT_CAP + 1)).all()
    shown = ids[:LIST_LIMIT]
    loaded = {order.id: order for order in db.session.scalars(
        select(Order).where(Order.id.in_(shown)).options(*work_list.options))}
    orders = [loaded[order_id] for order_id in shown]
    return Section(work_list, Count.of(len(ids)), orders, work_list.refund_risks(orders, now))


def dispute_opened_at(order_ids):
    """When each order's dispute was (last) opened, from the audit trail."""
    if not order_ids:
        return {}
    opened = or_(Event.action == "open_dispute", Event.new_value == STATUS_LABELS["dispute"])
    rows = db.session.execute(select(Event.order_id, func.max(Event.created_at))
                              .where(Event.order_id.in_(order_ids), opened).group_by(Event.order_id))
    return dict(rows.all())


def refund_risk(refund_at, now):
    if refund_at <= now:
        return "refund risk now"
    hours = math.floor((refund_at - now) / timedelta(hours=1))
    return f"refund risk in {hours} h" if hours else "refund risk in under 1 h"


def walmart_refund_risks(orders, now):
    """{order id: text} for open Walmart escalations: 48 h from opening, else the deadline set."""
    walmart = [order for order in orders if order.marketplace == "walmart" and order.dispute_open]
    opened = dispute_opened_at([order.id for order in walmart])
    risks = {}
    for order in walmart:
        refund_at = opened[order.id] + WALMART_REFUND_AFTER if order.id in opened else order.dispute_deadline
        if refund_at is not None:
            risks[order.id] = refund_risk(refund_at, now)
    return risks


@dataclass(frozen=True)
class AccountState:
    account: MarketplaceAccount
    past_due: Count
    due_today: Count
    failed_pushes: int
    open_import_problems: int


def account_states(lists):
    """Per account: its share of the lists, failed pushes and how its imports are going."""
    failed = _count_by_account(OutboxEntry, OutboxEntry.state == "failed")
    problems = _count_by_account(ImportProblem, ImportProblem.resolved_at.is_(None))
    accounts = db.session.scalars(select(MarketplaceAccount).order_by(MarketplaceAccount.kind,
                                                                      MarketplaceAccount.name))
    # account + open_to_ship + ship_by: counted inside ix_orders_account_ship_by alone.
    return [AccountState(account, count(lists["past_due"], Order.account_id == account.id),
                         count(lists["due_today"], Order.account_id == account.id),
                         failed.get(account.id, 0), problems.get(account.id, 0))
            for account in accounts]


def _count_by_account(model, condition):
    rows = db.session.execute(select(model.account_id, func.count()).where(condition)
                              .group_by(model.account_id))
    return dict(rows.all())


@dataclass(frozen=True)
class MarketplaceTotal:
    marketplace: str
    past_due: Count
    due_today: Count
    failed_pushes: int


def marketplace_totals(states):
    """Sum the accounts per marketplace, in the marketplaces' usual order."""
    totals = []
    for kind in MARKETPLACES:
        mine = [s for s in states if s.account.kind == kind]
        if mine:
            totals.append(MarketplaceTotal(kind, sum((s.past_due for s in mine), Count(0)),
                                           sum((s.due_today for s in mine), Count(0)),
                                           sum(s.failed_pushes for s in mine)))
    return totals
