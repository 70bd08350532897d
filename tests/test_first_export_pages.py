"""The pages on a store's first real export, under AppTest: a Zendesk export of two spring months with business-hours
durations only (tests/fixtures/tickets/zendesk_business_hours_only.csv, worked out in test_first_export_kpis.py),
imported as a user would. Every page opens on what the data can give, and says what it cannot instead of drawing an
empty chart.

The pages open on the 30 days up to the newest ticket: 1-30 April 2024. Business first replies created in April:
2001 20 (Mon 04-01), 2002 90 (Tue 04-02), 2003 60 (Fri 04-05), 2005 480 (Mon 04-15), 2006 240 (Thu 04-18),
2007 45 (Mon 04-22); 2004 and 2008 were never answered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.cli import import_paths
from metrics.units import UNKNOWN, format_value
from settings import get_settings
from tests.conftest import PROJECT, use_warehouse
from tests.test_first_export_kpis import FIXTURE

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
TIMEOUT = 60


@pytest.fixture
def first_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse holding only the business-hours export, as after importing it and clearing the demo."""
    db = tmp_path / "first_export.duckdb"
    [result] = import_paths([str(FIXTURE)], db, get_settings())
    assert result.status == "imported", result.reason
    use_warehouse(monkeypatch, db)
    return db


def _page(page: str, **query: str) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for key, value in query.items():
        app.query_params[key] = value
    app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception and not app.error
    return app


def _figures(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def _in_minutes(values: list[float | None], divisor: float) -> list[float | None]:
    return [None if v is None else round(v * divisor, 6) for v in values]


def test_overview_shows_the_business_hours_first_reply_tiles_with_numbers(first_export: Path) -> None:
    app = _page("overview")
    tiles = {metric.label.split(" · ")[0]: metric.value for metric in app.metric}
    # [20, 45, 60, 90, 240, 480]: median 75, p90 360 (test_first_export_kpis)
    assert tiles["First reply, business hours (median)"] == format_value(75.0, "minutes")
    assert tiles["First reply, business hours (p90)"] == format_value(360.0, "minutes")
    assert "First reply (median)" not in tiles
    assert tiles["Resolution (median)"] == format_value(1440.0, "minutes")  # from Created at -> Solved at
    assert (tiles["Tickets created"], tiles["Tickets solved"], tiles["Backlog"]) == ("8", "5", "3")
    assert any(c.value.startswith("Shown in business hours") and "first reply" in c.value for c in app.caption)


def test_overview_chart_draws_the_business_first_reply_per_week(first_export: Path) -> None:
    app = _page("overview")
    volume, speed = _figures(app)[0]["data"]
    assert volume["y"] == [3, 1, 2, 1, 1]  # weeks from Mon 04-01: 2001-2003, 2004, 2005-2006, 2007, 2008
    # medians per week: [20, 90, 60] -> 60; none; [480, 240] -> 360; [45]; none (axis in hours)
    assert _in_minutes(speed["y"], 60) == [60.0, None, 360.0, 45.0, None]
    assert speed["name"] == "First reply, business hours (median)"


def test_overview_on_dates_without_tickets_says_so_once_for_both_charts(first_export: Path) -> None:
    app = _page("overview", start="2024-06-01", end="2024-06-30")  # the export's tickets are all from spring
    no_tickets = "No tickets created in these dates: widen the dates or clear a filter."
    assert [info.value for info in app.info].count(no_tickets) == 1
    assert not _figures(app)
    assert not any(block.value.startswith("**Tickets by channel") for block in app.markdown)


def test_overview_says_which_export_gives_the_orders_it_lacks(first_export: Path) -> None:
    app = _page("overview")
    tiles = {metric.label: metric.value for metric in app.metric}
    assert tiles["Orders"] == "—" and tiles["Contacts per 100 orders"] == "—"  # not 0 orders
    assert any("**Orders** comes from an orders export (Shopify" in info.value for info in app.info)


def test_trends_opens_on_the_business_first_reply_and_draws_it(first_export: Path) -> None:
    app = _page("trends")
    assert app.selectbox(key="kpi").value == "first_reply_business_minutes_median"
    trend = _figures(app)[0]["data"][0]
    assert _in_minutes(trend["y"], 60) == [60.0, None, 360.0, 45.0, None]
    assert not [info for info in app.info if "Unavailable" in info.value]


def test_trends_link_asking_for_the_calendar_first_reply_is_told_what_gives_it(first_export: Path) -> None:
    app = _page("trends", kpi="first_reply_minutes_median")
    assert app.selectbox(key="kpi").value == "first_reply_minutes_median"
    message = next(info.value for info in app.info if "First reply (median)" in info.value)
    assert "'First reply time in minutes'" in message and "business-hours duration alone" in message
    assert len(_figures(app)) == 3  # no trend chart: the heatmap and the two bucket charts


def test_trends_dates_without_a_value_get_a_sentence_not_an_empty_chart(first_export: Path) -> None:
    # 8-14 April holds one ticket, 2004, never answered
    app = _page("trends", start="2024-04-08", end="2024-04-14")
    assert any(info.value.startswith("No first reply, business hours (median) in these dates") for info in app.info)
    assert len(_figures(app)) == 2  # the heatmap and the resolution buckets (2004 solved in 30 min)


def test_trends_buckets_start_on_business_hours_and_are_not_empty(first_export: Path) -> None:
    app = _page("trends")
    assert app.toggle(key="buckets_business").value is True
    _, heatmap, first_reply, resolution = (figure["data"][0] for figure in _figures(app))
    assert sum(map(sum, heatmap["z"])) == 8
    # first replies [20, 45 | 60, 90 | 240 | 480]: 15-60 min 2, 1-4 h 2, 4-8 h 1, 8-24 h 1
    assert first_reply["y"] == [0, 2, 2, 1, 1, 0, 0]
    # business resolution of the 5 solved [30 | 120 | 240 | 540, 540]
    assert resolution["y"] == [0, 1, 1, 1, 2, 0, 0]


def test_trends_buckets_on_the_calendar_clock_say_the_first_reply_is_missing(first_export: Path) -> None:
    app = _page("trends")
    app.toggle(key="buckets_business").set_value(False).run()
    assert any(info.value.startswith("No first reply time in calendar minutes to draw")
               and "'First reply time in minutes'" in info.value
               for info in app.info)
    resolution = _figures(app)[-1]["data"][0]
    # calendar resolution [30 | 120 | 1440, 1440 | 4020]: 15-60 min, 1-4 h, 24-48 h x2, > 48 h
    assert resolution["y"] == [0, 1, 1, 0, 0, 2, 1]


def test_team_chart_draws_the_business_first_reply_per_agent(first_export: Path) -> None:
    app = _page("team")
    assert app.selectbox(key="team_kpi").value == "first_reply_business_minutes_median"
    bars = _figures(app)[0]["data"][0]
    # Sam Rivera 2001 20, 2003 60, 2005 480, 2006 240 -> 150; Kim Lee 2002 90, 2007 45 -> 67.5; the unassigned
    # 2008 was never answered: no bar (axis in hours)
    assert dict(zip(bars["y"], _in_minutes(bars["x"], 60), strict=True)) == {"Kim Lee": 67.5, "Sam Rivera": 150.0}
    table = app.dataframe[0].value
    assert "first_reply_business_minutes_median" in table.columns and "first_reply_minutes_median" not in table.columns


def test_heatmap_warns_when_most_tickets_arrive_at_night(first_export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The export's wall times were read on UTC; shown on Los Angeles' clock (UTC-7 in April) 6 of the 8 April
    # tickets arrive between 00:00 and 06:00: 09:00 -> 02:00 (x3), 10:00 -> 03:00 (x2), 11:00 -> 04:00.
    monkeypatch.setenv("CSPULSE_TIMEZONE", "America/Los_Angeles")
    monkeypatch.setenv("CSPULSE_MIN_SAMPLE", "5")
    get_settings.cache_clear()
    app = _page("trends")
    warning = next(w.value for w in app.warning if "00:00 and 06:00" in w.value)
    assert warning.startswith("75%") and "CSPULSE_TIMEZONE" in warning


def test_heatmap_does_not_warn_on_daytime_arrivals(first_export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_MIN_SAMPLE", "5")
    get_settings.cache_clear()
    assert not [w for w in _page("trends").warning if "00:00 and 06:00" in w.value]


def test_team_link_asking_for_the_calendar_first_reply_is_told_what_gives_it(first_export: Path) -> None:
    app = _page("team", team_kpi="first_reply_minutes_median")
    assert app.selectbox(key="team_kpi").value == "first_reply_minutes_median"
    assert any(info.value.startswith("No first reply (median) to draw") for info in app.info)
    assert not _figures(app)


def test_complaints_on_dates_without_tickets_says_so_once_and_draws_nothing(first_export: Path) -> None:
    app = _page("complaints", start="2024-06-01", end="2024-06-30")  # the export's tickets are all from spring
    assert [info.value for info in app.info] == ["No tickets created in these dates: widen the dates or clear a "
                                                 "filter."]
    assert not _figures(app) and not app.dataframe
    assert "Trend per category" not in [header.value for header in app.subheader]


def test_complaints_handling_table_shows_a_dash_where_the_export_lacks_the_kpi(first_export: Path) -> None:
    app = _page("complaints")
    table = next(frame for frame in app.dataframe if "first_reply_minutes_median" in frame.value.columns)
    assert table.value["first_reply_minutes_median"].isna().all()  # business-hours durations only
    assert table.value["first_reply_minutes_median_n"].eq(0).all()
    assert table.proto.placeholder == UNKNOWN  # what the browser writes in those cells, as on a tile
