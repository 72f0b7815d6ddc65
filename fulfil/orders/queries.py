"""The inbox lists: tabs, filters, prefix search and keyset paging.

Every list walks one of the (…, ship_by, id) indexes in order and stops after a page, so a
page costs the same at 2,000 and at 200,000 orders: no OFFSET, no unbounded COUNT.
"""
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Select, and_, false, func, or_, select, true
from sqlalchemy.orm import selectinload

from fulfil import tracking
from fulfil.extensions import db
from fulfil.inputs import parse_id
from fulfil.models import Order, SearchKey
from fulfil.search import prefix_bounds
from fulfil.status import OPEN_STATUSES, STATUS_LABELS
from fulfil.timeutil import today_bounds, utcnow

TABS = {
    "new": "New",
    "due_today": "Due today",
    "past_due": "Past due",
    "in_transit": "In transit",
    "all": "All",
}
# Tab counts stop here ("1,000+"): nobody works through more, and counting further costs.
COUNT_CAP = 1000
# A short prefix ("1") matches half the database; the first matches are enough (nobody
# scrolls through more) and keep search as cheap at 200,000 orders as at 2,000.
SEARCH_CAP = 200


@dataclass(frozen=True)
class OrderFilter:
    """What the person asked to see; every value already checked (see forms.ListForm)."""
    tab: str = "new"
    marketplace: str = ""
    account_id: int | None = None
    status: str = ""
    q: str = ""

    def args(self, **changes):
        """Query-string arguments for url_for (empty ones left out, so URLs stay short)."""
        values = {"tab": self.tab, "marketplace": self.marketplace, "account": self.account_id,
                  "status": self.status, "q": self.q}
        values.update(changes)
        return {key: value for key, value in values.items() if value not in (None, "")}


@dataclass(frozen=True)
class Clock:
    """'Now' and the end of today in FULFIL_TIMEZONE, fixed once per request."""
    now: datetime
    today_end: datetime

    @classmethod
    def current(cls):
        now = utcnow()
        return cls(now, today_bounds(now)[1])


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last row's (ship_by, id)."""
    ship_by: datetime
    id: int

    def __str__(self):
        return f"{self.ship_by.isoformat()}~{self.id}"

    @classmethod
    def parse(cls, text):
        """Inverse of str(); raises ValueError for anything else."""
        ship_by, _, order_id = text.partition("~")
        ship_by, order_id = datetime.fromisoformat(ship_by), parse_id(order_id)
        if ship_by.tzinfo is not None:
            raise ValueError("cursor times are naive UTC")
        if order_id is None:
            raise ValueError("a cursor's id is an order id")
        return cls(ship_by, order_id)


@dataclass(frozen=True)
class Search:
    order_ids: Select  # ids of the orders behind the first SEARCH_CAP matching keys
    capped: bool  # there are more matches than that: the person should type more


def search(text):
    """Orders with a search key starting with `text` (None when there is nothing to search).

    The ids stay a subquery: both databases then look the few orders up by primary key,
    and the SQL text does not change with the number of matches.
    """
    bounds = prefix_bounds(text or "")
    if bounds is None:
        return None
    low, high = bounds
    below = [] if high is None else [SearchKey.key < high]
    first_keys = (select(SearchKey.order_id).where(SearchKey.key >= low, *below)
                  .order_by(SearchKey.key).limit(SEARCH_CAP))
    matched = db.session.scalar(select(func.count()).select_from(first_keys.subquery()))
    return Search(first_keys, capped=matched == SEARCH_CAP)


def scan(text, limit=2):
    """Ids of orders with a key equal to what a scanner typed (order, posting, PO#, tracking)."""
    keys = {text.strip().lower(), tracking.normalise(text).lower()} - {""}
    return db.session.scalars(select(SearchKey.order_id).where(SearchKey.key.in_(keys))
                              .distinct().limit(limit)).all()


def _tab_condition(tab, clock):
    is_open = Order.open_to_ship == true()  # '= true', which both databases match to the index
    return {
        "new": Order.status == "new",
        "due_today": and_(is_open, Order.ship_by >= clock.now, Order.ship_by < clock.today_end),
        "past_due": and_(is_open, Order.ship_by < clock.now),
        "in_transit": Order.status == "in_transit",
        "all": true(),
    }[tab]


# The statuses each tab can hold: a status filter outside them means an empty list, which
# is answered without walking an index only to find nothing in it.
TAB_STATUSES = {"new": {"new"}, "due_today": OPEN_STATUSES, "past_due": OPEN_STATUSES,
                "in_transit": {"in_transit"}, "all": set(STATUS_LABELS)}


def _conditions(order_filter, clock, found):
    if order_filter.status and order_filter.status not in TAB_STATUSES[order_filter.tab]:
        return [false()]
    conditions = [_tab_condition(order_filter.tab, clock)]
    if order_filter.marketplace:
        conditions.append(Order.marketplace == order_filter.marketplace)
    if order_filter.account_id is not None:
        conditions.append(Order.account_id == order_filter.account_id)
    if order_filter.status:
        conditions.append(Order.status == order_filter.status)
    if found is not None:
        conditions.append(Order.id.in_(found.order_ids))
    return conditions


def page(order_filter, clock, found=None, after=None, limit=50):
    """One page of orders in (ship_by, id) order after `after` -> (orders, next Cursor or None)."""
    keyset = [] if after is None else [
        # 'ship_by >= x' is the index range; the OR only filters rows at the boundary.
        Order.ship_by >= after.ship_by, or_(Order.ship_by > after.ship_by, Order.id > after.id)]
    # Rows show lines and decide "Edit tracking" from packages: both in one query each.
    loads = [selectinload(Order.lines), selectinload(Order.shipments)]
    orders = db.session.scalars(
        select(Order).where(*_conditions(order_filter, clock, found), *keyset)
        .order_by(Order.ship_by, Order.id).limit(limit + 1).options(*loads)).all()
    if len(orders) <= limit:
        return orders, None
    orders = orders[:limit]
    return orders, Cursor(orders[-1].ship_by, orders[-1].id)


def iter_orders(order_filter, clock, found=None, batch=500):
    """Every order of the list, read page by page (for CSV export: memory stays flat)."""
    after = None
    while True:
        orders, after = page(order_filter, clock, found, after, limit=batch)
        yield from orders
        if after is None:
            return


def count_label(count):
    """'12', '1,000+' (counts stop at COUNT_CAP + 1)."""
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


def counts(order_filter, clock, found=None):
    """{tab: number of orders, at most COUNT_CAP + 1} for the filter and search, in one query."""
    if found is not None:
        # The search already bounds the rows (SEARCH_CAP): count all tabs in one pass over them.
        where = _conditions(replace(order_filter, tab="all"), clock, found)
        columns = [func.count().filter(_tab_condition(tab, clock)) for tab in TABS]
        return dict(zip(TABS, db.session.execute(select(*columns).select_from(Order).where(*where)).one()))
    columns = []
    for tab in TABS:
        # In list order, so the planner walks the list's own index and stops at the cap
        # (PostgreSQL otherwise may scan the table, hoping to find the rows early).
        capped = (select(Order.id).where(*_conditions(replace(order_filter, tab=tab), clock, found))
                  .order_by(Order.ship_by, Order.id).limit(COUNT_CAP + 1).subquery())
        columns.append(select(func.count()).select_from(capped).scalar_subquery())
    return dict(zip(TABS, db.session.execute(select(*columns)).one()))
