"""What each order line stores about its order (schema version 9): the order's creation time, and whether the line
is the order's first with its SKU and with its vendor (by line number).

What sold per product or vendor in a period counts the lines, or the distinct orders, of the orders placed in it.
With these on the line that is one filtered scan and a count of flagged lines, where joining millions of lines to
their orders, then counting distinct orders per value, took seconds on every cold page (metrics.orders
``contact_rate_by``, metrics.complaints ``_sold``).

Kept right by every write. An import writes a changed order's lines whole, with their facts (:func:`arriving`, in
the INSERT). An order whose time changed while its lines did not come again, and every order an undo removes or
restores, is noted (:func:`note_orders`), and :func:`refresh` works its lines' facts out again in the same
transaction (a NULL time for lines left without an order). Clearing a source removes its orders and lines together.
"""

from __future__ import annotations

import duckdb

ORDER_TIME = "order_created_at"
# the dimension -> the column flagging the order's first line with its value (NULL is a value, as GROUP BY has it)
FIRST_OF: dict[str, str] = {"sku": "first_of_sku", "vendor": "first_of_vendor"}
COLUMNS: tuple[str, ...] = (ORDER_TIME, *FIRST_OF.values())
TOUCHED = "order_lines_touched"  # temp table: the orders whose lines' facts a transaction's writes may have changed


def _flags(lines: str) -> dict[str, str]:
    """Each flag's SQL over the lines aliased ``lines``, all of whose order's lines are in the same query."""
    return {flag: f"row_number() OVER (PARTITION BY {lines}.source, {lines}.order_id, {lines}.{dimension} "
                  f"ORDER BY {lines}.line_number) = 1" for dimension, flag in FIRST_OF.items()}


def arriving(lines: str, order_time: str) -> dict[str, str]:
    """Each stored column's SQL for lines aliased ``lines`` arriving whole with their orders, whose creation time
    is ``order_time``."""
    return {ORDER_TIME: order_time, **_flags(lines)}


def _update(where: str) -> str:
    """SQL: the facts of every line that matches ``where`` (about the lines ``l``: whole orders) written to it."""
    facts = ", ".join(f"{sql} AS {name}" for name, sql in arriving("l", "o.created_at").items())
    assignments = ", ".join(f"{name} = n.{name}" for name in COLUMNS)
    differs = " OR ".join(f"l.{name} IS DISTINCT FROM n.{name}" for name in COLUMNS)
    return f"""UPDATE order_lines l SET {assignments}
               FROM (SELECT l.rowid AS row, {facts}
                     FROM order_lines l LEFT JOIN orders o USING (source, order_id) WHERE {where}) n
               WHERE l.rowid = n.row AND ({differs})"""


FILL_ALL = _update("TRUE")  # the migration that adds the columns

# The orders an import rewrote with another creation time: their lines keep the old one unless they came again.
MOVED_BY_IMPORT = """SELECT source, order_id FROM orders o JOIN orders_replaced r USING (source, order_id)
                     WHERE o.import_id = $id AND r.replaced_by = $id AND o.created_at IS DISTINCT FROM r.created_at"""


def note_orders(cur: duckdb.DuckDBPyConnection, rows: str, params: dict[str, object]) -> None:
    """Note the orders of ``rows`` (SQL with ``source`` and ``order_id``), in the caller's transaction."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED} (source VARCHAR, order_id VARCHAR)")
    cur.execute(f"INSERT INTO {TOUCHED} SELECT DISTINCT source, order_id FROM ({rows})", params)


def refresh(cur: duckdb.DuckDBPyConnection) -> None:
    """The facts of every noted order's lines worked out again; the notes cleared."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED} (source VARCHAR, order_id VARCHAR)")
    if cur.execute(f"SELECT EXISTS (SELECT 1 FROM {TOUCHED})").fetchone()[0]:  # type: ignore[index]
        cur.execute(_update(f"(l.source, l.order_id) IN (SELECT source, order_id FROM {TOUCHED})"))
    cur.execute(f"DROP TABLE {TOUCHED}")
