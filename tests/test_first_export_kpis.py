"""Every KPI on a store's first real export: computed from whatever the export gives, unknown (NULL) where it lacks
the input, never 0 %.

The fixture is a trimmed Zendesk export of two spring months with business-hours durations only
(tests/fixtures/tickets/zendesk_business_hours_only.csv), imported as a user would (``data.cli.import_paths``);
each case below drops, renames or blanks columns of it to take one KPI's input away.

Worked out by hand for April 2024 (08 tickets 2001-2008 created; UTC, business hours 09:00-18:00 Mon-Fri):
  created 8; solved in April (by solve time) 2001, 2002, 2003, 2004, 2006 = 5; open at its end 2005, 2007, 2008 = 3
  first reply, business hours (export's column), created in April: [20, 45, 60, 90, 240, 480]
    -> median (60 + 90) / 2 = 75; mean 935 / 6; p90 at position 0.9 x 5 = 4.5: 240 + 0.5 x 240 = 360
  full resolution of the 5 solved, calendar from Created at -> Solved at: 2001 120, 2002 1440,
    2003 Fri 17:00 -> Mon 12:00 = 67 h = 4020, 2004 30, 2006 1440 -> [30, 120, 1440, 1440, 4020], median 1440
  full resolution, business hours (export's column): [30, 120, 240, 540, 540] -> median 240, mean 294,
    p90 at 3.6: 540 (our clock over the timestamps gives the same five values)
  resolution rate: 5 of the 8 created are solved = 0.625
  one-touch (replies < 2) of the 5 solved: 2001, 2003, 2004 = 0.6; reopened: 2002 = 0.2
  CSAT of the 5 solved: rated 2001 good, 2002 bad, 2006 good = 2/3; offered 2001, 2002, 2003, 2006 -> 3/4 answered
  escalation: 2005 (tag "escalated", group "Tier 2") of 8 = 0.125; automation: 2004 (tag auto_closed, 0 replies) of
    the 5 solved = 0.2
  resolution SLA (calendar targets: email and web 4320, chat 60; high 1440, urgent 480), created in April, as of the
    newest change (2008 created 04-30 09:00): achieved 2001 120, 2002 web/high 1440 <= 1440, 2003 4020, 2004 chat 30,
    2006 1440; breached 2005 open since 04-15 past 480 min, 2007 open since 04-22 past 3 days; 2008 within its
    target, not counted -> 5/7
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from data.cli import import_paths
from data.warehouse import Warehouse
from metrics import availability, distributions
from metrics import query as mq
from metrics.registry import METRICS
from settings import Settings
from tests.conftest import PROJECT

FIXTURE = PROJECT / "tests" / "fixtures" / "tickets" / "zendesk_business_hours_only.csv"
APRIL = mq.Filters(date(2024, 4, 1), date(2024, 4, 30))
Change = Callable[[pl.DataFrame], pl.DataFrame]


def as_exported(frame: pl.DataFrame) -> pl.DataFrame:
    return frame


def without(*headers: str) -> Change:
    return lambda frame: frame.drop(headers)


def blank(header: str, *values: str) -> Change:
    """The export with these values of one column left empty (a survey column listing ratings only)."""
    return lambda frame: frame.with_columns(
        pl.when(pl.col(header).is_in(values)).then(None).otherwise(pl.col(header)).alias(header))


def calendar_first_replies(frame: pl.DataFrame) -> pl.DataFrame:
    """The other way round: the first reply in calendar minutes only (the same numbers: every fixture reply falls
    inside business hours)."""
    return frame.rename({"First reply time in minutes within business hours": "First reply time in minutes"})


def imported(tmp_path: Path, settings: Settings, change: Change = as_exported) -> Warehouse:
    """The fixture, changed, written as a CSV and imported through the same path as the Import page and the CLI."""
    path, db = tmp_path / "zendesk_export.csv", tmp_path / "first_export.duckdb"
    change(pl.read_csv(FIXTURE, infer_schema=False)).write_csv(path)
    [result] = import_paths([str(path)], db, settings)
    assert result.status == "imported", result.reason
    return Warehouse(db)


def april(wh: Warehouse, settings: Settings, names: list[str]) -> dict[str, object]:
    return mq.totals(wh.cursor(), names, APRIL, settings)


# (what the export lacks or gives, how the fixture is changed, KPI, expected value in April)
CASES: list[tuple[str, Change, str, object]] = [
    # first reply: only business-hours minutes in the export
    ("business only", as_exported, "first_reply_business_minutes_median", 75.0),
    ("business only", as_exported, "first_reply_business_minutes_mean", 935 / 6),
    ("business only", as_exported, "first_reply_business_minutes_p90", 360.0),
    ("business only", as_exported, "first_reply_minutes_median", None),
    ("business only", as_exported, "first_reply_minutes_mean", None),
    ("business only", as_exported, "first_reply_minutes_p90", None),
    ("business only", as_exported, "sla_first_reply_attainment", None),  # not 0 %: no calendar reply to hold
    ("business only", as_exported, "full_resolution_business_minutes_median", 240.0),
    ("business only", as_exported, "full_resolution_business_minutes_mean", 294.0),
    ("business only", as_exported, "full_resolution_business_minutes_p90", 540.0),
    ("business only", as_exported, "full_resolution_minutes_median", 1440.0),  # from Created at -> Solved at
    ("business only", as_exported, "sla_resolution_attainment", 5 / 7),
    # the other way round: calendar minutes only, the business clock over the timestamps
    ("calendar only", calendar_first_replies, "first_reply_minutes_median", 75.0),
    ("calendar only", calendar_first_replies, "first_reply_business_minutes_median", 75.0),
    # email/web 1440, urgent 60, high 240: 2001 20, 2002 web/high 90, 2003 60, 2006 240, 2007 45 achieved;
    # 2005 urgent 480 > 60 breached; 2004 solved unanswered and 2008 within its target not counted -> 5/6
    ("calendar only", calendar_first_replies, "sla_first_reply_attainment", 5 / 6),
    # no first reply at all
    ("no first reply", without("First reply time in minutes within business hours"),
     "first_reply_business_minutes_median", None),
    ("no first reply", without("First reply time in minutes within business hours"),
     "sla_first_reply_attainment", None),
    # no first resolution in a Zendesk CSV export, on either clock
    ("no first resolution", as_exported, "first_resolution_minutes_median", None),
    ("no first resolution", as_exported, "first_resolution_minutes_mean", None),
    ("no first resolution", as_exported, "first_resolution_minutes_p90", None),
    ("no first resolution", as_exported, "first_resolution_business_minutes_median", None),
    ("no first resolution", as_exported, "first_resolution_business_minutes_mean", None),
    ("no first resolution", as_exported, "first_resolution_business_minutes_p90", None),
    # no solve times: solves cannot be placed, the backlog is unknown, the status still says what is solved
    ("no Solved at", without("Solved at"), "tickets_solved", None),
    ("no Solved at", without("Solved at"), "backlog", None),
    ("no Solved at", without("Solved at"), "full_resolution_minutes_median", None),
    ("no Solved at", without("Solved at"), "full_resolution_minutes_mean", None),
    ("no Solved at", without("Solved at"), "full_resolution_minutes_p90", None),
    ("no Solved at", without("Solved at"), "full_resolution_business_minutes_median", None),  # placed by solve time
    ("no Solved at", without("Solved at"), "sla_resolution_attainment", None),  # open ones alone would read 0 %
    ("no Solved at", without("Solved at"), "resolution_rate", 0.625),
    ("as exported", as_exported, "tickets_created", 8),
    ("as exported", as_exported, "tickets_solved", 5),
    ("as exported", as_exported, "backlog", 3),
    ("as exported", as_exported, "resolution_rate", 0.625),
    # requester wait and NPS: a Zendesk CSV export without them
    ("no requester wait", as_exported, "requester_wait_minutes_median", None),
    ("no requester wait", as_exported, "requester_wait_minutes_mean", None),
    ("no requester wait", as_exported, "requester_wait_minutes_p90", None),
    ("no NPS", as_exported, "nps", None),
    # replies and reopens
    ("as exported", as_exported, "one_touch_rate", 0.6),
    ("no Replies", without("Replies"), "one_touch_rate", None),
    ("as exported", as_exported, "reopen_rate", 0.2),
    ("no Reopens", without("Reopens"), "reopen_rate", None),
    # automation: replies or tags; the tags alone decide without replies (not 100 % from the one tagged ticket)
    ("as exported", as_exported, "automation_rate", 0.2),
    ("no Replies", without("Replies"), "automation_rate", 0.2),
    ("no Tags", without("Tags"), "automation_rate", 0.2),  # 2004 has no agent reply
    ("no Replies, no Tags", without("Replies", "Tags"), "automation_rate", None),
    # escalation: tags or groups; neither is unknown, not 0 %
    ("as exported", as_exported, "escalation_rate", 0.125),
    ("no Tags", without("Tags"), "escalation_rate", 0.125),  # 2005 is in Tier 2
    ("no Tags, no Group", without("Tags", "Group"), "escalation_rate", None),
    # surveys: no survey column; ratings without the unanswered offers
    ("as exported", as_exported, "csat", 2 / 3),
    ("as exported", as_exported, "csat_response_rate", 0.75),
    ("no survey", without("Satisfaction Score"), "csat", None),
    ("no survey", without("Satisfaction Score"), "csat_response_rate", None),
    ("ratings only", blank("Satisfaction Score", "Offered", "Not Offered"), "csat", 2 / 3),
    ("ratings only", blank("Satisfaction Score", "Offered", "Not Offered"), "csat_response_rate", None),  # not 100 %
    # orders: a helpdesk export alone gives none of them, and no 0 orders either
    ("no orders export", as_exported, "orders", None),
    ("no orders export", as_exported, "average_order_value", None),
    ("no orders export", as_exported, "contacts_per_100_orders", None),
    *[("no orders export", as_exported, name, None) for name in (
        "net_sales", "refund_rate", "refund_rate_by_value", "repeat_purchase_rate", "orders_fulfilled",
        "fulfilment_lag_hours_median", "fulfilment_lag_hours_p90", "late_fulfilment_share", "tickets_linked_share",
        "wismo_per_100_fulfilled")],
    # nor any day both exports cover: the tickets on such days are unknown too, not 0 and not all eight
    *[("no orders export", as_exported, name, None) for name in (
        "tickets_created_shared_days", "orders_shared_days", "wismo_tickets_shared_days",
        "orders_fulfilled_shared_days")],
    # without its tags, nothing at import places a ticket (the text is left to the categorising step, not run
    # here): no ticket has a category yet, so none is known to be WISMO
    ("not categorised", without("Tags"), "wismo_tickets", None),
    # with them the import places the tagged ones itself: one April ticket is tagged wismo
    ("tags only, not categorised yet", as_exported, "wismo_tickets", 1),
    # traffic: only a traffic export gives sessions and carts
    ("no traffic export", as_exported, "conversion_rate", None),
    ("no traffic export", as_exported, "cart_abandonment_rate", None),
]


def test_every_kpi_in_the_registry_has_a_first_export_case() -> None:
    assert {name for _, _, name, _ in CASES} == {metric.name for metric in METRICS}


@pytest.mark.parametrize(("lacks", "change", "name", "expected"), CASES,
                         ids=[f"{name}-{lacks}" for lacks, _, name, _ in CASES])
def test_kpi_on_an_export_that_lacks_its_input_is_unknown_not_zero(
        tmp_path: Path, settings: Settings, lacks: str, change: Change, name: str, expected: object) -> None:
    value = april(imported(tmp_path, settings, change), settings, [name])[name]
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)


def test_a_kpi_unknown_for_the_period_is_unknown_in_every_period_of_a_trend(tmp_path: Path,
                                                                            settings: Settings) -> None:
    wh = imported(tmp_path, settings, without("Solved at"))
    frame = mq.query(wh.cursor(), ["tickets_created", "tickets_solved", "backlog"], APRIL, "week", settings=settings)
    assert frame["tickets_created"].to_list() == [3, 1, 2, 1, 1]  # weeks from Mon 04-01: 2001-2003, 2004, ...
    assert frame["tickets_solved"].null_count() == frame["backlog"].null_count() == frame.height


# --- impossible times stay out by the import's flag, whichever column the business minutes came from -----------
def test_business_minutes_of_a_ticket_flagged_impossible_stay_out(tmp_path: Path, settings: Settings) -> None:
    # 2006 solved an hour before it was created: the import flags it; its exported 540 business minutes go too.
    # Business minutes left: [30, 120, 240, 540] -> median 180; calendar [30, 120, 1440, 4020] -> 780
    def solved_before_created(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.when(pl.col("Id") == "2006").then(pl.lit("2024-04-18 12:00:00"))
                                  .otherwise(pl.col("Solved at")).alias("Solved at"))

    wh = imported(tmp_path, settings, solved_before_created)
    issues = wh.cursor().execute("SELECT data_issues FROM tickets WHERE ticket_id = '2006'").fetchone()
    assert issues == ("resolved before created",)
    values = april(wh, settings, ["full_resolution_business_minutes_median", "full_resolution_minutes_median"])
    assert values == {"full_resolution_business_minutes_median": 180.0, "full_resolution_minutes_median": 780.0}


def test_a_negative_business_duration_in_the_export_is_left_out(tmp_path: Path, settings: Settings) -> None:
    # 2005's first reply reads -480: impossible, reported as a cell problem and read as empty.
    # Left: [20, 45, 60, 90, 240] -> median 60
    def negative(frame: pl.DataFrame) -> pl.DataFrame:
        column = "First reply time in minutes within business hours"
        return frame.with_columns(pl.when(pl.col("Id") == "2005").then(pl.lit("-480")).otherwise(pl.col(column))
                                  .alias(column))

    wh = imported(tmp_path, settings, negative)
    assert april(wh, settings, ["first_reply_business_minutes_median"]) == {
        "first_reply_business_minutes_median": 60.0}


# --- what the pages choose from ---------------------------------------------------------------------------------
def test_unavailable_names_the_calendar_first_reply_and_what_gives_it(tmp_path: Path, settings: Settings) -> None:
    wh = imported(tmp_path, settings)
    names = ["first_reply_minutes_median", "first_reply_business_minutes_median", "full_resolution_minutes_median",
             "sla_first_reply_attainment", "tickets_solved", "orders"]
    missing = availability.unavailable(wh.cursor(), names)
    assert set(missing) == {"first_reply_minutes_median", "sla_first_reply_attainment", "orders"}
    assert "'First reply time in minutes'" in missing["first_reply_minutes_median"]
    assert "Shopify" in missing["orders"]


def test_unavailable_says_solves_are_unknown_without_solve_times(tmp_path: Path, settings: Settings) -> None:
    wh = imported(tmp_path, settings, without("Solved at"))
    missing = availability.unavailable(wh.cursor(), ["tickets_solved", "backlog", "resolution_rate"])
    assert set(missing) == {"tickets_solved", "backlog"} and "'Solved at'" in missing["backlog"]


def test_unavailable_says_ratings_alone_give_no_response_rate(tmp_path: Path, settings: Settings) -> None:
    wh = imported(tmp_path, settings, blank("Satisfaction Score", "Offered", "Not Offered"))
    assert set(availability.unavailable(wh.cursor(), ["csat", "csat_response_rate"])) == {"csat_response_rate"}


def test_first_available_skips_what_the_export_cannot_give(tmp_path: Path, settings: Settings) -> None:
    cur = imported(tmp_path, settings).cursor()
    assert availability.first_available(cur, ["first_reply_minutes_median", "first_reply_business_minutes_median",
                                              "tickets_created"]) == "first_reply_business_minutes_median"
    # none available: the first, so that the page explains it
    assert availability.first_available(cur, ["nps", "first_reply_minutes_p90"]) == "nps"


def test_tiles_move_to_the_clock_the_export_gives(tmp_path: Path, settings: Settings) -> None:
    cur = imported(tmp_path, settings).cursor()
    tiles = ["tickets_created", "first_reply_minutes_median", "first_reply_minutes_p90",
             "full_resolution_minutes_median", "csat"]
    assert availability.on_a_clock_with_data(cur, tiles) == [
        "tickets_created", "first_reply_business_minutes_median", "first_reply_business_minutes_p90",
        "full_resolution_minutes_median", "csat"]  # both clocks of the resolution have data: it stays calendar


def test_tiles_keep_their_clock_when_neither_has_data(tmp_path: Path, settings: Settings) -> None:
    cur = imported(tmp_path, settings, without("First reply time in minutes within business hours")).cursor()
    assert availability.on_a_clock_with_data(cur, ["first_reply_minutes_median"]) == ["first_reply_minutes_median"]


# --- the arrival clock ------------------------------------------------------------------------------------------
def _cells(tickets_by_hour: dict[int, int]) -> pl.DataFrame:
    """A heatmap's 168 cells with these tickets on Monday, by hour."""
    return pl.DataFrame({"weekday": [d for d in range(7) for _ in range(24)], "hour": list(range(24)) * 7,
                         "tickets": [tickets_by_hour.get(h, 0) if d == 0 else 0 for d in range(7) for h in range(24)]})


def test_most_tickets_arriving_between_midnight_and_six_suggest_the_wrong_clock() -> None:
    # 00:00-05:59 hold 2 + 3 + 5 = 10 of 10 + 10 = 20 tickets: half -> suspect; 06:00 is morning
    cells = _cells({0: 2, 3: 3, 5: 5, 6: 4, 14: 6})
    assert distributions.night_share(cells) == 0.5
    assert distributions.suggests_wrong_clock(cells, min_tickets=20)
    assert not distributions.suggests_wrong_clock(cells, min_tickets=21)  # too few tickets to say


def test_daytime_arrivals_do_not_suggest_the_wrong_clock() -> None:
    cells = _cells({5: 9, 6: 1, 9: 5, 10: 5})  # 9 of 20 at night
    assert distributions.night_share(cells) == pytest.approx(0.45)
    assert not distributions.suggests_wrong_clock(cells, min_tickets=1)
    assert distributions.night_share(_cells({})) is None and not distributions.suggests_wrong_clock(_cells({}), 0)


def test_the_clock_check_reads_the_arrivals_on_the_account_clock(tmp_path: Path) -> None:
    # the April tickets arrive at 09:00-17:00 as exported (read on UTC); on Los Angeles' clock 6 of 8 fall at night
    utc = Settings(_env_file=None)  # type: ignore[call-arg]
    los_angeles = Settings(_env_file=None, timezone="America/Los_Angeles")  # type: ignore[call-arg]
    cur = imported(tmp_path, utc).cursor()
    assert not distributions.suggests_wrong_clock(distributions.arrivals_by_hour(cur, APRIL, utc), 5)
    assert distributions.night_share(distributions.arrivals_by_hour(cur, APRIL, los_angeles)) == 0.75
