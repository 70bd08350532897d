"""The data-quality checks (metrics/quality.py) on a hand-made store: each check's count and the rows behind it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime as D

import polars as pl
import pytest

from data.ingest import Batch, import_batch
from data.linking import link
from data.warehouse import Warehouse
from metrics.quality import CHECKS, quality_counts, quality_rows
from settings import Settings

# A1: refund 120 above its total 100. A2: no customer, fulfilled the day before it was placed. A3: refund equal to
# its total, which is possible.
ORDERS = pl.DataFrame({
    "order_id": ["A1", "A2", "A3"],
    "created_at": [D(2024, 3, 1, 10), D(2024, 3, 2), D(2024, 3, 5)],
    "fulfilled_at": [D(2024, 3, 2), D(2024, 3, 1), D(2024, 3, 6)],
    "currency": ["USD"] * 3,
    "total": [100.0, 50.0, 30.0],
    "refunded_amount": [120.0, 0.0, 30.0],
    "customer_key": [1, None, 2],
}).with_columns(source=pl.lit("shop"), customer_key=pl.col("customer_key").cast(pl.UInt64))
# A1 has mug S1 twice (lines 1 and 2); A3's identical mug is another order's, no duplicate.
LINES = pl.DataFrame({
    "order_id": ["A1", "A1", "A1", "A3"],
    "line_number": [1, 2, 3, 1],
    "sku": ["S1", "S1", "S2", "S1"],
    "product_name": ["Mug", "Mug", "Cup", "Mug"],
    "quantity": [1, 1, 1, 1],
    "price": [50.0, 50.0, 20.0, 50.0],
    "currency": ["USD"] * 4,
}).with_columns(source=pl.lit("shop"))
# K1 (customer 1, before A1) and K3 (customer 2, before A3) wrote before their first order and link to none; K2
# names A1; K4 has neither customer nor order.
TICKETS = pl.DataFrame({
    "ticket_id": ["K1", "K2", "K3", "K4"],
    "created_at": [D(2024, 2, 28), D(2024, 3, 3), D(2024, 3, 4), D(2024, 3, 6)],
    "order_id": [None, "A1", None, None],
    "subject": ["Pre-sale question", "Refund", "Write to jane.doe@shop.example", "Hello"],
    "customer_key": [1, 1, 2, None],
}).with_columns(source=pl.lit("desk"), customer_key=pl.col("customer_key").cast(pl.UInt64))


@pytest.fixture
def store() -> Iterator[Warehouse]:
    wh = Warehouse()
    import_batch(wh, Batch("orders.csv", "sha-o", "shop", "orders", {"orders": ORDERS, "order_lines": LINES}))
    import_batch(wh, Batch("tickets.csv", "sha-t", "desk", "tickets", {"tickets": TICKETS}))
    link(wh, 30)
    yield wh
    wh.close()


def test_quality_counts_each_problem_once_in_a_fixed_order(store: Warehouse, settings: Settings) -> None:
    counts = quality_counts(store.cursor(), settings)
    assert dict(zip(counts["check"], counts["rows"], strict=True)) == {
        "unlinked_tickets": 3,  # K1, K3, K4
        "orders_without_customer": 1,  # A2
        "duplicated_lines": 1,  # A1's mug
        "tickets_before_first_order": 2,  # K1, K3
        "impossible_orders": 2,  # A1 refund, A2 fulfilment
    }
    assert counts["check"].to_list() == [check.name for check in CHECKS]


def test_quality_rows_name_what_is_wrong_with_each_impossible_order(store: Warehouse, settings: Settings) -> None:
    rows = quality_rows(store.cursor(), "impossible_orders", settings=settings)
    assert rows.select("order_id", "problem").rows() == [("A2", "fulfilled before created"),
                                                         ("A1", "refund above total")]


def test_quality_rows_show_the_duplicated_line_with_its_copies(store: Warehouse, settings: Settings) -> None:
    rows = quality_rows(store.cursor(), "duplicated_lines", settings=settings)
    assert rows.select("order_id", "sku", "copies").rows() == [("A1", "S1", 2)]


def test_quality_rows_show_tickets_before_the_first_order_in_local_time(store: Warehouse) -> None:
    berlin = Settings(_env_file=None, timezone="Europe/Berlin")  # type: ignore[call-arg]
    rows = quality_rows(store.cursor(), "tickets_before_first_order", settings=berlin)
    # newest first; A1 was placed 10:00 UTC = 11:00 in Berlin (winter time)
    assert rows.select("ticket_id", "first_order_at").rows() == [("K3", D(2024, 3, 5, 1)), ("K1", D(2024, 3, 1, 11))]


def test_quality_finds_nothing_in_an_empty_warehouse(settings: Settings) -> None:
    assert quality_counts(Warehouse().cursor(), settings)["rows"].to_list() == [0] * len(CHECKS)
