"""The volume chart's geometry, worked out here so the SVG template only draws it.

Drawn on the server as inline SVG: no chart library, nothing fetched from a CDN, and it
scales with the page from a tablet to a wall screen (coordinates are in viewBox units).
"""
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 24, 12, 30  # room for the axis labels
SERIES = ("received", "shipped")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Tick:
    at: float  # y for the value axis, x (a bar group's centre) for the day axis
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list
    value_ticks: list
    day_ticks: list
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM


def nice_ceiling(value):
    """The smallest 1, 2 or 5 × 10ⁿ at or above value, so the axis reads in round numbers."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def volume_chart(days):
    """Two bars a day (orders received, orders shipped) for DayVolume rows, oldest first."""
    top = nice_ceiling(max((max(d.received, d.shipped) for d in days), default=0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / len(days)
    bar_width = slot * 0.4
    bars, day_ticks = [], []
    # Label every day of a week, weekly over a month, fortnightly over a quarter; always today.
    label_every = 1 if len(days) <= 7 else 7 if len(days) <= 31 else 14
    for index, day in enumerate(days):
        left = LEFT + index * slot + slot * 0.1
        for offset, series in enumerate(SERIES):
            value = getattr(day, series)
            height = plot_height * value / top
            bars.append(Bar(round(left + offset * bar_width, 2), round(TOP + plot_height - height, 2),
                            round(bar_width, 2), round(height, 2), series,
                            f"{day.day:%a %d %b}: {value:,} {series}"))
        if (len(days) - 1 - index) % label_every == 0:
            day_label = f"{day.day:%a} {day.day.day}" if len(days) <= 7 else f"{day.day.day} {day.day:%b}"
            day_ticks.append(Tick(round(LEFT + (index + 0.5) * slot, 2), day_label))
    value_ticks = [Tick(round(TOP + plot_height - plot_height * value / top, 2), f"{value:,}")
                   for value in sorted({0, top // 2, top})]
    return Chart(bars, value_ticks, day_ticks)
