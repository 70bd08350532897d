"""Charts are pure functions and units format in one place: checked without Streamlit."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

import charts
from metrics import units
from metrics.registry import BY_NAME
from metrics.units import format_delta, format_value

TREND = pl.DataFrame({"period": [date(2024, 3, 4), date(2024, 3, 11)], "tickets_created": [10, 30],
                      "first_reply_minutes_median": [90.0, 300.0]})


def test_volume_and_speed_draws_counts_as_bars_and_durations_in_hours_on_a_second_axis() -> None:
    figure = charts.volume_and_speed(TREND, BY_NAME["tickets_created"], BY_NAME["first_reply_minutes_median"], "week")
    bars, line = figure.data
    assert (bars.type, list(bars.y)) == ("bar", [10, 30])
    assert (line.type, list(line.y), line.yaxis) == ("scatter", [1.5, 5.0], "y2")
    assert figure.layout.yaxis2.ticksuffix == " h"
    assert figure.layout.xaxis.dtick == 7 * 86_400_000


@pytest.mark.parametrize(("grain", "step", "periods", "every", "with_year"), [
    ("week", timedelta(weeks=1), 404, 52 * 7 * 86_400_000, True),  # seven and a half years: 8 ticks, a year apart
    ("week", timedelta(weeks=1), 40, 4 * 7 * 86_400_000, False),  # 10 ticks four weeks apart, in one year
    ("week", timedelta(weeks=1), 12, 7 * 86_400_000, False),  # as many as fit: every week
    ("month", timedelta(days=31), 93, "M12", None),  # 8 ticks; a month's label always has its year
    ("month", timedelta(days=31), 24, "M2", None),
])
def test_a_long_view_labels_every_few_periods_not_each_one(grain: str, step: timedelta, periods: int, every: object,
                                                           with_year: bool | None) -> None:
    # a label on each of 404 weeks froze the browser for most of a minute (Plotly laid out every label)
    frame = pl.DataFrame({"period": [date(2019, 3, 11) + i * step for i in range(periods)],
                          "tickets_created": list(range(periods))})
    axis = charts.trend(frame, BY_NAME["tickets_created"], grain).layout.xaxis
    assert axis.dtick == every and axis.tick0 == date(2019, 3, 11)
    if with_year is not None:
        assert axis.tickformat == ("%d %b %Y" if with_year else "%d %b")


def test_by_dimension_puts_the_largest_bar_on_top() -> None:
    frame = pl.DataFrame({"by_value": ["chat", "email", "phone"], "tickets_created": [5, 9, 1]})
    figure = charts.by_dimension(frame, BY_NAME["tickets_created"], "channel")
    assert list(figure.data[0].y) == ["phone", "chat", "email"]  # Plotly draws the last category on top


def test_category_bars_label_each_bar_and_leave_room_for_the_longest_label() -> None:
    # 40 of 50 tickets, 10 more than the 30 before; 10 of 50, before unknown
    table = pl.DataFrame({"by_value": ["wismo", "refund"], "category": ["Where is my order", "Refund"],
                          "tickets": [40, 10], "share": [0.8, 0.2], "change": [10, None]})
    figure = charts.category_bars(table)
    bars = figure.data[0]
    assert list(bars.y) == ["Refund", "Where is my order"]
    assert list(bars.text) == ["20%", "80% (+10)"]
    # drawn past the plot's edge, never cut there, into a margin as wide as the longest label
    assert bars.cliponaxis is False
    assert figure.layout.margin.r >= 7 * len("80% (+10)")


@pytest.mark.parametrize(("minutes", "expected"), [(None, (1.0, "min")), (59, (1.0, "min")), (60, (60.0, "h")),
                                                   (2879, (60.0, "h")), (2880, (1440.0, "d"))])
def test_duration_scale_picks_a_readable_unit(minutes: float | None, expected: tuple[float, str]) -> None:
    """Minutes below an hour, hours below two days, days after that."""
    assert units.duration_scale(minutes) == expected


@pytest.mark.parametrize(("minutes", "suffix"), [(45.0, "min"), (150.0, "h"), (4320.0, "d")])
def test_a_duration_reads_in_the_same_unit_on_a_tile_an_axis_and_a_table(minutes: float, suffix: str) -> None:
    """One rule: the tile's text, the chart's axis and the team table's column all switch unit at the same size."""
    frame = pl.DataFrame({"period": [date(2024, 3, 4)], "first_reply_minutes_median": [minutes],
                          "first_reply_minutes_median_n": [30]})
    metric = BY_NAME["first_reply_minutes_median"]
    figure = charts.trend(frame, metric, "week")
    divisor, table_suffix = units.scale(metric.unit, minutes)
    assert format_value(minutes, "minutes").endswith(f" {suffix}")
    assert figure.layout.yaxis.ticksuffix == f" {suffix}"
    assert table_suffix == suffix and units.column("minutes", table_suffix).endswith(f" {suffix}")
    assert list(figure.data[0].y) == [minutes / divisor]


def test_every_unit_of_the_registry_has_one_display() -> None:
    """A KPI's unit decides its formats: a unit the table does not know fails here, not on a page."""
    assert {metric.unit for metric in BY_NAME.values()} <= set(units.UNITS)
    assert units.header("First reply (median)", "minutes", "h") == "First reply (median), hours"
    assert units.header("CSAT", "fraction") == "CSAT, share"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(1234, "count", "1,234"), (0.8125, "fraction", "81.2%"), (45, "minutes", "45 min"), (150, "minutes", "2.5 h"),
     (4320, "minutes", "3.0 d"), (70, "money", "70.00"), (8.44, "per_100", "8.4"), (None, "count", "—")],
)
def test_format_value_writes_each_unit_its_own_way_and_a_dash_for_nothing(value: float | None, unit: str,
                                                                          text: str) -> None:
    assert format_value(value, unit) == text


def test_format_delta_signs_are_ascii_so_streamlit_colours_them() -> None:
    assert format_delta(10, 30, "minutes") == "-20 min"
    assert format_delta(0.5, 0.25, "fraction") == "+25.0 pp"
    assert format_delta(12, 10, "count") == "+2 (+20%)"
    assert format_delta(90.0, 100.0, "money", "USD") == "-USD 10.00 (-10%)"
    assert format_delta(5, None, "count") is None
