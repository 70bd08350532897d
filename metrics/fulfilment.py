"""Slow shipping against "where is my order" tickets, week by week.

A week is a local Monday-to-Sunday week of the account's clock. An order counts in the week it was fulfilled (its
``fulfilled_at``), a ticket in the week it was created. The fulfilment lag is order created → fulfilled, in hours;
an order "fulfilled" before it was created is an impossible value and is kept out of both the count and the lag.
"""

from __future__ import annotations

import duckdb
import polars as pl

from data import order_rollup
from metrics import lag_quantiles
from metrics.query import Filters, execute, in_view, on_shared_days, plan
from metrics.registry import FULFILMENT_KNOWN, LAG_HOURS, LAG_VALID
from settings import Settings

DEFINITION = ("“Where is my order” tickets (category shipping status, by creation week) per 100 orders fulfilled "
              "that week, over the days both the helpdesk export and the orders export cover, beside the median hours "
              "from order to fulfilment of the week's orders; weeks start on Monday, account time zone.")


def wismo_against_lag(cur: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings) -> pl.DataFrame:
    """One row per week of the view: ``week`` (its Monday), ``fulfilled_orders``, ``lag_hours_median``,
    ``wismo_tickets``, ``tickets``, ``wismo_per_100_fulfilled`` and ``wismo_share`` (of the week's tickets). The rate
    divides the counts of the week's days both exports cover (``wismo_tickets_shared_days`` and
    ``fulfilled_orders_shared_days``, as the KPI does: metrics.query ``shared_days``), where a week one export only
    partly reaches would set the other's whole week against part of its own.

    Counts are NULL (unknown), not 0, where no loaded export gives them: order counts without an orders export that
    says when orders were fulfilled, ticket counts of weeks no helpdesk export reaches. The ticket filters of the view
    (channel, category, priority) apply to the tickets.
    """
    sql = f"""
        WITH weeks AS (
            SELECT r::DATE AS week FROM range(date_trunc('week', $start::DATE)::TIMESTAMP, $end_excl::TIMESTAMP,
                                              INTERVAL 1 week) t(r)),
        {_fulfilled(lag_quantiles.current(cur, settings))},
        {_asked(cur, filters, settings)},
        {_fulfilled_on_shared_days(lag_quantiles.current(cur, settings))},
        counted AS (
            SELECT week,
                   CASE WHEN {FULFILMENT_KNOWN} THEN coalesce(fulfilled_orders, 0) END AS fulfilled_orders,
                   lag_hours_median,
                   CASE WHEN tickets IS NOT NULL THEN coalesce(wismo_tickets, 0) END AS wismo_tickets,
                   tickets, wismo_tickets_shared_days,
                   CASE WHEN wismo_tickets_shared_days IS NOT NULL AND {FULFILMENT_KNOWN}
                        THEN coalesce(fulfilled_orders_shared_days, 0) END AS fulfilled_orders_shared_days
            FROM weeks LEFT JOIN fulfilled USING (week) LEFT JOIN asked USING (week)
                 LEFT JOIN fulfilled_shared USING (week))
        SELECT *, 100.0 * wismo_tickets_shared_days / nullif(fulfilled_orders_shared_days, 0)
                  AS wismo_per_100_fulfilled,
               wismo_tickets / nullif(tickets, 0) AS wismo_share
        FROM counted ORDER BY week"""
    return execute(cur, sql, filters, settings)


def _fulfilled(from_rollup: bool) -> str:
    """SQL: the CTE ``fulfilled``, per week of the orders fulfilled in the view (with a valid lag):
    ``fulfilled_orders`` and ``lag_hours_median``; from the order rollup where it is current, where a median over
    every fulfilled order's row of the view took 0.3-0.4 s at five million orders."""
    week = "date_trunc('week', {day})::DATE"
    if from_rollup:
        return (lag_quantiles.quantile_ctes("lags", "fulfilled_day", week, {"lag_hours_median": 0.5})
                + ",\n fulfilled AS (SELECT period AS week, total AS fulfilled_orders, lag_hours_median FROM lags)")
    return (f"fulfilled AS (SELECT {week.format(day='fulfilled_local_date')} AS week, count(*) AS fulfilled_orders, "
            f"median({LAG_HOURS}) AS lag_hours_median FROM orders WHERE {in_view('fulfilled_at', 'orders')} "
            f"AND {LAG_VALID} GROUP BY 1)")


def _fulfilled_on_shared_days(from_rollup: bool) -> str:
    """SQL: the CTE ``fulfilled_shared``, per week the orders fulfilled (with a valid lag) on the view's days both
    exports cover, from the order rollup's lag counts where it is current."""
    day, rows, counted, valid = (("fulfilled_day", order_rollup.BUCKETS_TABLE, "sum(n)", "") if from_rollup
                                 else ("fulfilled_local_date", "orders", "count(*)", f" AND {LAG_VALID}"))
    return (f"fulfilled_shared AS (SELECT date_trunc('week', {day})::DATE AS week, "
            f"{counted}::BIGINT AS fulfilled_orders_shared_days FROM {rows} WHERE {day} >= $start::DATE "
            f"AND {day} < $end_excl::DATE AND {on_shared_days(day)}{valid} GROUP BY 1)")


def _asked(cur: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings) -> str:
    """SQL: the CTE ``asked``, per week the view's ``tickets`` and ``wismo_tickets`` by creation day: the KPIs
    ``tickets_created`` and ``wismo_tickets`` weekly, as metrics.query reads them (from a rollup where one holds the
    view), NULL in a week no helpdesk export reaches. A where-is-my-order count of tickets not yet categorised is
    0, as before: the week's tickets are known."""
    names = ["tickets_created", "wismo_tickets", "wismo_tickets_shared_days"]
    weekly = plan(cur, names, filters, "week", settings=settings)
    return (f"asked AS (SELECT period AS week, tickets_created AS tickets, wismo_tickets, wismo_tickets_shared_days "
            f"FROM ({weekly}))")
