"""The order rollup (data/order_rollup.py) gives the fulfilment lag's median and p90 KPIs and the where-is-my-order
chart's weekly median exactly what ``quantile_cont`` gives over the orders' rows (no tolerance): a week worked out
by hand, then many random orders after an import, a re-import that moves orders to other days and changes their
fulfilment, an undo, another shop's import and clearing it, a ticket-only write, and a clock change; a rollup a
writer left behind is not read.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from datetime import datetime as D

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, order_rollup, rollups
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.warehouse import Warehouse
from metrics import lag_quantiles
from metrics.fulfilment import wismo_against_lag
from metrics.query import GRAINS, Filters, query, rollup_current
from metrics.registry import METRICS
from settings import Settings
from tests.conftest import on_clock

LAGS = ["fulfilment_lag_hours_median", "fulfilment_lag_hours_p90"]
KPIS = [*LAGS, "orders_fulfilled", "late_fulfilment_share"]
VIEWS = [Filters(date(2024, 3, 4), date(2024, 3, 17)), Filters(date(2024, 2, 1), date(2024, 4, 30)),
         Filters(date(2024, 3, 6), date(2024, 3, 6))]

# Placed in the week of Monday 2024-03-04, New York time (UTC-5 until 03-10, UTC-4 after):
#   A 10 h, B 2 h, C 30 h, D 2 h (the same as B), E fulfilled before it was placed (impossible: out), F not
#   fulfilled, G placed at 03:00 UTC on 03-11, which is 23:00 on Sunday 03-10 in New York: this week, lag 4 h.
#   The valid lags sorted: 2, 2, 4, 10, 30 -> median 4; p90 rank 0.9 * 4 = 3.6 -> 10 + 0.6 * (30 - 10) = 22.
# H, placed on 03-12 (the next week), lag 1 h.
ORDERS = pl.DataFrame({
    "order_id": ["A", "B", "C", "D", "E", "F", "G", "H"],
    "created_at": [D(2024, 3, 4, 15), D(2024, 3, 5, 15), D(2024, 3, 6, 15), D(2024, 3, 7, 15), D(2024, 3, 8, 15),
                   D(2024, 3, 8, 16), D(2024, 3, 11, 3), D(2024, 3, 12, 15)],
    "fulfilled_at": [D(2024, 3, 5, 1), D(2024, 3, 5, 17), D(2024, 3, 7, 21), D(2024, 3, 7, 17), D(2024, 3, 8, 1),
                     None, D(2024, 3, 11, 7), D(2024, 3, 12, 16)],
    "currency": ["USD"] * 8,
    "gross_sales": [10.0] * 8,
}).with_columns(source=pl.lit("shop"), updated_at=pl.col("created_at"))


def _import(wh: Warehouse, name: str, frame: pl.DataFrame, source: str = "shop") -> str:
    result = import_batch(wh, Batch(f"{name}.csv", f"sha-{name}", source, "orders", {"orders": frame}))
    assert result.status == "imported"
    return result.import_id  # type: ignore[return-value]


def _random_orders(rng: random.Random, ids: list[str], source: str, updated: D) -> pl.DataFrame:
    created = [D(2024, 2, 1) + timedelta(minutes=rng.randrange(130_000)) for _ in ids]
    # lags from seconds to weeks, ties (whole hours), a few impossible, a few not fulfilled
    lags = [rng.choice([None, -3.0, float(rng.randrange(1, 48)), rng.expovariate(1 / 30), rng.random() / 100])
            for _ in ids]
    fulfilled = [None if lag is None else at + timedelta(hours=lag) for at, lag in zip(created, lags, strict=True)]
    return pl.DataFrame({"order_id": ids, "created_at": created, "fulfilled_at": fulfilled,
                         "currency": ["USD"] * len(ids), "gross_sales": [1.0] * len(ids)}).with_columns(
        source=pl.lit(source), updated_at=pl.lit(updated))


def _raw_lags(cur: object, view: Filters, day: str, period: str, settings: Settings) -> pl.DataFrame:
    """Per period: the count, median and p90 of the valid lags, straight from the orders' rows."""
    lag = lag_quantiles.LAG
    sql = (f"SELECT {period.format(day=day)} AS period, count({lag})::BIGINT AS total, median({lag}) AS q50, "
           f"quantile_cont({lag}, 0.9) AS q90 FROM orders WHERE {order_rollup.VALID} AND {day} >= $start::DATE "
           f"AND {day} < $end_excl::DATE GROUP BY ALL HAVING count(*) > 0 ORDER BY period")
    return cur.execute(sql, {"start": view.start, "end_excl": view.end + timedelta(days=1)}).pl()  # type: ignore[attr-defined]


def _served_lags(cur: object, view: Filters, day: str, period: str) -> pl.DataFrame:
    ctes = lag_quantiles.quantile_ctes("lags", day, period, {"q50": 0.5, "q90": 0.9})
    sql = f"WITH {ctes} SELECT period, total, q50, q90 FROM lags ORDER BY period"
    return cur.execute(sql, {"start": view.start, "end_excl": view.end + timedelta(days=1)}).pl()  # type: ignore[attr-defined]


def assert_served_equals_raw(wh: Warehouse, settings: Settings) -> None:
    cur = wh.cursor()
    assert lag_quantiles.current(cur, settings), "the rollup must be current, else the comparison proves nothing"
    for view in VIEWS:
        for day, column in order_rollup.DAY_OF.items():
            for period in ("$start::DATE", *(f"date_trunc('{g}', {{day}})::DATE" for g in GRAINS)):
                served = _served_lags(cur, view, day, period)
                raw = _raw_lags(cur, view, column, period, settings)
                assert_frame_equal(served, raw, check_exact=True, check_dtypes=False)
        for grain in (None, *GRAINS):
            fast = query(cur, KPIS, view, grain, settings=settings, samples=True)
            slow = query(cur, KPIS, view, grain, settings=settings, samples=True, rollup=False)
            assert_frame_equal(fast, slow, check_exact=True)
        assert_frame_equal(wismo_against_lag(cur, view, settings=settings), _wismo_raw(cur, view, settings))


def _wismo_raw(cur: object, view: Filters, settings: Settings) -> pl.DataFrame:
    """The chart from the rows: both rollups marked stale for the call."""
    marked = {key: Warehouse.meta_in(cur, key) for key in (order_rollup.META_KEY, rollups.META_KEY)}  # type: ignore[arg-type]
    for key in marked:
        Warehouse.set_meta(cur, key, "stale")  # type: ignore[arg-type]
    try:
        assert not lag_quantiles.current(cur, settings) and not rollup_current(cur, settings)  # type: ignore[arg-type]
        return wismo_against_lag(cur, view, settings=settings)  # type: ignore[arg-type]
    finally:
        for key, value in marked.items():
            Warehouse.set_meta(cur, key, value or "")  # type: ignore[arg-type]


@pytest.fixture
def wh(new_york: Settings) -> Iterator[Warehouse]:
    warehouse = on_clock(new_york)
    _import(warehouse, "week", ORDERS)
    yield warehouse
    warehouse.close()


def test_the_fulfilment_lag_median_and_p90_kpis_are_served_and_no_other_kpi() -> None:
    served = {m.name: lag_quantiles.q_of(m) for m in METRICS if lag_quantiles.q_of(m) is not None}
    assert served == {"fulfilment_lag_hours_median": 0.5, "fulfilment_lag_hours_p90": 0.9}


def test_a_week_worked_out_by_hand(wh: Warehouse, new_york: Settings) -> None:
    cur = wh.cursor()
    assert lag_quantiles.current(cur, new_york)
    view = Filters(date(2024, 3, 4), date(2024, 3, 10))
    served = query(cur, KPIS, view, settings=new_york, samples=True).row(0, named=True)
    assert served["fulfilment_lag_hours_median"] == 4.0
    assert served["fulfilment_lag_hours_p90"] == pytest.approx(22.0)
    assert served["fulfilment_lag_hours_median_n"] == 5
    # per day: 03-05 holds B alone (2 h); 03-10 holds G (4 h): placed on the Sunday in New York, not on Monday
    days = query(cur, LAGS, view, "day", settings=new_york).filter(pl.col("fulfilment_lag_hours_median").is_not_null())
    assert dict(zip(days["period"], days["fulfilment_lag_hours_median"], strict=True)) == {
        date(2024, 3, 4): 10.0, date(2024, 3, 5): 2.0, date(2024, 3, 6): 30.0, date(2024, 3, 7): 2.0,
        date(2024, 3, 10): 4.0}
    assert_served_equals_raw(wh, new_york)


def test_rollup_equals_raw_after_every_write(new_york: Settings) -> None:
    rng = random.Random(16)
    wh = on_clock(new_york)
    ids = [f"o{n}" for n in range(600)]
    first = _random_orders(rng, ids, "shop", D(2024, 6, 1))
    _import(wh, "first", first)
    assert_served_equals_raw(wh, new_york)
    # a re-import: a third of the orders placed days later, fulfilled otherwise, some no longer fulfilled
    moved = _random_orders(rng, ids[:200], "shop", D(2024, 7, 1))
    second = _import(wh, "second", moved)
    assert_served_equals_raw(wh, new_york)
    undo_import(wh, second)
    assert_served_equals_raw(wh, new_york)
    _import(wh, "other", _random_orders(rng, ids[:300], "other", D(2024, 6, 1)), source="other")
    assert_served_equals_raw(wh, new_york)
    clear_source(wh, "other")
    assert_served_equals_raw(wh, new_york)
    tickets = pl.DataFrame({"ticket_id": ["t1"], "created_at": [D(2024, 3, 5)]}).with_columns(source=pl.lit("desk"))
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": tickets}))  # no order changes
    assert_served_equals_raw(wh, new_york)
    london = Settings(_env_file=None, timezone="Europe/London")  # type: ignore[call-arg]
    clock.sync(wh, clock.Clock.of(london))  # every local day moves
    assert_served_equals_raw(wh, london)


def test_a_rollup_a_writer_left_behind_is_not_read(wh: Warehouse, new_york: Settings) -> None:
    with wh.transaction() as cur:
        cur.execute(f"UPDATE {order_rollup.VALUES_TABLE} SET value = value + 1")  # wrong, as a forgotten write
        Warehouse.bump_version(cur)  # a write that does not keep the rollup
    cur = wh.cursor()
    assert not lag_quantiles.current(cur, new_york)
    view = Filters(date(2024, 3, 4), date(2024, 3, 10))
    assert query(cur, LAGS, view, settings=new_york)["fulfilment_lag_hours_median"][0] == 4.0  # the orders' own
    assert rollups.sync(wh)  # built whole on the next start
    assert_served_equals_raw(wh, new_york)


def test_a_version_moved_by_several_writes_without_it_leaves_the_rollup_unused_then_rebuilt(
        wh: Warehouse, new_york: Settings) -> None:
    with wh.transaction() as cur:  # orders changed and the version moved by two, the rollup not kept
        cur.execute("UPDATE orders SET fulfilled_at = created_at + INTERVAL 7 HOUR WHERE order_id = 'B'")
        Warehouse.bump_version(cur)
        Warehouse.bump_version(cur)
    cur = wh.cursor()
    assert not lag_quantiles.current(cur, new_york)
    view = Filters(date(2024, 3, 4), date(2024, 3, 10))
    # the valid lags are now 2 (D), 4 (G), 7 (B), 10 (A), 30 (C): the orders' own median, not the rollup's 4
    assert query(cur, LAGS, view, settings=new_york)["fulfilment_lag_hours_median"][0] == 7.0
    tickets = pl.DataFrame({"ticket_id": ["t1"], "created_at": [D(2024, 3, 5)]}).with_columns(source=pl.lit("desk"))
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": tickets}))  # notes no order day
    assert lag_quantiles.current(wh.cursor(), new_york)  # built whole: it was not current before that write
    assert query(wh.cursor(), LAGS, view, settings=new_york)["fulfilment_lag_hours_median"][0] == 7.0
    assert_served_equals_raw(wh, new_york)


def test_the_clock_key_is_the_one_the_clock_records_under() -> None:
    assert order_rollup.CLOCK_KEY == clock.META_KEY


def test_a_ticket_only_write_keeps_the_rollup_without_building_it_again(wh: Warehouse, new_york: Settings) -> None:
    with wh.transaction() as cur:
        cur.execute(f"INSERT INTO {order_rollup.VALUES_TABLE} VALUES (0, DATE '2000-01-01', NULL, 1.0)")  # a marker
    tickets = pl.DataFrame({"ticket_id": ["t1"], "created_at": [D(2024, 3, 5)]}).with_columns(source=pl.lit("desk"))
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": tickets}))
    cur = wh.cursor()
    assert lag_quantiles.current(cur, new_york)
    kept = cur.execute(f"SELECT count(*) FROM {order_rollup.VALUES_TABLE} WHERE created_day = DATE '2000-01-01'")
    assert kept.fetchone() == (1,)  # not built again: the marker row is still there


def test_a_different_clock_reads_raw_rows(wh: Warehouse, new_york: Settings) -> None:
    london = Settings(_env_file=None, timezone="Europe/London")  # type: ignore[call-arg]
    assert lag_quantiles.current(wh.cursor(), new_york) and not lag_quantiles.current(wh.cursor(), london)


@pytest.mark.parametrize("filters", [{}, {"category": ("shipping_status",)}, {"channel": ("email",)},
                                     {"priority": ("high",), "category": ("refund", "shipping_status")}])
def test_the_wismo_chart_from_both_rollups_equals_the_rows(filters: dict[str, tuple[str, ...]],
                                                          settings: Settings) -> None:
    from data.categorising import categorise
    from data.classifier import load_taxonomy
    from tests.test_fulfilment_wismo import ORDERS as WEEK_ORDERS
    from tests.test_fulfilment_wismo import TICKETS, VIEW

    wh = Warehouse()
    tickets = TICKETS.with_columns(channel=pl.Series(["email", "chat"] * 3 + ["email"]),
                                   priority=pl.Series(["high", "low", "low", "high", "high", "high", "low"]))
    import_batch(wh, Batch("t.csv", "sha-t", "desk", "tickets", {"tickets": tickets}))
    import_batch(wh, Batch("o.csv", "sha-o", "shop", "orders", {"orders": WEEK_ORDERS}))
    categorise(wh, load_taxonomy())
    cur = wh.cursor()
    assert lag_quantiles.current(cur, settings) and rollup_current(cur, settings)
    for view in (VIEW, Filters(date(2024, 3, 1), date(2024, 3, 31))):
        filtered = Filters(view.start, view.end, **filters)
        fast = wismo_against_lag(cur, filtered, settings=settings)
        assert fast["wismo_tickets"].drop_nulls().sum() > 0 or filters
        assert_frame_equal(fast, _wismo_raw(cur, filtered, settings))
