"""The slot rollup: what the Staffing page reads per interval, kept beside the ticket rollup (data/rollups.py).

A peak of four days or a December is a few thousand rows here, where the ticket rows of any window are a scan of
every ticket (imports do not keep tickets in created order, so DuckDB cannot skip row groups by date).

``staffing_slots``: per local creation day, local half hour (``time_bucket`` of ``created_local_at``; an hour is
two of them), channel, category and priority: the tickets, those answered by any sign the export gives, the first
reply SLA and CSAT flags added up (met and measured), the creation times off the hour and off midnight (which
intervals the export's clock allows), and every first reply's minutes as a list (medians and percentiles of any set
of slots are those of the lists put together: exact, where a median of medians is not).

``staffing_agents``: the distinct (UTC quarter hour, assignee, channel) of every first reply and agent
(non-automated) solve, per creation day of its ticket, so that the days a write notes rebuild exactly the rows their
tickets gave. The channel, so that a view with one channel chosen in the sidebar reads it too (a filter is a click:
the ticket rows took 1.7 s of the Staffing page's 2.3 s at 10M tickets, on a busy machine); about 1.6 times the rows.
A quarter hour of UTC lies within one interval of any zone's wall clock (offsets and their changes fall on quarter
hours), which is what metrics.staffing counts distinct assignees over.

Both are worked out in the ticket rollup's transactions, on its settings and whole-table values (``params`` and
``bound``: data/rollups.py binds its parts' subqueries the same way), so the rollup's current marker and recorded
settings say whether these tables may be read too. Only trusted constants reach the SQL text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import duckdb

from data.basics import named_in
from data.ticket_flags import AUTOMATED, CSAT, SLA_FIRST_REPLY

SLOTS_TABLE = "staffing_slots"
AGENTS_TABLE = "staffing_agents"
SLOT_MINUTES = 30  # the finest interval metrics.staffing offers; an hour is two
ANSWERED = ("(first_reply_minutes IS NOT NULL OR first_reply_business_minutes IS NOT NULL "
            "OR first_reply_at IS NOT NULL)")
# per slot row -> an additive aggregate over its ticket rows (``waits`` adds up by list concatenation)
SLOT_PARTS: dict[str, str] = {
    "n": "count(*)::BIGINT",
    "answered": f"count(*) FILTER (WHERE {ANSWERED})::BIGINT",
    "sla_met": f"sum(({SLA_FIRST_REPLY})::INT)::BIGINT",
    "sla_n": f"count(({SLA_FIRST_REPLY})::INT)::BIGINT",
    "csat_good": f"sum({CSAT})::BIGINT",
    "csat_n": f"count({CSAT})::BIGINT",
    "off_hour": "count(*) FILTER (WHERE minute(created_local_at) <> 0 OR second(created_local_at) <> 0)::BIGINT",
    "off_midnight": "count(*) FILTER (WHERE hour(created_local_at) <> 0)::BIGINT",
    "waits": "list(first_reply_minutes) FILTER (WHERE first_reply_minutes IS NOT NULL)",
}
HUMAN_SOLVE = f"NOT coalesce({AUTOMATED}, FALSE)"
# Tickets one statement groups into slots: a slot's list of first replies cannot spill to disk, so grouping every
# ticket at once ran out of the command line's 600 MB (CSPULSE_CLI_MEMORY_MB) at ten million tickets.
SLICE_TICKETS = 1_000_000
Bind = Callable[[str], str]  # a part's SQL with its whole-table subqueries standing for their bound values


def rebuild(cur: duckdb.DuckDBPyConnection, params: dict[str, object], bound: Bind) -> None:
    """Both tables from every ticket, ordered by time so that a window's read skips the row groups outside it."""
    for table in (SLOTS_TABLE, AGENTS_TABLE):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    _execute(cur, f"CREATE TABLE {SLOTS_TABLE} AS {_slots('FALSE', bound)}", params)
    _insert_slots(cur, "TRUE", params, bound)
    _execute(cur, f"CREATE TABLE {AGENTS_TABLE} AS {_agents('TRUE', bound)} ORDER BY quarter", params)


def refresh(cur: duckdb.DuckDBPyConnection, noted: str, params: dict[str, object], bound: Bind) -> None:
    """The rows of the noted creation days worked out again (``noted``: a condition on ``{day}``)."""
    for table in (SLOTS_TABLE, AGENTS_TABLE):
        _execute(cur, f"DELETE FROM {table} WHERE {noted.format(day='day')}", params)
    _insert_slots(cur, noted, params, bound)
    _execute(cur, f"INSERT INTO {AGENTS_TABLE} {_agents(noted, bound)}", params)


def _insert_slots(cur: duckdb.DuckDBPyConnection, where: str, params: dict[str, object], bound: Bind) -> None:
    """The slots of the tickets whose creation day meets ``where``, a run of days at a time (:func:`day_slices`),
    each run in time order."""
    in_slice = f"({where}) AND {{day}} BETWEEN $slice_first AND $slice_last"
    for first, last in day_slices(cur, where, params, SLICE_TICKETS):
        _execute(cur, f"INSERT INTO {SLOTS_TABLE} {_slots(in_slice, bound)} ORDER BY half_hour",
                 {**params, "slice_first": first, "slice_last": last})


def day_slices(cur: duckdb.DuckDBPyConnection, where: str, params: dict[str, object],
               most: int) -> list[tuple[object, object]]:
    """Runs of consecutive creation days (first, last) among those meeting ``where``, each of them as many days as
    hold about ``most`` tickets or fewer (a day with more is a run of its own), in day order; every run holds a
    ticket, so no insert is of no rows (after which DuckDB 1.5 loses a transaction's later inserts)."""
    sql = (f"SELECT created_local_date, count(*) FROM tickets WHERE created_local_date IS NOT NULL "
           f"AND {where.format(day='created_local_date')} GROUP BY 1 ORDER BY 1")
    runs: list[list[object]] = []  # [first, last, tickets]
    for day, tickets in cur.execute(sql, named_in(sql, params)).fetchall():
        if runs and runs[-1][2] + tickets <= most:
            runs[-1][1:] = [day, runs[-1][2] + tickets]
        else:
            runs.append([day, day, tickets])
    return [(first, last) for first, last, _ in runs]


def _execute(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> None:
    cur.execute(sql, named_in(sql, params))


def _slots(where: str, bound: Bind) -> str:
    parts = ", ".join(f"{bound(sql)} AS {name}" for name, sql in SLOT_PARTS.items())
    return (f"SELECT created_local_date AS day, time_bucket(INTERVAL '{SLOT_MINUTES} minutes', created_local_at) "
            f"AS half_hour, channel, category, priority, {parts} FROM tickets "
            f"WHERE created_local_date IS NOT NULL AND {where.format(day='created_local_date')} GROUP BY ALL")


def _agents(where: str, bound: Bind) -> str:
    # whether a solve was automated, once per ticket and only for those with a solve (it reads tags and lists)
    tickets = (f"SELECT created_local_date AS day, assignee, channel, first_reply_at, first_solved_at, solved_at, "
               f"(first_solved_at IS NOT NULL OR solved_at IS NOT NULL) AND {bound(HUMAN_SOLVE)} AS by_agent "
               f"FROM tickets WHERE assignee IS NOT NULL AND created_local_date IS NOT NULL "
               f"AND {where.format(day='created_local_date')}")
    events = (f"SELECT day, assignee, channel, unnest([first_reply_at, CASE WHEN by_agent THEN first_solved_at END, "
              f"CASE WHEN by_agent THEN solved_at END]) AS event_at FROM ({tickets})")
    return (f"SELECT DISTINCT day, time_bucket(INTERVAL '15 minutes', event_at) AS quarter, assignee, channel "
            f"FROM ({events}) WHERE event_at IS NOT NULL")


# what the tables hold, as their SQL says it: data/rollups.py folds it into its signature, so a change rebuilds them
SIGNATURE = hashlib.sha256(json.dumps([SLOTS_TABLE, AGENTS_TABLE, _slots("TRUE", str), _agents("TRUE", str)])
                           .encode()).hexdigest()[:16]
