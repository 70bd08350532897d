"""Peak periods: the calendar worked out by hand, and the busy weeks the demo store was generated with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import polars as pl
import pytest

from data.demo import DEMO_END, DEMO_START, demo_batch
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics import peaks
from metrics.query import Filters
from settings import Settings, load_settings

BLACK_FRIDAYS = (date(2024, 11, 29), date(2025, 11, 28))  # the demo generator's own calendar


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Warehouse, pl.DataFrame]]:
    """The demo store in an in-memory warehouse, built once for this module, with its tickets frame."""
    wh = Warehouse()
    batch = demo_batch(salt="peaks")
    import_batch(wh, batch)
    yield wh, batch.frames["tickets"]
    wh.close()


# --- the calendar ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("year", "black_friday", "cyber_monday"), [
    (2024, date(2024, 11, 29), date(2024, 12, 2)),  # Thanksgiving 28 Nov: the 1st Thursday is 7 Nov, + 21 days
    (2025, date(2025, 11, 28), date(2025, 12, 1)),  # 1 Nov 2025 is a Saturday: Thursdays 6, 13, 20, 27
    (2026, date(2026, 11, 27), date(2026, 11, 30)),  # 1 Nov 2026 is a Sunday: Thursdays 5, 12, 19, 26
])
def test_peaks_bfcm_runs_black_friday_to_cyber_monday(year: int, black_friday: date, cyber_monday: date) -> None:
    peak = peaks.bfcm(year)
    assert (peak.start, peak.end, peak.days, peak.key) == (black_friday, cyber_monday, 4, f"bfcm-{year}")
    assert peak.start.weekday() == 4 and peak.end.weekday() == 0  # a Friday to a Monday


@pytest.mark.parametrize(("year", "start"), [
    (2024, date(2024, 12, 3)),  # Cyber Monday 2024 is 2 December
    (2025, date(2025, 12, 2)),  # Cyber Monday 2025 is 1 December
    (2026, date(2026, 12, 1)),  # Cyber Monday 2026 is 30 November
])
def test_peaks_december_window_follows_cyber_monday_to_new_years_eve(year: int, start: date) -> None:
    peak = peaks.december(year)
    assert (peak.start, peak.end) == (start, date(year, 12, 31))


def test_peaks_national_holidays_come_from_the_country_calendar() -> None:
    us = {p.start: p.name for p in peaks.national_holidays("US", [2025])}
    assert us[date(2025, 7, 4)] == "Independence Day" and date(2025, 11, 27) in us  # Thanksgiving
    de = {p.start: p.name for p in peaks.national_holidays("DE", [2025])}
    assert date(2025, 10, 3) in de and date(2025, 7, 4) not in de  # German Unity Day, no 4th of July
    assert all(p.days == 1 and p.kind == "holiday" for p in peaks.national_holidays("DE", [2025]))
    assert peaks.national_holidays("", [2025]) == []
    with pytest.raises(ValueError, match="no holiday calendar"):
        peaks.national_holidays("XX", [2025])


def test_peaks_custom_events_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_PEAK_EVENTS", '[{"name": "Summer sale", "start": "2025-07-01", "end": "2025-07-05"}]')
    settings = load_settings(_env_file=None)
    found = peaks.calendar_peaks([2025], "", settings.peak_events)
    assert [(p.name, p.start, p.end, p.kind) for p in found] == [
        ("Summer sale", date(2025, 7, 1), date(2025, 7, 5), "custom"),
        ("Black Friday – Cyber Monday 2025", date(2025, 11, 28), date(2025, 12, 1), "bfcm"),
        ("December holidays 2025", date(2025, 12, 2), date(2025, 12, 31), "december"),
    ]


def test_peaks_last_year_is_the_same_rule_or_52_weeks_earlier() -> None:
    assert peaks.last_year(peaks.bfcm(2026)) == peaks.bfcm(2025)
    assert peaks.last_year(peaks.december(2026)) == peaks.december(2025)
    sale = peaks.custom_events([{"name": "Sale", "start": "2026-07-01", "end": "2026-07-03"}])[0]
    before = peaks.last_year(sale)
    assert (before.start, before.end) == (date(2025, 7, 2), date(2025, 7, 4))  # 364 days: a Wednesday again
    assert before.start.weekday() == sale.start.weekday()


def test_peaks_next_peaks_are_configured_ones_after_the_data() -> None:
    calendar = peaks.calendar_peaks([2026], "US")
    upcoming = peaks.next_peaks(calendar, date(2026, 10, 31))
    assert [p.key for p in upcoming] == ["bfcm-2026", "december-2026"]  # national holidays are not planned for


# --- busy weeks -------------------------------------------------------------------------------------------------
def test_peaks_detect_flags_weeks_above_factor_times_trailing_median() -> None:
    weeks = pl.DataFrame({"week": [date(2025, 1, 6) + timedelta(days=7 * i) for i in range(10)],
                          "tickets": [10, 12, 8, 10, 11, 9, 10, 30, 10, 10]})
    flagged = peaks.detect_peaks(weeks, 1.5)
    # week 3: only 3 weeks before it -> no baseline; week 4: median(10, 12, 8, 10) = 10 -> 1.1
    # week 7: median of 10, 12, 8, 10, 11, 9, 10 = 10 -> 30 / 10 = 3 > 1.5
    # week 8: median of 10, 12, 8, 10, 11, 9, 10, 30 = (10 + 10) / 2 = 10 -> 1.0
    assert flagged["baseline"].to_list()[3:9] == [None, 10.0, 10.0, 10.0, 10.0, 10.0]
    assert flagged["is_peak"].to_list() == [False] * 7 + [True, False, False]
    assert [(p.start, p.end) for p in peaks.data_peaks(flagged)] == [(date(2025, 2, 24), date(2025, 3, 2))]


def test_peaks_detect_leaves_out_weeks_cut_by_the_data() -> None:
    weeks = pl.DataFrame({"week": [date(2025, 1, 6) + timedelta(days=7 * i) for i in range(6)],
                          "tickets": [1, 10, 10, 10, 10, 40]})
    # the first week starts before the data (Wed 8 Jan): it neither counts as a baseline week nor is judged
    flagged = peaks.detect_peaks(weeks, 1.5, first_day=date(2025, 1, 8), last_day=date(2025, 2, 16))
    assert flagged["baseline"].to_list() == [None, None, None, None, None, 10.0]
    assert flagged["is_peak"].to_list() == [False] * 5 + [True]
    cut = peaks.detect_peaks(weeks, 1.5, first_day=date(2025, 1, 8), last_day=date(2025, 2, 14))
    assert not cut["is_peak"].any()  # the last week ends after the data: not judged


def test_peaks_weekly_tickets_match_the_demo_frame(demo: tuple[Warehouse, pl.DataFrame],
                                                   settings: Settings) -> None:
    wh, tickets = demo
    weeks = peaks.weekly_tickets(wh.cursor(), Filters(DEMO_START, DEMO_END), settings)
    expected = (tickets.group_by(week=pl.col("created_at").dt.truncate("1w").dt.date()).len()
                .sort("week"))  # an independent count (UTC account: local = stored)
    joined = weeks.join(expected, on="week", how="left").with_columns(pl.col("len").fill_null(0))
    assert joined["tickets"].to_list() == joined["len"].to_list()
    assert weeks["tickets"].sum() == tickets.height


def test_peaks_detect_finds_the_demo_black_fridays(demo: tuple[Warehouse, pl.DataFrame], settings: Settings) -> None:
    wh, _ = demo
    weeks = peaks.weekly_tickets(wh.cursor(), Filters(DEMO_START, DEMO_END), settings)
    flagged = peaks.detect_peaks(weeks, settings.peak_volume_factor, first_day=DEMO_START, last_day=DEMO_END)
    found = peaks.data_peaks(flagged)
    for black_friday in BLACK_FRIDAYS:
        assert any(p.start <= black_friday <= p.end for p in found), black_friday
        assert any(p.start <= black_friday + timedelta(days=3) <= p.end for p in found)  # Cyber Monday too
    ordinary = flagged.filter(pl.col("week").dt.month().is_in([3, 4, 5, 6, 7, 8, 9]))
    assert not ordinary["is_peak"].any()  # spring to early autumn holds no peak in the demo store


def test_peaks_bfcm_against_its_baseline_on_the_demo(demo: tuple[Warehouse, pl.DataFrame],
                                                     settings: Settings) -> None:
    """On the demo, BFCM 2025 has 2.5-4.5 times the daily tickets of the 28 days before, and slower first replies."""
    wh, tickets = demo
    peak = peaks.bfcm(2025)
    table = {row["metric"]: row for row in
             peaks.against_baseline(wh.cursor(), peak, Filters(DEMO_START, DEMO_END), settings).iter_rows(named=True)}
    day = pl.col("created_at").dt.date()
    in_peak = tickets.filter(day.is_between(date(2025, 11, 28), date(2025, 12, 1))).height / 4
    before = tickets.filter(day.is_between(date(2025, 10, 31), date(2025, 11, 27))).height / 28
    assert table["tickets_created"]["peak"] == pytest.approx(in_peak)
    assert table["tickets_created"]["baseline"] == pytest.approx(before)
    assert 2.5 < table["tickets_created"]["ratio"] < 4.5  # the demo's BFCM runs about 3-4x
    assert table["first_reply_minutes_median"]["ratio"] > 1  # agents fall behind in the peak


# --- the peaks a page offers --------------------------------------------------------------------------------------
SALES = [{"name": "Winter sale", "start": "2024-01-08", "end": "2024-01-14"},
         {"name": "Spring sale", "start": "2024-04-01", "end": "2024-04-07"}]


@pytest.fixture
def seven_weeks() -> Iterator[Warehouse]:
    """Mon 1 Jan - Sun 18 Feb 2024: one email a day, and two chats a day more in the week of 5 Feb."""
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(49)]
    rows = [(day, "email") for day in days] + [(day, "chat") for day in days[35:42] for _ in range(2)]
    frame = pl.DataFrame({"ticket_id": [f"T{i}" for i in range(len(rows))],
                          "created_at": [datetime.combine(day, time(12)) for day, _ in rows],
                          "channel": [channel for _, channel in rows]}).with_columns(source=pl.lit("w"))
    wh = Warehouse()
    import_batch(wh, Batch("weeks.csv", "sha-weeks", "w", "tickets", {"tickets": frame}))
    yield wh
    wh.close()


def test_peak_options_are_the_datas_peaks_newest_first_and_configured_ones_after_it(seven_weeks: Warehouse) -> None:
    settings = Settings(_env_file=None, peak_events=SALES)  # type: ignore[call-arg]
    options = peaks.peak_options(seven_weeks.cursor(), Filters(date(2024, 2, 1), date(2024, 2, 7)), settings)
    assert options.last_day == date(2024, 2, 18)
    # the view's dates do not matter, only its other filters. Weeks hold 7 tickets, that of 5 Feb 7 + 14 = 21:
    # 21 > 1.5 x the median 7 of the five weeks before. US holidays in the data: 1 Jan and 15 Jan (19 Feb is
    # after the data); the winter sale lies inside it, the spring sale after it.
    assert [p.key for p in options.past] == ["data-2024-02-05", "holiday-2024-01-15",
                                             "custom-2024-01-08-2024-01-14-winter-sale", "holiday-2024-01-01"]
    # configured peaks (not holidays, not busy weeks) of 2024 and 2025 after 18 Feb, soonest first
    assert [p.key for p in options.upcoming] == ["custom-2024-04-01-2024-04-07-spring-sale", "bfcm-2024",
                                                 "december-2024", "bfcm-2025", "december-2025"]


def test_peak_options_find_busy_weeks_in_the_views_channels_only(seven_weeks: Warehouse, settings: Settings) -> None:
    email = Filters(date(2024, 1, 1), date(2024, 2, 18), channel=("email",))
    options = peaks.peak_options(seven_weeks.cursor(), email, settings)
    assert [p.kind for p in options.past] == ["holiday", "holiday"]  # 7 emails every week: no busy week


def test_peak_options_of_an_empty_warehouse_are_empty(settings: Settings) -> None:
    wh = Warehouse()
    assert peaks.peak_options(wh.cursor(), Filters(date(2024, 1, 1), date(2024, 1, 7)), settings) == \
        peaks.PeakOptions((), (), None)


def _peak(key: str, start: date, kind: str) -> peaks.Peak:
    return peaks.Peak(key, key, start, start + timedelta(days=1), kind)


def test_default_peak_is_the_newest_black_friday_else_the_newest_peak() -> None:
    old_bfcm, new_bfcm = _peak("b23", date(2023, 11, 24), "bfcm"), _peak("b24", date(2024, 11, 29), "bfcm")
    busy, sale = _peak("busy", date(2025, 1, 6), "data"), _peak("sale", date(2024, 6, 1), "custom")
    assert peaks.default_peak([busy, old_bfcm, sale, new_bfcm]) == new_bfcm  # in any order; a newer week loses
    assert peaks.default_peak([sale, busy]) == busy
    assert peaks.default_peak([]) is None


def test_peaks_to_study_add_the_pages_events_whatever_their_dates_newest_first() -> None:
    options = peaks.PeakOptions((_peak("b", date(2024, 11, 29), "bfcm"), _peak("h", date(2024, 7, 4), "holiday")),
                                (), date(2024, 12, 31))
    later, earlier = _peak("later", date(2025, 3, 1), "custom"), _peak("earlier", date(2024, 1, 2), "custom")
    assert [p.key for p in peaks.peaks_to_study(options, [earlier, later])] == ["later", "b", "h", "earlier"]


def test_upcoming_peaks_add_the_pages_events_after_the_data_soonest_first() -> None:
    options = peaks.PeakOptions((), (_peak("bfcm", date(2025, 11, 28), "bfcm"),
                                     _peak("december", date(2025, 12, 2), "december")), date(2025, 6, 30))
    summer = _peak("summer", date(2025, 8, 1), "custom")
    inside = _peak("inside", date(2025, 6, 30), "custom")  # starts on the data's last day: studied, not forecast
    winter = _peak("winter", date(2026, 1, 10), "custom")
    assert [p.key for p in peaks.upcoming_peaks(options, [winter, inside, summer])] == [
        "summer", "bfcm", "december", "winter"]
    assert options.after_data(summer) and not options.after_data(inside)
    assert peaks.upcoming_peaks(peaks.PeakOptions((), (), None), [summer]) == []  # no data: nothing is "after" it


def test_a_baseline_before_the_export_begins_is_unknown_not_zero(warehouse: Warehouse, settings: Settings) -> None:
    # the fixture's first ticket is T6 on 20 Feb 2024; the four weeks before an event of 20-26 Feb hold no export
    [event] = peaks.custom_events([{"name": "Launch", "start": "2024-02-20", "end": "2024-02-26"}])
    table = peaks.against_baseline(warehouse.cursor(), event, Filters(date(2024, 1, 1), date(2024, 3, 31)), settings)
    tickets = table.filter(pl.col("metric") == "tickets_created").row(0, named=True)
    assert tickets["peak"] == pytest.approx(1 / 7)  # T6 alone in the event's 7 days
    assert table["baseline"].null_count() == table.height and table["ratio"].null_count() == table.height
