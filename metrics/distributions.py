"""Shapes of ticket data that are not one KPI per period: arrivals by local weekday and hour (the heatmap), and
how durations spread over buckets.

Same rules as ``metrics.query``: trusted constants in the SQL text, every user value bound.
"""

from __future__ import annotations

import duckdb
import polars as pl

from data import rollups
from metrics.query import Filters, execute, in_view, rollup_current
from metrics.registry import DURATIONS
from settings import Settings

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# (label, upper bound in minutes); the last bucket is open-ended
BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 15 min", 15), ("15–60 min", 60), ("1–4 h", 240), ("4–8 h", 480), ("8–24 h", 1440), ("24–48 h", 2880),
    ("> 48 h", float("inf")),
)


def arrivals_by_hour(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *,
                     rollup: bool = True) -> pl.DataFrame:
    """Tickets created per local weekday (0 = Monday) and hour, every one of the 168 cells present; from the
    hourly rollup where no filter asks for more (``rollup=False``: from ticket rows)."""
    counts = (f"SELECT created_local_isodow - 1 AS weekday, created_local_hour AS hour, count(*) AS tickets "
              f"FROM tickets WHERE {in_view('created_at')} GROUP BY ALL")
    if rollup and not any(filters.dimension_values().values()) and rollup_current(cur, settings):
        counts = (f"SELECT isodow(day) - 1 AS weekday, hour, sum(n)::BIGINT AS tickets FROM {rollups.HOURS_TABLE} "
                  "WHERE day >= $start::DATE AND day < $end_excl::DATE GROUP BY ALL")
    sql = f"""
        WITH cells AS (SELECT d AS weekday, h AS hour FROM range(7) a(d) CROSS JOIN range(24) b(h)),
        counts AS ({counts})
        SELECT weekday::INT AS weekday, hour::INT AS hour, coalesce(tickets, 0) AS tickets
        FROM cells LEFT JOIN counts USING (weekday, hour) ORDER BY weekday, hour"""
    return execute(cur, sql, filters, settings)


def duration_buckets(cur: duckdb.DuckDBPyConnection, filters: Filters, stem: str, business: bool = False, *,
                     settings: Settings, rollup: bool = True) -> pl.DataFrame:
    """How many tickets fall in each duration bucket, placed in the period as the duration's KPIs are; from the
    rollup's bucket counts where no filter asks for more (``rollup=False``: from ticket rows)."""
    duration = next((d for d in DURATIONS if d.stem == stem), None)
    if duration is None:
        raise ValueError(f"unknown duration {stem!r}; known: {', '.join(d.stem for d in DURATIONS)}")
    measure = rollups.MEASURE_OF.get((duration.time, rollups.normalised(duration.expression(business))))
    if rollup and measure and not any(filters.dimension_values().values()) and rollup_current(cur, settings):
        frame = execute(cur, _counted_below(measure), filters, settings)
        return frame.with_columns(pl.Series("label", [label for label, _ in BUCKETS]))
    cases = " ".join(f"WHEN minutes < {bound} THEN {i}" for i, (_, bound) in enumerate(BUCKETS[:-1]))
    # the duration is worked out once per ticket, then bucketed (the business clock is not cheap)
    sql = f"""
        WITH v AS (SELECT {duration.expression(business)} AS minutes FROM tickets WHERE {in_view(duration.time)}),
        b AS (SELECT CASE {cases} ELSE {len(BUCKETS) - 1} END AS bucket FROM v WHERE minutes IS NOT NULL)
        SELECT bucket::INT AS bucket, coalesce(n, 0) AS tickets FROM range({len(BUCKETS)}) r(bucket)
        LEFT JOIN (SELECT bucket, count(*) AS n FROM b GROUP BY ALL) USING (bucket) ORDER BY bucket"""
    frame = execute(cur, sql, filters, settings)
    return frame.with_columns(pl.Series("label", [label for label, _ in BUCKETS]))


def _counted_below(measure: str) -> str:
    """SQL: the tickets per duration bucket from the rollup's counts of ``measure``: the values below each bound are
    those of the rollup's buckets below the bound's one, and those below the bound in its bucket (the only values
    read); each duration bucket holds the values below its bound less those below the previous one."""
    bounds = ", ".join(f"({i}, {bound}::DOUBLE)" for i, (_, bound) in enumerate(BUCKETS[:-1]))
    days = f"measure = '{measure}' AND day >= $start::DATE AND day < $end_excl::DATE"
    return f"""
        WITH edges AS (SELECT i, bound, {rollups.bucket('bound')} AS edge FROM (VALUES {bounds}) t(i, bound)),
        counts AS (SELECT bucket, sum(n) AS n FROM {rollups.BUCKETS_TABLE} WHERE {days} GROUP BY ALL),
        edge_values AS (SELECT bucket, value FROM {rollups.VALUES_TABLE} SEMI JOIN (SELECT edge AS bucket FROM edges)
                        USING (bucket) WHERE {days}),
        below AS (SELECT i, (SELECT coalesce(sum(n), 0) FROM counts WHERE bucket < edge) + (SELECT count(*) FROM
                  edge_values WHERE bucket = edge AND value < bound) AS below FROM edges
                  UNION ALL SELECT {len(BUCKETS) - 1}, (SELECT coalesce(sum(n), 0) FROM counts))
        SELECT i::INT AS bucket, (below - coalesce(lag(below) OVER (ORDER BY i), 0))::BIGINT AS tickets FROM below
        ORDER BY bucket"""


# A store's customers write mostly by day: when most tickets seem to arrive in the small hours, the times were
# probably read on the wrong clock (an export without offsets read on the account's zone, the zone unset).
NIGHT_HOURS = range(0, 6)
NIGHT_SHARE_SUSPECT = 0.5


def night_share(cells: pl.DataFrame) -> float | None:
    """Share of the tickets in the heatmap's cells that arrive between 00:00 and 06:00; None with no tickets."""
    total = cells["tickets"].sum()
    if not total:
        return None
    return cells.filter(pl.col("hour").is_in(list(NIGHT_HOURS)))["tickets"].sum() / total


def suggests_wrong_clock(cells: pl.DataFrame, min_tickets: int) -> bool:
    """At least half of at least ``min_tickets`` tickets arrive at night on the account's clock."""
    share = night_share(cells)
    return share is not None and cells["tickets"].sum() >= min_tickets and share >= NIGHT_SHARE_SUSPECT
