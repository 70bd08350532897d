"""One query function: (metrics, filters, grain) -> one SQL statement -> one frame.

Only trusted constants reach the SQL text (registry SQL, a grain from ``GRAINS``, a dimension from
``DIMENSIONS``); every user value is a bound parameter. Periods are local dates in the account time zone.
A previous-period comparison is the same call with shifted filters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from itertools import groupby
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from data import rollups
from data.clock import Clock, local_time, rollup_holds, with_clock
from metrics import facts, lag_quantiles, order_parts, ranks
from metrics.facts import SPAN_TABLES, export_span
from metrics.registry import BY_NAME, DERIVED, DIMENSIONS, PERIOD_START, Metric
from settings import Settings

GRAINS: tuple[str, ...] = ("day", "week", "month")
NONE = "(none)"
BREAKDOWNS: tuple[str, ...] = ("channel", "group_name", "assignee", "category", "priority")
TABLE_DIMENSIONS: dict[str, tuple[str, ...]] = {"tickets": DIMENSIONS, "orders": (), "traffic": ()}
# Time columns that hold the shop's local day already (a traffic export's day): never moved between clocks.
LOCAL_DATES: frozenset[tuple[str, str]] = frozenset({("traffic", "date")})
FIRST_ROW: dict[str, str] = {"tickets": "created_at", "orders": "created_at", "traffic": "date"}  # when rows begin
# The local day of each time column a metric places rows by, worked out at import (data/clock.py): a period reads it
# instead of converting every row. The UTC column stays the WHERE bound, where DuckDB skips row groups by min/max.
LOCAL_DATE_OF: dict[tuple[str, str], str] = {
    ("tickets", "created_at"): "created_local_date",
    ("tickets", "solved_at"): "solved_local_date",
    ("orders", "created_at"): "created_local_date",
    ("orders", "fulfilled_at"): "fulfilled_local_date",
    **{local: local[1] for local in LOCAL_DATES},
}

Value = float | int | dict[str, float] | None


@dataclass(frozen=True)
class Filters:
    """The view a person chose: local dates (both ends inclusive) and ticket dimensions (empty = all)."""

    start: date
    end: date
    channel: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The window of the same length just before this one."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def last_year(self) -> Filters:
        """The same dates a year earlier (29 February becomes the 28th)."""
        return replace(self, start=_year_earlier(self.start), end=_year_earlier(self.end))

    def dimension_values(self) -> dict[str, list[str]]:
        return {f.name: list(getattr(self, f.name)) for f in fields(self) if f.name in DIMENSIONS}


def _year_earlier(day: date) -> date:
    return day.replace(year=day.year - 1, day=min(day.day, 28) if (day.month, day.day) == (2, 29) else day.day)


def query(
    cur: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    filters: Filters,
    grain: str | None = None,
    *,
    by: str | None = None,
    settings: Settings,
    samples: bool = False,
    rollup: bool = True,
) -> pl.DataFrame:
    """A frame with ``period`` (and ``by_value`` when ``by`` is given) and one column per metric name;
    with ``samples``, also ``<name>_n``: the rows each value rests on (NULL for money and derived metrics).
    The KPIs the ticket rollup serves read it where it is current (``rollup=False``: every KPI from raw rows)."""
    sql = plan(cur, names, filters, grain, by=by, settings=settings, samples=samples, rollup=rollup)
    return execute(cur, sql, filters, settings)


def plan(
    cur: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    filters: Filters,
    grain: str | None = None,
    *,
    by: str | None = None,
    settings: Settings,
    samples: bool = False,
    rollup: bool = True,
) -> str:
    """The statement :func:`query` runs, with the rollup tables chosen for this warehouse, view and settings: for a
    caller that reads KPIs inside a larger statement (run it with :func:`execute`)."""
    keys = tuple(d for d, values in filters.dimension_values().items() if values) + ((by,) if by else ())
    table = rollups.table_for(keys) if rollup and rollup_current(cur, settings) else None
    buckets = rollups.buckets_for(keys) if table else None
    with_settings = table is not None and _reads_settings(names, by) and rollups.settings_current(cur, settings)
    inputs = _with_inputs([BY_NAME[name] for name in names if name in BY_NAME])  # a rate's orders too
    lags = rollup and any(_from_order_rollup(m) for m in inputs) and lag_quantiles.current(cur, settings)
    return build_sql(names, grain, by, samples=samples, rollup=table, with_settings=with_settings, buckets=buckets,
                     lag_rollup=lags)


def _reads_settings(names: Sequence[str], by: str | None) -> bool:
    """Whether some of the KPIs (or their inputs) come from rollup parts that read a setting: only then is it worth
    a statement to ask which settings the rollup holds."""
    metrics = _with_inputs([BY_NAME[name] for name in names if name in BY_NAME])
    return any(served(metric, by, True) and not served(metric, by) for metric in metrics)


def rollup_current(cur: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """The rollup holds the data as it is now, on the settings' clock (its days are local days)."""
    return rollup_holds(cur, rollups.TICKETS, settings)


def execute(cur: duckdb.DuckDBPyConnection, sql: str, filters: Filters, settings: Settings,
            **extra: object) -> pl.DataFrame:
    sql = with_clock(cur, sql, Clock.of(settings))  # the stored local columns, or the settings' own worked out
    sql, known = facts.bind(cur, sql)  # whole-warehouse subqueries as their stored values
    shared = _shared_days(cur, settings) if SHARED_DAYS[0] in sql else {}
    params = {**parameters(filters, settings), **known, **shared, **extra}
    used = set(re.findall(r"\$(\w+)", sql))
    return cur.execute(sql, {k: v for k, v in params.items() if k in used}).pl()


def parameters(filters: Filters, settings: Settings) -> dict[str, object]:
    """Every value a statement may bind: the view, then the definitions that live in settings."""
    return {
        **Clock.of(settings).params,  # $tz and the business schedule
        "start": filters.start,
        "end_excl": filters.end + timedelta(days=1),
        **filters.dimension_values(),
        **rollups.setting_params(settings),  # the CSAT rule, SLA targets, escalation and automation tags
        "fulfilment_target_hours": settings.fulfilment_target_hours,
    }


def totals(cur: duckdb.DuckDBPyConnection, names: Sequence[str], filters: Filters,
           settings: Settings) -> dict[str, Value]:
    """Each metric's value over the whole period; money metrics as {currency: value}."""
    row = query(cur, names, filters, settings=settings).row(0, named=True)
    return {name: _plain(row[name]) for name in names}


def compare(cur: duckdb.DuckDBPyConnection, names: Sequence[str], filters: Filters,
            settings: Settings) -> dict[str, tuple[Value, Value]]:
    """(this period, previous period of the same length) per metric; a count is unknown (None) in a period its
    export does not reach, so a change against it is too."""
    now = totals(cur, names, filters, settings)
    before = _previous_totals(cur, names, filters, settings)
    return {name: (now[name], before[name]) for name in names}


def compare_with_samples(cur: duckdb.DuckDBPyConnection, names: Sequence[str], filters: Filters,
                         settings: Settings) -> tuple[dict[str, tuple[Value, Value]], dict[str, object]]:
    """:func:`compare`'s pairs, and this period's row with samples (``<name>_n``) that a KPI tile shows beside them:
    two statements where ``compare`` and a query with samples took three, as this period's values come with its
    samples (the same statement, with more columns)."""
    now = query(cur, names, filters, settings=settings, samples=True).row(0, named=True)
    before = _previous_totals(cur, names, filters, settings)
    return {name: (_plain(now[name]), before[name]) for name in names}, now


def _previous_totals(cur: duckdb.DuckDBPyConnection, names: Sequence[str], filters: Filters,
                     settings: Settings) -> dict[str, Value]:
    """:func:`totals` over the period before ``filters``; all unknown without their statement where that period ends
    before every row its KPIs read, as it does before a view that starts with the data (its planning alone was
    40-100 ms of a cold page over the whole data at ten million tickets)."""
    before = filters.previous()
    if ends_before_every_row(cur, names, before, settings):
        return dict.fromkeys(names)
    return totals(cur, names, before, settings)


def ends_before_every_row(cur: duckdb.DuckDBPyConnection, names: Sequence[str], filters: Filters,
                          settings: Settings) -> bool:
    """Whether the view ends before the first row each KPI of ``names`` reads, by the KPI's time column (a derived
    KPI's inputs') and by when its table's rows begin (a time column without any value, such as solve times of an
    export that gives none, says nothing of the rows): every KPI is then unknown in it (tests/test_metrics.py holds
    that for the registry). A table without rows has none. One statement of minimums, which DuckDB reads from its
    column statistics."""
    read = [m for m in _with_inputs([BY_NAME.get(n) or _unknown(n) for n in names]) if m.table in FIRST_ROW]
    placed = sorted({(m.table, m.time) for m in read} | {(m.table, FIRST_ROW[m.table]) for m in read})
    end = {True: "$end_excl::DATE", False: utc_bound("$end_excl")}
    before = [f"coalesce({end[(table, time) in LOCAL_DATES]} <= (SELECT min({time}) FROM {table}), TRUE)"
              for table, time in placed]
    return bool(execute(cur, f"SELECT {' AND '.join(before) or 'FALSE'}", filters, settings).item())


def build_sql(names: Sequence[str], grain: str | None = None, by: str | None = None, *, samples: bool = False,
              rollup: str | None = None, with_settings: bool = False, buckets: str | None = None,
              lag_rollup: bool = False) -> str:
    """One statement; ``rollup`` names the rollup table (data.rollups) to read the KPIs it serves from, one that
    holds the filters the statement will be given (the coarser tables hold none) and the breakdown;
    ``with_settings``: its parts that read a setting hold the settings the statement will be given, so the KPIs
    that read them may come from it too; ``buckets`` names the bucket counts that hold those filters and the
    breakdown, to read medians and percentiles from (by default those with the rollup table's keys);
    ``lag_rollup``: the order rollup is current, so the fulfilment lag's medians and percentiles
    (metrics/lag_quantiles.py) and the order KPIs its day tables give (metrics/order_parts.py) come from it."""
    if grain is not None and grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, not {grain!r}")
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"breakdown must be one of {BREAKDOWNS}, not {by!r}")
    wanted = [BY_NAME[name] if name in BY_NAME else _unknown(name) for name in names]
    needed = _with_inputs(wanted)
    if by and any(m.table not in ("tickets", DERIVED) for m in needed):
        raise ValueError(f"a breakdown by {by} applies to ticket metrics only")
    buckets = (buckets or rollups.BUCKETS_OF.get(rollup or "")) if rollup else None
    if buckets and by and by not in rollups.BUCKET_KEYS[buckets]:
        buckets = None

    def from_rollup(metric: Metric) -> bool:
        return bool(rollup) and served(metric, by, with_settings, rollup)

    def measure(metric: Metric) -> str:
        """The measure whose bucket counts give the KPI (a median or percentile), or ""."""
        found = quantile_of(metric) if buckets else None
        keyed = buckets in rollups.KEYED_BUCKETS.values()
        return found[0] if found and (not keyed or found[0] in rollups.KEYED_MEASURES) else ""

    def from_lags(metric: Metric) -> bool:
        return lag_rollup and lag_quantiles.q_of(metric) is not None

    def from_order_parts(metric: Metric) -> bool:
        return lag_rollup and order_parts.served(metric) is not None

    def group_key(metric: Metric) -> tuple[str, str, str, bool, bool, bool, str]:
        order_rollup = "lag" if from_lags(metric) else "parts" if from_order_parts(metric) else ""
        return (*_group_key(metric), from_rollup(metric), measure(metric) or order_rollup)

    stored = sorted((m for m in needed if m.table != DERIVED), key=group_key)
    groups = [list(g) for _, g in groupby(stored, key=group_key)]
    keys = ["period", "by_value"] if by else ["period"]
    ctes = [_periods(grain), _spine(by, rollup)]
    ctes += [_rollup_cte(f"g{i}", rollup, group, grain, by, samples, with_settings) if from_rollup(group[0])
             else lag_quantiles.kpi_cte(f"g{i}", group, grain, samples) if from_lags(group[0])
             else order_parts.kpi_cte(f"g{i}", group, grain, samples, partial(also_on_days_kept, group[0]))
             if from_order_parts(group[0])
             else _quantile_ctes(f"g{i}", buckets, group, grain, by, samples) if buckets and measure(group[0])
             else _snapshot_cte(f"g{i}", group, grain, by, samples, steps=True)
             if rollup and steps_served(group[0], by)
             else _group_cte(f"g{i}", group, grain, by, samples) for i, group in enumerate(groups)]
    joins = "".join(f" LEFT JOIN g{i} USING ({', '.join(keys)})" for i in range(len(groups)))
    base = ", ".join(_base_column(m, samples) for m in needed if m.table != DERIVED)
    derived = "".join(f", {m.sql} AS {m.name}" + (f", NULL::BIGINT AS {m.name}_n" if samples else "")
                      for m in needed if m.table == DERIVED)
    outputs = [m.name for m in wanted] + ([f"{m.name}_n" for m in wanted] if samples else [])
    return (
        "WITH " + ",\n".join(ctes)
        + f"\nSELECT {', '.join(keys + outputs)} FROM ("
        + f"SELECT *{derived} FROM (SELECT {', '.join('s.' + k for k in keys)}, {base} FROM spine s{joins}))"
        + f" ORDER BY {', '.join(keys)}"
    )


def _from_order_rollup(metric: Metric) -> bool:
    """Whether the order rollup gives ``metric`` (where it is current)."""
    return lag_quantiles.q_of(metric) is not None or order_parts.served(metric) is not None


def _unknown(name: str) -> Metric:
    raise KeyError(f"unknown metric {name!r}")


def _with_inputs(metrics: list[Metric]) -> list[Metric]:
    needed: dict[str, Metric] = {}
    for metric in metrics:
        for name in metric.inputs:
            needed.setdefault(name, BY_NAME[name])
        needed.setdefault(metric.name, metric)
    return list(needed.values())


def _group_key(metric: Metric) -> tuple[str, str, str, bool, bool]:
    return (metric.table, metric.time, metric.until or "", metric.by_currency, metric.shared_days)


def local_date(table: str, time: str) -> str:
    """The column holding the local day of ``time``; a KeyError for a time column none was declared for."""
    return LOCAL_DATE_OF[(table, time)]


def utc_bound(local_date_param: str) -> str:
    # The bound moves to UTC once, so rows compare as stored (and DuckDB can skip row groups by min/max).
    return f"timezone('UTC', timezone($tz, {local_date_param}::TIMESTAMP))"


def _periods(grain: str | None) -> str:
    if grain is None:
        period = "SELECT $start::DATE AS period, $end_excl::TIMESTAMP AS period_end"
    else:
        period = (
            "SELECT r.period::DATE AS period, "
            f"least(r.period + INTERVAL 1 {grain}, $end_excl::TIMESTAMP) AS period_end "
            f"FROM range(date_trunc('{grain}', $start::DATE)::TIMESTAMP, $end_excl::TIMESTAMP, INTERVAL 1 {grain}) "
            "r(period)"
        )
    # as_of: the period's end as a UTC instant, for snapshots
    return f"periods AS (SELECT period, timezone('UTC', timezone($tz, period_end)) AS as_of FROM ({period}))"


# An export reaches into the period, so a count of 0 there means none, not dates the export does not cover: every
# count of tickets or orders is NULL in a period its export does not reach, and the counts a ticket-per-order rate
# divides are NULL in a period without a day both exports cover (``shared_days_cover``).
def export_cover(table: str, start_utc: str, end_utc: str) -> str:
    """SQL: whether the loaded rows of ``table`` (tickets or orders) reach into [start_utc, end_utc) (UTC timestamp
    expressions)."""
    span = export_span(table)
    return f"coalesce({start_utc} <= {span}[2] AND {end_utc} > {span}[1], FALSE)"


def tickets_cover(start_utc: str, end_utc: str) -> str:
    """SQL: whether the loaded tickets reach into [start_utc, end_utc)."""
    return export_cover("tickets", start_utc, end_utc)


# A ticket-per-order rate divides over the days both exports cover, from the later of their first days to the earlier
# of their last, on the settings' clock: whole local days, as the rollups hold their rows per local day, so the rollup
# and the rows agree on every day's edge. Outside them one export adds its rows and the other none of its own.
# They are bound once per statement (:func:`execute`), from the exports' stored spans: as SQL over the spans in each
# row's condition and each count's cover they took a rate's statement on the demo store from 14 to 59 ms, and as a
# statement of their own 3.5 ms.
SHARED_DAYS = ("$shared_first::DATE", "$shared_last::DATE")


def _shared_days(cur: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, date | None]:
    """The parameters :data:`SHARED_DAYS` name: the first and the last local day both the helpdesk export and the
    orders export cover; None where either holds no rows, and the first after the last where they share none."""
    spans = facts.values(cur, [export_span(table) for table in SPAN_TABLES]).values()
    (t_first, t_last), (o_first, o_last) = ([_local_day(at, settings.timezone) for at in span or (None, None)]
                                            for span in spans)
    if None in (t_first, t_last, o_first, o_last):
        return {"shared_first": None, "shared_last": None}
    return {"shared_first": max(t_first, o_first), "shared_last": min(t_last, o_last)}  # type: ignore[type-var]


def _local_day(utc: datetime | str | None, timezone: str) -> date | None:
    """The account's day of a stored UTC time (a stored fact gives it as ISO text)."""
    if utc is None:
        return None
    at = datetime.fromisoformat(utc) if isinstance(utc, str) else utc
    return at.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


def on_shared_days(day: str) -> str:
    """SQL: the local date ``day`` is one both exports cover."""
    first, last = SHARED_DAYS
    return f"{day} BETWEEN {first} AND {last}"


def shared_days_cover(start_utc: str, end_utc: str) -> str:
    """SQL: whether the days both exports cover reach into [start_utc, end_utc) (UTC timestamp expressions)."""
    first, last = SHARED_DAYS
    return (f"coalesce({first} <= {last} AND {start_utc} < {utc_bound(f'({last} + 1)')} "
            f"AND {end_utc} > {utc_bound(first)}, FALSE)")


def shared_days_in(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings) -> tuple[date, date] | None:
    """The first and the last day of the view both exports cover, the days a ticket-per-order rate is over; None
    where they share none of its days (or either export holds no rows)."""
    first, last = _shared_days(cur, settings).values()
    if first is None or last is None:
        return None
    first, last = max(first, filters.start), min(last, filters.end)
    return (first, last) if first <= last else None


def also_on_days_kept(metric: Metric, day: str) -> str:
    """SQL to add to the view's dates: `` AND`` the condition the local date ``day`` meets for ``metric`` to count its
    row, or nothing."""
    return f" AND {on_shared_days(day)}" if metric.shared_days else ""


def tickets_reach(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings) -> bool:
    """Whether the helpdesk export reaches into the view's dates: without it, "no ticket" means unknown, not none."""
    sql = f"SELECT {tickets_cover(utc_bound('$start'), utc_bound('$end_excl'))} AS reach"
    return bool(execute(cur, sql, filters, settings)["reach"][0])


_PERIOD_START = "timezone('UTC', timezone($tz, greatest(s.period, $start::DATE)::TIMESTAMP))"


def _spine(by: str | None, rollup: str | None = None) -> str:
    if by is None:
        return "spine AS (SELECT period, as_of FROM periods)"
    # every ticket is in the rollup by its creation day: the same values, from far fewer rows
    values = f"tickets WHERE {dimension_filter('tickets')}"
    if rollup:
        values = f"{rollup} WHERE time_column = 'created_at' AND {_rollup_filter(rollup)}"
    return (f"spine AS (SELECT period, as_of, by_value FROM periods CROSS JOIN "
            f"(SELECT DISTINCT {breakdown_column(by)} AS by_value FROM {values}))")


def in_view(column: str, table: str = "tickets") -> str:
    """Rows whose ``column`` falls in the view's dates and that match its filters."""
    if (table, column) in LOCAL_DATES:
        return f"{column} >= $start::DATE AND {column} < $end_excl::DATE AND {dimension_filter(table)}"
    return (f"{column} >= {utc_bound('$start')} AND {column} < {utc_bound('$end_excl')} "
            f"AND {dimension_filter(table)}")


def ticket_reaches_order(ticket: str, order: str) -> str:
    """The join of a ticket to its order: the one the linking step found (data/linking.py), else the export's own
    order-number column; ``ticket`` and ``order`` are table aliases (``order`` may be order_lines)."""
    return (f"{order}.order_id = coalesce({ticket}.linked_order_id, {ticket}.order_id) "
            f"AND ({ticket}.order_source IS NULL OR {order}.source = {ticket}.order_source)")


def breakdown_column(by: str, prefix: str = "") -> str:
    """A breakdown value; tickets without one (no agent, no group) form their own row instead of vanishing."""
    return f"coalesce({prefix}{by}, '{NONE}')"


def dimension_filter(table: str) -> str:
    return filter_on(TABLE_DIMENSIONS[table])


def filter_on(dimensions: Sequence[str]) -> str:
    clauses = [f"(len(${d}::VARCHAR[]) = 0 OR list_contains(${d}::VARCHAR[], {d}))" for d in dimensions]
    return " AND ".join(clauses) or "TRUE"


def _aggregates(metrics: list[Metric], samples: bool, over_rollup: bool = False, with_settings: bool = False) -> str:
    sql = {m.name: rollup_sql(m, with_settings) if over_rollup else (m.sql, m.sample) for m in metrics}
    aggregates = ", ".join(f"({sql[m.name][0]}){'' if m.unit == 'count' else '::DOUBLE'} AS {m.name}" for m in metrics)
    if samples and not metrics[0].by_currency:
        aggregates += "".join(f", ({sql[m.name][1]})::BIGINT AS {m.name}_n" for m in metrics)
    return aggregates


def _group_cte(name: str, metrics: list[Metric], grain: str | None, by: str | None, samples: bool = False) -> str:
    if metrics[0].until:
        return _snapshot_cte(name, metrics, grain, by, samples)
    first = metrics[0]
    by_column = f", {breakdown_column(by)} AS by_value" if by else ""
    day = local_date(first.table, first.time)
    key, period = _period_key(grain, day)
    # a KPI comparing each row with its period's first day (registry.PERIOD_START) works that day out per row
    row_period = f"date_trunc('{grain}', {day})::DATE" if grain else "$start::DATE"
    aggregates = _aggregates(metrics, samples).replace(PERIOD_START, f"greatest({row_period}, $start::DATE)")
    select = f"SELECT {key} AS period_key{by_column}, {aggregates}"
    source = f"FROM {first.table} WHERE {in_view(first.time, first.table)}{also_on_days_kept(first, day)}"
    grouped = f"{select} {source} GROUP BY ALL"
    if first.by_currency:
        per_currency = select.replace(" AS period_key", " AS period_key, currency", 1)
        maps = ", ".join(f"map_from_entries(list((currency, {m.name}) ORDER BY currency)) AS {m.name}"
                         for m in metrics)
        keys = "period_key, by_value" if by else "period_key"
        grouped = f"SELECT {keys}, {maps} FROM ({per_currency} {source} GROUP BY ALL) GROUP BY ALL"
    return f"{name} AS (SELECT {period} AS period, * EXCLUDE (period_key) FROM ({grouped}))"


def _period_key(grain: str | None, day: str) -> tuple[str, str]:
    """(a whole number per period of the local date ``day``, the period's first day from ``period_key``). Rows are
    grouped by the number and the day worked out per period: at ten million tickets, date_trunc on every row and
    grouping by its date took a median over weeks about 1.5 times as long, over months twice."""
    if grain == "week":  # 0001-01-01 was a Monday: whole weeks since, ISO weeks as date_trunc gives them
        return f"({day} - DATE '0001-01-01') // 7", "(DATE '0001-01-01' + 7 * period_key::INT)"
    if grain == "month":
        return f"year({day}) * 12 + month({day}) - 1", "make_date(period_key // 12, period_key % 12 + 1, 1)"
    if grain == "day":
        return day, "period_key"
    return "$start::DATE", "period_key"


def _rollup_cte(name: str, table: str, metrics: list[Metric], grain: str | None, by: str | None,
                samples: bool, with_settings: bool) -> str:
    """As :func:`_group_cte`, from a rollup table's parts: its days are the local days of the group's time
    column, its keys the shared filters and the breakdowns it serves."""
    period = f"date_trunc('{grain}', day)::DATE" if grain else "$start::DATE"
    by_column = f", {breakdown_column(by)} AS by_value" if by else ""
    return (f"{name} AS (SELECT {period} AS period{by_column}, {_aggregates(metrics, samples, True, with_settings)} "
            f"FROM {table} WHERE time_column = '{metrics[0].time}' AND day >= $start::DATE "
            f"AND day < $end_excl::DATE{also_on_days_kept(metrics[0], 'day')} AND {_rollup_filter(table)} "
            "GROUP BY ALL)")


def _rollup_filter(table: str) -> str:
    """The shared filters a rollup table holds (query chose one that holds every filter given: the rest are
    empty)."""
    return filter_on([d for d in DIMENSIONS if d in rollups.KEYS_OF[table]])


# --- which KPIs the rollup serves, from the shape of their SQL ------------------------------------------------------
# A KPI is served where its value and sample are arithmetic over count/sum/avg aggregates whose additive parts the
# rollup holds: a count or a sum adds up over days and keys, a mean is the sum of its sums over the sum of its
# counts. A median or a percentile is not (an exact quantile does not combine from parts), nor a distinct count.
# An aggregate that reads a setting ($...) or the whole table (a subquery) is served only where it is one of the
# rollup's parts word for word: the rollup binds those values when it works its parts out (data/rollups.py), and
# its parts that read a setting count only while the settings are those it was built with (``with_settings``).
_AGGREGATE = re.compile(r"\b(count|sum|avg)\s*\(", re.IGNORECASE)
_FILTER = re.compile(r"\s*FILTER\s*\(", re.IGNORECASE)
_ARITHMETIC = re.compile(r"[\s\d.+\-*/()]*")  # all that may stand between aggregates
_PART = re.compile(r"\bsum\((\w+)\)")  # a part that the SQL over them (rollup_sql) reads


def served(metric: Metric, by: str | None = None, with_settings: bool = False, table: str | None = None) -> bool:
    """Whether the ticket rollup (``table``, else one of its tables) gives this KPI (broken down by ``by``;
    ``with_settings``: its parts that read a setting hold the settings in force)."""
    sql = rollup_sql(metric, with_settings)
    if sql is None:
        return False
    parts = set(_PART.findall(" ".join(sql)))
    return any((by is None or by in rollups.KEYS_OF[held]) and parts <= set(rollups.PARTS_OF.get(held, rollups.PARTS))
               for held in ([table] if table else rollups.KEYS_OF))


def rollup_sql(metric: Metric, with_settings: bool = False) -> tuple[str, str] | None:
    """The KPI's value and sample as SQL over the rollup's parts; None where it must read ticket rows."""
    if metric.table != "tickets" or metric.until or metric.time not in rollups.TIME_COLUMNS:
        return None
    value, sample = _over_parts(metric.sql, with_settings), _over_parts(metric.sample, with_settings)
    return (value, sample) if value and sample else None


def _over_parts(sql: str, with_settings: bool) -> str | None:
    pieces, between, position = [], [], 0
    while match := _AGGREGATE.search(sql, position):
        end = _closing(sql, match.end() - 1)
        argument, condition = sql[match.end():end], ""
        if extra := _FILTER.match(sql, end + 1):
            filter_end = _closing(sql, extra.end() - 1)
            condition, end = f" FILTER {sql[extra.end() - 1:filter_end + 1]}", filter_end
        combined = _combined(match.group(1).lower(), argument, condition, with_settings)
        if combined is None:
            return None
        between.append(sql[position:match.start()])
        pieces += [sql[position:match.start()], combined]
        position = end + 1
    between.append(sql[position:])
    if not pieces or not all(_ARITHMETIC.fullmatch(text) for text in between):
        return None
    return "".join(pieces) + sql[position:]


def _closing(sql: str, opening: int) -> int:
    """The position of the parenthesis that closes the one at ``opening`` (quoted text skipped)."""
    depth, quoted = 0, False
    for position in range(opening, len(sql)):
        char = sql[position]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return position
    raise ValueError(f"unbalanced parentheses in {sql!r}")


def _combined(function: str, argument: str, condition: str, with_settings: bool) -> str | None:
    """One aggregate of ticket rows as the same aggregate of rollup parts."""
    def part(aggregate: str) -> str | None:
        found = rollups.PART_OF.get(rollups.normalised(f"{aggregate}({argument}){condition}"))
        return None if found in rollups.SETTING_PARTS and not with_settings else found

    if function == "avg":
        total, count = part("sum"), part("count")
        return f"(sum({total})::DOUBLE / nullif(sum({count}), 0))" if total and count else None
    found = part(function)
    if found is None:
        return None
    return f"sum({found})::BIGINT" if function == "count" else f"sum({found})"


# --- medians and percentiles from the bucket counts beside the rollup (the rank arithmetic: metrics/ranks.py) --------
_QUANTILE = re.compile(r"\s*(median|quantile_cont)\s*\(", re.IGNORECASE)
_FRACTION = re.compile(r"\s*(0|1|0?\.\d+|0\.\d*|1\.0*)\s*")


def quantile_of(metric: Metric) -> tuple[str, float] | None:
    """(the measure of data.rollups.MEASURES, q) of a KPI that is exactly ``median(x)`` or ``quantile_cont(x, q)``
    of one with its sample ``count(x)``; None for any other KPI (a FILTER, arithmetic around it, another
    duration)."""
    match = _QUANTILE.match(metric.sql)
    if metric.table != "tickets" or metric.until or match is None:
        return None
    end = _closing(metric.sql, match.end() - 1)
    if metric.sql[end + 1:].strip():
        return None
    argument, q = metric.sql[match.end():end], "0.5"
    if match.group(1).lower() == "quantile_cont":
        argument, _, q = argument.rpartition(",")
        if not _FRACTION.fullmatch(q):
            return None
    found = rollups.MEASURE_OF.get((metric.time, rollups.normalised(argument)))
    same_sample = rollups.normalised(metric.sample) == rollups.normalised(f"count({argument})")
    return (found, float(q)) if found and same_sample else None


def _quantile_ctes(name: str, table: str, metrics: list[Metric], grain: str | None, by: str | None,
                   samples: bool) -> str:
    """The KPIs (medians and percentiles of one measure) per period (and ``by``'s value), as ``quantile_cont`` over
    the ticket rows gives them: the bucket counts of ``table`` add up per period to each bucket's count and the
    count of the values before it; the values of the buckets holding a wanted rank are read (data.rollups.VALUES_OF:
    a join on the fine bucket column itself, whose few wanted buckets DuckDB hands the scan, which skips the row
    groups of the others; a keyed table's coarse bucket spans several fine ones), sorted, and the values at the ranks
    interpolated. Periods without a value have no row (NULL, sample 0)."""
    measure = quantile_of(metrics[0])[0]  # type: ignore[index]
    width = rollups.BUCKET_WIDTH[table]
    kept = bucket_filter(table)
    period = f"date_trunc('{grain}', {{}})::DATE" if grain else "$start::DATE"
    keys = "period, by_value" if by else "period"
    by_column = f", {breakdown_column(by)} AS by_value" if by else ""
    qs = [quantile_of(m)[1] for m in metrics]  # type: ignore[index]
    counts = (f"SELECT {period.format('day')} AS period{by_column}, bucket, sum(n)::BIGINT AS n FROM {table} "
              f"WHERE measure = {rollups.MEASURE_CODE[measure]} AND day >= $start::DATE "
              f"AND day < $end_excl::DATE AND {kept} GROUP BY ALL")
    fine = "bucket" if width == 1 else f"unnest(range(bucket::INT * {width}, (bucket::INT + 1) * {width}))::SMALLINT"
    narrowed = "bucket AS fine, " if width > 1 else ""  # metrics.ranks sorts only the fine buckets holding a rank
    # a value carries its keys' combination: the texts a filter or breakdown reads are the combination's
    combos = f" JOIN {rollups.COMBOS_TABLE} USING (combo)" if rollups.BUCKET_KEYS[table] else ""
    values = (f"SELECT {period.format('day')} AS period{by_column}, {rollups.coarse('bucket', width)} AS bucket, "
              f"{narrowed}value FROM {rollups.VALUES_OF[table]}{combos} SEMI JOIN (SELECT DISTINCT {fine} AS bucket "
              f"FROM {name}_wanted) USING (bucket) WHERE measure = {rollups.MEASURE_CODE[measure]} "
              f"AND day >= $start::DATE AND day < $end_excl::DATE AND {kept}")
    outputs = ", ".join(f"{ranks.interpolated(i)} AS {m.name}" + (f", total AS {m.name}_n" if samples else "")
                        for i, m in enumerate(metrics))
    picked = ranks.ctes(name, keys, counts, values, qs, fine=width > 1)
    return f"{picked},\n{name} AS (SELECT {keys}, {outputs} FROM {name}_picked)"


def bucket_filter(table: str) -> str:
    """The shared filters bucket counts ``table`` hold (a table chosen by data.rollups.buckets_for, which holds every
    filter given: the rest are empty)."""
    return filter_on([d for d in DIMENSIONS if d in rollups.BUCKET_KEYS[table]])


def steps_served(metric: Metric, by: str | None = None) -> bool:
    """Whether the rollup's steps (data.rollups.STEPS_TABLE) give this snapshot: tickets open at a period's end by
    creation and solve time, broken down by a key the steps hold or not at all."""
    return ((metric.table, metric.time, metric.until, metric.sql, metric.sample)
            == ("tickets", "created_at", "solved_at", "count(*)", "count(*)")
            and (by is None or by in rollups.KEYS)
            and (local_date("tickets", "created_at"), f"greatest({local_date('tickets', 'created_at')}, "
                 f"{local_date('tickets', 'solved_at')})") == rollups.BACKLOG_DAYS)


def _snapshot_cte(name: str, metrics: list[Metric], grain: str | None, by: str | None, samples: bool,
                  steps: bool = False) -> str:
    """Rows alive at each period's end (``time`` before it, ``until`` empty or not before it): the rows begun before
    it less the rows also ended before it. Each row is +1 on the local day of ``time`` and -1 on the later of the
    local days of ``time`` and ``until``; the steps are counted per period (a row before the first period in the
    first) and a running sum over the periods adds them up. Two grouped passes over the rows, where testing every
    row at every period's end grew as rows x periods. A period ends at a local midnight, so "before its end" is a
    local day before the period's next, as every other KPI places its rows."""
    first = metrics[0]
    if any(m.sql != "count(*)" or m.sample != "count(*)" or m.by_currency for m in metrics):
        raise ValueError(f"a snapshot (until=) counts rows, with sql and sample count(*): {[m.name for m in metrics]}")
    table = first.table
    begun, ended = local_date(table, first.time), local_date(table, first.until)
    ended = f"greatest({begun}, {ended})"  # a row that ends before it begins is never open
    days = " UNION ALL ".join(  # grouped by day first: a period is worked out per day, not per row
        f"SELECT {day} AS day{_by_column(by)}, {sign}count(*) AS step FROM {table} "
        f"WHERE {condition}{dimension_filter(table)} GROUP BY ALL"
        for day, sign, condition in ((begun, "", ""), (ended, "-", f"{first.until} IS NOT NULL AND "))
    )
    if steps:  # the same steps, added up per day and key by the rollup (``steps_served``)
        days = (f"SELECT day{_by_column(by)}, begun - ended AS step FROM {rollups.STEPS_TABLE} "
                f"WHERE day < $end_excl::DATE AND {filter_on(rollups.KEYS)}")
    by_value = ", by_value" if by else ""
    steps = (f"SELECT {_snapshot_period('day', grain)} AS period{by_value}, sum(step) AS step FROM ({days}) "
             "WHERE day < $end_excl::DATE GROUP BY ALL")
    keys = ["period", "by_value"] if by else ["period"]
    window = "(PARTITION BY s.by_value ORDER BY s.period)" if by else "(ORDER BY s.period)"
    alive = f"(sum(coalesce(c.step, 0)) OVER {window})::BIGINT"
    columns = "".join(f", {alive} AS {m.name}" + (f", {alive} AS {m.name}_n" if samples else "") for m in metrics)
    return (f"{name} AS (SELECT {', '.join('s.' + k for k in keys)}{columns} FROM spine s LEFT JOIN "
            f"({steps}) c USING ({', '.join(keys)}))")


def _snapshot_period(day: str, grain: str | None) -> str:
    """The period whose end first follows ``day``; the first period for days before it."""
    if grain is None:
        return "$start::DATE"
    return f"greatest(date_trunc('{grain}', {day}), date_trunc('{grain}', $start::DATE))::DATE"


def _by_column(by: str | None) -> str:
    return f", {breakdown_column(by)} AS by_value" if by else ""


def _base_column(metric: Metric, samples: bool = False) -> str:
    value = f"coalesce({metric.name}, 0)" if metric.unit == "count" else metric.name
    if metric.unit == "count" and metric.table in SPAN_TABLES:  # no rows where the export does not reach: unknown
        cover = shared_days_cover if metric.shared_days else partial(export_cover, metric.table)
        value = f"CASE WHEN {cover(_PERIOD_START, 's.as_of')} THEN {value} END"
    if metric.known:  # data that cannot give the KPI at all gives NULL, not a count of 0
        value = f"CASE WHEN {metric.known} THEN {value} END"
    value = f"{value} AS {metric.name}"
    if not samples:
        return value
    sample = "NULL::BIGINT" if metric.by_currency else f"coalesce({metric.name}_n, 0)"
    return f"{value}, {sample} AS {metric.name}_n"


def _plain(value: object) -> Value:
    """Money maps arrive from Arrow as lists of key/value pairs."""
    if isinstance(value, list):
        return {item["key"]: item["value"] for item in value}
    return value  # type: ignore[return-value]




def shown_local(sql: str, columns: Sequence[str] = ("created_at",)) -> str:
    """``sql`` (rows already ordered and limited, times as stored) with ``columns`` moved to the account's clock: for
    the rows shown only, as converting every row of the view before the limit took seconds at 10M tickets. A
    projection keeps the order of the rows below it (DuckDB preserves insertion order)."""
    moved = ", ".join(f"{local_time(column)} AS {column}" for column in columns)
    return f"SELECT * REPLACE ({moved}) FROM ({sql})" if columns else sql


def data_range(cur: duckdb.DuckDBPyConnection, settings: Settings,
               tables: Sequence[str] = SPAN_TABLES) -> tuple[date, date] | None:
    """First and last local dates with rows in ``tables`` (tickets or orders); None where they hold none."""
    if not tables or not set(tables) <= set(SPAN_TABLES):
        raise ValueError(f"tables must be some of {SPAN_TABLES}, not {tables!r}")
    spans = " UNION ALL ".join(f"SELECT min(created_at) AS first, max(created_at) AS last FROM {t}" for t in tables)
    row = cur.execute(f"SELECT {local_time('min(first)')}::DATE, {local_time('max(last)')}::DATE FROM ({spans})",
                      {"tz": settings.timezone}).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


def default_filters(cur: duckdb.DuckDBPyConnection, days: int = 30, *, settings: Settings) -> Filters:
    """The last ``days`` days up to the newest data (or up to today when there is none)."""
    span = data_range(cur, settings)
    end = span[1] if span else date.today()
    return Filters(start=end - timedelta(days=days - 1), end=end)


def dimension_values(cur: duckdb.DuckDBPyConnection, dimension: str) -> list[str]:
    """Distinct non-empty values of a ticket dimension, for filter choices."""
    choices = facts.dimension_choices(dimension)  # raises for an unknown dimension
    return list(facts.values(cur, [choices])[choices])  # type: ignore[call-overload]
