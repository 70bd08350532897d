"""The account's clock, worked out once per row: local dates, hours and weekdays, and business minutes.

A query groups by the local day of each ticket and measures durations in business hours; converting every row from
UTC to the account's wall clock costs about 0.3 s per million values, so it is done when rows arrive (in the
import's transaction) and again only when the time zone or the business hours change (:func:`sync`). The warehouse
records the clock its columns hold (``warehouse_meta`` key ``clock``); a query asked for another clock reads the
same columns worked out on the fly (:func:`with_clock`), so a number never depends on which clock was stored.

The business clock counts business minutes from a fixed Monday (1970-01-05) up to an instant; the business minutes
between two instants are the difference of their counts. Both instants are read on the account's wall clock first,
so a daylight-saving jump never adds or removes a business hour. Public holidays are not taken out.

Only column names reach the SQL text; the clock comes in as bound parameters: ``$tz``, ``$bh_start`` and
``$bh_span`` (minutes), ``$bh_days`` (seven 0/1 flags from Monday) and ``$bh_days_before`` (eight counts:
business days among the first k weekdays).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import time

import duckdb

from data import kept, rollups
from data.basics import named_in
from data.warehouse import Warehouse
from settings import WEEKDAYS, Settings

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
EPOCH_MONDAY_DAY = 4  # 1970-01-05, the first Monday after the Unix epoch, is day 4
META_KEY = "clock"


@dataclass(frozen=True)
class Clock:
    """The settings the derived columns depend on."""

    timezone: str
    business_hours_start: time
    business_hours_end: time
    business_days: tuple[str, ...]

    @classmethod
    def of(cls, settings: Settings) -> Clock:
        return cls(settings.timezone, settings.business_hours_start, settings.business_hours_end,
                   tuple(settings.business_days))

    @property
    def recorded(self) -> str:
        """As ``warehouse_meta`` keeps it."""
        return json.dumps({"timezone": self.timezone, "business_hours_start": self.business_hours_start.isoformat(),
                           "business_hours_end": self.business_hours_end.isoformat(),
                           "business_days": list(self.business_days)})

    @property
    def params(self) -> dict[str, object]:
        return {"tz": self.timezone, **schedule_params(self.business_hours_start, self.business_hours_end,
                                                        self.business_days, WEEKDAYS)}

    def describe(self) -> str:
        days = ",".join(self.business_days)
        return f"{self.timezone}, {self.business_hours_start:%H:%M}-{self.business_hours_end:%H:%M} {days}"


# What a warehouse gets before anything says otherwise: the settings' own defaults.
DEFAULT_CLOCK = Clock(*(Settings.model_fields[name].default for name in
                        ("timezone", "business_hours_start", "business_hours_end", "business_days")))


def schedule_params(start: time, end: time, days: tuple[str, ...], weekdays: tuple[str, ...]) -> dict[str, object]:
    """The bound parameters the business clock expects, from the settings' business hours and days."""
    flags = [int(day in days) for day in weekdays]
    before = [sum(flags[:k]) for k in range(8)]
    start_minute = start.hour * 60 + start.minute
    return {
        "bh_start": float(start_minute),
        "bh_span": float(end.hour * 60 + end.minute - start_minute),
        "bh_days": flags,
        "bh_days_before": before,
    }


def local_time(column: str) -> str:
    """Naive UTC -> instant -> wall clock in the account time zone."""
    return f"timezone($tz, timezone('UTC', {column}))"


def business_minutes(start_wall: str, end_wall: str) -> str:
    """Business minutes from one wall-clock time to another (local naive timestamps); NULL when either is NULL."""
    return f"({_minutes_since_epoch(end_wall)} - {_minutes_since_epoch(start_wall)})"


def _minutes_since_epoch(wall: str) -> str:
    e = f"epoch({wall})"
    days = f"(floor({e} / {SECONDS_PER_DAY})::BIGINT - {EPOCH_MONDAY_DAY})"  # whole days since that Monday
    weekday = f"({days} % 7)"
    minute_of_day = f"(({e} - floor({e} / {SECONDS_PER_DAY}) * {SECONDS_PER_DAY}) / 60.0)"
    whole_days = f"(({days} // 7) * $bh_days_before[8] + $bh_days_before[{weekday} + 1])"
    today = f"$bh_days[{weekday} + 1] * least(greatest({minute_of_day} - $bh_start, 0), $bh_span)"
    return f"({whole_days} * $bh_span + {today})"


def _business(exported: str | None, end: str, end_wall: str) -> str:
    """Our business minutes from creation to ``end``, where the export gives none of its own (the helpdesk's
    schedule, holidays included, beats ours) and the end is not before the start."""
    given = f"{exported} IS NULL AND " if exported else ""
    return f"CASE WHEN {given}{end} >= created_at THEN {business_minutes('created_wall', end_wall)} END"


# Each timestamp read on the wall clock once per row, as ``<name>_wall``: the conversion is the costly part (about
# 0.3 s per million values), and the creation time alone feeds seven columns.
WALL_CLOCK: dict[str, dict[str, str]] = {
    "tickets": {"created_wall": "created_at", "replied_wall": "first_reply_at",
                "first_solved_wall": "first_solved_at", "solved_wall": "solved_at"},
    "orders": {"created_wall": "created_at", "fulfilled_wall": "fulfilled_at",
               "previous_wall": "customer_previous_at", "second_previous_wall": "customer_second_previous_at"},
}

# table -> column -> SQL over the row's own columns and its wall-clock times. Declared in data/schema.py (version 6)
# as derived columns.
COLUMNS: dict[str, dict[str, str]] = {
    "tickets": {
        "created_local_at": "created_wall",
        "created_local_date": "created_wall::DATE",
        "created_local_hour": "hour(created_wall)",
        "created_local_isodow": "isodow(created_wall)",
        "solved_local_date": "solved_wall::DATE",
        "first_reply_business_minutes_computed": _business("first_reply_business_minutes", "first_reply_at",
                                                           "replied_wall"),
        "first_resolution_business_minutes_computed": _business(None, "first_solved_at", "first_solved_wall"),
        "full_resolution_business_minutes_computed": _business("full_resolution_business_minutes", "solved_at",
                                                               "solved_wall"),
    },
    "orders": {
        "created_local_date": "created_wall::DATE",
        "fulfilled_local_date": "fulfilled_wall::DATE",
        # the same customer's orders before it (data/order_sequence.py), on this clock too
        "customer_previous_local_date": "previous_wall::DATE",
        "customer_second_previous_local_date": "second_previous_wall::DATE",
    },
}


def _walls(table: str) -> str:
    return ", ".join(f"{local_time(column)} AS {name}" for name, column in WALL_CLOCK[table].items())


def recorded(cur: duckdb.DuckDBPyConnection) -> str | None:
    """The clock the warehouse's columns hold (``Clock.recorded``), None before any was worked out."""
    return Warehouse.meta_in(cur, META_KEY)


def rollup_holds(cur: duckdb.DuckDBPyConnection, family: kept.Family, settings: Settings) -> bool:
    """Whether ``family`` (data.rollups ``FAMILIES``) holds the data as it is now on the settings' clock (its days
    are local days): what a reader asks before it reads one."""
    return rollups.is_current(cur, family) and recorded(cur) == Clock.of(settings).recorded


def arriving(cur: duckdb.DuckDBPyConnection, table: str, relation: str) -> tuple[str, dict[str, object]]:
    """``relation`` (rows about to be written to ``table``) with the clock columns worked out on the clock the
    warehouse records, as SQL and its bound parameters: the import's INSERT or MERGE writes them in the same pass.
    An UPDATE after the insert would rewrite every row it touched (3 s of a million-ticket import against 0.5 s).
    Unchanged where the table has no clock columns or the warehouse records no clock yet (:func:`fill` then
    works out every row after the merge)."""
    held = recorded(cur)
    if held is None or table not in COLUMNS:
        return relation, {}
    account = _parse(held)
    expressions = ", ".join(f"{sql} AS {name}" for name, sql in COLUMNS[table].items())
    # On UTC the wall clock is the stored time itself: no conversion (4 per ticket, 0.3 s per million each).
    walls = ", ".join(f"{column} AS {name}" for name, column in WALL_CLOCK[table].items()) \
        if account.timezone == "UTC" else _walls(table)
    sql = (f"(SELECT * EXCLUDE ({', '.join(WALL_CLOCK[table])}) REPLACE ({expressions}) "
           f"FROM (SELECT *, {walls} FROM {relation}))")
    params = account.params
    return sql, named_in(sql, params)


def fill(cur: duckdb.DuckDBPyConnection) -> None:
    """After an import's merge, in its transaction: on a warehouse that records no clock yet, every row's clock
    columns on the settings' defaults, recorded. Where it records one, the rows arrived with their columns worked
    out (:func:`arriving`)."""
    if recorded(cur) is None:
        _update(cur, DEFAULT_CLOCK, COLUMNS, twins=True)


def rebuild(cur: duckdb.DuckDBPyConnection, clock: Clock) -> None:
    """Every row's clock columns on ``clock``, the rows kept for an undo too, so that an undo restores rows on the
    clock in force; records it. The caller's transaction makes it all or nothing and expires cached results."""
    _update(cur, clock, COLUMNS, twins=True)


def _update(cur: duckdb.DuckDBPyConnection, clock: Clock, columns: dict[str, dict[str, str]], *, twins: bool,
            where: str = "TRUE", **extra: object) -> None:
    for table, expressions in columns.items():
        assignments = ", ".join(f"{name} = {sql}" for name, sql in expressions.items())
        for target in (table, f"{table}_replaced") if twins else (table,):
            sql = (f"UPDATE {target} t SET {assignments} FROM (SELECT rowid AS clock_row, {_walls(table)} "
                   f"FROM {target} WHERE {where}) w WHERE t.rowid = w.clock_row")
            params = {**clock.params, **extra}
            cur.execute(sql, named_in(sql, params))
    if twins:
        Warehouse.set_meta(cur, META_KEY, clock.recorded)


def _parse(text: str) -> Clock:
    fields = json.loads(text)
    return Clock(fields["timezone"], time.fromisoformat(fields["business_hours_start"]),
                 time.fromisoformat(fields["business_hours_end"]), tuple(fields["business_days"]))


def with_clock(cur: duckdb.DuckDBPyConnection, sql: str, clock: Clock) -> str:
    """``sql`` as it must run for ``clock``: as it is when the warehouse's columns hold that clock, else with
    ``tickets`` and ``orders`` standing for the tables with their clock columns worked out on the fly (as slow as
    before they were stored, and as right)."""
    if recorded(cur) == clock.recorded:
        return sql
    # main.<table> is the stored table: a CTE of the same name hides it from the rest of the statement only
    live = ", ".join(
        f"{table} AS NOT MATERIALIZED (SELECT * EXCLUDE ({', '.join(WALL_CLOCK[table])}) REPLACE ("
        + ", ".join(f"{expression} AS {name}" for name, expression in expressions.items())
        + f") FROM (SELECT *, {_walls(table)} FROM main.{table}))"
        for table, expressions in COLUMNS.items()
    )
    stripped = sql.lstrip()
    if stripped[:5].upper() == "WITH ":
        return f"WITH {live}, {stripped[5:]}"
    return f"WITH {live} {stripped}"


def sync(warehouse: Warehouse, clock: Clock) -> bool:
    """Rebuild the clock columns in one transaction if the warehouse holds another clock than ``clock`` (the time
    zone or business hours changed since); whether it did. A read-only warehouse is left as it is: its queries work
    the columns out on the fly."""
    held = recorded(warehouse.cursor())
    if held == clock.recorded or warehouse.read_only:
        return False
    with warehouse.transaction() as cur:
        rebuild(cur, clock)
        rollups.bump_version(cur, everything=True)  # every local day may have moved
    log.info("clock columns rebuilt for %s (they held %s)", clock.describe(),
             _parse(held).describe() if held else "none")
    return True
