"""Tickets per 100 orders per SKU, vendor or shipping method (metrics.orders.contact_rate_by) against the same
worked out in Polars from the rows: two shops sharing order numbers, tickets that name an order by the link found
(with its shop) or only by the export's order number (any shop's order of that number), orders with a SKU twice
or without one, and orders and tickets outside the view.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from datetime import datetime as D

import polars as pl
import pytest

from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics import orders
from metrics import query as mq
from settings import Settings

TZ = "America/New_York"
SETTINGS = Settings(_env_file=None, timezone=TZ)  # type: ignore[call-arg]
FIRST = D(2024, 1, 1)
VIEWS = [mq.Filters(date(2024, 1, 1), date(2024, 6, 30)), mq.Filters(date(2024, 2, 10), date(2024, 3, 9))]


def _orders(rng: random.Random, shop: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    ids = [str(n) for n in range(80)]  # both shops number their orders alike
    created = [FIRST + timedelta(minutes=rng.randrange(250_000)) for _ in ids]
    frame = pl.DataFrame({"order_id": ids, "created_at": created, "currency": ["USD"] * len(ids),
                          "shipping_method": [rng.choice(["Express", "Standard", None]) for _ in ids]})
    lines = [(order_id, number, rng.choice(["A", "B", "C", None]), rng.choice(["Acme", "Bolt"]), 1)
             for order_id in ids for number in range(rng.randrange(0, 4))]
    line_frame = pl.DataFrame(lines, orient="row", schema={
        "order_id": pl.String, "line_number": pl.Int32, "sku": pl.String, "vendor": pl.String, "quantity": pl.Int32})
    return (frame.with_columns(source=pl.lit(shop), updated_at=pl.col("created_at")),
            line_frame.with_columns(source=pl.lit(shop)))


def _tickets(rng: random.Random) -> pl.DataFrame:
    rows = []
    for number in range(300):
        named = str(rng.randrange(90)) if rng.random() < 0.8 else None  # 80-89: no such order
        linked = rng.random() < 0.5 and named is not None
        rows.append((f"t{number}", FIRST + timedelta(minutes=rng.randrange(250_000)), None if linked else named,
                     rng.choice(["north", "south"]) if linked else None, named if linked else None))
    return pl.DataFrame(rows, orient="row", schema={
        "ticket_id": pl.String, "created_at": pl.Datetime("us"), "order_id": pl.String, "order_source": pl.String,
        "linked_order_id": pl.String}).with_columns(source=pl.lit("desk"))


@pytest.fixture(scope="module")
def store() -> tuple[Warehouse, pl.DataFrame]:
    rng = random.Random(16)
    wh = Warehouse()
    for shop in ("north", "south"):
        shop_orders, lines = _orders(rng, shop)
        import_batch(wh, Batch(f"{shop}.csv", f"sha-{shop}", shop, "orders",
                               {"orders": shop_orders, "order_lines": lines}))
    tickets = _tickets(rng)
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": tickets.drop(
        "order_source", "linked_order_id")}))
    cur = wh.cursor()  # the link the linking step would have found, as the frame says
    cur.register("links", tickets.select("ticket_id", "order_source", "linked_order_id"))
    cur.execute("UPDATE tickets t SET order_source = l.order_source, linked_order_id = l.linked_order_id "
                "FROM links l WHERE t.ticket_id = l.ticket_id")
    return wh, tickets


def _utc(day: date) -> D:
    return pl.Series([D(day.year, day.month, day.day)]).dt.replace_time_zone(TZ).dt.convert_time_zone(
        "UTC").dt.replace_time_zone(None)[0]


def _local_days(cur: object, table: str) -> pl.Series:
    return cur.execute(f"SELECT created_at FROM {table}").pl()["created_at"].dt.replace_time_zone(  # type: ignore[attr-defined]
        "UTC").dt.convert_time_zone(TZ).dt.date()


def expected(cur: object, view: mq.Filters, dimension: str) -> pl.DataFrame:
    """placed: distinct orders in the view per value; asked: distinct tickets in the view reaching an order (of
    any date) with the value, as the link or the order number says; both on the view's local days both exports
    cover (from the later of their first days to the earlier of their last)."""
    days = [_local_days(cur, table) for table in ("tickets", "orders")]
    first, last = max(view.start, *(d.min() for d in days)), min(view.end, *(d.max() for d in days))
    start, end = _utc(first), _utc(last + timedelta(days=1))
    all_orders = cur.execute("SELECT source, order_id, created_at, shipping_method FROM orders").pl()  # type: ignore[attr-defined]
    if dimension in ("sku", "vendor"):
        lines = cur.execute(f"SELECT source, order_id, {dimension} FROM order_lines").pl()  # type: ignore[attr-defined]
        valued = lines.join(all_orders.select("source", "order_id", "created_at"), on=["source", "order_id"])
    else:
        valued = all_orders
    valued = valued.select("source", "order_id", "created_at", value=pl.col(dimension))
    placed = (valued.filter(pl.col("created_at") >= start, pl.col("created_at") < end)
              .group_by("value").agg(orders=pl.struct("source", "order_id").n_unique()))
    tickets = cur.execute("SELECT source AS ticket_source, ticket_id, created_at AS ticket_at, order_source, "  # type: ignore[attr-defined]
                          "coalesce(linked_order_id, order_id) AS reaches FROM tickets").pl()
    asked = (tickets.filter(pl.col("ticket_at") >= start, pl.col("ticket_at") < end)
             .join(valued, left_on="reaches", right_on="order_id")
             .filter(pl.col("order_source").is_null() | (pl.col("order_source") == pl.col("source")))
             .group_by("value").agg(tickets=pl.struct("ticket_source", "ticket_id").n_unique()))
    return (placed.join(asked, on="value", how="left", nulls_equal=True)
            .with_columns(pl.col("tickets").fill_null(0))
            .with_columns(per_100=100.0 * pl.col("tickets") / pl.col("orders")))


@pytest.mark.parametrize("dimension", ["sku", "vendor", "shipping_method"])
def test_contact_rate_by_counts_as_polars_does(store: tuple[Warehouse, pl.DataFrame], dimension: str) -> None:
    wh, tickets = store
    assert tickets["order_source"].null_count() < tickets.height  # linked tickets and order numbers alone
    for view in VIEWS:
        found = orders.contact_rate_by(wh.cursor(), view, dimension, SETTINGS)
        wanted = expected(wh.cursor(), view, dimension)
        columns = ["value", "orders", "tickets", "per_100"]
        assert found.height == wanted.height > 1
        assert found.select(columns).cast({"orders": pl.Int64, "tickets": pl.Int64}).sort("value").equals(
            wanted.select(columns).cast({"orders": pl.Int64, "tickets": pl.Int64}).sort("value"))
