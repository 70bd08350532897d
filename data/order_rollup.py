"""The order rollup: every fulfilled order's fulfilment lag, kept so that a median or p90 of it reads a few buckets
of values instead of every order, and the order KPIs' parts per day.

``order_lag_values`` holds the lag in hours (:data:`LAG`) of each order with a valid one (:data:`VALID`), with its
bucket (data.rollups ``bucket``: monotone in the value), the local day it was placed and the local day it was
fulfilled, stored in bucket order; ``order_lag_buckets`` counts them per (placed day, fulfilled day, bucket). A
median over some days reads the counts, which say which bucket holds each rank ``quantile_cont`` interpolates
between and how many values come before it, then sorts only those buckets' values (metrics/lag_quantiles.py): the
technique of the ticket rollup's medians (data/rollups.py), where a median over the orders' rows sorted every
fulfilled order of the view (0.3-0.4 s per statement at five million orders). Both local days are kept, since the
fulfilment KPIs place an order by when it was placed and the where-is-my-order chart by when it was fulfilled.

Beside them, per placed local day: ``order_day_parts`` (:data:`PARTS`, also per fulfilled day, currency and source)
and ``order_day_customers`` (:data:`BEFORE`), the additive parts of the order KPIs the Orders page's tiles read
(metrics/order_parts.py), a few thousand and a few hundred thousand rows at five million orders.

Kept as data/kept.py keeps every such family (:func:`family`), in the transaction of every write: data.rollups
``bump_version``, which every writer calls. A writer that changes orders (import, undo, clearing a source:
data/ingest.py) notes the local days they were placed on before and after (:func:`note_days`: an order's values
are keyed by its placed day, so those days hold all it changed); the noted days are worked out again where the
rollup was current before the write, else (a clock change moves every local day, and the clock is part of its
mark) it is built whole. A reader uses it only while its mark is the data version and clock now: a writer that
bumps the version another way leaves it unused (slower, never wrong) until the next write or start builds it
whole. Like the order lines' facts (data/line_facts.py), a writer that changes orders must note them: one that did
not would leave their days as they were (tests/test_order_rollup.py checks every writer that changes orders).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

import duckdb

from data import contact_rollup, kept, order_sequence

log = logging.getLogger(__name__)

# As metrics.registry declares the fulfilment lag (LAG_HOURS, LAG_VALID): a reader serves only KPIs with this text
LAG = "(epoch(fulfilled_at) - epoch(created_at)) / 3600.0"
VALID = "fulfilled_at >= created_at"
VALUES_TABLE = "order_lag_values"
BUCKETS_TABLE = "order_lag_buckets"
# the day columns of both tables -> the orders' local day they hold (data/clock.py)
DAY_OF: dict[str, str] = {"created_day": "created_local_date", "fulfilled_day": "fulfilled_local_date"}
# Per placed local day, fulfilled local day, currency and source: the additive parts of the order KPIs the Orders
# page's tiles read (metrics/order_parts.py matches the KPIs to them), a few thousand rows where the KPIs scanned
# every order three times. The source is kept so that "of the exports that record refunds" (a whole-table list of
# sources) is worked out when a KPI reads the parts, as it is over the orders' rows.
PARTS_TABLE = "order_day_parts"
PARTS_KEYS: dict[str, str] = {"created_day": "created_local_date", "fulfilled_day": "fulfilled_local_date",
                              "currency": "currency", "source": "source"}
SALES = "gross_sales - coalesce(discounts, 0)"
ORDER_VALUE = f"coalesce(total, {SALES})"  # what the customer was charged (metrics.registry ORDER_VALUE)
PARTS: dict[str, str] = {
    "n": "count(*)",
    "refunded": "count(*) FILTER (WHERE refunded_amount > 0)",
    "sales_sum": f"sum({SALES})",
    "sales_n": f"count({SALES})",
    "net_sum": f"sum({SALES} - coalesce(refunded_amount, 0))",
    "refunded_sum": "sum(refunded_amount)",
    "refunded_charged": f"sum({ORDER_VALUE}) FILTER (WHERE refunded_amount IS NOT NULL)",
}
# Per placed local day, the orders with a customer counted by the local day of the customer's order before them
# (``kind`` 'previous') and of the one before that ('second'), NULL for none: how many of a period's orders are a
# customer's first or second in it depends on the period's first day, which a count of these gives for any day.
CUSTOMERS_TABLE = "order_day_customers"
BEFORE: dict[str, str] = {"previous": "customer_previous_local_date",
                          "second": "customer_second_previous_local_date"}
# Per placed local day, order dimension of the contact rate (data.contact_rollup ``DIMENSIONS``) and value: the
# orders placed that day with it, once per value (an order's first line with it, for a line's value), and the units
# sold (a line's quantities; an order-side value's orders). The contact rate per value (metrics.orders
# ``contact_rate_by``) and complaints per unit sold (metrics.complaints ``by_order_dimension``) counted every line of
# the view: 8.6 million over two years at five million orders, where this is tens of thousands of rows.
VALUES_TABLE_BY_DAY = "order_day_values"
META_KEY = "order_rollup"
CLOCK_KEY = "clock"  # data.clock.META_KEY: the clock the local days were worked out on (data.clock imports our caller)
_DAYS = "order_rollup_days"  # temp table: the placed days a transaction's writes touched
Bucket = Callable[[str], str]  # data.rollups.bucket, handed in: data.rollups calls this module


def signature(bucket: Bucket) -> str:
    declared = [LAG, VALID, VALUES_TABLE, BUCKETS_TABLE, DAY_OF, bucket("v"), PARTS_TABLE, PARTS_KEYS, PARTS,
                CUSTOMERS_TABLE, BEFORE, VALUES_TABLE_BY_DAY, _day_values("{where}")]
    return hashlib.sha256(json.dumps(declared).encode()).hexdigest()[:16]


def note_days(cur: duckdb.DuckDBPyConnection, rows_sql: str, params: dict[str, object] | None = None) -> None:
    """Remember the placed days (``created_local_date``) of the orders ``rows_sql`` selects, for data.rollups
    ``bump_version`` to work out again: before a change for the days orders leave, after it for those they reach."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_DAYS} (day DATE)")
    cur.execute(f"INSERT INTO {_DAYS} SELECT DISTINCT created_local_date FROM ({rows_sql}) "
                "WHERE created_local_date IS NOT NULL", params or {})


def family(bucket: Bucket) -> kept.Family:
    """The order rollup as data/kept.py keeps it: its placed days noted, on the clock the warehouse records (a
    clock change moves every local day: stale, so built whole); a write of tickets only notes no order day."""
    return kept.Family("orders", META_KEY, signature(bucket), (_DAYS, order_sequence.RESEQUENCED_DAYS),
                       lambda cur: rebuild(cur, bucket),
                       lambda cur: _refresh_noted(cur, bucket), depends_on=(CLOCK_KEY,), rebuilt_by_everything=False)


def rebuild(cur: duckdb.DuckDBPyConnection, bucket: Bucket) -> None:
    """Every table from every order; the values in bucket order, so that a reader of a few buckets skips the other
    row groups by their min/max (a refresh appends the days it works out again out of that order until the next
    rebuild)."""
    for table in (VALUES_TABLE, BUCKETS_TABLE, PARTS_TABLE, CUSTOMERS_TABLE, VALUES_TABLE_BY_DAY):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {VALUES_TABLE} AS {_values('TRUE', bucket)} ORDER BY bucket, created_day")
    cur.execute(f"CREATE TABLE {BUCKETS_TABLE} AS {_buckets('TRUE')} ORDER BY created_day, fulfilled_day")
    cur.execute(f"CREATE TABLE {PARTS_TABLE} AS {_parts('TRUE')} ORDER BY created_day")
    cur.execute(f"CREATE TABLE {CUSTOMERS_TABLE} AS {_customers('TRUE')} ORDER BY created_day")
    cur.execute(f"CREATE TABLE {VALUES_TABLE_BY_DAY} AS {_day_values('TRUE')} ORDER BY dimension, created_day")
    log.info("order rollup rebuilt")


def _refresh_noted(cur: duckdb.DuckDBPyConnection, bucket: Bucket) -> None:
    # the placed days of the orders whose customer neighbours changed (data/order_sequence.py), with ours
    picked = kept.noted_rows(cur, (_DAYS, order_sequence.RESEQUENCED_DAYS))
    if picked is None:
        return  # no order changed
    noted, params = picked
    placed = noted.format(day=DAY_OF["created_day"])
    for table, source in ((VALUES_TABLE, _values(placed, bucket)),
                          (BUCKETS_TABLE, _buckets(noted.format(day="created_day"))),
                          (PARTS_TABLE, _parts(placed)), (CUSTOMERS_TABLE, _customers(placed)),
                          (VALUES_TABLE_BY_DAY, _day_values(placed))):
        cur.execute(f"DELETE FROM {table} WHERE {noted.format(day='created_day')}", params)
        cur.execute(f"INSERT INTO {table} {source}", params)


def _values(where: str, bucket: Bucket) -> str:
    days = ", ".join(f"{column} AS {name}" for name, column in DAY_OF.items())
    return (f"SELECT {bucket(LAG)} AS bucket, {days}, {LAG} AS value FROM orders "
            f"WHERE {VALID} AND {where}")


def _buckets(where: str) -> str:
    return f"SELECT created_day, fulfilled_day, bucket, count(*) AS n FROM {VALUES_TABLE} WHERE {where} GROUP BY ALL"


def _parts(where: str) -> str:
    keys = ", ".join(f"{column} AS {name}" for name, column in PARTS_KEYS.items())
    parts = ", ".join(f"{sql} AS {name}" for name, sql in PARTS.items())
    return f"SELECT {keys}, {parts} FROM orders WHERE {where} GROUP BY ALL"


def _customers(where: str) -> str:
    return " UNION ALL ".join(
        f"SELECT created_local_date AS created_day, '{kind}' AS kind, {column} AS before, count(*) AS n FROM orders "
        f"WHERE customer_key IS NOT NULL AND {where} GROUP BY ALL" for kind, column in BEFORE.items())


def _day_values(where: str) -> str:
    """SQL: per placed day, dimension and value, the orders that meet ``where`` (about ``orders``) with it and the
    units sold. A line takes its order's placed day from the order: only the order knows its local day. Every value
    of an order's lines has one first line (NULL too), so the lines give the same values as their first lines."""
    counts = []
    for dimension, (table, first_of) in contact_rollup.DIMENSIONS.items():
        if table == "order_lines":
            source = ("orders JOIN order_lines l ON l.source = orders.source AND l.order_id = orders.order_id",
                      f"l.{dimension}", f"count(*) FILTER (WHERE l.{first_of})", "sum(l.quantity)")
        else:
            source = ("orders", dimension, "count(*)", "count(*)")
        joined, value, orders, units = source
        counts.append(f"SELECT created_local_date AS created_day, '{dimension}' AS dimension, {value} AS value, "
                      f"{orders} AS orders, ({units})::BIGINT AS units FROM {joined} WHERE {where} GROUP BY ALL")
    return " UNION ALL ".join(counts)
