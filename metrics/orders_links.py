"""Tickets against the orders they are about (linked by data/linking.py): how tickets were linked, and the money
tied to them. Money is per currency, never added across currencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from data import contact_rollup, money_rollup, rollups
from data.clock import rollup_holds
from metrics.orders import IN_HELD_FILTERS, contact_rollup_serves
from metrics.query import Filters, dimension_filter, execute, filter_on, in_view, utc_bound
from metrics.registry import ORDER_VALUE, STILL_OPEN
from settings import Settings

LINK_METHODS = ("order_number", "text", "customer", "none")  # in order of trust; none: no order found
LINK_LABELS = {"order_number": "Order-number column", "text": "Order number in the text",
               "customer": "Customer's recent order", "none": "No order found"}


def link_shares(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *,
                rollup: bool = True) -> pl.DataFrame:
    """The view's tickets by how they were linked to an order (``order_link``: every method, none included, in order
    of trust), with their share of the view; no rows when the view has no tickets. Counted per day in the contact
    rollup (data/contact_rollup.py) where it serves the view, unless ``rollup`` is False."""
    counted = (f"SELECT value AS order_link, sum(tickets)::BIGINT AS tickets FROM {contact_rollup.TABLE} "
               f"WHERE dimension = '{contact_rollup.LINKED_BY}' AND day >= $start::DATE AND day < $end_excl::DATE "
               f"AND {IN_HELD_FILTERS} GROUP BY ALL" if rollup and contact_rollup_serves(cur, filters, settings) else
               f"SELECT coalesce(order_link, 'none') AS order_link, count(*) AS tickets FROM tickets "
               f"WHERE {in_view('created_at')} GROUP BY ALL")
    sql = f"""WITH counted AS ({counted})
              SELECT m.order_link, coalesce(c.tickets, 0) AS tickets,
                     coalesce(c.tickets, 0) / sum(c.tickets) OVER () AS share
              FROM unnest($methods::VARCHAR[]) WITH ORDINALITY AS m(order_link, trust)
              LEFT JOIN counted c USING (order_link)
              WHERE EXISTS (SELECT 1 FROM counted) ORDER BY m.trust"""
    return execute(cur, sql, filters, settings, methods=list(LINK_METHODS))


@dataclass(frozen=True)
class MoneyAtStake:
    # per currency and with_tickets (an order some ticket links to, or not): orders, refunded_orders, refund_rate,
    # order_value, refunded_value, refund_rate_by_value; a rate is null where the export gives no refunds
    refunds: pl.DataFrame
    # per currency: the orders that tickets open at the view's end link to, those tickets, and the orders' value
    waiting: pl.DataFrame
    open_tickets: int  # open at the view's end, linked or not
    open_unlinked: int  # of which linked to no order: their value is unknown, not 0


def money_at_stake(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings) -> MoneyAtStake:
    """The refund rate of the view's orders with tickets against those without (by count and by value, per currency);
    the value of the orders behind tickets still open at the view's end: "revenue waiting on an answer"."""
    return MoneyAtStake(_refunds(cur, filters, settings), _waiting(cur, filters, settings),
                        *_open_counts(cur, filters, settings))


def _refunds(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *,
             rollup: bool = True) -> pl.DataFrame:
    """Per currency and with_tickets; from the money rollup's parts per placed day (data/money_rollup.py) where it
    serves, unless ``rollup`` is False. No ticket filter applies: any ticket links an order to tickets."""
    if rollup and _current(cur, settings):
        return execute(cur, _REFUNDS_FROM_PARTS, filters, settings)
    return execute(cur, _REFUNDS_FROM_ROWS, filters, settings)


# any ticket linked to the order counts, whenever it was created: a ticket after the view is still about it.
# One set of the linked orders, where a correlated EXISTS took 3.5 s over five million orders; its two columns
# compared as a row, which took 0.6-0.8 times as long as comparing one struct of them (no struct per row)
_REFUNDS_FROM_ROWS = f"""
    SELECT currency, (source, order_id) IN (SELECT order_source, linked_order_id FROM tickets
                                            WHERE order_source IS NOT NULL
                                              AND linked_order_id IS NOT NULL) AS with_tickets,
           count(*) AS orders, count(*) FILTER (WHERE refunded_amount > 0) AS refunded_orders,
           avg((refunded_amount > 0)::INT) AS refund_rate,
           sum({ORDER_VALUE}) FILTER (WHERE refunded_amount IS NOT NULL) AS order_value,
           sum(refunded_amount) FILTER (WHERE {ORDER_VALUE} IS NOT NULL) AS refunded_value,
           (refunded_value / nullif(order_value, 0))::DOUBLE AS refund_rate_by_value
    FROM orders o WHERE {in_view('created_at', 'orders')}
    GROUP BY ALL ORDER BY currency, with_tickets DESC"""
# the same from the parts: avg of an INT is its sum over its count as DOUBLE; sums of DECIMALs add up exactly
_REFUNDS_FROM_PARTS = f"""
    SELECT currency, with_tickets, sum(n)::BIGINT AS orders, sum(refunded)::BIGINT AS refunded_orders,
           sum(refunded)::DOUBLE / nullif(sum(measured), 0)::DOUBLE AS refund_rate,
           sum(order_value) AS order_value, sum(refunded_value) AS refunded_value,
           (sum(refunded_value) / nullif(sum(order_value), 0))::DOUBLE AS refund_rate_by_value
    FROM {money_rollup.PARTS_TABLE} WHERE day >= $start::DATE AND day < $end_excl::DATE
    GROUP BY ALL ORDER BY currency, with_tickets DESC"""


# open at the view's end, as the backlog counts: created before it, not solved by then (by time, or by status where
# the export gives no solve time)
_OPEN_AT_END = (f"created_at < {utc_bound('$end_excl')} AND {dimension_filter('tickets')} "
                f"AND (solved_at >= {utc_bound('$end_excl')} OR ({STILL_OPEN}))")


def _waiting(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *,
             rollup: bool = True) -> pl.DataFrame:
    """Per currency; from the money rollup's steps (data/money_rollup.py) where it serves a view without ticket
    filters, or each channel's steps with one channel chosen, unless ``rollup`` is False."""
    if not (rollup and _serves(cur, filters, settings, channels=1)):
        return execute(cur, _WAITING_FROM_ROWS, filters, settings)
    by_channel = bool(filters.channel)
    return execute(cur, _WAITING_FROM_STEPS.format(
        table=money_rollup.WAITING_BY_CHANNEL_TABLE if by_channel else money_rollup.WAITING_TABLE,
        channel=_IN_CHANNELS if by_channel else "TRUE"), filters, settings)


# an order two open tickets wait on counts once
_WAITING_FROM_ROWS = f"""
    SELECT o.currency, count(*) AS orders, sum(t.open_tickets) AS open_tickets, sum({ORDER_VALUE}) AS order_value
    FROM (SELECT order_source, linked_order_id, count(*) AS open_tickets FROM tickets
          WHERE {_OPEN_AT_END} AND linked_order_id IS NOT NULL GROUP BY ALL) t
    JOIN orders o ON o.source = t.order_source AND o.order_id = t.linked_order_id
    GROUP BY ALL ORDER BY o.currency"""
# the steps up to the view's end: a sum of no value is NULL, as over the rows
_WAITING_FROM_STEPS = """
    SELECT currency, sum(orders)::BIGINT AS orders, sum(tickets)::HUGEINT AS open_tickets,
           CASE WHEN sum(valued) > 0 THEN sum(value) END AS order_value
    FROM {table} WHERE day <= $end_excl::DATE AND {channel}
    GROUP BY currency HAVING sum(orders) > 0 ORDER BY currency"""
# the view's channels on the rows of the money rollup's tables that hold them
_IN_CHANNELS = filter_on(("channel",))


def _open_counts(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *,
                 rollup: bool = True) -> tuple[int, int]:
    if rollup and _serves(cur, filters, settings, channels=None):
        sql = (f"SELECT coalesce(sum(tickets), 0), coalesce(sum(tickets) FILTER (WHERE unlinked), 0) "
               f"FROM {money_rollup.OPEN_TABLE} "
               f"WHERE day < $end_excl::DATE AND (solved >= $end_excl::DATE OR still_open) AND {_IN_CHANNELS}")
    else:
        sql = f"SELECT count(*), count(*) FILTER (WHERE linked_order_id IS NULL) FROM tickets WHERE {_OPEN_AT_END}"
    row = execute(cur, sql, filters, settings).row(0)
    return int(row[0]), int(row[1])


def _serves(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, *, channels: int | None) -> bool:
    """The money rollup holds no category or priority filter, channels up to ``channels`` (None: any number), and
    local days of its own clock."""
    held = not filters.category and not filters.priority
    return held and (channels is None or len(filters.channel) <= channels) and _current(cur, settings)


def _current(cur: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    return rollup_holds(cur, rollups.MONEY, settings)
