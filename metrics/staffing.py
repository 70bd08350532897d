"""Agents needed against agents staffed, per interval of a peak: the staffing gap, its what-if and the next peak.

Required agents (``metrics.erlang``): Erlang C per interval for live channels (settings: chat, phone); the workload
model for async channels (email, social, ...), whose work need not be answered in the hour it arrives: a day's async
work is spread evenly over that day's business hours (work of a day without business hours moves to the next business
day in the window). Channels are staffed separately: the required head count of an interval is the sum over channels.

Staffed agents: from the ``roster`` table (each shift counts by the share of the interval it covers; a shift without
a channel serves every channel); where the roster has no shift in the window, an estimate from the export: the
distinct assignees with a first reply or an agent solve on one of their tickets in the interval. An export says
who a ticket is assigned to, not who wrote each reply, so the estimate counts an agent only in intervals where one
of their tickets shows a reply or solve: it undercounts agents busy on follow-ups and over long intervals.

What the Staffing page asks, each from a cursor, the view's ``Filters`` and settings: ``interval_choices``,
``peak_gap``, ``after_hours_for``, ``forecast_peak`` (and ``forecast_methods``), ``handle_minutes``; and from a
``GapReport`` the tables it shows, ``required_by_channel`` and ``short_and_slow``.

Intervals (``slot``) are local wall-clock times in the account time zone, as naive timestamps. SQL follows
``metrics.query``: trusted constants in the text, every user value bound. The statements over a window's tickets
read the slot rollup (data/slot_rollup.py) where it is current (``peaks.slots_served``), a few thousand rows for a
peak, else the ticket rows (``rollup=False`` too; tests/test_slot_rollup.py holds the two equal). A window is its
local creation days; agents seen working are placed by their replies' and solves' own times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import duckdb
import polars as pl

from data.schema import TICKETS
from data.slot_rollup import AGENTS_TABLE, ANSWERED, SLOTS_TABLE
from metrics import peaks
from metrics.erlang import Model, Staffing, erlang_c_staffing, workload_staffing
from metrics.peaks import Peak, created_in_view, in_slot_days, slots_served
from metrics.query import (
    Filters,
    dimension_filter,
    dimension_values,
    execute,
    filter_on,
    in_view,
    local_time,
    utc_bound,
)
from metrics.registry import AUTOMATED, BY_NAME
from settings import WEEKDAYS, Settings

INTERVALS: tuple[int, ...] = (60, 30)  # minutes, whole quarter hours (see seen_working); only these reach SQL text
RECENT_WEEKS = 8  # the contact rate of the orders forecast: tickets per order over the newest 8 weeks
METHODS: tuple[str, ...] = ("tickets", "orders")  # a forecast from last year's tickets, or its orders x contact rate
# The totals that compare required with staffed agents: unknown where staffed agents are.
STAFFED_TOTALS = ("short_agent_hours", "spare_agent_hours", "staffed_agent_hours", "most_short", "short_intervals",
                  "flagged_intervals")
# The estimate counts assignees seen replying or solving: without one such ticket in the warehouse (an export
# without assignees, or without reply and solve times) it has nothing to count, and its 0 would be a guess.
WORK_SEEN = ("EXISTS (SELECT 1 FROM tickets WHERE assignee IS NOT NULL AND (first_reply_at IS NOT NULL OR "
             "solved_at IS NOT NULL OR first_solved_at IS NOT NULL))")
QUALITY_DROP = 0.10  # an interval is "slow" or "unhappy" this far below the baseline's SLA attainment or CSAT
HANDLE_COLUMN = "handle_minutes"  # no export gives it today; read it once an import does
FALLBACK_CHANNEL = "other"
MODEL_LABELS = {"erlang_c": "Erlang C (live)", "workload": "Workload (async)"}
SLA = BY_NAME["sla_first_reply_attainment"]
CSAT = BY_NAME["csat"]
FIRST_REPLY = BY_NAME["first_reply_minutes_median"]
NO_QUALITY = {"slot": pl.Datetime("us"), "sla_first_reply_attainment": pl.Float64,
              "first_reply_minutes_median": pl.Float64, "csat": pl.Float64, "csat_n": pl.Int64}


@dataclass(frozen=True)
class Scenario:
    """Everything a staffing number depends on besides the data: the settings, changed by the what-if."""

    service_level: float
    answer_seconds: float
    max_occupancy: float
    shrinkage: float
    growth: float = 0.0
    handle_minutes: tuple[tuple[str, float], ...] = ()
    handle_factor: float = 1.0
    live_channels: tuple[str, ...] = ("chat", "phone")
    open_from_minute: int = 9 * 60
    open_until_minute: int = 18 * 60
    open_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    paid_hours: float = 8.0

    @classmethod
    def from_settings(cls, settings: Settings, **changes: object) -> Scenario:
        start, end = settings.business_hours_start, settings.business_hours_end
        base = cls(
            service_level=settings.staffing_service_level, answer_seconds=settings.staffing_answer_seconds,
            max_occupancy=settings.staffing_max_occupancy, shrinkage=settings.staffing_shrinkage,
            growth=settings.staffing_growth, handle_minutes=tuple(sorted(settings.staffing_handle_minutes.items())),
            live_channels=settings.staffing_live_channels, open_from_minute=start.hour * 60 + start.minute,
            open_until_minute=end.hour * 60 + end.minute,
            open_days=tuple(i for i, day in enumerate(WEEKDAYS) if day in settings.business_days),
            paid_hours=settings.staffing_paid_hours,
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def model(self, channel: str) -> Model:
        return "erlang_c" if channel in self.live_channels else "workload"

    def handle_seconds(self, channel: str) -> float:
        """The channel's handle time from settings (else the 'other' channel's), times the what-if factor."""
        minutes = dict(self.handle_minutes)
        chosen = minutes.get(channel, minutes.get(FALLBACK_CHANNEL))
        if chosen is None:
            raise ValueError(f"no handle time for channel {channel!r}: add it to CSPULSE_STAFFING_HANDLE_MINUTES")
        return chosen * 60 * self.handle_factor


@dataclass(frozen=True)
class GapReport:
    """The staffing gap of one window. ``slots``: slot, tickets, required, staffed, gap (= required − staffed;
    above 0 agents short), the interval's quality and ``flagged`` (short and slow or unhappy)."""

    required: pl.DataFrame  # slot, channel, contacts, model, raw_agents, agents
    slots: pl.DataFrame
    by_weekday_hour: pl.DataFrame  # weekday (0 = Monday), hour, gap (mean over the window)
    minutes: int
    totals: dict[str, float | None] = field(default_factory=dict)  # None: unknown (no staffed agents to compare)


@dataclass(frozen=True)
class Forecast:
    """A peak's forecast: its gap, the window a year earlier it rests on (``before``), the factor on that window's
    tickets, where staffed agents come from, the tickets forecast, and the method it used."""

    report: GapReport
    before: Peak
    factor: float
    source: str  # "roster" (the peak's own, or last year's carried over), "estimate" (last year's, carried over)
    # or "unknown" (no roster, and an export that shows nobody at work)
    tickets: float
    method: str  # "tickets" or "orders"; an orders forecast without orders or contact rate falls back to tickets


class NoHistory(ValueError):
    """The warehouse lacks the history a forecast rests on; the message says which window."""


@dataclass(frozen=True)
class Window:
    """What the warehouse says about one window of dates under the view's filters, per interval."""

    arrivals: pl.DataFrame  # slot, channel, tickets
    staffed: pl.DataFrame | None  # slot, staffed; None: unknown
    quality: pl.DataFrame  # slot, tickets, sla_first_reply_attainment, first_reply_minutes_median, csat, csat_n
    waits: pl.DataFrame  # slot, first_reply_minutes (one row per ticket)
    source: str  # where staffed agents come from: "roster", "estimate" or "unknown"
    channels: tuple[str, ...]  # every channel the view keeps, arrivals or not (``view_channels``)


# --- SQL: what the warehouse holds ------------------------------------------------------------------------------------
def _slot(local: str, minutes: int) -> str:
    """The interval of a wall-clock time (``created_local_at``, worked out at import, or an expression)."""
    if minutes not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS} minutes, not {minutes!r}")
    return f"time_bucket(INTERVAL '{minutes} minutes', {local})"


def _rows(cur: duckdb.DuckDBPyConnection, settings: Settings, rollup: bool) -> tuple[str, str, str]:
    """Where a statement over the view's tickets reads: (table, its local wall-clock column, the view's rows), the
    slot rollup's half hours where it is served, else the tickets themselves."""
    if rollup and slots_served(cur, settings):
        return SLOTS_TABLE, "half_hour", in_slot_days()
    return "tickets", "created_local_at", created_in_view()


def arrivals(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int, settings: Settings, *,
             rollup: bool = True) -> pl.DataFrame:
    """Tickets created per local interval and channel (a ticket without a channel counts as 'other')."""
    table, local, rows = _rows(cur, settings, rollup)
    count = "sum(n)" if table == SLOTS_TABLE else "count(*)"
    sql = f"""SELECT {_slot(local, minutes)} AS slot, coalesce(channel, '{FALLBACK_CHANNEL}') AS channel,
                     {count}::BIGINT AS tickets
              FROM {table} WHERE {rows} GROUP BY ALL ORDER BY slot, channel"""
    return execute(cur, sql, view, settings)


def clock_minutes(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings, *,
                  rollup: bool = True) -> int | None:
    """The finest interval the creation times allow: 1 when some carry minutes, 60 when all sit on the hour,
    1440 when all sit at midnight (a date-only export); None without tickets."""
    table, local, rows = _rows(cur, settings, rollup)
    if table == SLOTS_TABLE:
        counts = "coalesce(sum(n), 0), coalesce(sum(off_hour), 0), coalesce(sum(off_midnight), 0)"
    else:
        counts = (f"count(*), count(*) FILTER (WHERE minute({local}) <> 0 OR second({local}) <> 0), "
                  f"count(*) FILTER (WHERE hour({local}) <> 0)")
    sql = f"SELECT {counts} FROM {table} WHERE {rows}"
    total, off_hour, off_midnight = execute(cur, sql, view, settings).row(0)
    if not total:
        return None
    return 1 if off_hour else 60 if off_midnight else 1440


def roster_shifts(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings) -> int:
    """Roster shifts overlapping the window (any channel the view keeps)."""
    sql = f"SELECT count(*) FROM roster WHERE {_roster_rows()}"
    return int(execute(cur, sql, view, settings).item())


def view_channels(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings) -> tuple[str, ...]:
    """The channels of the data (any date) that the view's channel filter keeps, so a channel quiet in a window
    still gets its row. Only the channel filter applies: a channel belongs to the staffing plan whatever the
    categories and priorities of its tickets."""
    kept = set(view.channel)
    return tuple(channel for channel in dimension_values(cur, "channel") if not kept or channel in kept)


def _roster_rows() -> str:
    return (f"ends_at > {utc_bound('$start')} AND starts_at < {utc_bound('$end_excl')} AND ends_at > starts_at "
            "AND (len($channel::VARCHAR[]) = 0 OR channel IS NULL OR list_contains($channel::VARCHAR[], channel))")


def roster_staffed(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int, settings: Settings) -> pl.DataFrame:
    """Agents on shift per local interval: each shift adds the share of the interval it covers."""
    if minutes not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS} minutes, not {minutes!r}")
    step = f"INTERVAL '{minutes} minutes'"
    sql = f"""
        WITH shifts AS (SELECT {local_time('starts_at')} AS s, {local_time('ends_at')} AS e FROM roster
                        WHERE {_roster_rows()}),
        grid AS (SELECT slot FROM range($start::TIMESTAMP, $end_excl::TIMESTAMP, {step}) r(slot))
        SELECT slot, sum(epoch(least(e, slot + {step}) - greatest(s, slot)) / {minutes * 60})::DOUBLE AS staffed
        FROM grid JOIN shifts ON s < slot + {step} AND e > slot GROUP BY slot ORDER BY slot"""
    return execute(cur, sql, view, settings)


def seen_working(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int, settings: Settings, *,
                 rollup: bool = True) -> pl.DataFrame:
    """The estimate: distinct assignees with a first reply or a (non-automated) solve on one of their tickets in
    the interval. Events are placed by their own time, so a ticket created before the window still counts. The
    slot rollup's quarter hours serve a view without filters or with a channel filter only (it keeps assignees per
    quarter and channel, not per category or priority)."""
    if rollup and not (view.category or view.priority) and slots_served(cur, settings):
        quarters = (f"SELECT quarter, assignee FROM {AGENTS_TABLE} WHERE {_in_window('quarter')} "
                    f"AND {filter_on(('channel',))}")
        return execute(cur, _staffed_per_slot(quarters, minutes), view, settings)
    return execute(cur, _staffed_per_slot(_quarters_worked(), minutes), view, settings)


def _in_window(column: str) -> str:
    return f"{column} >= {utc_bound('$start')} AND {column} < {utc_bound('$end_excl')}"


def _staffed_per_slot(quarters: str, minutes: int) -> str:
    # Each event's own local time cost a second per million events; within a quarter hour of UTC every zone's
    # offset is one (offsets and their changes fall on quarter hours), and INTERVALS are whole quarters, so the
    # quarter's local start places all its events in the same interval. The window's bounds are local midnights,
    # on quarter hours too, so an event lies in the window exactly when its quarter does. Each distinct quarter is
    # moved to local time once, not once per assignee in it: at 10M tickets a peak's 46k rows took 70-100 ms cold
    # for that alone, its 400 quarters and a join 25 ms.
    return f"""WITH worked AS ({quarters}),
               slots AS (SELECT quarter, {_slot(local_time("quarter"), minutes)} AS slot
                         FROM (SELECT DISTINCT quarter FROM worked))
               SELECT slot, count(DISTINCT assignee)::DOUBLE AS staffed FROM worked JOIN slots USING (quarter)
               GROUP BY ALL ORDER BY slot"""


def _quarters_worked() -> str:
    """The distinct (UTC quarter hour, assignee) of the view's tickets' first replies and agent solves in the
    window, from the ticket rows."""
    agent = f"assignee IS NOT NULL AND {dimension_filter('tickets')}"
    human_solve = f"NOT coalesce({AUTOMATED}, FALSE)"
    # one pass over the tickets for the three kinds of event (one per kind scanned every ticket three times);
    # whether a solve was automated is worked out only for the tickets with an event in the window
    return f"""
        WITH worked AS (
            SELECT assignee, first_reply_at, CASE WHEN {human_solve} THEN first_solved_at END AS first_solved_at,
                   CASE WHEN {human_solve} THEN solved_at END AS solved_at FROM tickets
            WHERE ({_in_window('first_reply_at')} OR {_in_window('first_solved_at')} OR {_in_window('solved_at')})
              AND {agent}),
        events AS (SELECT assignee, event_at FROM (
                       SELECT assignee, unnest([first_reply_at, first_solved_at, solved_at]) AS event_at FROM worked)
                   WHERE {_in_window('event_at')})
        SELECT DISTINCT time_bucket(INTERVAL '15 minutes', event_at) AS quarter, assignee FROM events"""


# The quality of a set of slot rollup rows: the same KPIs from its parts (data/slot_rollup.py). A median is that of
# the rows' first reply minutes put together.
SLOT_QUALITY = {
    "sla_first_reply_attainment": "sum(sla_met) / nullif(sum(sla_n), 0)",
    "first_reply_minutes_median": "list_aggregate(flatten(list(waits) FILTER (WHERE waits IS NOT NULL)), 'median')",
    "csat": "sum(csat_good) / nullif(sum(csat_n), 0)",
}


def slot_quality(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int, settings: Settings, *,
                 overall: bool = False, median: bool = True, rollup: bool = True) -> pl.DataFrame:
    """First reply SLA attainment, median first reply and CSAT of the tickets that arrived in each interval (or,
    with ``overall``, in the whole window as one row). CSAT here is by arrival, not by solve time. Without
    ``median`` the median first reply is NULL: a baseline's needs every first reply of its weeks and goes unused."""
    table, local, rows = _rows(cur, settings, rollup)
    group = f"{_slot(local, minutes)}" if not overall else "NULL::TIMESTAMP"
    if table == SLOTS_TABLE:
        parts = ("coalesce(sum(n), 0)", *SLOT_QUALITY.values(), "coalesce(sum(csat_n), 0)")
    else:
        parts = ("count(*)", SLA.sql, FIRST_REPLY.sql, CSAT.sql, CSAT.sample)
    if not median:
        parts = (*parts[:2], "NULL", *parts[3:])
    sql = f"""SELECT {group} AS slot, ({parts[0]})::BIGINT AS tickets,
                     ({parts[1]})::DOUBLE AS sla_first_reply_attainment,
                     ({parts[2]})::DOUBLE AS first_reply_minutes_median,
                     ({parts[3]})::DOUBLE AS csat, ({parts[4]})::BIGINT AS csat_n
              FROM {table} WHERE {rows} GROUP BY ALL ORDER BY 1"""
    return execute(cur, sql, view, settings)


def arrival_waits(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int, settings: Settings, *,
                  rollup: bool = True) -> pl.DataFrame:
    """Each ticket of the window: its arrival interval, its calendar first reply minutes (NULL: no reply yet, or an
    export that gives only business-hours durations) and whether it was answered by any sign the export gives."""
    table, local, rows = _rows(cur, settings, rollup)
    if table == SLOTS_TABLE:  # a row per first reply's minutes, then the answered without them, then the rest
        sql = f"""WITH r AS (SELECT {_slot(local, minutes)} AS slot, n, answered, waits FROM {table} WHERE {rows})
                  SELECT slot, unnest(waits) AS first_reply_minutes, TRUE AS answered FROM r
                  UNION ALL SELECT slot, NULL::DOUBLE, TRUE
                            FROM (SELECT slot, unnest(range(answered - coalesce(len(waits), 0))) FROM r)
                  UNION ALL SELECT slot, NULL::DOUBLE, FALSE FROM (SELECT slot, unnest(range(n - answered)) FROM r)
                  ORDER BY slot, first_reply_minutes, answered"""
    else:
        sql = f"""SELECT {_slot(local, minutes)} AS slot, first_reply_minutes, {ANSWERED} AS answered
                  FROM tickets WHERE {rows} ORDER BY slot, first_reply_minutes, answered"""
    return execute(cur, sql, view, settings)


def orders_and_tickets(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings) -> tuple[int, int]:
    """Orders placed and tickets created in the window (the view's ticket filters apply to tickets only)."""
    sql = f"""SELECT (SELECT count(*) FROM orders WHERE {in_view('created_at', 'orders')}),
                     (SELECT count(*) FROM tickets WHERE {in_view('created_at')})"""
    orders, tickets = execute(cur, sql, view, settings).row(0)
    return int(orders), int(tickets)


def handle_minutes_from_data(cur: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Median handle minutes per channel where the warehouse has a handle-time column; {} while it has none."""
    if HANDLE_COLUMN not in TICKETS.column_names:
        return {}
    rows = cur.execute(f"SELECT coalesce(channel, '{FALLBACK_CHANNEL}'), median({HANDLE_COLUMN}) FROM tickets "
                       f"WHERE {HANDLE_COLUMN} > 0 GROUP BY ALL").fetchall()
    return {channel: float(minutes) for channel, minutes in rows}


# --- pure: required, gap, quality, after hours -----------------------------------------------------------------------
def slot_grid(start: date, end: date, minutes: int) -> pl.Series:
    """Every interval start from ``start`` 00:00 to the end of ``end`` (local wall clock)."""
    first = datetime.combine(start, time())
    last = datetime.combine(end + timedelta(days=1), time()) - timedelta(minutes=minutes)
    return pl.datetime_range(first, last, interval=f"{minutes}m", eager=True, time_unit="us").alias("slot")


def required_agents(arrived: pl.DataFrame, start: date, end: date, minutes: int, scenario: Scenario,
                    channels: Sequence[str] = ()) -> pl.DataFrame:
    """Per interval and channel: contacts (× growth), the model, agents working contacts and positions to schedule.

    ``arrived`` has slot, channel, tickets; ``channels`` adds channels with no arrivals (they need no one)."""
    grid = slot_grid(start, end, minutes)
    factor = 1 + scenario.growth
    names = sorted(set(arrived["channel"].to_list()) | set(channels))
    counts = {(s, c): t * factor for s, c, t in arrived.select("slot", "channel", "tickets").iter_rows()}
    rows: list[tuple[datetime, str, float, str, int, int]] = []
    for channel in names:
        if scenario.model(channel) == "erlang_c":
            rows += _live(channel, grid, counts, minutes, scenario)
        else:
            rows += _async(channel, grid, counts, minutes, scenario)
    schema = {"slot": pl.Datetime("us"), "channel": pl.String, "contacts": pl.Float64, "model": pl.String,
              "raw_agents": pl.Int64, "agents": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("slot", "channel")


def _live(channel: str, grid: pl.Series, counts: dict[tuple[datetime, str], float], minutes: int,
          scenario: Scenario) -> list[tuple[datetime, str, float, str, int, int]]:
    memo: dict[float, Staffing] = {}
    handle = scenario.handle_seconds(channel)
    rows = []
    for slot in grid.to_list():
        contacts = counts.get((slot, channel), 0.0)
        if contacts not in memo:
            memo[contacts] = erlang_c_staffing(
                contacts=contacts, interval_seconds=minutes * 60, handle_seconds=handle,
                answer_seconds=scenario.answer_seconds, target_service_level=scenario.service_level,
                max_occupancy=scenario.max_occupancy, shrinkage=scenario.shrinkage)
        result = memo[contacts]
        rows.append((slot, channel, contacts, "erlang_c", result.raw_agents, result.agents))
    return rows


def _async(channel: str, grid: pl.Series, counts: dict[tuple[datetime, str], float], minutes: int,
           scenario: Scenario) -> list[tuple[datetime, str, float, str, int, int]]:
    slots = grid.to_list()
    days = sorted({slot.date() for slot in slots})
    work_day = _work_days(days, scenario.open_days)
    per_day: dict[date, float] = {}
    for slot in slots:
        per_day[work_day[slot.date()]] = per_day.get(work_day[slot.date()], 0.0) + counts.get((slot, channel), 0.0)
    open_seconds = (scenario.open_until_minute - scenario.open_from_minute) * 60
    handle = scenario.handle_seconds(channel)
    staffed = {day: workload_staffing(contacts=contacts, interval_seconds=open_seconds, handle_seconds=handle,
                                      max_occupancy=scenario.max_occupancy, shrinkage=scenario.shrinkage)
               for day, contacts in per_day.items()}
    rows = []
    for slot in slots:
        minute = slot.hour * 60 + slot.minute
        result = staffed.get(slot.date()) if scenario.open_from_minute <= minute < scenario.open_until_minute else None
        raw, agents = (result.raw_agents, result.agents) if result else (0, 0)
        rows.append((slot, channel, counts.get((slot, channel), 0.0), "workload", raw, agents))
    return rows


def _work_days(days: Sequence[date], open_days: Sequence[int]) -> dict[date, date]:
    """The business day whose hours take a day's async work: itself, else the next business day in the window,
    else the last one before it, else itself (a window without business days)."""
    business = [d for d in days if d.weekday() in open_days]
    mapping = {}
    for day in days:
        later = [b for b in business if b >= day]
        earlier = [b for b in business if b < day]
        mapping[day] = later[0] if later else earlier[-1] if earlier else day
    return mapping


def gap(required: pl.DataFrame, staffed: pl.DataFrame | None, start: date, end: date, minutes: int) -> pl.DataFrame:
    """Per interval: tickets, required (sum over channels), staffed and gap = required − staffed; staffed and gap
    NULL throughout when staffed agents are unknown (``staffed`` None)."""
    grid = slot_grid(start, end, minutes).to_frame()
    need = required.group_by("slot").agg(tickets=pl.col("contacts").sum(), required=pl.col("agents").sum())
    slots = grid.join(need, on="slot", how="left").with_columns(pl.col("tickets", "required").fill_null(0)
                                                                .cast(pl.Float64))
    if staffed is None:
        slots = slots.with_columns(staffed=pl.lit(None, pl.Float64))
    else:
        slots = slots.join(staffed.select("slot", "staffed"), on="slot", how="left").with_columns(
            pl.col("staffed").fill_null(0).cast(pl.Float64))
    return slots.with_columns(gap=pl.col("required") - pl.col("staffed")).sort("slot")


def flag_quality(slots: pl.DataFrame, quality: pl.DataFrame, base: dict[str, float | None]) -> pl.DataFrame:
    """Adds the interval's quality and ``slow`` / ``unhappy`` (more than QUALITY_DROP below the baseline's first
    reply SLA attainment / CSAT) and ``flagged``: agents were short and replies slow or customers unhappy."""
    joined = slots.join(quality.select("slot", "sla_first_reply_attainment", "first_reply_minutes_median", "csat",
                                       "csat_n"), on="slot", how="left")
    base_sla, base_csat = base.get("sla_first_reply_attainment"), base.get("csat")
    slow = (pl.col("sla_first_reply_attainment") < base_sla - QUALITY_DROP) if base_sla is not None else pl.lit(False)
    unhappy = (pl.col("csat") < base_csat - QUALITY_DROP) if base_csat is not None else pl.lit(False)
    return joined.with_columns(slow=slow.fill_null(False), unhappy=unhappy.fill_null(False)).with_columns(
        flagged=(pl.col("gap") > 0) & (pl.col("slow") | pl.col("unhappy")))


def by_weekday_hour(slots: pl.DataFrame) -> pl.DataFrame:
    """Mean gap per local weekday (0 = Monday) and hour; all 168 cells, NULL where the window has none."""
    cells = pl.DataFrame({"weekday": [d for d in range(7) for _ in range(24)], "hour": list(range(24)) * 7},
                         schema={"weekday": pl.Int8, "hour": pl.Int8})
    means = slots.group_by(weekday=(pl.col("slot").dt.weekday() - 1).cast(pl.Int8),
                           hour=pl.col("slot").dt.hour().cast(pl.Int8)).agg(gap=pl.col("gap").mean())
    return cells.join(means, on=["weekday", "hour"], how="left").sort("weekday", "hour")


def report(arrived: pl.DataFrame, staffed: pl.DataFrame | None, quality: pl.DataFrame | None,
           base: dict[str, float | None], *, start: date, end: date, minutes: int, scenario: Scenario,
           channels: Sequence[str] = ()) -> GapReport:
    """The gap of one window under one scenario, with its totals: agent-hours short and spare. Without
    ``quality`` (a forecast) no interval is flagged. Without ``staffed`` (unknown) every total that rests on staffed
    agents is None: 0 would read as nobody at work."""
    required = required_agents(arrived, start, end, minutes, scenario, channels)
    quality = quality if quality is not None else pl.DataFrame(schema=NO_QUALITY)
    slots = flag_quality(gap(required, staffed, start, end, minutes), quality, base)
    hours = minutes / 60
    totals = {
        "short_agent_hours": float(slots["gap"].clip(lower_bound=0).sum()) * hours,
        "spare_agent_hours": float((-slots["gap"]).clip(lower_bound=0).sum()) * hours,
        "required_agent_hours": float(slots["required"].sum()) * hours,
        "staffed_agent_hours": float(slots["staffed"].sum()) * hours,
        "most_short": float(slots["gap"].max() or 0),
        "short_intervals": float((slots["gap"] > 0).sum()),
        "flagged_intervals": float(slots["flagged"].sum()),
    }
    if staffed is None:
        totals.update(dict.fromkeys(STAFFED_TOTALS))
    return GapReport(required, slots, by_weekday_hour(slots), minutes, totals)


def after_hours(waits: pl.DataFrame, staffed: pl.DataFrame | None) -> pl.DataFrame:
    """Tickets that arrived in intervals with agents on shift and in those without: how many and how long they
    waited for a first reply (answered ones; the unanswered are counted apart). A ticket is answered when its
    ``answered`` says so (else when it has first reply minutes): a business-hours-only export has replies but no
    calendar wait, which stays unknown rather than making its tickets unanswered. Without ``staffed`` (unknown)
    one row holds every ticket: which of them arrived after hours is unknown."""
    if "answered" not in waits.columns:
        waits = waits.with_columns(answered=pl.col("first_reply_minutes").is_not_null())
    if staffed is None:
        joined, parts = waits.with_columns(covered=pl.lit(None, pl.Boolean)), ((None, "Staffing unknown"),)
    else:
        joined = waits.join(staffed.select("slot", "staffed"), on="slot", how="left").with_columns(
            covered=pl.col("staffed").fill_null(0) > 0)
        parts = ((True, "Staffed hours"), (False, "Outside staffed hours"))
    found = {}
    for covered, _ in parts:
        part = joined.filter(pl.col("covered").eq_missing(covered))
        waited = part["first_reply_minutes"].drop_nulls()
        found[covered] = (part.height, int(part["answered"].sum()), waited.median() if waited.len() else None,
                          waited.quantile(0.9, "linear") if waited.len() else None)
    return _coverage_table(found, parts)


AFTER_HOURS_SCHEMA = {"coverage": pl.String, "tickets": pl.Int64, "share": pl.Float64, "answered": pl.Int64,
                      "unanswered": pl.Int64, "first_reply_minutes_median": pl.Float64,
                      "first_reply_minutes_p90": pl.Float64}


def _coverage_table(found: dict[bool | None, tuple], parts: Sequence[tuple[bool | None, str]]) -> pl.DataFrame:
    """``after_hours``' table from (tickets, answered, median, p90) per coverage (True, False or None: unknown)."""
    total = max(sum(tickets for tickets, *_ in found.values()), 1)
    rows = []
    for covered, label in parts:
        tickets, answered, median, p90 = found.get(covered, (0, 0, None, None))
        rows.append({"coverage": label, "tickets": tickets, "share": tickets / total, "answered": answered,
                     "unanswered": tickets - answered, "first_reply_minutes_median": median,
                     "first_reply_minutes_p90": p90})
    return pl.DataFrame(rows, schema=AFTER_HOURS_SCHEMA)


def covered_slots(staffed: pl.DataFrame | None) -> tuple[datetime, ...] | None:
    """The intervals with an agent staffed (``after_hours``' "staffed hours"); None where staffing is unknown."""
    return None if staffed is None else tuple(staffed.filter(pl.col("staffed") > 0)["slot"].sort().to_list())


def after_hours_of(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int,
                   covered: Sequence[datetime] | None, settings: Settings, *, rollup: bool = True) -> pl.DataFrame:
    """``after_hours`` of the view's tickets worked out in the warehouse, without a row per ticket: ``covered`` are
    the intervals with an agent staffed (``covered_slots``; None: unknown). Medians and percentiles interpolate as
    Polars' do (linear)."""
    table, local, rows = _rows(cur, settings, rollup)
    per_slot = (f"SELECT {_slot(local, minutes)} AS slot, n, answered, waits FROM {table} WHERE {rows}"
                if table == SLOTS_TABLE else
                f"SELECT {_slot(local, minutes)} AS slot, 1 AS n, ({ANSWERED})::INT AS answered, "
                f"CASE WHEN first_reply_minutes IS NOT NULL THEN [first_reply_minutes] END AS waits "
                f"FROM tickets WHERE {rows}")
    cover = "NULL::BOOLEAN" if covered is None else "slot IN (SELECT unnest($covered::TIMESTAMP[]))"
    sql = f"""SELECT covered, tickets, answered, list_aggregate(waited, 'median')::DOUBLE AS median,
                     list_aggregate(waited, 'quantile_cont', 0.9)::DOUBLE AS p90
              FROM (SELECT {cover} AS covered, coalesce(sum(n), 0)::BIGINT AS tickets,
                           coalesce(sum(answered), 0)::BIGINT AS answered,
                           flatten(list(waits) FILTER (WHERE waits IS NOT NULL)) AS waited
                    FROM ({per_slot}) GROUP BY ALL)"""
    found = execute(cur, sql, view, settings, covered=list(covered or ()))
    parts = (((None, "Staffing unknown"),) if covered is None else
             ((True, "Staffed hours"), (False, "Outside staffed hours")))
    return _coverage_table({row[0]: row[1:] for row in found.iter_rows()}, parts)


# --- a peak's window: what the Staffing page shows of it -------------------------------------------------------------
def staffed_agents(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int,
                   settings: Settings) -> tuple[pl.DataFrame | None, str]:
    """Agents staffed per interval and where they come from: the roster when it has a shift in the window,
    else the estimate from the export (``seen_working``); None and "unknown" where the export shows nobody at
    work (``WORK_SEEN``) and there is no roster."""
    if roster_shifts(cur, view, settings):
        return roster_staffed(cur, view, minutes, settings), "roster"
    if not work_seen(cur):
        return None, "unknown"
    return seen_working(cur, view, minutes, settings), "estimate"


def work_seen(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the export shows agents at work at all (``WORK_SEEN``): what the estimate of staffed agents needs."""
    row = cur.execute(f"SELECT {WORK_SEEN}").fetchone()
    return bool(row and row[0])


def window(cur: duckdb.DuckDBPyConnection, view: Filters, minutes: int, settings: Settings) -> Window:
    """Arrivals, staffed agents, quality and waits per interval of the view's dates, and the view's channels."""
    staffed, source = staffed_agents(cur, view, minutes, settings)
    return Window(arrivals(cur, view, minutes, settings), staffed, slot_quality(cur, view, minutes, settings),
                  arrival_waits(cur, view, minutes, settings), source, view_channels(cur, view, settings))


def baseline_quality(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings) -> dict[str, float | None]:
    """First reply SLA attainment and CSAT of the tickets that arrived in the view's dates, as one baseline;
    {} without tickets."""
    row = slot_quality(cur, view, 60, settings, overall=True, median=False)
    return {} if row.is_empty() else row.select("sla_first_reply_attainment", "csat").row(0, named=True)


def interval_choices(cur: duckdb.DuckDBPyConnection, window: Filters, settings: Settings) -> tuple[int, ...]:
    """The interval lengths the creation times allow, in minutes: hours only when no creation time in the window
    carries minutes (an export stamped on the hour or by date); else hours or half hours."""
    clock = clock_minutes(cur, window, settings)
    return (60,) if clock is not None and clock > 30 else (60, 30)


def peak_gap(cur: duckdb.DuckDBPyConnection, peak: Peak, view: Filters, scenario: Scenario, minutes: int,
             settings: Settings) -> tuple[GapReport, str]:
    """The peak's staffing gap under the scenario (the view's channel, category and priority over the peak's dates),
    its intervals flagged against the quality of the baseline weeks before it; and where staffed agents came from."""
    dates = peak.filters(view)  # not ``window``: the gap needs no waits (``after_hours_of`` reads them)
    staffed, source = staffed_agents(cur, dates, minutes, settings)
    start, end = peaks.baseline(peak)
    base = baseline_quality(cur, replace(view, start=start, end=end), settings)
    gap_report = report(arrivals(cur, dates, minutes, settings), staffed, slot_quality(cur, dates, minutes, settings),
                        base, start=peak.start, end=peak.end, minutes=minutes, scenario=scenario,
                        channels=view_channels(cur, view, settings))
    return gap_report, source


def after_hours_for(cur: duckdb.DuckDBPyConnection, peak: Peak, view: Filters, minutes: int,
                    settings: Settings) -> tuple[pl.DataFrame, str]:
    """``after_hours`` of the peak's tickets under the view, and where staffed agents came from."""
    dates = peak.filters(view)
    staffed, source = staffed_agents(cur, dates, minutes, settings)
    return after_hours_of(cur, dates, minutes, covered_slots(staffed), settings), source


def staffed_in(gap_report: GapReport) -> pl.DataFrame | None:
    """The staffed agents per interval a gap was worked out with (slot, staffed); None where they are unknown."""
    if gap_report.totals.get("staffed_agent_hours") is None:
        return None
    return gap_report.slots.select("slot", "staffed")


def handle_minutes(cur: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[dict[str, float], str]:
    """Handle minutes per channel and where they come from: "export" when the warehouse holds handle times,
    else "settings" (``CSPULSE_STAFFING_HANDLE_MINUTES``)."""
    found = handle_minutes_from_data(cur)
    return (found, "export") if found else (dict(settings.staffing_handle_minutes), "settings")


def required_by_channel(report: GapReport, scenario: Scenario) -> pl.DataFrame:
    """Per channel: its model (readable), contacts, handle minutes (with the what-if factor), the agents its busiest
    interval needs and its agent-hours over the window."""
    hours = report.minutes / 60
    table = report.required.group_by("channel", "model").agg(
        contacts=pl.col("contacts").sum(), busiest=pl.col("agents").max(),
        agent_hours=pl.col("agents").sum() * hours).sort("channel")
    handle = {channel: scenario.handle_seconds(channel) / 60 for channel in table["channel"].to_list()}
    return table.select(
        "channel", pl.col("model").replace(MODEL_LABELS), "contacts",
        pl.col("channel").replace_strict(handle, return_dtype=pl.Float64).alias("handle"), "busiest", "agent_hours")


def short_and_slow(report: GapReport) -> pl.DataFrame:
    """The intervals short of agents whose tickets were answered slowly or rated low against the baseline weeks,
    as a table to show (percentages 0-100); no rows when none is."""
    why = (pl.when(pl.col("slow") & pl.col("unhappy")).then(pl.lit("slow replies, low CSAT"))
           .when(pl.col("slow")).then(pl.lit("slow replies")).otherwise(pl.lit("low CSAT")))
    return report.slots.filter(pl.col("flagged")).select(
        pl.col("slot").dt.strftime("%a %d %b %H:%M").alias("Interval"), pl.col("tickets").alias("Tickets"),
        pl.col("required").alias("Required"), pl.col("staffed").alias("Staffed"), pl.col("gap").alias("Short"),
        (pl.col("sla_first_reply_attainment") * 100).alias("First reply SLA %"),
        (pl.col("csat") * 100).alias("CSAT %"), pl.col("csat_n").alias("Ratings"), why.alias("Why"))


# --- the next peak ------------------------------------------------------------------------------------------------
def carry(frame: pl.DataFrame, before: Peak, after: Peak) -> pl.DataFrame:
    """Moves per-interval rows of one window onto another: day k of ``after`` takes day k of ``before``; a day past
    the end of ``before`` takes the same weekday a week earlier. Other columns are kept as they are."""
    sources: dict[int, list[int]] = {}
    for k in range(after.days):
        source = k
        while source >= before.days:
            source -= 7
        sources.setdefault(source if source >= 0 else k % before.days, []).append(k)
    mapping = pl.DataFrame([(s, k) for s, ks in sources.items() for k in ks], schema={"day": pl.Int64, "to": pl.Int64},
                           orient="row")
    offset = (pl.col("slot").dt.date() - pl.lit(before.start)).dt.total_days()
    start = datetime.combine(after.start, time())
    return (frame.with_columns(day=offset).join(mapping, on="day", how="inner")
            .with_columns(slot=pl.lit(start) + pl.duration(days=pl.col("to"))
                          + (pl.col("slot") - pl.col("slot").dt.truncate("1d")))
            .drop("day", "to").sort("slot"))


def forecast_methods(cur: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The forecast methods the data allows: orders × contact rate needs orders."""
    row = cur.execute("SELECT count(*) FROM orders").fetchone()
    return METHODS if row and row[0] else ("tickets",)


def forecast_peak(cur: duckdb.DuckDBPyConnection, peak: Peak, view: Filters, scenario: Scenario, minutes: int,
                  method: str, settings: Settings) -> Forecast:
    """The peak's tickets per interval from the same window a year earlier (``peaks.last_year``), carried day by
    day onto it and scaled: by the scenario's growth (method "tickets"), or so that they equal last year's orders
    grown by it times the contact rate of the newest ``RECENT_WEEKS`` weeks (method "orders"). Staffed agents:
    the roster's shifts in the peak, else last year's staffed agents carried over. Raises ``NoHistory`` when the
    tickets do not cover the whole window a year earlier or the view has none in it: a forecast of 0 tickets would
    read as a quiet peak. Orders do not stand in for tickets; the contact rate is that of the tickets' newest weeks."""
    if method not in METHODS:
        raise ValueError(f"forecast method must be one of {METHODS}, not {method!r}")
    span = peaks.ticket_span(cur, settings)
    calendar = peaks.calendar_peaks(range(peak.start.year - 1, peak.start.year + 1), settings.country,
                                    settings.peak_events)
    before = peaks.last_year(peak, calendar)
    if span is None or before.start < span[0] or before.end > span[1]:
        raise NoHistory(lacking(before, span))
    last = before.filters(view)
    arrived = arrivals(cur, last, minutes, settings)
    factor, used = 1 + scenario.growth, "tickets"
    if method == "orders":
        recent = replace(view, start=span[1] - timedelta(days=7 * RECENT_WEEKS - 1), end=span[1])
        rate = contact_rate(*orders_and_tickets(cur, recent, settings))
        orders, tickets = orders_and_tickets(cur, last, settings)
        by_orders = rate_factor(tickets, orders, rate, scenario.growth)
        if by_orders:  # no orders, or no recent tickets to give a contact rate: last year's tickets × growth
            factor, used = by_orders, "orders"
    forecast = forecast_arrivals(arrived, before, peak, factor)
    if forecast.is_empty():  # no ticket of the view on a day that carries onto the peak
        raise NoHistory(lacking(before, span))
    dates = peak.filters(view)
    if roster_shifts(cur, dates, settings):
        staffed, source = roster_staffed(cur, dates, minutes, settings), "roster"
    else:
        staffed_before, source = staffed_agents(cur, last, minutes, settings)
        staffed = None if staffed_before is None else carry(staffed_before, before, peak)
    gap_report = report(forecast, staffed, None, {}, start=peak.start, end=peak.end, minutes=minutes,
                        scenario=replace(scenario, growth=0.0), channels=view_channels(cur, view, settings))
    return Forecast(gap_report, before, factor, source, float(forecast["tickets"].sum()), used)


def lacking(before: Peak, span: tuple[date, date] | None) -> str:
    """What history a forecast lacks: the window a year earlier and where the tickets are instead."""
    what = before.name if before.key.endswith("-last-year") else f"{before.name}, the same peak a year earlier"
    needs = f"The forecast needs tickets from {before.start:%d %b %Y} – {before.end:%d %b %Y} ({what})"
    if span is None:
        return f"{needs}; the warehouse holds no tickets yet."
    if before.start < span[0]:
        return f"{needs}; the tickets start on {span[0]:%d %b %Y}. Import a ticket export that covers those dates."
    if before.end > span[1]:
        return f"{needs}; the tickets end on {span[1]:%d %b %Y}. Import a ticket export that covers those dates."
    return (f"{needs}; the tickets run from {span[0]:%d %b %Y} to {span[1]:%d %b %Y}, but none that this view keeps "
            "arrived in that window (a gap in the export, or a channel, category or priority without tickets then).")


def forecast_arrivals(last_year: pl.DataFrame, before: Peak, after: Peak, factor: float) -> pl.DataFrame:
    """Hourly (or half-hourly) tickets for ``after``: last year's window carried onto it, times ``factor``."""
    if factor < 0:
        raise ValueError(f"the forecast factor must be zero or more, got {factor}")
    moved = carry(last_year, before, after)
    return moved.with_columns(tickets=pl.col("tickets").cast(pl.Float64) * factor)


def hiring_plan(report: GapReport, paid_hours: float) -> pl.DataFrame:
    """Per interval of the forecast window: forecast contacts per channel, required, staffed and extra agents, and
    agent-hours to add (the CSV a planner takes away)."""
    contacts = report.required.pivot(on="channel", index="slot", values="contacts", aggregate_function="sum")
    contacts = contacts.rename({c: f"contacts_{c}" for c in contacts.columns if c != "slot"})
    hours = report.minutes / 60
    plan = report.slots.select("slot", "required", "staffed", "gap").join(contacts, on="slot", how="left")
    return plan.with_columns(
        weekday=pl.col("slot").dt.strftime("%a"),
        extra_agents=pl.col("gap").clip(lower_bound=0),
    ).with_columns(extra_agent_hours=pl.col("extra_agents") * hours,
                   extra_shifts=pl.col("extra_agents") * hours / paid_hours).select(
        "slot", "weekday", *sorted(c for c in plan.columns if c.startswith("contacts_")), "required", "staffed",
        "extra_agents", "extra_agent_hours", "extra_shifts")


def contact_rate(orders: int, tickets: int) -> float | None:
    """Tickets per order; None without orders."""
    return tickets / orders if orders else None


def rate_factor(last_tickets: int, last_orders: int, recent_rate: float | None, growth: float) -> float | None:
    """The factor on last year's tickets when the forecast is orders × contact rate: last year's orders grown by
    ``growth`` times the recent contact rate, over last year's tickets. None when either side is missing."""
    if not recent_rate or not last_tickets or not last_orders:  # a rate of 0: no recent tickets to scale by
        return None
    return last_orders * (1 + growth) * recent_rate / last_tickets


def shifts(agent_hours: float, paid_hours: float) -> float:
    """Agent-hours as working days of ``paid_hours``."""
    if paid_hours <= 0:
        raise ValueError(f"paid hours must be more than 0, got {paid_hours}")
    return agent_hours / paid_hours


def round_up(value: float) -> int:
    return max(math.ceil(value - 1e-9), 0)
