"""The repeat purchase rate and retention, counted by each order's stored neighbours (data/order_sequence.py), against
the same numbers worked out in Polars from the orders and tickets themselves, on a generated store with the odd
cases: customers ordering in several periods, several orders of one customer at the same instant, orders without a
customer, cancelled orders, refunds, two currencies, two shops sharing customers, and after a re-import that moves,
cancels and re-assigns orders, its undo, and the clearing of a shop."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from datetime import datetime as D
from pathlib import Path

import polars as pl
import pytest

from data import clock, line_facts, order_sequence
from data.clock import Clock
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.warehouse import SCHEMA_VERSION, Warehouse
from metrics import query as mq
from metrics.retention import repeat_by_support
from settings import Settings

TZ = "America/New_York"
SETTINGS = Settings(_env_file=None, timezone=TZ, retention_days=20)  # type: ignore[call-arg]
FIRST = D(2024, 1, 1)
# instants several orders share: ties inside a customer's orders, and at local midnights of period bounds
SHARED = [D(2024, 2, 1, 5), D(2024, 2, 5, 5), D(2024, 3, 4, 4, 59, 59), D(2024, 3, 1, 5), D(2024, 2, 12, 12)]
VIEWS = [mq.Filters(date(2024, 1, 1), date(2024, 4, 30)), mq.Filters(date(2024, 2, 1), date(2024, 2, 29)),
         mq.Filters(date(2024, 2, 5), date(2024, 3, 3)), mq.Filters(date(2024, 3, 4), date(2024, 3, 4))]


def _orders(rng: random.Random, source: str, count: int, prefix: str) -> pl.DataFrame:
    rows = []
    for number in range(count):
        created = rng.choice(SHARED) if rng.random() < 0.15 else FIRST + timedelta(minutes=rng.randrange(175_000))
        customer = None if rng.random() < 0.08 else rng.randrange(1, 40)
        cancelled = created + timedelta(hours=1) if rng.random() < 0.12 else None
        refunded = rng.choice([None, 0, 5, 20])
        rows.append((f"{prefix}{number}", customer, created, cancelled, rng.choice(["USD", "EUR"]), 40, refunded))
    return pl.DataFrame(rows, orient="row", schema={
        "order_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us"),
        "cancelled_at": pl.Datetime("us"), "currency": pl.String, "gross_sales": pl.Float64,
        "refunded_amount": pl.Float64}).with_columns(source=pl.lit(source), updated_at=pl.col("created_at"))


def _tickets(rng: random.Random) -> pl.DataFrame:
    rows = [(f"t{n}", rng.randrange(1, 45), FIRST + timedelta(minutes=rng.randrange(175_000))) for n in range(120)]
    return pl.DataFrame(rows, orient="row", schema={
        "ticket_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us")},
    ).with_columns(source=pl.lit("desk"))


def _local_dates(frame: pl.DataFrame) -> pl.Expr:
    return pl.col("created_at").dt.replace_time_zone("UTC").dt.convert_time_zone(TZ).dt.date()


def _utc(day: date) -> D:
    return pl.Series([D(day.year, day.month, day.day)]).dt.replace_time_zone(TZ).dt.convert_time_zone(
        "UTC").dt.replace_time_zone(None)[0]


def expected_repeat(orders: pl.DataFrame, view: mq.Filters, grain: str | None) -> dict[date, tuple[float, int]]:
    """Per period: customers with two or more orders ÷ customers with one, and those customers, in Polars."""
    local = orders.with_columns(day=_local_dates(orders)).filter(
        pl.col("day").is_between(view.start, view.end), pl.col("customer_key").is_not_null())
    # a period is named by its first day, the first one counting from the view's start
    period = pl.lit(view.start) if grain is None else pl.col("day").dt.truncate(
        {"day": "1d", "week": "1w", "month": "1mo"}[grain])
    per_customer = local.group_by(period.alias("period"), "customer_key").len()
    per_period = per_customer.group_by("period").agg(rate=(pl.col("len") >= 2).mean(), customers=pl.len())
    return {r["period"]: (r["rate"], r["customers"]) for r in per_period.iter_rows(named=True)}


def expected_retention(orders: pl.DataFrame, tickets: pl.DataFrame, view: mq.Filters,
                       days: int) -> tuple[int, dict[str, tuple[int, int]]]:
    """(customers too recent, {segment: (customers, repeat customers)}) of the contact split, in Polars."""
    kept = orders.filter(pl.col("customer_key").is_not_null(), pl.col("cancelled_at").is_null())
    newest = min(orders["created_at"].max(), tickets["created_at"].max())
    window = timedelta(days=days)
    anchors = (kept.filter(pl.col("created_at") >= _utc(view.start),
                           pl.col("created_at") < _utc(view.end + timedelta(days=1)))
               .group_by("customer_key").agg(ordered_at=pl.col("created_at").min()))
    observed = anchors.filter(pl.col("ordered_at") + window <= newest)
    later = (observed.join(kept.select("customer_key", "created_at"), on="customer_key")
             .filter(pl.col("created_at") > pl.col("ordered_at"), pl.col("created_at") <= pl.col("ordered_at") + window)
             .group_by("customer_key").agg(next_at=pl.col("created_at").min()))
    nexts = observed.join(later, on="customer_key", how="left")
    until = pl.coalesce("next_at", pl.col("ordered_at") + window)
    contacted = (nexts.join(tickets.select("customer_key", ticket_at="created_at"), on="customer_key")
                 .filter(pl.col("ticket_at") >= pl.col("ordered_at"), pl.col("ticket_at") < until)
                 ["customer_key"].unique())
    flagged = nexts.with_columns(contacted=pl.col("customer_key").is_in(contacted.implode()),
                                 repeated=pl.col("next_at").is_not_null())
    # split by contact only from the helpdesk export's first ticket on: before it, no ticket says nothing
    reached = flagged.filter(pl.col("ordered_at") >= tickets["created_at"].min())
    segments = {"contacted support": reached.filter("contacted"), "did not contact support": reached.filter(
        ~pl.col("contacted")), "all customers": flagged}
    return anchors.height - observed.height, {name: (f.height, int(f["repeated"].sum())) for name, f in
                                              segments.items()}


def assert_counts_match(wh: Warehouse) -> None:
    cur = wh.cursor()
    orders = cur.execute("SELECT customer_key, created_at, cancelled_at FROM orders").pl()
    tickets = cur.execute("SELECT customer_key, created_at FROM tickets").pl()
    for view in VIEWS:
        for grain in (None, "day", "week", "month"):
            found = mq.query(cur, ["repeat_purchase_rate"], view, grain, settings=SETTINGS, samples=True)
            got = {r["period"]: (r["repeat_purchase_rate"], r["repeat_purchase_rate_n"])
                   for r in found.iter_rows(named=True) if r["repeat_purchase_rate_n"]}
            want = expected_repeat(orders, view, grain)
            assert got.keys() == want.keys(), (view, grain)
            for period, (rate, customers) in want.items():
                assert got[period] == (pytest.approx(rate), customers), (view, grain, period)
        result = repeat_by_support(cur, view, settings=SETTINGS)
        too_recent, segments = expected_retention(orders, tickets, view, SETTINGS.retention_days)
        table = result.table.filter(pl.col("dimension").is_in(["all", "contact"]))
        assert result.too_recent == too_recent, view
        got = {r["segment"]: (r["customers"], r["repeat_customers"]) for r in table.iter_rows(named=True)}
        if result.missing:  # no ticket of a customer in these days: the split is left out, the whole is not
            segments = {"all customers": segments["all customers"]}
        assert got == segments, view


def test_repeat_purchases_and_retention_by_stored_neighbours_match_the_orders_themselves_through_every_write() -> None:
    rng = random.Random(16)
    wh = Warehouse()
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": _tickets(rng)}))
    first = _orders(rng, "shop", 260, "a")
    import_batch(wh, Batch("a.csv", "sha-a", "shop", "orders", {"orders": first}))
    assert_counts_match(wh)  # the warehouse's columns on UTC days, the queries' on New York's, worked out live
    assert clock.sync(wh, Clock.of(SETTINGS))
    assert_counts_match(wh)  # the stored columns moved to New York's days
    # a newer export of some of the same orders: moved in time, cancelled, given to another customer or to none
    changed = first.sample(60, seed=1).with_columns(
        created_at=pl.col("created_at") + pl.duration(days=9),
        cancelled_at=pl.when(pl.col("cancelled_at").is_null()).then(pl.col("created_at") + pl.duration(days=10)),
        customer_key=pl.when(pl.col("order_id").str.ends_with("3")).then(None)
        .otherwise((pl.col("customer_key") + 1) % 40), updated_at=pl.lit(D(2025, 1, 1)))
    again = import_batch(wh, Batch("b.csv", "sha-b", "shop", "orders",
                                   {"orders": pl.concat([changed, _orders(rng, "shop", 40, "b")], how="diagonal")}))
    assert again.updated == 60
    assert_counts_match(wh)
    import_batch(wh, Batch("c.csv", "sha-c", "shop-eu", "orders", {"orders": _orders(rng, "shop-eu", 120, "c")}))
    assert_counts_match(wh)
    undo_import(wh, again.import_id or "")
    assert_counts_match(wh)
    clear_source(wh, "shop-eu")
    assert_counts_match(wh)


def test_orders_of_one_customer_at_the_same_instant_are_two_orders_but_no_return() -> None:
    # C1: two orders at the same instant (a repeat purchase in the period, not a return within the days after it)
    # and one more 5 days later; C2: one order, and one cancelled 2 days later; C3 ordered in April only
    at = D(2024, 2, 10, 15)
    orders = pl.DataFrame(
        [("o1", 1, at, None), ("o2", 1, at, None), ("o3", 1, at + timedelta(days=5), None),
         ("o4", 2, at, None), ("o5", 2, at + timedelta(days=2), at + timedelta(days=3)),
         ("o6", None, at, None), ("o7", 3, D(2024, 4, 1), None)],
        orient="row", schema={"order_id": pl.String, "customer_key": pl.UInt64, "created_at": pl.Datetime("us"),
                              "cancelled_at": pl.Datetime("us")},
    ).with_columns(source=pl.lit("shop"), currency=pl.lit("USD"))
    tickets = pl.DataFrame({"ticket_id": ["t1"], "customer_key": [9], "created_at": [D(2024, 4, 1)]},
                           schema_overrides={"customer_key": pl.UInt64}).with_columns(source=pl.lit("desk"))
    wh = Warehouse()
    import_batch(wh, Batch("o.csv", "sha-o", "shop", "orders", {"orders": orders}))
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": tickets}))
    feb = mq.Filters(date(2024, 2, 1), date(2024, 2, 29))
    # both customers ordered twice in February (C2's second order cancelled, still an order)
    assert mq.totals(wh.cursor(), ["repeat_purchase_rate"], feb, SETTINGS) == {"repeat_purchase_rate": 1.0}
    # within 20 days C1 came back on day 5 (not at the same instant), C2's only return was cancelled
    result = repeat_by_support(wh.cursor(), feb, settings=SETTINGS)
    assert result.table.filter(pl.col("dimension") == "all").row(0, named=True)["repeat_customers"] == 1
    assert_counts_match(wh)


def test_a_warehouse_of_the_schema_before_gets_every_orders_neighbours_when_it_migrates(tmp_path: Path) -> None:
    rng = random.Random(8)
    wh = Warehouse(tmp_path / "w.duckdb")
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": _tickets(rng)}))
    import_batch(wh, Batch("a.csv", "sha-a", "shop", "orders", {"orders": _orders(rng, "shop", 200, "a")}))
    clock.sync(wh, Clock.of(SETTINGS))
    with wh.transaction() as cur:  # back to version 7: no neighbours stored
        for table, name in itertools.product(("orders", "orders_replaced"), order_sequence.COLUMNS):
            cur.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        for table, name in itertools.product(("order_lines", "order_lines_replaced"), line_facts.COLUMNS):
            cur.execute(f"ALTER TABLE {table} DROP COLUMN {name}")  # and version 9's, which comes after
        cur.execute("DELETE FROM schema_version WHERE version >= 8")
    wh.close()
    migrated = Warehouse(tmp_path / "w.duckdb")
    assert migrated.schema_version() == SCHEMA_VERSION
    assert_counts_match(migrated)
