"""The order KPIs the order rollup's day tables give (metrics/order_parts.py) equal what their SQL gives over the
orders' rows, exactly (no tolerance), over many random orders in two currencies from a shop that records refunds
and one that does not, with customers ordering again, after every writer that changes orders: an import, a
re-import that moves orders to other days and customers, an undo, another shop's import and clearing it, a clock
change. A week worked out by hand first.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from datetime import datetime as D
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.warehouse import Warehouse
from metrics import lag_quantiles, order_parts
from metrics.query import GRAINS, Filters, build_sql, query
from metrics.registry import METRICS
from settings import Settings
from tests.conftest import on_clock

SERVED = ["orders", "refund_rate", "orders_fulfilled", "net_sales", "average_order_value", "refund_rate_by_value",
          "late_fulfilment_share", "repeat_purchase_rate", "orders_shared_days", "orders_fulfilled_shared_days"]
VIEWS = [Filters(date(2024, 3, 4), date(2024, 3, 17)), Filters(date(2024, 2, 1), date(2024, 4, 30)),
         Filters(date(2024, 3, 6), date(2024, 3, 6)), Filters(date(2024, 1, 1), date(2024, 12, 31))]
MONEY = pl.Decimal(18, 2)


def _random_orders(rng: random.Random, ids: list[str], source: str, refunds: bool, updated: D) -> pl.DataFrame:
    created = [D(2024, 2, 1) + timedelta(minutes=rng.randrange(130_000)) for _ in ids]
    lags = [rng.choice([None, -3.0, float(rng.randrange(1, 48)), 48.0, rng.expovariate(1 / 40)]) for _ in ids]

    def cents(low: int, high: int, none: float) -> list[Decimal | None]:
        return [None if rng.random() < none else Decimal(rng.randrange(low, high)) / 100 for _ in ids]

    frame = pl.DataFrame({
        "order_id": ids, "created_at": created,
        "fulfilled_at": [None if lag is None else at + timedelta(hours=lag) for at, lag in zip(created, lags,
                                                                                               strict=True)],
        "customer_key": [rng.choice([None, *range(1, 40)]) for _ in ids],
        "currency": [rng.choice(["USD", "EUR"]) for _ in ids],
        "gross_sales": cents(100, 50_000, 0.05), "discounts": cents(0, 900, 0.5), "total": cents(100, 60_000, 0.3),
    }, schema_overrides={"customer_key": pl.UInt64, "gross_sales": MONEY, "discounts": MONEY, "total": MONEY})
    if refunds:  # Shopify writes 0.00 for none
        refunded = [rng.choice([None, Decimal("0.00"), Decimal(rng.randrange(1, 9_000)) / 100]) for _ in ids]
        frame = frame.with_columns(refunded_amount=pl.Series(refunded, dtype=MONEY))
    return frame.with_columns(source=pl.lit(source), updated_at=pl.lit(updated))


def _import(wh: Warehouse, name: str, frame: pl.DataFrame) -> str:
    source = frame["source"][0]
    result = import_batch(wh, Batch(f"{name}.csv", f"sha-{name}", source, "orders", {"orders": frame}))
    assert result.status == "imported"
    return result.import_id  # type: ignore[return-value]


def assert_served_equals_raw(wh: Warehouse, settings: Settings) -> None:
    cur = wh.cursor()
    assert lag_quantiles.current(cur, settings), "the rollup must be current, else the comparison proves nothing"
    for view in VIEWS:
        for grain in (None, *GRAINS):
            fast = query(cur, SERVED, view, grain, settings=settings, samples=True)
            slow = query(cur, SERVED, view, grain, settings=settings, samples=True, rollup=False)
            assert_frame_equal(fast, slow, check_exact=True)


def test_the_order_kpis_served_are_these() -> None:
    assert {m.name for m in METRICS if order_parts.served(m)} == set(SERVED)
    sql = build_sql(SERVED, "week", samples=True, lag_rollup=True)
    # every one of them from the rollup's tables: no scan of the orders in the view (a whole-table list is bound)
    in_view = ("FROM orders WHERE created_at >= timezone(", "FROM orders WHERE fulfilled_at >= timezone(")
    assert not any(scan in sql for scan in in_view)
    assert all(scan in build_sql(SERVED, "week", samples=True) for scan in in_view)


@pytest.fixture
def shop(new_york: Settings) -> Iterator[Warehouse]:
    warehouse = on_clock(new_york)
    yield warehouse
    warehouse.close()


def test_a_week_worked_out_by_hand(shop: Warehouse, new_york: Settings) -> None:
    # Customer 1 orders on Mon 03-04 and Wed 03-06 and had ordered on 02-20; customer 2 once on 03-05; order D has
    # no customer. A refund of 5 on B; C in EUR. Lags: A 10 h, B 54 h (late against the 48 h default), C unfulfilled,
    # D 1 h.
    orders = pl.DataFrame({
        "order_id": ["P", "A", "B", "C", "D"],
        "created_at": [D(2024, 2, 20, 15), D(2024, 3, 4, 15), D(2024, 3, 5, 15), D(2024, 3, 6, 15), D(2024, 3, 7, 15)],
        "fulfilled_at": [None, D(2024, 3, 5, 1), D(2024, 3, 7, 21), None, D(2024, 3, 7, 16)],
        "customer_key": [1, 1, 2, 1, None],
        "currency": ["USD", "USD", "USD", "EUR", "USD"],
        "gross_sales": [Decimal("9.00"), Decimal("10.00"), Decimal("20.00"), Decimal("7.50"), Decimal("4.00")],
        "refunded_amount": [Decimal("0.00"), Decimal("0.00"), Decimal("5.00"), Decimal("0.00"), Decimal("0.00")],
    }, schema_overrides={"customer_key": pl.UInt64, "gross_sales": MONEY, "refunded_amount": MONEY}).with_columns(
        source=pl.lit("shop"), updated_at=pl.lit(D(2024, 3, 8)))
    _import(shop, "week", orders)
    row = query(shop.cursor(), SERVED, Filters(date(2024, 3, 4), date(2024, 3, 10)), settings=new_york,
                samples=True).row(0, named=True)
    assert (row["orders"], row["orders_fulfilled"], row["refund_rate"]) == (4, 3, 0.25)
    assert row["net_sales"] == {"EUR": 7.5, "USD": 29.0} and row["average_order_value"] == {"EUR": 7.5, "USD": 34 / 3}
    assert row["refund_rate_by_value"] == {"EUR": 0.0, "USD": 5 / 34}
    assert (row["late_fulfilment_share"], row["late_fulfilment_share_n"]) == (1 / 3, 3)  # B of A, B, D
    # customers 1 (A, C: a second order in the week) and 2 (B): one of two ordered twice
    assert (row["repeat_purchase_rate"], row["repeat_purchase_rate_n"]) == (0.5, 2)
    assert_served_equals_raw(shop, new_york)


def test_rollup_equals_raw_after_every_write(shop: Warehouse, new_york: Settings) -> None:
    rng = random.Random(16)
    ids = [f"o{n}" for n in range(700)]
    _import(shop, "first", _random_orders(rng, ids, "shop", True, D(2024, 6, 1)))
    assert_served_equals_raw(shop, new_york)
    # a re-import: a third of the orders placed days later, fulfilled otherwise, of other customers
    second = _import(shop, "second", _random_orders(rng, ids[:250], "shop", True, D(2024, 7, 1)))
    assert_served_equals_raw(shop, new_york)
    undo_import(shop, second)
    assert_served_equals_raw(shop, new_york)
    _import(shop, "other", _random_orders(rng, ids[:300], "other", False, D(2024, 6, 1)))  # no refunds recorded
    assert_served_equals_raw(shop, new_york)
    clear_source(shop, "other")
    assert_served_equals_raw(shop, new_york)
    london = Settings(_env_file=None, timezone="Europe/London", fulfilment_target_hours=12)  # type: ignore[call-arg]
    clock.sync(shop, clock.Clock.of(london))  # every local day moves
    assert_served_equals_raw(shop, london)


def test_an_earlier_order_moves_the_neighbours_of_orders_on_days_it_did_not_touch(shop: Warehouse,
                                                                                  new_york: Settings) -> None:
    """An import of one earlier order changes its customer's later orders' neighbours, on days the import did not
    touch: the rollup counts those days again too (data/order_sequence.py notes them). Without, it would still count
    L1 as the customer's first order: two firsts, a rate of 0.5."""
    def orders(ids: list[str], times: list[D]) -> pl.DataFrame:
        return pl.DataFrame({"order_id": ids, "created_at": times, "currency": ["USD"] * len(ids),
                             "customer_key": [7] * len(ids)}, schema_overrides={"customer_key": pl.UInt64}
                            ).with_columns(source=pl.lit("shop"), updated_at=pl.lit(D(2024, 3, 7)))

    _import(shop, "later", orders(["L1", "L2"], [D(2024, 3, 5, 15), D(2024, 3, 6, 15)]))
    view = Filters(date(2024, 2, 1), date(2024, 3, 10))
    assert query(shop.cursor(), ["repeat_purchase_rate"], view, settings=new_york)["repeat_purchase_rate"][0] == 1.0
    _import(shop, "earlier", orders(["E0"], [D(2024, 2, 1, 15)]))  # E0 first, L1 second, L2 neither
    rate = query(shop.cursor(), ["repeat_purchase_rate"], view, settings=new_york, samples=True).row(0, named=True)
    assert (rate["repeat_purchase_rate"], rate["repeat_purchase_rate_n"]) == (1.0, 1)
    assert_served_equals_raw(shop, new_york)
