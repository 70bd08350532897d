"""What each order line stores of its order (data/line_facts.py, schema 9), its order's creation time and whether it
is the order's first line with its SKU and with its vendor, equals what Polars works out from the two tables (a
join, a first-by-line-number), after every write: a first import, a re-import that moves orders with and without
their lines, an undo of each, clearing another source, and the migration of a warehouse without them.
"""

from __future__ import annotations

import random
from datetime import datetime as D
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from data import line_facts
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.warehouse import SCHEMA_VERSION, Warehouse

FIRST = D(2024, 1, 1)
LINES_SCHEMA = {"order_id": pl.String, "line_number": pl.Int32, "sku": pl.String, "vendor": pl.String,
                "quantity": pl.Int32}
STORED = ["source", "order_id", "line_number", "order_created_at", "first_of_sku", "first_of_vendor"]


def _orders(rng: random.Random, ids: list[str], source: str) -> pl.DataFrame:
    created = [FIRST + timedelta(minutes=rng.randrange(500_000)) for _ in ids]
    return pl.DataFrame({"order_id": ids, "created_at": created, "currency": ["USD"] * len(ids)}).with_columns(
        source=pl.lit(source), updated_at=pl.col("created_at"))


def _lines(rng: random.Random, ids: list[str], source: str) -> pl.DataFrame:
    # several lines of an order with the same SKU or vendor, or none, numbered out of order
    rows = [(order_id, number, rng.choice(["A", "B", None]), rng.choice(["Acme", None]), 1) for order_id in ids
            for number in rng.sample(range(9), rng.randrange(1, 5))]
    return pl.DataFrame(rows, orient="row", schema=LINES_SCHEMA).with_columns(source=pl.lit(source))


def _batch(name: str, source: str, orders: pl.DataFrame, lines: pl.DataFrame | None = None) -> Batch:
    frames = {"orders": orders} if lines is None else {"orders": orders, "order_lines": lines}
    return Batch(f"{name}.csv", f"sha-{name}", source, "orders", frames)


def _stored_and_joined(wh: Warehouse) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each line's stored facts, and the same worked out in Polars: its order's time by a join (NULL for a line
    without an order), and whether no line of the order with a lower number has its SKU (vendor)."""
    cur = wh.cursor()
    lines = cur.execute(f"SELECT {', '.join(STORED)}, sku, vendor FROM order_lines").pl()
    orders = cur.execute("SELECT source, order_id, created_at AS order_created_at FROM orders").pl()
    key = ["source", "order_id", "line_number"]
    worked_out = (lines.select(*key, "sku", "vendor").join(orders, on=["source", "order_id"], how="left").sort(key)
                  .with_columns(first_of_sku=pl.struct("source", "order_id", "sku").is_first_distinct(),
                                first_of_vendor=pl.struct("source", "order_id", "vendor").is_first_distinct()))
    return lines.select(STORED).sort(key), worked_out.select(STORED)


def assert_lines_have_their_orders_time(wh: Warehouse) -> None:
    stored, worked_out = _stored_and_joined(wh)
    assert stored.height > 0 and not stored["first_of_sku"].all()  # some orders have a SKU twice
    assert stored.equals(worked_out)


def _moved(orders: pl.DataFrame, ids: list[str], hours: int) -> pl.DataFrame:
    """The orders with ``ids`` created ``hours`` later and updated since, the others as they were."""
    chosen = pl.col("order_id").is_in(ids)
    return orders.with_columns(
        created_at=pl.when(chosen).then(pl.col("created_at") + timedelta(hours=hours)).otherwise("created_at"),
        updated_at=pl.when(chosen).then(pl.lit(D(2026, 1, 1))).otherwise("updated_at"))


@pytest.fixture
def shop() -> tuple[Warehouse, pl.DataFrame, pl.DataFrame]:
    rng = random.Random(9)
    ids = [f"o{n}" for n in range(60)]
    orders, lines = _orders(rng, ids, "shop"), _lines(rng, ids, "shop")
    wh = Warehouse()
    import_batch(wh, _batch("first", "shop", orders, lines))
    other = [f"o{n}" for n in range(20)]  # the same order numbers in another shop: the key includes the source
    import_batch(wh, _batch("other", "other", _orders(rng, other, "other"), _lines(rng, other, "other")))
    return wh, orders, lines


def test_a_first_import_stores_each_lines_order_time(shop: tuple[Warehouse, pl.DataFrame, pl.DataFrame]) -> None:
    wh, orders, _ = shop
    assert_lines_have_their_orders_time(wh)
    # and against the frames imported, not the warehouse: o3's lines carry o3's time
    stored = wh.cursor().execute("SELECT DISTINCT order_created_at FROM order_lines "
                                 "WHERE source = 'shop' AND order_id = 'o3'").fetchall()
    assert stored == [(orders.filter(pl.col("order_id") == "o3")["created_at"].item(),)]


def test_a_reimport_moving_orders_with_their_lines_moves_the_lines_and_an_undo_moves_them_back(
        shop: tuple[Warehouse, pl.DataFrame, pl.DataFrame]) -> None:
    wh, orders, lines = shop
    before = _stored_and_joined(wh)[0]
    moved = _moved(orders, ["o1", "o2", "o5"], 30)
    # a batch with lines brings every line of its changed orders
    again = import_batch(wh, _batch("moved", "shop", moved, lines.filter(pl.col("order_id").is_in(["o1", "o2", "o5"]))))
    assert again.updated == 3
    assert_lines_have_their_orders_time(wh)
    assert wh.cursor().execute("SELECT count(*) FROM order_lines WHERE source = 'shop' AND order_id = 'o5' AND "
                               "order_created_at = $at",
                               {"at": moved.filter(pl.col("order_id") == "o5")["created_at"].item()}
                               ).fetchone()[0] == lines.filter(pl.col("order_id") == "o5").height
    undo_import(wh, again.import_id or "")
    assert_lines_have_their_orders_time(wh)
    assert _stored_and_joined(wh)[0].equals(before)


def test_a_reimport_of_orders_without_lines_moves_the_lines_they_keep(
        shop: tuple[Warehouse, pl.DataFrame, pl.DataFrame]) -> None:
    wh, orders, _ = shop
    before = _stored_and_joined(wh)[0]
    again = import_batch(wh, _batch("orders-only", "shop", _moved(orders, ["o7", "o8"], -50)))
    assert again.updated == 2
    assert_lines_have_their_orders_time(wh)
    assert not _stored_and_joined(wh)[0].equals(before)  # the lines did move
    undo_import(wh, again.import_id or "")
    assert_lines_have_their_orders_time(wh)
    assert _stored_and_joined(wh)[0].equals(before)


def test_an_undo_of_a_first_import_and_clearing_a_source_leave_the_other_shops_lines_right(
        shop: tuple[Warehouse, pl.DataFrame, pl.DataFrame]) -> None:
    wh, _, _ = shop
    rng = random.Random(3)
    ids = ["o1", "n1", "n2"]
    third = import_batch(wh, _batch("third", "third", _orders(rng, ids, "third"), _lines(rng, ids, "third")))
    undo_import(wh, third.import_id or "")
    clear_source(wh, "other")
    assert wh.cursor().execute("SELECT DISTINCT source FROM order_lines").fetchall() == [("shop",)]
    assert_lines_have_their_orders_time(wh)


def test_a_warehouse_of_the_schema_before_gets_every_lines_order_time_when_it_migrates(
        shop: tuple[Warehouse, pl.DataFrame, pl.DataFrame], tmp_path: Path) -> None:
    _, orders, lines = shop
    wh = Warehouse(tmp_path / "w.duckdb")
    import_batch(wh, _batch("first", "shop", orders, lines))
    with wh.transaction() as cur:  # back to version 8: nothing of their orders on the lines
        for table in ("order_lines", "order_lines_replaced"):
            for column in line_facts.COLUMNS:
                cur.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        cur.execute("DELETE FROM schema_version WHERE version = 9")
    wh.close()
    migrated = Warehouse(tmp_path / "w.duckdb")
    assert migrated.schema_version() == SCHEMA_VERSION == 9
    assert_lines_have_their_orders_time(migrated)
