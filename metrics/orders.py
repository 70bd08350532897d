"""The Orders & loyalty page's numbers beyond its KPIs: the contact rate (tickets per 100 orders) per value of an
order-side dimension, with the orders each value rests on.

Like the KPI, the rate counts only the view's days both exports cover (metrics.query ``shared_days``): on the others
one export adds its rows and the other none of its own.

A ticket reaches its order as ``metrics.query.ticket_reaches_order`` says: the order the linking step found
(data/linking.py), else the export's own order-number column. Orders count by order time in the view, tickets by
creation time; a ticket counts once per value even when its order has several lines with that value.
"""

from __future__ import annotations

import duckdb
import polars as pl

from data import contact_rollup, line_facts, order_rollup, rollups
from data.clock import local_time, rollup_holds
from metrics.query import Filters, execute, filter_on, in_view, on_shared_days, ticket_reaches_order, utc_bound
from settings import Settings

# the order time each table holds: an order line's is its order's, stored on the line (data/line_facts.py)
ORDER_TIME: dict[str, str] = {"orders": "created_at", "order_lines": line_facts.ORDER_TIME}
# dimension -> the table that holds it
CONTACT_DIMENSIONS: dict[str, str] = {name: table for name, (table, _) in contact_rollup.DIMENSIONS.items()}


def contact_rate_by(cur: duckdb.DuckDBPyConnection, filters: Filters, dimension: str,
                    settings: Settings, *, rollup: bool = True) -> pl.DataFrame:
    """Per value of ``dimension``: ``orders`` placed in the view with it, ``tickets`` created in the view about an
    order with it, and ``per_100`` = tickets per 100 of those orders, both on the view's days both exports cover;
    the most contacted first. Values with no
    order in the view are left out (no rate without a base); orders without a value are the value NULL's row. The
    tickets come from the contact rollup (data/contact_rollup.py) where it serves the view, and the orders from the
    order rollup's days (data/order_rollup.py) where it holds the data, unless ``rollup`` is False."""
    if dimension not in CONTACT_DIMENSIONS:
        raise ValueError(f"dimension must be one of {tuple(CONTACT_DIMENSIONS)}, not {dimension!r}")
    table = CONTACT_DIMENSIONS[dimension]
    # an order counts once per value: its one row, or its first line with the value (flagged on the line)
    first = f"WHERE {line_facts.FIRST_OF[dimension]}" if table == "order_lines" else ""
    placed = (placed_per_value("orders") if rollup and rollup_holds(cur, rollups.ORDERS, settings)
              else _placed(dimension, table, first))
    served = rollup and contact_rollup_serves(cur, filters, settings)
    asked = _asked_from_rollup() if served else _asked(dimension, table, first)
    sql = f"""
        WITH placed AS ({placed}),
        asked AS ({asked})
        SELECT p.value, p.orders, coalesce(a.tickets, 0) AS tickets,
               100.0 * coalesce(a.tickets, 0) / p.orders AS per_100
        FROM placed p LEFT JOIN asked a ON a.value IS NOT DISTINCT FROM p.value
        ORDER BY per_100 DESC, p.orders DESC, p.value NULLS LAST"""
    return execute(cur, sql, filters, settings, dimension=dimension)


def contact_rollup_serves(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings) -> bool:
    """The contact rollup holds the view's ticket filters (categories and channels, not priorities) and local days of
    its own clock."""
    held = not any(values for key, values in filters.dimension_values().items() if key not in contact_rollup.FILTERS)
    return held and rollup_holds(cur, rollups.CONTACTS, settings)


# the view's filters the contact rollup holds, on its rows (the other filters are empty where it serves)
IN_HELD_FILTERS = filter_on(contact_rollup.FILTERS)


def placed_per_value(column: str, where: str = "TRUE") -> str:
    """SQL: per value of ``$dimension`` (that meets ``where``), ``column`` of the order rollup's orders per day and
    value (``orders``, or the ``units`` sold) over the view's days both exports cover, added up."""
    return (f"SELECT value, sum({column})::BIGINT AS {column} FROM {order_rollup.VALUES_TABLE_BY_DAY} "
            f"WHERE dimension = $dimension AND created_day >= $start::DATE AND created_day < $end_excl::DATE "
            f"AND {on_shared_days('created_day')} AND {where} GROUP BY ALL")


def placed_in_view(ordered: str) -> str:
    """SQL: rows whose order time ``ordered`` (UTC) falls on a day of the view both exports cover."""
    return (f"{ordered} >= {utc_bound('$start')} AND {ordered} < {utc_bound('$end_excl')} "
            f"AND {on_shared_days(f'{local_time(ordered)}::DATE')}")


def _placed(dimension: str, table: str, first: str) -> str:
    """The same from the rows, the orders' or their lines'."""
    ordered = ORDER_TIME[table]
    counted = f"count(*) FILTER (WHERE {line_facts.FIRST_OF[dimension]})" if first else "count(*)"
    return f"SELECT {dimension} AS value, {counted} AS orders FROM {table} WHERE {placed_in_view(ordered)} GROUP BY ALL"


def _asked_from_rollup() -> str:
    """Per value, the tickets created in the view about an order with it: the days' counts added up."""
    return (f"SELECT value, sum(tickets) AS tickets FROM {contact_rollup.TABLE} WHERE dimension = $dimension "
            f"AND day >= $start::DATE AND day < $end_excl::DATE AND {on_shared_days('day')} AND {IN_HELD_FILTERS} "
            "GROUP BY ALL")


def _asked(dimension: str, table: str, first: str) -> str:
    """The same from the rows, for any filter. Tickets that name the same order (the same link columns) reach the
    same orders: they are counted per such group and each group joined once, where joining every ticket to every
    line of its order, then counting distinct tickets per value, took many seconds over millions of linked
    tickets. A group reaches an order once per value; a group without an order source may reach orders of several
    shops, hence the DISTINCT."""
    return f"""
        WITH groups AS (SELECT order_source, linked_order_id, order_id, count(*) AS tickets FROM tickets
                        WHERE {in_view('created_at')} AND {on_shared_days('created_local_date')}
                              AND coalesce(linked_order_id, order_id) IS NOT NULL
                        GROUP BY ALL),
        valued AS (SELECT source, order_id, {dimension} AS value FROM {table} {first}),
        reached AS (SELECT DISTINCT g.order_source, g.linked_order_id, g.order_id, g.tickets, v.value
                    FROM groups g JOIN valued v ON {ticket_reaches_order('g', 'v')})
        SELECT value, sum(tickets) AS tickets FROM reached GROUP BY ALL"""
