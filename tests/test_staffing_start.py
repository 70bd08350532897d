"""Staffing starts where the data is: on a store's first real export (two spring months of tickets, an orders
export reaching back to last autumn) the page studies a window that holds tickets, compares the busiest weeks with
the typical week when the data holds no peak, and the forecast says which history it lacks instead of 0 tickets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics import peaks, staffing
from metrics.query import Filters
from settings import Settings
from tests.conftest import PROJECT, warehouse_file

SPRING_START, SPRING_END = date(2026, 3, 1), date(2026, 4, 30)  # a Sunday to a Thursday
# Ten tickets each weekday and four each weekend day: 58 a week, plus these on four Tuesdays. The eight complete
# weeks (Mon 2 Mar - Sun 26 Apr) hold 58, 60, 58, 62, 58, 58, 80, 66 tickets:
#   median of 58 58 58 58 60 62 66 80 = (58 + 60) / 2 = 59; busiest 13 Apr (80), 20 Apr (66), 23 Mar (62)
#   no busy week: 13 Apr against the median of the six weeks before it (58) is 80 / 58 = 1.38, under 1.5
EXTRA = {date(2026, 3, 10): 2, date(2026, 3, 24): 4, date(2026, 4, 14): 22, date(2026, 4, 21): 8}
VIEW = Filters(date(2026, 4, 1), date(2026, 4, 30))  # the dashboard's last 30 days: the page ignores its dates


def spring_tickets() -> pl.DataFrame:
    """Two spring months as a helpdesk export gives them: business-hours first reply only (no calendar column),
    an assignee, chats and emails at minutes past the hour between 08:00 and 20:00 UTC."""
    rows = []
    day = SPRING_START
    while day <= SPRING_END:
        for k in range((10 if day.weekday() < 5 else 4) + EXTRA.get(day, 0)):
            created = datetime.combine(day, time(8)) + timedelta(minutes=k * 37 % 720)
            rows.append({"ticket_id": f"{day:%m%d}-{k}", "created_at": created,
                         "channel": "chat" if k % 3 == 0 else "email", "assignee": ("ana", "ben", "caro")[k % 3],
                         "status": "solved", "first_reply_at": created + timedelta(minutes=20),
                         "first_reply_business_minutes": 20.0, "solved_at": created + timedelta(hours=3)})
        day += timedelta(days=1)
    return pl.DataFrame(rows).with_columns(source=pl.lit("zendesk"))


def autumn_to_spring_orders() -> pl.DataFrame:
    """Three orders a day from 1 Oct 2025: the orders export covers last Black Friday and December, the tickets
    do not."""
    days = [date(2025, 10, 1) + timedelta(days=i) for i in range((SPRING_END - date(2025, 10, 1)).days + 1)]
    return pl.DataFrame({"order_id": [f"#{i}" for i in range(3 * len(days))],
                         "created_at": [datetime.combine(d, time(12 + j)) for d in days for j in range(3)],
                         "currency": "USD", "gross_sales": 40.0}).with_columns(source=pl.lit("shopify"))


def load_spring(wh: Warehouse) -> None:
    import_batch(wh, Batch("zendesk.csv", "sha-spring-tickets", "zendesk", "tickets", {"tickets": spring_tickets()}))
    import_batch(wh, Batch("shopify.csv", "sha-spring-orders", "shopify", "orders",
                           {"orders": autumn_to_spring_orders()}))


@pytest.fixture
def spring() -> Iterator[Warehouse]:
    wh = Warehouse()
    load_spring(wh)
    yield wh
    wh.close()


def test_spring_fixture_holds_the_hand_counted_weeks(spring: Warehouse, settings: Settings) -> None:
    weeks = peaks.weekly_tickets(spring.cursor(), Filters(date(2026, 3, 2), date(2026, 4, 26)), settings)
    assert weeks["tickets"].to_list() == [58, 60, 58, 62, 58, 58, 80, 66]
    assert peaks.ticket_span(spring.cursor(), settings) == (SPRING_START, SPRING_END)  # orders start in October


# --- the peaks offered ----------------------------------------------------------------------------------------------
def test_two_spring_months_offer_no_black_friday_although_the_orders_cover_it(spring: Warehouse,
                                                                             settings: Settings) -> None:
    options = peaks.peak_options(spring.cursor(), VIEW, settings)
    # US holidays of 2026 fall on 1 Jan, 19 Jan, 16 Feb and 25 May: none in March or April; no week is busy
    assert options.past == ()
    assert (options.first_day, options.last_day) == (SPRING_START, SPRING_END)
    assert [p.key for p in options.upcoming][:2] == ["bfcm-2026", "december-2026"]
    assert [p.key for p in options.busiest] == ["busiest-2026-04-13", "busiest-2026-04-20", "busiest-2026-03-23"]


def test_busiest_weeks_rank_complete_weeks_against_the_median_week(spring: Warehouse, settings: Settings) -> None:
    ranked = peaks.busiest_weeks(spring.cursor(), VIEW, settings)
    # the median week is 59 tickets; nearest it, one off, are the weeks of 58 and 60: the newest of them is Mon
    # 6 Apr (58). It is not among the busiest, so every busiest week is compared with it.
    assert ranked.select("week", "tickets", "typical", "weeks", "versus", "versus_tickets").rows() == [
        (date(2026, 4, 13), 80, 59.0, 8, date(2026, 4, 6), 58),
        (date(2026, 4, 20), 66, 59.0, 8, date(2026, 4, 6), 58),
        (date(2026, 3, 23), 62, 59.0, 8, date(2026, 4, 6), 58)]
    assert ranked["ratio"].to_list() == pytest.approx([80 / 59, 66 / 59, 62 / 59])
    chats = peaks.busiest_weeks(spring.cursor(), Filters(VIEW.start, VIEW.end, channel=("chat",)), settings, n=1)
    # chats are tickets k = 0, 3, 6, 9 of a weekday (4) and k = 0, 3 of a weekend day (2): 24 a week; the 22
    # extra on 14 Apr are k = 10..31, of which 12, 15, ..., 30 are chats: 7 more -> 31
    assert chats.select("week", "tickets", "typical").row(0) == (date(2026, 4, 13), 31, 24.0)


def test_busiest_weeks_need_four_complete_weeks_to_know_a_typical_one() -> None:
    weeks = pl.DataFrame({"week": [date(2026, 3, 2) + timedelta(days=7 * i) for i in range(4)],
                          "tickets": [5, 9, 7, 6]})
    # the data runs Wed 4 Mar - Sun 29 Mar: the first week is cut, three complete weeks remain
    assert peaks.rank_weeks(weeks, date(2026, 3, 4), date(2026, 3, 29)).is_empty()
    four = peaks.rank_weeks(weeks, date(2026, 3, 2), date(2026, 3, 29), n=1)
    # median of 5 6 7 9 = 6.5; nearest it 6 and 7 (0.5 off), the newer is 23 Mar (6)
    assert four.select("week", "tickets", "typical", "versus").row(0) == (
        date(2026, 3, 9), 9, 6.5, date(2026, 3, 23))
    assert peaks.rank_weeks(weeks.with_columns(tickets=pl.lit(0)), date(2026, 3, 2), date(2026, 3, 29)).is_empty()


def test_default_on_two_spring_months_is_the_busiest_week_against_the_typical_week(spring: Warehouse,
                                                                                  settings: Settings) -> None:
    options = peaks.peak_options(spring.cursor(), VIEW, settings)
    peak = peaks.default_peak(options.past, options.busiest)
    assert peak is not None and (peak.key, peak.start, peak.end, peak.kind) == (
        "busiest-2026-04-13", date(2026, 4, 13), date(2026, 4, 19), "busiest")
    assert peak.label == "Busiest week, 1.4× the typical week (13 Apr – 19 Apr 2026)"
    assert peaks.baseline(peak) == (date(2026, 4, 6), date(2026, 4, 12))  # the typical week, not 4 weeks before
    table = {row["metric"]: row for row in
             peaks.against_baseline(spring.cursor(), peak, VIEW, settings).iter_rows(named=True)}
    assert table["tickets_created"]["peak"] == pytest.approx(80 / 7)
    assert table["tickets_created"]["ratio"] == pytest.approx(80 / 58)


def test_default_prefers_the_busiest_week_to_a_one_day_holiday(spring: Warehouse) -> None:
    germany = Settings(_env_file=None, country="DE")  # type: ignore[call-arg]
    options = peaks.peak_options(spring.cursor(), VIEW, germany)
    assert [p.key for p in options.past] == ["holiday-2026-04-06", "holiday-2026-04-03"]  # Easter Monday, Good Friday
    assert options.busiest  # holidays are no Black Friday, December, event or busy week
    assert peaks.default_peak(options.past, options.busiest).key == "busiest-2026-04-13"  # type: ignore[union-attr]
    assert peaks.default_peak(options.past).key == "holiday-2026-04-06"  # type: ignore[union-attr]


def test_an_event_in_the_data_is_studied_instead_of_the_busiest_weeks(spring: Warehouse) -> None:
    sale = [{"name": "Spring sale", "start": "2026-03-24", "end": "2026-03-26"}]
    options = peaks.peak_options(spring.cursor(), VIEW, Settings(_env_file=None, peak_events=sale))  # type: ignore[call-arg]
    assert [p.key for p in options.past] == ["custom-2026-03-24-2026-03-26-spring-sale"] and options.busiest == ()
    assert peaks.default_peak(options.past, options.busiest) == options.past[0]


def _tickets_on(days: list[date]) -> pl.DataFrame:
    return pl.DataFrame({"ticket_id": [f"g{i}" for i in range(len(days))],
                         "created_at": [datetime.combine(d, time(10)) for d in days]}).with_columns(
        source=pl.lit("gap"))


def test_peaks_in_a_gap_of_the_export_are_not_offered_and_ones_cut_by_its_end_are_cut() -> None:
    # tickets Mon 5 - Fri 9 Jan and Mon 2 - Fri 6 Mar 2026, none in between
    days = [date(2026, 1, 5) + timedelta(days=i) for i in range(5)] + \
           [date(2026, 3, 2) + timedelta(days=i) for i in range(5)]
    wh = Warehouse()
    import_batch(wh, Batch("gap.csv", "sha-gap", "gap", "tickets", {"tickets": _tickets_on(days)}))
    events = [{"name": "Winter sale", "start": "2026-02-09", "end": "2026-02-11"},
              {"name": "Long sale", "start": "2026-03-01", "end": "2026-03-10"}]
    options = peaks.peak_options(wh.cursor(), VIEW, Settings(_env_file=None, peak_events=events))  # type: ignore[call-arg]
    # MLK Day (19 Jan), Presidents' Day (16 Feb) and the winter sale fall in the gap; 1 Jan before the tickets.
    # The long sale runs past the tickets' last day: cut to 1 - 6 March, its key kept for links
    assert [(p.key, p.start, p.end) for p in options.past] == [
        ("custom-2026-03-01-2026-03-10-long-sale", date(2026, 3, 1), date(2026, 3, 6))]
    wh.close()


def test_after_hours_counts_replies_of_a_business_hours_only_export_as_answered(spring: Warehouse,
                                                                                settings: Settings) -> None:
    busiest = peaks.peak_options(spring.cursor(), VIEW, settings).busiest[0]
    table, source = staffing.after_hours_for(spring.cursor(), busiest, VIEW, 60, settings)
    # all 80 tickets of the week were answered (a reply stamp and business minutes); no calendar wait is given
    assert source == "estimate"
    assert (table["tickets"].sum(), table["answered"].sum(), table["unanswered"].sum()) == (80, 80, 0)
    assert table["first_reply_minutes_median"].null_count() == 2  # unknown, not 0


# --- the forecast ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["tickets", "orders"])
def test_forecast_says_which_history_it_lacks_although_orders_cover_it(spring: Warehouse, settings: Settings,
                                                                       method: str) -> None:
    scenario = staffing.Scenario.from_settings(settings)
    with pytest.raises(staffing.NoHistory) as missing:
        staffing.forecast_peak(spring.cursor(), peaks.bfcm(2026), VIEW, scenario, 60, method, settings)
    assert str(missing.value) == (
        "The forecast needs tickets from 28 Nov 2025 – 01 Dec 2025 (Black Friday – Cyber Monday 2025, the same peak "
        "a year earlier); the tickets start on 01 Mar 2026. Import a ticket export that covers those dates.")


EASTER_SALE_2027 = peaks.Peak("custom-easter", "Easter sale", date(2027, 4, 5), date(2027, 4, 11), "custom")


def test_forecast_from_spring_tickets_a_year_earlier(spring: Warehouse, settings: Settings) -> None:
    scenario = staffing.Scenario.from_settings(settings)
    forecast = staffing.forecast_peak(spring.cursor(), EASTER_SALE_2027, VIEW, scenario, 60, "tickets", settings)
    # 364 days before Mon 5 Apr 2027 is Mon 6 Apr 2026: that week held 58 tickets, growth 0
    assert (forecast.before.start, forecast.before.end) == (date(2026, 4, 6), date(2026, 4, 12))
    assert forecast.tickets == 58


def test_forecast_of_a_window_without_tickets_of_the_view_says_so(spring: Warehouse, settings: Settings) -> None:
    scenario = staffing.Scenario.from_settings(settings)
    phone = Filters(VIEW.start, VIEW.end, channel=("phone",))  # the export has chats and emails only
    with pytest.raises(staffing.NoHistory, match=r"the tickets run from 01 Mar 2026 to 30 Apr 2026, but none that "
                                                 r"this view keeps arrived in that window"):
        staffing.forecast_peak(spring.cursor(), EASTER_SALE_2027, phone, scenario, 60, "tickets", settings)


def test_forecast_never_scales_by_a_contact_rate_of_zero() -> None:
    # orders in the newest weeks but no tickets there: the rate 0 is missing history, not a quiet store
    assert staffing.rate_factor(last_tickets=100, last_orders=1000, recent_rate=0.0, growth=0.0) is None


# --- the page -------------------------------------------------------------------------------------------------------
@pytest.fixture
def spring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_streamlit_caches: None) -> Path:
    path = tmp_path / "spring.duckdb"
    warehouse_file(monkeypatch, path, load_spring)
    return path


def test_staffing_page_on_two_spring_months_studies_the_busiest_week(spring_file: Path) -> None:
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60).run()
    app.switch_page("app_pages/staffing.py").run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.selectbox(key="peak").value == "busiest-2026-04-13"
    infos = " ".join(info.value for info in app.info)
    assert "compares the busiest weeks with the typical week" in infos
    assert app.dataframe[0].value["Tickets"].to_list() == [80, 66, 62]  # the busiest weeks
    peak_table = app.dataframe[1].value
    assert peak_table.columns[2] == "Typical week (06 Apr – 12 Apr)"
    assert peak_table["Peak ÷ baseline"][0] == f"{80 / 58:.2f}×"  # tickets per day, 80 / 7 against 58 / 7
    tiles = {metric.label: metric.value for metric in app.metric}
    needed, staffed = (float(v.replace(",", "")) for v in tiles["Needed / staffed hours (est.)"].split(" / "))
    assert needed > 0 and staffed > 0  # a week with tickets and agents seen working them
    after_hours = next(frame.value for frame in app.dataframe if "unanswered" in frame.value.columns)
    assert after_hours["unanswered"].sum() == 0 and set(after_hours["first_reply_minutes_median"]) == {"—"}
    # the forecast says what it lacks instead of forecasting 0 tickets
    assert "Cannot forecast Black Friday – Cyber Monday 2026" in infos
    assert "needs tickets from 28 Nov 2025 – 01 Dec 2025" in infos and "the tickets start on 01 Mar 2026" in infos
    assert "Forecast tickets" not in tiles


def test_peak_table_shows_the_business_hours_first_reply_of_an_export_that_has_only_that(settings: Settings) -> None:
    """Without a first reply time stamp or calendar minutes, the table's first reply is the business-hours one
    (20 business minutes on every ticket), not "—"."""
    wh = Warehouse()
    tickets = spring_tickets().drop("first_reply_at")
    import_batch(wh, Batch("zendesk.csv", "sha-business-only", "zendesk", "tickets", {"tickets": tickets}))
    options = peaks.peak_options(wh.cursor(), VIEW, settings)
    peak = peaks.default_peak(options.past, options.busiest)
    assert peak is not None
    table = {row["metric"]: row for row in peaks.against_baseline(wh.cursor(), peak, VIEW, settings).iter_rows(
        named=True)}
    assert "first_reply_minutes_median" not in table
    first_reply = table["first_reply_business_minutes_median"]
    assert (first_reply["label"], first_reply["peak"], first_reply["baseline"]) == (
        "First reply, business hours (median)", 20.0, 20.0)
    wh.close()
