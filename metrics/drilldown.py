"""The tickets behind a chart's point: the view narrowed to one period, and the rows a KPI's value rests on.

Same rules as ``metrics.query``: trusted constants in the SQL text, every user value bound.
"""

from __future__ import annotations

from dataclasses import replace
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
from metrics.registry import BY_NAME, Metric
from settings import Settings

DRILL_COLUMNS = ("ticket_id", "created_at", "first_reply_at", "solved_at", "status", "channel", "priority",
                 "category", "group_name", "assignee", "subject", "first_reply_minutes", "full_resolution_minutes",
                 "satisfaction_rating", "satisfaction_score", "reopens", "agent_replies", "tags", "data_issues")
DRILL_LIMIT = 5_000


def period_filters(filters: Filters, period: date, grain: str | None) -> Filters:
    """The view narrowed to one period of a chart (clipped to the view's own dates)."""
    if grain is None:
        return filters
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, not {grain!r}")
    end = {"day": period, "week": period + timedelta(days=6),
           "month": (period.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)}[grain]
    return replace(filters, start=max(period, filters.start), end=min(end, filters.end))


def tickets_behind(cur: duckdb.DuckDBPyConnection, metric_name: str, filters: Filters, *, by: str | None = None,
                   by_value: str | None = None, settings: Settings) -> pl.DataFrame:
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
