"""Slow shipping against "where is my order" tickets, week by week.

A week is a local Monday-to-Sunday week of the account's clock. An order counts in the week it was fulfilled (its
``fulfilled_at``), a ticket in the week it was created. The fulfilment lag is order created → fulfilled, in hours;
an order "fulfilled" before it was created is an impossible value and is kept out of both the count and the lag.
"""

from __future__ import annotations

import duckdb
import polars as pl

from metrics.query import Filters, execute, in_view, tickets_cover
from settings import Settings

WISMO = "shipping_status"  # the taxonomy's "where is my order" category
DEFINITION = ("“Where is my order” tickets (category shipping status, by creation week) per 100 orders fulfilled "
              "that week, beside the median hours from order to fulfilment of those orders; weeks start on Monday, "
              "account time zone.")
FULFILMENT_KNOWN = "EXISTS (SELECT 1 FROM orders WHERE fulfilled_at IS NOT NULL)"
# a week the helpdesk export does not reach has unknown tickets, not none
WEEK_COVERED = tickets_cover("timezone('UTC', timezone($tz, greatest(week, $start::DATE)::TIMESTAMP))",
                             "timezone('UTC', timezone($tz, least(week + INTERVAL 7 DAY, $end_excl::TIMESTAMP)))")


def wismo_against_lag(cur: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings) -> pl.DataFrame:
    """One row per week of the view: ``week`` (its Monday), ``fulfilled_orders``, ``lag_hours_median``,
    ``wismo_tickets``, ``tickets``, ``wismo_per_100_fulfilled`` and ``wismo_share`` (of the week's tickets).

    Counts are NULL (unknown), not 0, where no loaded export gives them: order counts without an orders export that
    says when orders were fulfilled, ticket counts of weeks no helpdesk export reaches. The ticket filters of the view
    (channel, category, priority) apply to the tickets.
    """
    sql = f"""
        WITH weeks AS (
            SELECT r::DATE AS week FROM range(date_trunc('week', $start::DATE)::TIMESTAMP, $end_excl::TIMESTAMP,
                                              INTERVAL 1 week) t(r)),
        fulfilled AS (
            SELECT date_trunc('week', fulfilled_local_date)::DATE AS week, count(*) AS fulfilled_orders,
                   median(epoch(fulfilled_at - created_at) / 3600.0) AS lag_hours_median
            FROM orders WHERE {in_view('fulfilled_at', 'orders')} AND fulfilled_at >= created_at GROUP BY 1),
        asked AS (
            SELECT date_trunc('week', created_local_date)::DATE AS week, count(*) AS tickets,
                   count(*) FILTER (WHERE category = $wismo) AS wismo_tickets
            FROM tickets WHERE {in_view('created_at')} GROUP BY 1),
        counted AS (
            SELECT week,
                   CASE WHEN {FULFILMENT_KNOWN} THEN coalesce(fulfilled_orders, 0) END AS fulfilled_orders,
                   lag_hours_median,
                   CASE WHEN {WEEK_COVERED} THEN coalesce(wismo_tickets, 0) END AS wismo_tickets,
                   CASE WHEN {WEEK_COVERED} THEN coalesce(tickets, 0) END AS tickets
            FROM weeks LEFT JOIN fulfilled USING (week) LEFT JOIN asked USING (week))
        SELECT *, 100.0 * wismo_tickets / nullif(fulfilled_orders, 0) AS wismo_per_100_fulfilled,
               wismo_tickets / nullif(tickets, 0) AS wismo_share
        FROM counted ORDER BY week"""
    return execute(cur, sql, filters, settings, wismo=WISMO)
