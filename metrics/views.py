"""Shapes of ticket data that are not one KPI per period: arrivals by weekday and hour, how durations spread
over buckets, the tickets behind a chart's point, and which KPIs the loaded data cannot give.

Same rules as ``metrics.query``: trusted constants in the SQL text, every user value bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import polars as pl

from metrics.query import (
    BREAKDOWNS,
    GRAINS,
    NONE,
    Filters,
    breakdown_column,
    dimension_filter,
    execute,
    in_view,
    local_time,
    utc_bound,
)
from metrics.registry import BY_NAME, DURATIONS, Metric
from settings import Settings

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# (label, upper bound in minutes); the last bucket is open-ended
BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 15 min", 15), ("15–60 min", 60), ("1–4 h", 240), ("4–8 h", 480), ("8–24 h", 1440), ("24–48 h", 2880),
    ("> 48 h", float("inf")),
)

DRILL_COLUMNS = ("ticket_id", "created_at", "first_reply_at", "solved_at", "status", "channel", "priority",
                 "category", "group_name", "assignee", "subject", "first_reply_minutes", "full_resolution_minutes",
                 "satisfaction_rating", "satisfaction_score", "reopens", "agent_replies", "tags", "data_issues")
DRILL_LIMIT = 5_000


def arrivals_by_hour(cur: duckdb.DuckDBPyConnection, filters: Filters,
                     settings: Settings | None = None) -> pl.DataFrame:
    """Tickets created per local weekday (0 = Monday) and hour, every one of the 168 cells present."""
    local = local_time("created_at")
    sql = f"""
        WITH cells AS (SELECT d AS weekday, h AS hour FROM range(7) a(d) CROSS JOIN range(24) b(h)),
        counts AS (SELECT isodow({local}) - 1 AS weekday, hour({local}) AS hour, count(*) AS tickets
                   FROM tickets WHERE {in_view('created_at')} GROUP BY ALL)
        SELECT weekday::INT AS weekday, hour::INT AS hour, coalesce(tickets, 0) AS tickets
        FROM cells LEFT JOIN counts USING (weekday, hour) ORDER BY weekday, hour"""
    return execute(cur, sql, filters, settings)


def duration_buckets(cur: duckdb.DuckDBPyConnection, filters: Filters, stem: str, business: bool = False,
                     settings: Settings | None = None) -> pl.DataFrame:
    """How many tickets fall in each duration bucket, placed in the period as the duration's KPIs are."""
    duration = next((d for d in DURATIONS if d.stem == stem), None)
    if duration is None:
        raise ValueError(f"unknown duration {stem!r}; known: {', '.join(d.stem for d in DURATIONS)}")
    cases = " ".join(f"WHEN minutes < {bound} THEN {i}" for i, (_, bound) in enumerate(BUCKETS[:-1]))
    # the duration is worked out once per ticket, then bucketed (the business clock is not cheap)
    sql = f"""
        WITH v AS (SELECT {duration.expression(business)} AS minutes FROM tickets WHERE {in_view(duration.time)}),
        b AS (SELECT CASE {cases} ELSE {len(BUCKETS) - 1} END AS bucket FROM v WHERE minutes IS NOT NULL)
        SELECT bucket::INT AS bucket, coalesce(n, 0) AS tickets FROM range({len(BUCKETS)}) r(bucket)
        LEFT JOIN (SELECT bucket, count(*) AS n FROM b GROUP BY ALL) USING (bucket) ORDER BY bucket"""
    frame = execute(cur, sql, filters, settings)
    return frame.with_columns(pl.Series("label", [label for label, _ in BUCKETS]))


def period_filters(filters: Filters, period: date, grain: str | None) -> Filters:
    """The view narrowed to one period of a chart (clipped to the view's own dates)."""
    if grain is None:
        return filters
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, not {grain!r}")
    end = {"day": period, "week": period + timedelta(days=6),
           "month": (period.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)}[grain]
    return Filters(max(period, filters.start), min(end, filters.end), filters.channel, filters.category,
                   filters.priority)


def tickets_behind(cur: duckdb.DuckDBPyConnection, metric_name: str, filters: Filters, *, by: str | None = None,
                   by_value: str | None = None, settings: Settings | None = None) -> pl.DataFrame:
    """The tickets a KPI's value rests on in the view: placed by the metric's own time column (for a snapshot,
    those open at the view's end), narrowed to one breakdown value if given. At most ``DRILL_LIMIT`` rows,
    newest first; times in the account time zone. Text is returned as stored: the caller masks it."""
    metric = BY_NAME[metric_name]
    if metric.table != "tickets":
        raise ValueError(f"{metric.label} is not a ticket KPI; its rows are not tickets")
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"breakdown must be one of {BREAKDOWNS}, not {by!r}")
    where = _snapshot_rows(metric) if metric.until else in_view(metric.time)
    if by is not None:
        where += f" AND {breakdown_column(by)} = $by_value"
    columns = ", ".join(f"{local_time(c)} AS {c}" if c.endswith("_at") else c for c in DRILL_COLUMNS)
    sql = f"SELECT {columns} FROM tickets WHERE {where} ORDER BY created_at DESC, ticket_id LIMIT {DRILL_LIMIT}"
    return execute(cur, sql, filters, settings, by_value=by_value if by_value is not None else NONE)


def _snapshot_rows(metric: Metric) -> str:
    as_of = utc_bound("$end_excl")
    return (f"{metric.time} < {as_of} AND coalesce({metric.until}, 'infinity'::TIMESTAMP) >= {as_of} "
            f"AND {dimension_filter('tickets')}")


def unavailable(cur: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, str]:
    """{metric name: what provides it} for the KPIs whose source columns hold no data at all."""
    metrics = [BY_NAME[name] for name in names if BY_NAME[name].needs]
    columns = sorted({column for metric in metrics for column in metric.needs})
    if not columns:
        return {}
    counts = cur.execute(f"SELECT {', '.join(f'count({c})' for c in columns)} FROM tickets").fetchone() or ()
    present = {column for column, count in zip(columns, counts, strict=True) if count}
    return {m.name: m.provided_by for m in metrics if not present & set(m.needs)}
