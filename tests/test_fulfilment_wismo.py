""""Where is my order" tickets per 100 fulfilled orders beside the fulfilment lag, week by week, counted by hand."""

from __future__ import annotations

from datetime import date
from datetime import datetime as D

import polars as pl
import pytest

import charts
from data.categorising import categorise
from data.classifier import load_taxonomy
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics.fulfilment import wismo_against_lag
from metrics.query import Filters
from settings import Settings

VIEW = Filters(date(2024, 3, 4), date(2024, 3, 17))  # weeks of Mon 03-04 and Mon 03-11

# Fulfilled in the week of 03-04: A 72 h, B 24 h, C 6 h -> 3 orders, median 24 h.
# Fulfilled in the week of 03-11: D 72 h -> 1 order, median 72 h. E "fulfilled" a day before it was created
# (impossible: out), F not fulfilled, G fulfilled on 03-18 (after the view).
ORDERS = pl.DataFrame({
    "order_id": ["A", "B", "C", "D", "E", "F", "G"],
    "created_at": [D(2024, 3, 1, 10), D(2024, 3, 4), D(2024, 3, 5, 12), D(2024, 3, 10), D(2024, 3, 12),
                   D(2024, 3, 12), D(2024, 3, 14)],
    "fulfilled_at": [D(2024, 3, 4, 10), D(2024, 3, 5), D(2024, 3, 5, 18), D(2024, 3, 13), D(2024, 3, 11), None,
                     D(2024, 3, 18)],
    "currency": ["USD"] * 7,
    "gross_sales": [10.0] * 7,
}).with_columns(source=pl.lit("shop"))
# Week of 03-04: W1 of 2 tickets. Week of 03-11: W2, W3, W4 of 4 tickets (W4 at 23:00 UTC on Sunday 03-17).
# W5 falls after the view.
TICKETS = pl.DataFrame({
    "ticket_id": ["W1", "R1", "W2", "W3", "W4", "R2", "W5"],
    "created_at": [D(2024, 3, 5), D(2024, 3, 6), D(2024, 3, 12), D(2024, 3, 13), D(2024, 3, 17, 23), D(2024, 3, 14),
                   D(2024, 3, 18, 1)],
    "category_exported": ["shipping_status", "refund", "shipping_status", "shipping_status", "shipping_status",
                          "refund", "shipping_status"],
}).with_columns(source=pl.lit("desk"))
# The rate counts the days both exports cover: tickets 5-18 Mar, orders placed 1-14 Mar -> 5-14 Mar. Week of 03-04:
# W1 of B and C (A was fulfilled on the 4th); week of 03-11: W2, W3 (W4 is on the 17th) of D.


def warehouse(*, tickets: bool = True, orders: pl.DataFrame | None = ORDERS) -> Warehouse:
    wh = Warehouse()
    if tickets:
        import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": TICKETS}))
    if orders is not None:
        import_batch(wh, Batch("o.csv", "sha-o", "shop", "orders", {"orders": orders}))
    categorise(wh, load_taxonomy())
    return wh


def test_wismo_per_100_fulfilled_and_median_lag_per_week(settings: Settings) -> None:
    frame = wismo_against_lag(warehouse().cursor(), VIEW, settings=settings)
    assert frame["week"].to_list() == [date(2024, 3, 4), date(2024, 3, 11)]
    assert frame["fulfilled_orders"].to_list() == [3, 1]
    assert frame["lag_hours_median"].to_list() == pytest.approx([24.0, 72.0])
    assert frame["wismo_tickets"].to_list() == [1, 3]
    assert frame["tickets"].to_list() == [2, 4]
    assert frame["wismo_tickets_shared_days"].to_list() == [1, 2]
    assert frame["fulfilled_orders_shared_days"].to_list() == [2, 1]
    # 100 x 1 / 2 and 100 x 2 / 1 (over every day of the weeks: 1 / 3 and 3 / 1); WISMO share of the week's
    # tickets 1/2 and 3/4
    assert frame["wismo_per_100_fulfilled"].to_list() == pytest.approx([50.0, 200.0])
    assert frame["wismo_share"].to_list() == pytest.approx([0.5, 0.75])


def test_weeks_follow_the_account_clock() -> None:
    berlin = Settings(_env_file=None, timezone="Europe/Berlin")  # type: ignore[call-arg]
    frame = wismo_against_lag(warehouse().cursor(), VIEW, settings=berlin)
    # W4 (23:00 UTC Sunday) is Monday 03-18 in Berlin: out of the view; A (10:00 UTC) and D stay where they were;
    # both exports still cover 5-14 Mar (G, placed at midnight UTC on the 14th, is on the 14th in Berlin too)
    assert frame["wismo_tickets"].to_list() == [1, 2]
    assert frame["wismo_per_100_fulfilled"].to_list() == pytest.approx([50.0, 200.0])


def test_a_week_without_fulfilments_has_no_rate_rather_than_zero(settings: Settings) -> None:
    # B fulfilled on 5 Mar; G, placed on the 14th, is fulfilled after the view: both exports cover 5-14 Mar
    one_order = ORDERS.filter(pl.col("order_id").is_in(["B", "G"]))
    frame = wismo_against_lag(warehouse(orders=one_order).cursor(), VIEW, settings=settings)
    assert frame["fulfilled_orders"].to_list() == [1, 0]
    assert frame["wismo_per_100_fulfilled"].to_list() == [100.0, None]
    assert frame["lag_hours_median"].to_list() == [24.0, None]


def test_without_fulfilment_times_the_order_side_is_unknown(settings: Settings) -> None:
    for wh in (warehouse(orders=None), warehouse(orders=ORDERS.drop("fulfilled_at"))):
        frame = wismo_against_lag(wh.cursor(), VIEW, settings=settings)
        assert frame["fulfilled_orders"].to_list() == [None, None]
        assert frame["wismo_per_100_fulfilled"].to_list() == [None, None]
        assert frame["wismo_tickets"].to_list() == [1, 3]


def test_without_tickets_the_ticket_side_is_unknown(settings: Settings) -> None:
    frame = wismo_against_lag(warehouse(tickets=False).cursor(), VIEW, settings=settings)
    assert frame["fulfilled_orders"].to_list() == [3, 1]
    assert frame["wismo_tickets"].to_list() == [None, None]
    assert frame["wismo_per_100_fulfilled"].to_list() == [None, None]


def test_wismo_chart_draws_the_rate_as_bars_and_the_lag_on_a_second_axis(settings: Settings) -> None:
    frame = wismo_against_lag(warehouse().cursor(), VIEW, settings=settings)
    figure = charts.wismo_against_lag(frame)
    bars, lag = figure.data
    assert list(bars.y) == pytest.approx([50.0, 200.0]) and bars.type == "bar"
    assert list(lag.y) == pytest.approx([24.0, 72.0]) and lag.yaxis == "y2"
    # each bar's hover names the tickets and orders of the days it is over
    assert list(bars.customdata[:, 0]) == [1, 2] and list(bars.customdata[:, 1]) == [2, 1]
