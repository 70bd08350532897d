"""The money rollup: the Orders page's refunds of orders some ticket links to against the others ("money at stake",
metrics.orders_links ``_refunds``), as additive parts per placed local day, currency, source and ``with_tickets``.

Over the rows, every order of the view was tested against the set of every linked order (0.6-0.9 s at five million
orders and ten million tickets, four in ten linked): which orders tickets link to changes with ticket writes (of any
ticket day), and an order's values with order writes (of its placed day). So two tables:

* ``money_links``: per ticket local day (created), the orders tickets created that day link to (``order_source``,
  ``linked_order_id``, both set: what the raw query tests). A ticket writer notes its tickets' days (data.rollups
  ``note_days``): their rows are read before they are worked out again, so the orders they linked to before the write
  and those they link to after it are known: only those orders may have changed ``with_tickets``.
* ``money_parts``: per placed local day, currency, source and ``with_tickets`` (:data:`PARTS`), worked out again for
  the placed days an order writer noted (data/order_rollup.py ``note_days``) and those of the orders above.

Kept as a family of data/kept.py (data.rollups ``FAMILIES``) in every writer's transaction; on the clock the
warehouse records (a clock change moves every local day: stale, built whole). A reader uses it only while it is
marked current and the view's clock is the recorded one. Amounts are DECIMAL: the sums of the parts are the sums of
the rows, exactly (tests/test_money_rollup.py compares every value after every writer).
"""

from __future__ import annotations

import hashlib
import json
import logging

import duckdb

from data import kept
from data.order_rollup import CLOCK_KEY, ORDER_VALUE

log = logging.getLogger(__name__)

LINKS_TABLE = "money_links"
PARTS_TABLE = "money_parts"
META_KEY = "money_rollup"
_TOUCHED = "money_touched_orders"  # temp: the orders whose with_tickets a ticket write may have changed
# an order some ticket links to, as the raw query tests it (metrics.orders_links ``_refunds``)
LINKED = "order_source IS NOT NULL AND linked_order_id IS NOT NULL"
WITH_TICKETS = f"(source, order_id) IN (SELECT order_source, linked_order_id FROM {LINKS_TABLE})"
PARTS: dict[str, str] = {
    "n": "count(*)",
    "refunded": "count(*) FILTER (WHERE refunded_amount > 0)",
    "measured": "count(refunded_amount)",  # the sample of avg((refunded_amount > 0)::INT)
    "order_value": f"sum({ORDER_VALUE}) FILTER (WHERE refunded_amount IS NOT NULL)",
    "refunded_value": f"sum(refunded_amount) FILTER (WHERE {ORDER_VALUE} IS NOT NULL)",
}


def _links(where: str) -> str:
    """SQL: the distinct linked orders per ticket created day, of the tickets whose day meets ``where``."""
    return (f"SELECT DISTINCT created_local_date AS day, order_source, linked_order_id FROM tickets "
            f"WHERE {LINKED} AND {where}")


def _parts(where: str) -> str:
    """SQL: the parts per placed day, currency, source and with_tickets, of the orders whose day meets ``where``
    (over ``money_links`` as it is: build it first)."""
    parts = ", ".join(f"{sql} AS {name}" for name, sql in PARTS.items())
    return (f"SELECT created_local_date AS day, currency, source, {WITH_TICKETS} AS with_tickets, {parts} "
            f"FROM orders WHERE {where} GROUP BY ALL")


_DECLARED = json.dumps([LINKS_TABLE, PARTS_TABLE, _links("{where}"), _parts("{where}")])
SIGNATURE = hashlib.sha256(_DECLARED.encode()).hexdigest()[:16]


def family(ticket_days: str, order_days: str) -> kept.Family:
    """The money rollup as data/kept.py keeps it: the noted ticket days' links worked out again, then the noted
    order days' parts and those of the orders the changed links name."""
    return kept.Family("money", META_KEY, SIGNATURE, (ticket_days, order_days), rebuild,
                       lambda cur: _refresh_noted(cur, ticket_days, order_days), depends_on=(CLOCK_KEY,))


def rebuild(cur: duckdb.DuckDBPyConnection) -> None:
    for table in (LINKS_TABLE, PARTS_TABLE):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {LINKS_TABLE} AS {_links('TRUE')} ORDER BY day")
    cur.execute(f"CREATE TABLE {PARTS_TABLE} AS {_parts('TRUE')} ORDER BY day")
    log.info("money rollup rebuilt")


def _noted(days_table: str) -> str:
    # constant bounds first, so that DuckDB skips the row groups outside them; the list of days then picks the rows
    return f"{{day}} BETWEEN $first AND $last AND {{day}} IN (SELECT day FROM {days_table})"


def _refresh_noted(cur: duckdb.DuckDBPyConnection, ticket_days: str, order_days: str) -> None:
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_TOUCHED} (order_source VARCHAR, linked_order_id VARCHAR)")
    first, last = kept.noted_days(cur, (ticket_days,))
    if first is not None:  # the orders the noted days' tickets linked to before the write, and link to now
        noted, params = _noted(ticket_days), {"first": first, "last": last}
        cur.execute(f"INSERT INTO {_TOUCHED} SELECT order_source, linked_order_id FROM {LINKS_TABLE} "
                    f"WHERE {noted.format(day='day')}", params)
        cur.execute(f"DELETE FROM {LINKS_TABLE} WHERE {noted.format(day='day')}", params)
        cur.execute(f"INSERT INTO {LINKS_TABLE} {_links(noted.format(day='created_local_date'))}", params)
        cur.execute(f"INSERT INTO {_TOUCHED} SELECT order_source, linked_order_id FROM {LINKS_TABLE} "
                    f"WHERE {noted.format(day='day')}", params)
    kept.noted_days(cur, (order_days,))  # made where no order writer noted any
    placed = "money_placed_days"
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {placed} AS SELECT day FROM {order_days} UNION "
                f"SELECT DISTINCT o.created_local_date FROM orders o SEMI JOIN {_TOUCHED} t "
                f"ON o.source = t.order_source AND o.order_id = t.linked_order_id")
    first, last = kept.noted_days(cur, (placed,))
    if first is not None:
        noted, params = _noted(placed), {"first": first, "last": last}
        cur.execute(f"DELETE FROM {PARTS_TABLE} WHERE {noted.format(day='day')}", params)
        cur.execute(f"INSERT INTO {PARTS_TABLE} {_parts(noted.format(day='created_local_date'))}", params)
    for table in (_TOUCHED, placed):
        cur.execute(f"DROP TABLE {table}")
