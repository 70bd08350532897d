"""The backlog (a snapshot KPI, ``until=``): the tickets open at each period's end, with filters, breakdowns and
samples, against values worked out by hand and against the definition applied ticket by ticket."""

from __future__ import annotations

import random
from datetime import date, timedelta
from datetime import datetime as D
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from data import clock
from data.schema import FACT_TABLES
from data.warehouse import Warehouse
from metrics import query as mq
from metrics.registry import BY_NAME, METRICS, Metric
from settings import Settings
from tests.conftest import tickets

WEEK = mq.Filters(date(2024, 3, 4), date(2024, 3, 10))
UTC_SETTINGS = Settings(_env_file=None, timezone="UTC")  # type: ignore[call-arg]


def _ticket(created: D, solved: D | None, channel: str, assignee: str | None) -> dict[str, object]:
    return {"created_at": created, "solved_at": solved, "status": "solved" if solved else "open",
            "channel": channel, "priority": "normal", "assignee": assignee}


# Open at a day's end (UTC): created before the next midnight and not solved before it.
HAND = [
    _ticket(D(2024, 3, 1, 10), None, "email", "ann"),  # T1: before the view, never solved: open every day
    _ticket(D(2024, 3, 4, 9), D(2024, 3, 6), "chat", "bob"),  # T2: solved at the very end of the 5th: open 4-5
    _ticket(D(2024, 3, 5, 12), D(2024, 3, 8, 15), "email", None),  # T3: open 5-7
    _ticket(D(2024, 3, 7, 8), None, "chat", "bob"),  # T4: open 7-10
    _ticket(D(2024, 3, 9), None, "email", "ann"),  # T5: created at the 8th's end, so open from the 9th
    _ticket(D(2024, 3, 2), D(2024, 3, 3), "email", "ann"),  # T6: solved before the view: never open in it
    _ticket(D(2024, 3, 11, 9), None, "chat", "bob"),  # T7: created after the view
    _ticket(D(2024, 3, 6, 10), D(2024, 3, 5, 20), "chat", "ann"),  # T8: solved the day before created: never open
]
DAILY = [2, 3, 2, 3, 2, 3, 3]
DAILY_BY_CHANNEL = {"email": [1, 2, 2, 2, 1, 2, 2], "chat": [1, 1, 0, 1, 1, 1, 1]}


@pytest.fixture
def hand() -> Warehouse:
    return tickets(HAND)


def _series(frame: pl.DataFrame, column: str = "backlog") -> list[int]:
    return frame.sort("period")[column].to_list()


def test_backlog_per_day_counts_a_solve_at_midnight_as_open_that_day(hand: Warehouse) -> None:
    frame = mq.query(hand.cursor(), ["backlog"], WEEK, "day", settings=UTC_SETTINGS, samples=True)
    assert frame["period"].to_list() == [WEEK.start + timedelta(days=i) for i in range(7)]
    assert _series(frame) == _series(frame, "backlog_n") == DAILY


def test_backlog_with_a_channel_filter_counts_that_channel_only(hand: Warehouse) -> None:
    for channel, expected in DAILY_BY_CHANNEL.items():
        view = mq.Filters(WEEK.start, WEEK.end, channel=(channel,))
        assert _series(mq.query(hand.cursor(), ["backlog"], view, "day", settings=UTC_SETTINGS)) == expected


def test_backlog_by_channel_per_day(hand: Warehouse) -> None:
    frame = mq.query(hand.cursor(), ["backlog"], WEEK, "day", by="channel", settings=UTC_SETTINGS, samples=True)
    for channel, expected in DAILY_BY_CHANNEL.items():
        rows = frame.filter(pl.col("by_value") == channel)
        assert _series(rows) == _series(rows, "backlog_n") == expected


def test_backlog_by_assignee_over_the_week_gives_zero_not_null_for_an_agent_with_none_open(hand: Warehouse) -> None:
    # open at the week's end: T1 and T5 (ann), T4 (bob); T3, without an assignee, was solved on the 8th
    frame = mq.query(hand.cursor(), ["backlog"], WEEK, by="assignee", settings=UTC_SETTINGS, samples=True)
    assert dict(zip(frame["by_value"], frame["backlog"], strict=True)) == {"ann": 2, "bob": 1, mq.NONE: 0}
    assert frame["backlog_n"].to_list() == frame["backlog"].to_list()
    filtered = mq.Filters(WEEK.start, WEEK.end, channel=("email",))
    frame = mq.query(hand.cursor(), ["backlog"], filtered, by="assignee", settings=UTC_SETTINGS)
    assert dict(zip(frame["by_value"], frame["backlog"], strict=True)) == {"ann": 2, mq.NONE: 0}


def test_backlog_weekly_and_over_the_whole_view_is_the_count_at_its_last_day(hand: Warehouse) -> None:
    assert mq.totals(hand.cursor(), ["backlog"], WEEK, UTC_SETTINGS)["backlog"] == DAILY[-1]
    weekly = mq.query(hand.cursor(), ["backlog"], WEEK, "week", settings=UTC_SETTINGS)
    assert _series(weekly) == [DAILY[-1]]
    midweek = mq.Filters(date(2024, 3, 6), date(2024, 3, 8))  # the week's period ends on the view's last day
    assert _series(mq.query(hand.cursor(), ["backlog"], midweek, "week", settings=UTC_SETTINGS)) == [DAILY[4]]


def test_every_snapshot_reads_stored_local_days_of_both_its_times() -> None:
    for metric in (m for m in METRICS if m.until):
        assert {mq.local_date(metric.table, metric.time), mq.local_date(metric.table, metric.until)} \
            <= set(FACT_TABLES[metric.table].derived)


def test_a_snapshot_that_is_not_a_count_of_rows_is_refused() -> None:
    summed = Metric(name="open_replies", label="x", sql="sum(agent_replies)", unit="count", better="lower",
                    description="x.", until="solved_at")
    with pytest.raises(ValueError, match="count"):
        mq._group_cte("g0", [summed], "day", None)


# --- the definition, ticket by ticket, on random tickets in a zone half an hour off UTC -------------------------
def _random_tickets(count: int) -> list[dict[str, object]]:
    rng = random.Random(16)
    start = D(2024, 1, 20)
    rows = []
    for _ in range(count):
        created = start + timedelta(minutes=rng.randrange(0, 80 * 24 * 60, 30))  # on the half hour: period ends too
        solved = None if rng.random() < 0.3 else created + timedelta(minutes=rng.choice(
            [-3 * 24 * 60, -60, 0, 30, 330, 24 * 60, rng.randrange(0, 30 * 24 * 60, 30)]))
        rows.append({**_ticket(created, solved, rng.choice(["email", "chat", "phone"]),
                               rng.choice(["ann", "bob", None])), "priority": rng.choice(["low", "high"])})
    return rows


def _open_at(rows: list[dict[str, object]], as_of: D, **match: object) -> int:
    return sum(1 for r in rows if r["created_at"] < as_of and (r["solved_at"] is None or r["solved_at"] >= as_of)
               and all(r[k] == v for k, v in match.items()))


def _as_of(period: date, grain: str, view: mq.Filters, zone: ZoneInfo) -> D:
    next_month = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    following = period + timedelta(days=7) if grain == "week" else next_month
    local_end = min(following, view.end + timedelta(days=1))
    return D.combine(local_end, D.min.time(), zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@pytest.mark.parametrize("stored", [False, True], ids=["clock worked out live", "clock stored"])
@pytest.mark.parametrize("grain", ["week", "month"])
def test_backlog_equals_the_definition_ticket_by_ticket(grain: str, stored: bool) -> None:
    rows = _random_tickets(400)
    wh = tickets(rows)  # its local dates are on UTC, the default clock: Kolkata's are worked out in the query
    kolkata = Settings(_env_file=None, timezone="Asia/Kolkata")  # type: ignore[call-arg]
    if stored:
        assert clock.sync(wh, clock.Clock.of(kolkata))
    zone = ZoneInfo("Asia/Kolkata")
    view = mq.Filters(date(2024, 2, 7), date(2024, 3, 30), channel=("email", "chat"))
    frame = mq.query(wh.cursor(), ["backlog"], view, grain, by="priority", settings=kolkata, samples=True)
    assert frame.height == 2 * (8 if grain == "week" else 2)
    for period, priority, backlog, sample in frame.iter_rows():
        as_of = _as_of(period, grain, view, zone)
        expected = sum(_open_at(rows, as_of, priority=priority, channel=c) for c in ("email", "chat"))
        assert backlog == sample == expected, (period, priority)
    assert frame["backlog"].sum() > 0


def test_the_backlog_keeps_its_unknown_rules(settings: Settings) -> None:
    # before the export's first ticket the count is unknown, not 0
    wh = tickets(HAND)
    before = mq.Filters(date(2024, 2, 1), date(2024, 2, 7))
    assert mq.totals(wh.cursor(), ["backlog"], before, UTC_SETTINGS)["backlog"] is None
    assert BY_NAME["backlog"].known  # and no solve times at all: unknown everywhere (test_first_export_kpis.py)
