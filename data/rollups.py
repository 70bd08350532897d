"""The ticket rollup: the additive parts of the decomposable ticket KPIs, per local day and shared dimension.

A page asking for a weekly count or a mean reads a few thousand rollup rows instead of every ticket. The table
``ticket_rollup`` holds, for each time column a KPI places tickets by (created or solved, whose local days differ),
each local day and each (channel, category, priority, group_name), the sums and counts the KPIs add up:
``count(*)``, ``count(x)``, ``sum(x)``, and those ``FILTER``ed. metrics.query matches a KPI's aggregates against
:data:`PARTS` by their text and reads the rollup where every one of them is here (see ``metrics.query.rollup_sql``).

Medians, percentiles and distinct counts are not here: an exact quantile of a period is not a function of its
days' quantiles, so they stay raw. Nor is any KPI whose SQL reads a setting (targets, tags, the CSAT rule) or the
whole table (which sources measure a column): a part would go stale when a setting or another day changes.

The rollup is kept in the transaction of every write that changes a column its parts read (imports, undo, clear,
categorising, corrections, linking, a clock rebuild): such a writer notes the local days its rows had and have
(:func:`note_days`), and :func:`bump_version` works those days out again before it bumps the data version. The
warehouse records the data version the rollup is current for (``warehouse_meta`` key ``rollup``), with a signature
of its parts; a reader uses the rollup only where that is the current version, so a writer that forgets it leaves
the rollup unused (slower, never wrong) until the next write rebuilds it whole.

Beside it, ``ticket_rollup_days`` adds its parts up over the keys (what a view without filters reads: two rows a
day) and ``ticket_rollup_hours`` counts the tickets created per local day and hour (the arrivals heatmap).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

import duckdb

from data.schema import ISSUE_SPOILS
from data.warehouse import Warehouse

log = logging.getLogger(__name__)

TABLE = "ticket_rollup"  # per day and every key
DAYS_TABLE = "ticket_rollup_days"  # per day only: what a view without filters reads, a few rows a day
HOURS_TABLE = "ticket_rollup_hours"  # tickets created per local day and hour: the arrivals heatmap without filters
META_KEY = "rollup"
# The time column a KPI places tickets by -> its local day, as data/clock.py stores it.
TIME_COLUMNS: dict[str, str] = {"created_at": "created_local_date", "solved_at": "solved_local_date"}
# The shared filters. Not the group: at a million tickets over two years, (day, channel, category, priority) and the
# group made 168k rows per 100k tickets, too close to the tickets themselves to save anything, where the three
# filters alone give a few hundred per day however many tickets there are (bench/rollups.py). A breakdown by group
# reads raw rows, as the Team page does for its medians anyway.
KEYS: tuple[str, ...] = ("channel", "category", "priority")
_DAYS = "rollup_days"  # temp table of the local days a transaction touched
KEYS_OF: dict[str, tuple[str, ...]] = {DAYS_TABLE: (), TABLE: KEYS}  # the coarsest first


def table_for(keys: tuple[str, ...]) -> str | None:
    """The smallest rollup table that has ``keys`` (the filters and breakdown a query needs); None: none has."""
    return next((table for table, held in KEYS_OF.items() if set(keys) <= set(held)), None)


def _mean(name: str, expression: str) -> dict[str, str]:
    return {f"{name}_sum": f"sum({expression})", f"{name}_n": f"count({expression})"}


def _rate(name: str, flag: str) -> dict[str, str]:
    """As metrics.registry.rate: the mean of a 0/1 flag, and its sample (the rows whose flag is not NULL)."""
    return {**_mean(name, f"({flag})::INT"), f"{name}_flags": f"count({flag})"}



def _business(stem: str, exported: bool) -> str:
    """The business minutes metrics.registry.Duration.expression reads: ours where the export gives none, never
    for a ticket whose times the import flagged impossible. A change there only sends the KPI to the raw path
    (its text no longer matches; tests/test_rollups.py lists the KPIs served)."""
    computed = f"{stem}_business_minutes_computed"
    if exported:
        computed = f"coalesce({stem}_business_minutes, {computed})"
    reasons = [why for why, spoiled in ISSUE_SPOILS.items() if f"{stem}_minutes" in spoiled]
    found = " OR ".join(f"contains(data_issues, '{why}')" for why in reasons)
    trusted = f"(data_issues IS NULL OR NOT ({found}))" if reasons else "TRUE"
    return f"(CASE WHEN {trusted} THEN {computed} END)"


NPS = "CASE WHEN nps_score BETWEEN 0 AND 10 THEN (nps_score >= 9)::INT - (nps_score <= 6)::INT END"

# part -> an additive aggregate over ticket rows; only trusted constants.
PARTS: dict[str, str] = {
    "n": "count(*)",
    "wismo": "count(*) FILTER (WHERE category = 'shipping_status')",
    "nps_answers": "count(*) FILTER (WHERE nps_score BETWEEN 0 AND 10)",
    **_mean("nps", NPS),
    **{part: sql for column in ("first_reply_minutes", "first_resolution_minutes", "full_resolution_minutes",
                                "requester_wait_minutes") for part, sql in _mean(column, column).items()},
    **_mean("first_reply_business", _business("first_reply", True)),
    **_mean("first_resolution_business", _business("first_resolution", False)),
    **_mean("full_resolution_business", _business("full_resolution", True)),
    **_rate("one_touch", "agent_replies < 2"),
    **_rate("reopened", "reopens > 0"),
    **_rate("linked", "coalesce(linked_order_id, order_id) IS NOT NULL"),
}
# Sums of whole numbers (0/1 flags, NPS points) are stored as BIGINT, where DuckDB's sum of them gives HUGEINT,
# which is slower to add up again; counts are BIGINT, the sums of minutes DOUBLE.
WHOLE_SUMS = frozenset(name for name, sql in PARTS.items() if sql.startswith("sum(") and "::INT" in sql)
_DECLARED = [PARTS, sorted(WHOLE_SUMS), KEYS, TIME_COLUMNS, HOURS_TABLE]
SIGNATURE = hashlib.sha256(json.dumps(_DECLARED).encode()).hexdigest()[:16]


def normalised(aggregate: str) -> str:
    """An aggregate's text with its spacing made canonical, to match a KPI's against :data:`PARTS`."""
    return re.sub(r"\s+", " ", aggregate).replace("( ", "(").replace(" )", ")").strip()


PART_OF: dict[str, str] = {normalised(sql): name for name, sql in PARTS.items()}


def is_current(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the rollup holds the warehouse's data as it is now, with these parts."""
    row = cur.execute("SELECT max(value) FILTER (WHERE key = $key), max(value) FILTER (WHERE key = 'data_version') "
                      "FROM warehouse_meta", {"key": META_KEY}).fetchone()
    return row is not None and row[0] is not None and row[0] == f"{row[1]}:{SIGNATURE}"


def note_days(cur: duckdb.DuckDBPyConnection, rows_sql: str, params: dict[str, object] | None = None) -> None:
    """Remember the local days of the rows ``rows_sql`` selects (it gives ``created_local_date`` and
    ``solved_local_date``), for :func:`bump_version` to work out again. Note them before a change for the days
    rows leave, after it for the days they arrive at."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_DAYS} (day DATE)")
    cur.execute(f"INSERT INTO {_DAYS} SELECT DISTINCT day FROM (SELECT unnest([created_local_date, "
                f"solved_local_date]) AS day FROM ({rows_sql})) WHERE day IS NOT NULL", params or {})


def bump_version(cur: duckdb.DuckDBPyConnection, *, everything: bool = False) -> None:
    """Bump the data version with the rollup kept current, in the caller's transaction: the noted days worked out
    again, or the whole rollup where ``everything`` changed or it was not current before this write."""
    if everything or not is_current(cur):
        rebuild(cur)
    else:
        _refresh_noted(cur)
    cur.execute(f"DROP TABLE IF EXISTS {_DAYS}")
    Warehouse.bump_version(cur)
    _mark(cur)


def sync(warehouse: Warehouse) -> bool:
    """Build the rollup where it is not current (a warehouse from before it, or one a writer left stale), without
    changing the data version: the data did not change. Whether it did; a read-only warehouse reads raw rows."""
    if warehouse.read_only or is_current(warehouse.cursor()):
        return False
    with warehouse.transaction() as cur:
        rebuild(cur)
        _mark(cur)
    return True


def _mark(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute("DELETE FROM warehouse_meta WHERE key = $key", {"key": META_KEY})
    cur.execute("INSERT INTO warehouse_meta SELECT $key, value || ':' || $signature FROM warehouse_meta "
                "WHERE key = 'data_version'", {"key": META_KEY, "signature": SIGNATURE})


def rebuild(cur: duckdb.DuckDBPyConnection) -> None:
    """The whole rollup from every ticket (its parts may have changed since the table was made)."""
    for table, source in ((TABLE, _aggregate("TRUE")), (DAYS_TABLE, _per_day("TRUE")),
                          (HOURS_TABLE, _hours("TRUE"))):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} AS {source} ORDER BY 1, 2")
    log.info("ticket rollup rebuilt")


def _refresh_noted(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_DAYS} (day DATE)")
    first, last = cur.execute(f"SELECT min(day), max(day) FROM {_DAYS}").fetchone()  # type: ignore[misc]
    if first is None:
        return  # no ticket changed: nothing to scan
    # The bounds are constants, so DuckDB skips the row groups whose days lie outside them (tickets arrive in
    # about the order they were created); the list of days then picks the rows.
    noted = f"{{day}} BETWEEN $first AND $last AND {{day}} IN (SELECT day FROM {_DAYS})"
    for table, source in ((TABLE, _aggregate(noted)), (DAYS_TABLE, _per_day(noted.format(day="day"))),
                          (HOURS_TABLE, _hours(noted))):
        cur.execute(f"DELETE FROM {table} WHERE {noted.format(day='day')}", {"first": first, "last": last})
        cur.execute(f"INSERT INTO {table} {source}", {"first": first, "last": last})


def _type(part: str) -> str:
    return "DOUBLE" if PARTS[part].startswith("sum(") and part not in WHOLE_SUMS else "BIGINT"


def _per_day(where: str) -> str:
    """The day table from the keyed one: every part added up over the keys."""
    parts = ", ".join(f"sum({name})::{_type(name)} AS {name}" for name in PARTS)
    return f"SELECT time_column, day, {parts} FROM {TABLE} WHERE {where} GROUP BY 1, 2"


def _hours(where: str) -> str:
    day = TIME_COLUMNS["created_at"]
    return (f"SELECT {day} AS day, created_local_hour AS hour, count(*) AS n FROM tickets "
            f"WHERE {day} IS NOT NULL AND {where.format(day=day)} GROUP BY 1, 2")


def _aggregate(where: str) -> str:
    """Every part per time column, local day and key, of the tickets whose day meets ``where`` (``{day}`` stands
    for the day column)."""
    parts = ", ".join(f"({sql})::{_type(name)} AS {name}" for name, sql in PARTS.items())
    keys = ", ".join(KEYS)
    positions = ", ".join(str(i) for i in range(2, len(KEYS) + 3))
    return " UNION ALL ".join(
        f"SELECT '{time}' AS time_column, {day} AS day, {keys}, {parts} FROM tickets "
        f"WHERE {day} IS NOT NULL AND {where.format(day=day)} GROUP BY 1, {positions}"
        for time, day in TIME_COLUMNS.items()
    )
