"""'Today' is the warehouse's day, not UTC's; lateness reads like a person says it."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fulfil.timeutil import lateness, time_left, today_bounds


def test_today_in_new_york_late_evening_is_not_utc_tomorrow():
    # 23:30 in New York on 21 Nov is 04:30 UTC on 22 Nov.
    now = datetime(2026, 11, 22, 4, 30)
    start, end = today_bounds(now, ZoneInfo("America/New_York"))
    assert start == datetime(2026, 11, 21, 5, 0)
    assert end == datetime(2026, 11, 22, 5, 0)


def test_day_with_dst_change_has_25_hours():
    now = datetime(2026, 11, 1, 15, 0)  # US clocks go back on 1 Nov 2026
    start, end = today_bounds(now, ZoneInfo("America/New_York"))
    assert (end - start).total_seconds() == 25 * 3600


def test_moscow_has_no_dst():
    start, end = today_bounds(datetime(2026, 6, 1, 22, 0), ZoneInfo("Europe/Moscow"))
    assert start == datetime(2026, 6, 1, 21, 0) and end == datetime(2026, 6, 2, 21, 0)


@pytest.mark.parametrize("minutes_late, text", [(0.5, "1 min late"), (25, "25 min late"), (180, "3 h late"),
                                                 (47 * 60, "47 h late"), (50 * 60, "2 days late")])
def test_lateness(minutes_late, text):
    now = datetime(2026, 11, 21, 12, 0)
    from datetime import timedelta
    assert lateness(now - timedelta(minutes=minutes_late), now) == text


def test_not_late_and_time_left():
    now = datetime(2026, 11, 21, 12, 0)
    assert lateness(datetime(2026, 11, 21, 13, 0), now) is None
    assert time_left(datetime(2026, 11, 21, 15, 0), now) == "in 3 h"
    assert time_left(datetime(2026, 11, 21, 11, 0), now) is None
