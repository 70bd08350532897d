"""What the demo store gives the Orders & loyalty page: order numbers in subjects, tickets linked every way (and some
not at all), and a "where is my order" wave when shipping slows at the peaks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl
import pytest

from data.demo import demo_batch, generate
from data.ingest import import_batch
from data.linking import link
from data.warehouse import Warehouse
from metrics.orders_links import link_shares
from metrics.query import Filters
from settings import Settings


@pytest.fixture(scope="module")
def demo() -> dict[str, pl.DataFrame]:
    return generate()


@pytest.fixture(scope="module")
def demo_store() -> Iterator[Warehouse]:
    wh = Warehouse()
    import_batch(wh, demo_batch(salt="links"))
    link(wh, 30)
    yield wh
    wh.close()


def test_demo_tickets_without_an_order_number_field_name_existing_orders_in_their_subject(
        demo: dict[str, pl.DataFrame]) -> None:
    tickets, orders = demo["tickets"], demo["orders"]
    unfilled = tickets.filter(pl.col("order_id").is_null())
    named = unfilled.select(number=pl.col("subject").str.extract(r"#(\d+)")).drop_nulls()
    assert 0.2 < named.height / tickets.height < 0.5
    assert named["number"].is_in(orders["order_id"].implode()).all()


def test_demo_store_links_tickets_by_every_method_and_leaves_some_unlinked(
        demo_store: Warehouse, settings: Settings) -> None:
    shares = link_shares(demo_store.cursor(), Filters(start=date(2024, 1, 1), end=date(2025, 12, 31)), settings)
    share = dict(zip(shares["order_link"], shares["share"], strict=True))
    # as generated (seed 7): order_number 53 %, text 32 %, customer 4 %, none 11 %
    assert 0.4 < share["order_number"] < 0.65
    assert 0.2 < share["text"] < 0.45
    assert 0.01 < share["customer"] < 0.15
    assert 0.05 < share["none"] < 0.2


def test_demo_tickets_link_only_to_their_own_customers_orders(demo_store: Warehouse) -> None:
    # in the demo a ticket about an order comes from its buyer, so a link to anyone else's order would be wrong
    wrong = demo_store.cursor().execute("""SELECT count(*) FROM tickets t JOIN orders o
        ON o.source = t.order_source AND o.order_id = t.linked_order_id
        WHERE o.customer_key IS DISTINCT FROM t.customer_key""").fetchone()
    assert wrong == (0,)


@pytest.mark.parametrize("black_friday", [date(2024, 11, 29), date(2025, 11, 28)])
def test_demo_where_is_my_order_tickets_rise_with_fulfilment_lag_at_the_peak(
        demo: dict[str, pl.DataFrame], black_friday: date) -> None:
    # October against Black Friday to Christmas Eve: seed 7 gives a median lag of about 30 h -> 43 h and 2.4 -> 6
    # WISMO tickets per 100 fulfilled orders in 2024, 29 h -> 44 h and 3.5 -> 6.5 in 2025
    october = _shipping(demo, black_friday.replace(month=10, day=1), black_friday.replace(month=10, day=31))
    peak = _shipping(demo, black_friday, black_friday.replace(month=12, day=24))
    assert peak["lag_hours"] > 1.3 * october["lag_hours"]
    assert peak["wismo_per_100_fulfilled"] > 1.5 * october["wismo_per_100_fulfilled"]


def _shipping(demo: dict[str, pl.DataFrame], start: date, end: date) -> dict[str, float]:
    orders, tickets = demo["orders"], demo["tickets"]
    placed = orders.filter(pl.col("created_at").dt.date().is_between(start, end))
    fulfilled = orders.filter(pl.col("fulfilled_at").dt.date().is_between(start, end)).height
    wismo = tickets.filter(pl.col("created_at").dt.date().is_between(start, end)
                           & (pl.col("category_exported") == "shipping_status")).height
    lag = (placed["fulfilled_at"] - placed["created_at"]).dt.total_hours().median()
    return {"lag_hours": float(lag), "wismo_per_100_fulfilled": 100 * wismo / fulfilled}  # type: ignore[arg-type]
