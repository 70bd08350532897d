"""Shapes of ticket data that are not one KPI per period: arrivals by local weekday and hour (the heatmap), and
how durations spread over buckets.

Same rules as ``metrics.query``: trusted constants in the SQL text, every user value bound.
"""

from __future__ import annotations

import duckdb
import polars as pl

from data import rollups
from data.slot_rollup import SLOTS_TABLE
from metrics.query import Filters, bucket_filter, dimension_filter, execute, in_view, rollup_current
from metrics.registry import DURATIONS
from settings import Settings

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# (label, upper bound in minutes); the last bucket is open-ended; the bounds are the rollup's (data.rollups.span)
BUCKETS: tuple[tuple[str, float], ...] = tuple(zip(
    ("< 15 min", "15–60 min", "1–4 h", "4–8 h", "8–24 h", "24–48 h", "> 48 h"),
    (*rollups.DURATION_BOUNDS, float("inf")), strict=True))


def arrivals_by_hour(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *,
                     rollup: bool = True) -> pl.DataFrame:
    """Tickets created per local weekday (0 = Monday) and hour, every one of the 168 cells present; from the
    hourly rollup where no filter asks for more, else the slot rollup's half hours, which keep the channel, category
    and priority (``rollup=False``: from ticket rows)."""
    counts = (f"SELECT created_local_isodow - 1 AS weekday, created_local_hour AS hour, count(*) AS tickets "
              f"FROM tickets WHERE {in_view('created_at')} GROUP BY ALL")
    if rollup and rollup_current(cur, settings):
        # a channel chosen read every ticket: 0.45-2.5 s of the Trends page's 0.9-4.8 at 10M on a busy machine;
        # the slot rollup is kept with the ticket rollup (its current mark says both), and its counts read no setting
        filtered = any(filters.dimension_values().values())
        table, hour, kept = ((SLOTS_TABLE, "hour(half_hour)", dimension_filter("tickets")) if filtered else
                             (rollups.HOURS_TABLE, "hour", "TRUE"))
        counts = (f"SELECT isodow(day) - 1 AS weekday, {hour} AS hour, sum(n)::BIGINT AS tickets FROM {table} "
                  f"WHERE day >= $start::DATE AND day < $end_excl::DATE AND {kept} GROUP BY ALL")
    sql = f"""
        WITH cells AS (SELECT d AS weekday, h AS hour FROM range(7) a(d) CROSS JOIN range(24) b(h)),
        counts AS ({counts})
        SELECT weekday::INT AS weekday, hour::INT AS hour, coalesce(tickets, 0) AS tickets
        FROM cells LEFT JOIN counts USING (weekday, hour) ORDER BY weekday, hour"""
    return execute(cur, sql, filters, settings)


def duration_buckets(cur: duckdb.DuckDBPyConnection, filters: Filters, stem: str, business: bool = False, *,
                     settings: Settings, rollup: bool = True) -> pl.DataFrame:
    """How many tickets fall in each duration bucket, placed in the period as the duration's KPIs are; from the
    rollup's bucket counts where they hold the view's filters (``rollup=False``: from ticket rows)."""
    duration = next((d for d in DURATIONS if d.stem == stem), None)
    if duration is None:
        raise ValueError(f"unknown duration {stem!r}; known: {', '.join(d.stem for d in DURATIONS)}")
    measure = rollups.MEASURE_OF.get((duration.time, rollups.normalised(duration.expression(business))))
    counts = _counts_for(measure, filters) if rollup and measure else None
    if measure and counts and rollup_current(cur, settings):
        frame = execute(cur, _from_counts(measure, counts), filters, settings)
        return frame.with_columns(pl.Series("label", [label for label, _ in BUCKETS]))
    # the duration is worked out once per ticket, then bucketed (the business clock is not cheap)
    sql = f"""
        WITH v AS (SELECT {duration.expression(business)} AS minutes FROM tickets WHERE {in_view(duration.time)}),
        b AS (SELECT {rollups.span('minutes')} AS bucket FROM v WHERE minutes IS NOT NULL)
        SELECT bucket::INT AS bucket, coalesce(n, 0) AS tickets FROM range({len(BUCKETS)}) r(bucket)
        LEFT JOIN (SELECT bucket, count(*) AS n FROM b GROUP BY ALL) USING (bucket) ORDER BY bucket"""
    frame = execute(cur, sql, filters, settings)
    return frame.with_columns(pl.Series("label", [label for label, _ in BUCKETS]))


def _counts_for(measure: str, filters: Filters) -> str | None:
    """The bucket counts that hold ``measure`` with the view's filters (none, or one key's); None: none do."""
    table = rollups.buckets_for(tuple(key for key, values in filters.dimension_values().items() if values))
    keyed = table in rollups.KEYED_BUCKETS.values()
    return table if table and (not keyed or measure in rollups.KEYED_MEASURES) else None


def _from_counts(measure: str, table: str) -> str:
    """SQL: the tickets per duration bucket from the bucket counts of ``measure`` in ``table`` (with the filters it
    holds), which are split at the duration buckets' bounds (data.rollups.span): every bucket present, 0 where
    none."""
    return f"""
        SELECT r.i::INT AS bucket, coalesce(n, 0)::BIGINT AS tickets FROM range({len(BUCKETS)}) r(i)
        LEFT JOIN (SELECT span AS i, sum(n) AS n FROM {table} WHERE measure = {rollups.MEASURE_CODE[measure]}
                   AND day >= $start::DATE AND day < $end_excl::DATE AND {bucket_filter(table)} GROUP BY ALL) USING (i)
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
