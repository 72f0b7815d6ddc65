"""Statistics over a period: volume per day, on-time rate, time to ship, time in transit.

One query streams three timestamps and an on-time flag for each order received, shipped
or delivered in the period; the rest is plain Python. That way days are cut at midnight in FULFIL_TIMEZONE
(daylight saving included) identically on SQLite and PostgreSQL, and medians need no
database extension.
"""
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median

from sqlalchemy import or_, select

from fulfil.extensions import db
from fulfil.models import MARKETPLACES, Order
from fulfil.timeutil import local_zone, to_local, to_utc_naive, utcnow

FETCH_BATCH = 5000
_MARKETPLACE_ORDER = {kind: n for n, kind in enumerate(MARKETPLACES)}


@dataclass(frozen=True)
class DayVolume:
    day: date
    received: int
    shipped: int


@dataclass
class Tally:
    """One marketplace's (or all marketplaces') figures for the period."""
    received: int = 0
    shipped: int = 0
    # On-time rate counts only shipped orders that had a ship-by date to be measured against.
    with_ship_by: int = 0
    on_time: int = 0
    ship_seconds: list = field(default_factory=list)
    transit_seconds: list = field(default_factory=list)

    @property
    def delivered(self):
        return len(self.transit_seconds)

    @property
    def on_time_rate(self):
        return self.on_time / self.with_ship_by if self.with_ship_by else None

    @property
    def median_time_to_ship(self):
        return _median(self.ship_seconds)

    @property
    def median_time_in_transit(self):
        return _median(self.transit_seconds)

    def add(self, other):
        self.received += other.received
        self.shipped += other.shipped
        self.with_ship_by += other.with_ship_by
        self.on_time += other.on_time
        self.ship_seconds += other.ship_seconds
        self.transit_seconds += other.transit_seconds


def _median(seconds):
    return timedelta(seconds=median(seconds)) if seconds else None


@dataclass(frozen=True)
class PeriodStats:
    days: list  # DayVolume, oldest first, today last
    overall: Tally
    by_marketplace: dict  # marketplace -> Tally, only marketplaces with activity


def day_starts(days, now, zone):
    """Naive-UTC instants of local midnight opening each of the last `days` days, then tomorrow's."""
    first = to_local(now, zone).date() - timedelta(days=days - 1)
    return [to_utc_naive(datetime.combine(first + timedelta(days=n), time.min, tzinfo=zone))
            for n in range(days + 1)]


def period_stats(days, now=None, zone=None):
    """PeriodStats for the last `days` local days, today included."""
    zone = zone or local_zone()
    starts = day_starts(days, now or utcnow(), zone)
    start = starts[0]
    # No index covers these columns, so this is one pass over the table; comparing in SQL
    # spares Python a datetime per row, and the Core connection spares it the ORM's rows.
    on_time = (Order.shipped_at <= Order.ship_by).label("on_time")
    query = (select(Order.marketplace, Order.ordered_at, Order.shipped_at, Order.delivered_at, on_time)
             .where(or_(Order.ordered_at >= start, Order.shipped_at >= start, Order.delivered_at >= start)))
    rows = db.session.connection().execute(query).yield_per(FETCH_BATCH)
    return summarise(rows, starts, zone)


def summarise(rows, starts, zone):
    """Fold (marketplace, ordered_at, shipped_at, delivered_at, on_time) rows into PeriodStats.

    on_time is None when the order was not shipped or had no ship-by date.
    """
    received, shipped = [0] * (len(starts) - 1), [0] * (len(starts) - 1)
    tallies = {}
    for marketplace, ordered_at, shipped_at, delivered_at, on_time in rows:
        tally = tallies.setdefault(marketplace, Tally())
        day = _day_index(starts, ordered_at)
        if day is not None:
            received[day] += 1
            tally.received += 1
        day = _day_index(starts, shipped_at)
        if day is not None:
            shipped[day] += 1
            tally.shipped += 1
            if on_time is not None:
                tally.with_ship_by += 1
                tally.on_time += on_time
            if ordered_at is not None:
                tally.ship_seconds.append((shipped_at - ordered_at).total_seconds())
        if shipped_at is not None and _day_index(starts, delivered_at) is not None:
            tally.transit_seconds.append((delivered_at - shipped_at).total_seconds())

    active = [(kind, t) for kind, t in tallies.items() if t.received or t.shipped or t.delivered]
    by_marketplace = dict(sorted(active, key=lambda item: _MARKETPLACE_ORDER.get(item[0], len(MARKETPLACES))))
    overall = Tally()
    for tally in by_marketplace.values():
        overall.add(tally)
    days = [DayVolume(to_local(start, zone).date(), received[n], shipped[n])
            for n, start in enumerate(starts[:-1])]
    return PeriodStats(days, overall, by_marketplace)


def _day_index(starts, moment):
    """Which day of the period `moment` falls on, or None outside the period."""
    if moment is None:
        return None
    index = bisect_right(starts, moment) - 1
    return index if 0 <= index < len(starts) - 1 else None


# Non-breaking spaces keep a number with its unit when a narrow column wraps.
NBSP = "\u00a0"


def format_duration(value):
    if value is None:
        return "—"
    minutes = max(int(value.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes}{NBSP}min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}{NBSP}h {minutes}{NBSP}min" if minutes else f"{hours}{NBSP}h"
    days, hours = divmod(hours, 24)
    return f"{days}{NBSP}d {hours}{NBSP}h" if hours else f"{days}{NBSP}d"


def format_rate(rate):
    if rate is None:
        return "—"
    return f"{rate * 100:.1f}".removesuffix(".0") + f"{NBSP}%"
