"""Each order line's order time (its order's ``created_at``), stored on the line (schema version 9).

What sold per product or vendor in a period counts the lines of the orders placed in it: read from the lines
alone, that is one filtered scan, where joining millions of lines to their orders on every cold page took seconds
(metrics.orders ``contact_rate_by``, metrics.complaints ``_sold``).

Kept right by every write: an import writes a changed order's lines with its time (data.ingest, in the INSERT); an
order whose time changed while its lines did not arrive again, and every order an undo removes or restores, is
noted (:func:`note_orders`) and :func:`refresh` copies the order's time to its lines in the same transaction (NULL
for lines left without an order). Clearing a source removes its orders and lines together.
"""

from __future__ import annotations

import duckdb

COLUMN = "order_created_at"  # on order_lines
TOUCHED = "order_times_touched"  # temp table: the orders whose lines' time a transaction's writes may have changed


def _copy(orders: str) -> str:
    """SQL: every line of the orders ``orders`` (SQL with ``source``, ``order_id``) given its order's time."""
    return f"""UPDATE order_lines l SET {COLUMN} = n.created_at
               FROM (SELECT t.source, t.order_id, o.created_at
                     FROM ({orders}) t LEFT JOIN orders o USING (source, order_id)) n
               WHERE l.source = n.source AND l.order_id = n.order_id AND l.{COLUMN} IS DISTINCT FROM n.created_at"""


FILL_ALL = _copy("SELECT source, order_id FROM orders")  # the migration that adds the column, on every line

# The orders an import rewrote with another creation time: their lines keep the old one unless they came again.
MOVED_BY_IMPORT = """SELECT source, order_id FROM orders o JOIN orders_replaced r USING (source, order_id)
                     WHERE o.import_id = $id AND r.replaced_by = $id AND o.created_at IS DISTINCT FROM r.created_at"""


def note_orders(cur: duckdb.DuckDBPyConnection, rows: str, params: dict[str, object]) -> None:
    """Note the orders of ``rows`` (SQL with ``source`` and ``order_id``), in the caller's transaction."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED} (source VARCHAR, order_id VARCHAR)")
    cur.execute(f"INSERT INTO {TOUCHED} SELECT DISTINCT source, order_id FROM ({rows})", params)


def refresh(cur: duckdb.DuckDBPyConnection) -> None:
    """The lines of every noted order given its time again; the notes cleared."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED} (source VARCHAR, order_id VARCHAR)")
    if cur.execute(f"SELECT EXISTS (SELECT 1 FROM {TOUCHED})").fetchone()[0]:  # type: ignore[index]
        cur.execute(_copy(f"SELECT DISTINCT source, order_id FROM {TOUCHED}"))
    cur.execute(f"DROP TABLE {TOUCHED}")
