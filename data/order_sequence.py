"""Each order's neighbours among its customer's orders, stored on the order row (schema version 8).

The repeat purchase rate and retention ask, per customer, how their orders fall in a period: grouping millions of
orders by customer on every cold page took seconds (the repeat purchase rate's histogram 20 s over two years at
five million orders). With each order's neighbours on its row they are filtered counts of one scan
(metrics.registry ``repeat_purchase_rate``, metrics.retention).

A customer's orders are ordered by creation time, then source and order id, so that orders of the same instant
still come one after another. Per order, for orders with a customer:

- ``customer_previous_at``, ``customer_second_previous_at``: the creation times of the one and two orders before
  it, cancelled ones included (the repeat purchase rate counts every order); an order is the customer's first in a
  period when the one before it is not in it, their second when the one before is and the one before that is not.
- ``kept_previous_at``: of a not cancelled order, the creation time of the not cancelled order before it;
  ``kept_next_at``: the first creation time of a not cancelled order strictly later than it (a second order at the
  same instant is not a return). Retention counts not cancelled orders only.
- the local dates of the first two, on the clock the warehouse records (data/clock.py works them out with the
  other clock columns).

Every write that adds, changes or removes orders notes the customers whose orders it touches, before and after
(:func:`note_customers`), and :func:`refresh` works their orders' neighbours out again in the same transaction.
"""

from __future__ import annotations

import duckdb

TOUCHED = "order_customers_touched"  # temp table: the customers a transaction's writes touched
# temp table: the placed local days of their orders, whose neighbours the order rollup counts (data/order_rollup.py
# works those days out again with its own noted ones)
RESEQUENCED_DAYS = "order_resequenced_days"
STORED_AT: tuple[str, ...] = ("customer_previous_at", "customer_second_previous_at", "kept_previous_at",
                              "kept_next_at")
KEPT = "CASE WHEN cancelled_at IS NULL THEN created_at END"  # a not cancelled order's time


def neighbours(where: str) -> str:
    """SQL: ``row`` (the order's rowid) and each stored column, for the orders with a customer that match
    ``where``. The customer's other orders must match too: their neighbours are among them."""
    order = "PARTITION BY customer_key ORDER BY created_at, source, order_id"
    later = "PARTITION BY customer_key ORDER BY created_at RANGE BETWEEN INTERVAL 1 MICROSECOND FOLLOWING " \
            "AND UNBOUNDED FOLLOWING"
    return f"""SELECT rowid AS row, lag(created_at) OVER ({order}) AS customer_previous_at,
                      lag(created_at, 2) OVER ({order}) AS customer_second_previous_at,
                      lag(created_local_date) OVER ({order}) AS customer_previous_local_date,
                      lag(created_local_date, 2) OVER ({order}) AS customer_second_previous_local_date,
                      CASE WHEN cancelled_at IS NULL THEN lag({KEPT} IGNORE NULLS) OVER ({order}) END
                          AS kept_previous_at,
                      CASE WHEN cancelled_at IS NULL THEN first_value({KEPT} IGNORE NULLS) OVER ({later}) END
                          AS kept_next_at
               FROM orders WHERE customer_key IS NOT NULL AND {where}"""


COLUMNS: tuple[str, ...] = (*STORED_AT, "customer_previous_local_date", "customer_second_previous_local_date")


def update(where: str) -> str:
    """SQL: the neighbours of the orders that match ``where`` (whole customers) written to their rows."""
    assignments = ", ".join(f"{name} = n.{name}" for name in COLUMNS)
    return f"UPDATE orders o SET {assignments} FROM ({neighbours(where)}) n WHERE o.rowid = n.row"


FILL_ALL = update("TRUE")  # the migration that adds the columns, on every order


def note_customers(cur: duckdb.DuckDBPyConnection, rows: str, params: dict[str, object]) -> None:
    """Note the customers of ``rows`` (SQL with a ``customer_key`` column): orders about to change or just
    changed, in the caller's transaction."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED} (customer_key UBIGINT)")
    cur.execute(f"INSERT INTO {TOUCHED} SELECT DISTINCT customer_key FROM ({rows}) WHERE customer_key IS NOT NULL",
                params)


def refresh(cur: duckdb.DuckDBPyConnection) -> None:
    """The neighbours of every order of the noted customers worked out again, and their orders' placed days noted
    (:data:`RESEQUENCED_DAYS`); the customers' notes cleared."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED} (customer_key UBIGINT)")
    if cur.execute(f"SELECT EXISTS (SELECT 1 FROM {TOUCHED})").fetchone()[0]:
        touched = f"customer_key IN (SELECT customer_key FROM {TOUCHED})"
        cur.execute(update(touched))
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {RESEQUENCED_DAYS} (day DATE)")
        cur.execute(f"INSERT INTO {RESEQUENCED_DAYS} SELECT DISTINCT created_local_date FROM orders "
                    f"WHERE {touched} AND created_local_date IS NOT NULL")
    cur.execute(f"DROP TABLE {TOUCHED}")
