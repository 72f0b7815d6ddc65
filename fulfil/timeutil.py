"""Times are stored as naive UTC; "today" is computed in FULFIL_TIMEZONE."""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_utc_naive(value):
    """Any aware datetime -> naive UTC; naive input is taken as UTC already."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def local_zone(app=None):
    return ZoneInfo((app or current_app).config["FULFIL_TIMEZONE"])


def today_bounds(now=None, zone=None):
    """(start, end) of today in the seller's time zone, as naive UTC datetimes."""
    zone = zone or local_zone()
    now = now or utcnow()
    local_now = now.replace(tzinfo=timezone.utc).astimezone(zone)
    start_local = datetime.combine(local_now.date(), time.min, tzinfo=zone)
    end_local = datetime.combine(local_now.date() + timedelta(days=1), time.min, tzinfo=zone)
    return to_utc_naive(start_local), to_utc_naive(end_local)


def to_local(value, zone=None):
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).astimezone(zone or local_zone())


def lateness(ship_by, now=None):
    """'3 h late', '2 days late', '25 min late' — or None when not late."""
    now = now or utcnow()
    if ship_by is None or ship_by >= now:
        return None
    minutes = int((now - ship_by).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min late"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h late"
    return f"{hours // 24} days late"  # never 1: under 48 h says hours


def time_left(ship_by, now=None):
    """'in 3 h', 'in 40 min' for orders not yet late."""
    now = now or utcnow()
    if ship_by is None or ship_by < now:
        return None
    minutes = int((ship_by - now).total_seconds() // 60)
    if minutes < 60:
        return f"in {minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"in {hours} h"
    return f"in {hours // 24} days"
