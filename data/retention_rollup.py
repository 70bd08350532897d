"""Each kept order's first ticket from its customer before their next kept order: what the Orders page's retention
split (metrics/retention.py) reads, where matching every anchor to its customer's tickets took 1.6-2.2 s over two
years at ten million tickets and five million orders.

Beside it, ``retention_kept_orders``: every kept order with a customer, narrowed to what the count of the view's
anchors reads (:func:`_kept_orders`).

Retention asks, per anchor (a customer's first not cancelled order in the view), for the customer's first ticket
created at or after it and before the earlier of their next not cancelled order and N days after it. The first
ticket before the next order depends neither on N nor on the view: where it comes N days or more after the order,
no ticket comes within the N days. So it is kept per not cancelled order with a customer, whatever N and the view,
with what the split reads of the ticket (first reply on both clocks, survey, whether solved) and the order's
neighbours (data/order_sequence.py), which pick the view's anchors: a read is one filtered scan of this table.

Kept as a family of data/kept.py (data.rollups ``FAMILIES``) in every writer's transaction: a write's noted ticket
and order days give the customers whose rows may change (those with tickets or orders on them, and those whose rows
here have such a day, for tickets and orders that left), and only their rows are worked out again.
"""

from __future__ import annotations

import hashlib
import json
import logging

import duckdb

from data import kept
from data.order_rollup import CLOCK_KEY
from data.ticket_flags import SOLVED_STATUS

log = logging.getLogger(__name__)

TABLE = "retention_firsts"
# Every kept order with a customer, with what the cohort's count reads of it (:func:`_kept_orders`), in time order
ORDERS_TABLE = "retention_kept_orders"
META_KEY = "retention_rollup"
_TOUCHED = "retention_customers_touched"  # temp table of the customers a write's noted days reach


def _firsts(customers: str, replies: tuple[str, str]) -> str:
    """SQL: per not cancelled order of the customers that meet ``customers`` (SQL on ``customer_key``), their first
    ticket (by time, then id) created at or after it and before their next not cancelled order. ``replies``: the
    first reply's calendar and business minutes as the ticket rollup reads them (data.rollups ``MEASURES``, which
    tests hold equal to metrics.registry's)."""
    calendar, business = replies
    return f"""
        WITH kept AS (SELECT source, order_id, customer_key, created_at AS ordered_at, created_local_date AS placed,
                             kept_previous_at, kept_next_at
                      FROM orders WHERE customer_key IS NOT NULL AND cancelled_at IS NULL AND {customers}),
        asked AS (SELECT customer_key, created_at, created_local_date, ticket_id,
                         {calendar} AS first_reply_minutes, {business} AS first_reply_business_minutes,
                         satisfaction_score, satisfaction_rating,
                         solved_at IS NOT NULL OR coalesce({SOLVED_STATUS}, FALSE) AS solved
                  FROM tickets WHERE customer_key IS NOT NULL AND {customers})
        SELECT k.customer_key, k.source, k.order_id, k.ordered_at, k.placed, k.kept_previous_at, k.kept_next_at,
               a.created_at AS contacted_at, a.created_local_date AS contacted_day, a.first_reply_minutes,
               a.first_reply_business_minutes, a.satisfaction_score, a.satisfaction_rating, a.solved
        FROM kept k JOIN asked a ON a.customer_key = k.customer_key AND a.created_at >= k.ordered_at
             AND (k.kept_next_at IS NULL OR a.created_at < k.kept_next_at)
        QUALIFY row_number() OVER (PARTITION BY k.source, k.order_id ORDER BY a.created_at, a.ticket_id) = 1"""


def _kept_orders(customers: str) -> str:
    """SQL: per not cancelled order of the customers that meet ``customers``, what retention's count of the view's
    anchors reads of it: when it was placed, the customer's kept order before it and how long after it their next
    came (microseconds; NULL: none), and its local day (for a write that takes it away). The count reads three of
    these columns, in time order, where it read five of the orders' and worked out the gap per row: about half its
    time over two years at five million orders."""
    return f"""SELECT customer_key, created_at AS ordered_at, created_local_date AS placed, kept_previous_at,
                      epoch_us(kept_next_at) - epoch_us(created_at) AS next_after_us
               FROM orders WHERE customer_key IS NOT NULL AND cancelled_at IS NULL AND {customers}"""


def family(ticket_days: str, order_days: tuple[str, ...], replies: tuple[str, str]) -> kept.Family:
    """The table as data/kept.py keeps it: the customers the noted ticket and order days reach worked out again."""
    declared = [TABLE, _firsts("{customers}", replies), ORDERS_TABLE, _kept_orders("{customers}")]
    signature = hashlib.sha256(json.dumps(declared).encode()).hexdigest()[:16]
    return kept.Family("retention", META_KEY, signature, (ticket_days, *order_days),
                       lambda cur: rebuild(cur, replies),
                       lambda cur: _refresh_noted(cur, ticket_days, order_days, replies), depends_on=(CLOCK_KEY,))


def rebuild(cur: duckdb.DuckDBPyConnection, replies: tuple[str, str]) -> None:
    # Without orders (tickets imported first) both tables are empty: a condition DuckDB knows false skips the join,
    # which, in the import's transaction, built its hash table from every new ticket (0.5 s at a million): the
    # planner does not see how many rows a transaction added.
    anyone = "TRUE" if cur.execute("SELECT EXISTS (SELECT 1 FROM orders)").fetchone()[0] else "FALSE"  # type: ignore[index]
    for table, rows in ((TABLE, _firsts(anyone, replies)), (ORDERS_TABLE, _kept_orders(anyone))):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} AS {rows} ORDER BY ordered_at")
    log.info("retention rollup rebuilt")


def _refresh_noted(cur: duckdb.DuckDBPyConnection, ticket_days: str, order_days: tuple[str, ...],
                   replies: tuple[str, str]) -> None:
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_TOUCHED} (customer_key UBIGINT)")
    # the rows of a day's tickets or orders now, and the rows kept here of those that may have left
    reached = [(ticket_days, (("tickets", "created_local_date"), (TABLE, "contacted_day"))),
               *((days, (("orders", "created_local_date"), (TABLE, "placed"), (ORDERS_TABLE, "placed")))
                 for days in order_days)]
    for days, sources in reached:
        picked = kept.noted_rows(cur, (days,))
        if picked is None:
            continue
        where, params = picked
        for source, column in sources:
            cur.execute(f"INSERT INTO {_TOUCHED} SELECT DISTINCT customer_key FROM {source} "
                        f"WHERE customer_key IS NOT NULL AND {where.format(day=column)}", params)
    touched = f"customer_key IN (SELECT DISTINCT customer_key FROM {_TOUCHED})"
    if cur.execute(f"SELECT EXISTS (SELECT 1 FROM {_TOUCHED})").fetchone()[0]:  # type: ignore[index]
        for table, rows in ((TABLE, _firsts(touched, replies)), (ORDERS_TABLE, _kept_orders(touched))):
            cur.execute(f"DELETE FROM {table} WHERE {touched}")
            cur.execute(f"INSERT INTO {table} {rows}")
    cur.execute(f"DROP TABLE {_TOUCHED}")
