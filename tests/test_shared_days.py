"""Ticket-per-order rates count only the local days both exports cover: a helpdesk export and an orders export rarely
span the same dates, and the days only one of them reaches would add its rows and none of the other's.

Every store below is on New York's clock (EST in early March 2024, UTC-5) and holds rows at 15:00 UTC (10:00 local)
unless said otherwise, so a row's local day is its UTC day. Worked out by hand for the week Mon 4 - Sun 10 March:

part: tickets 6 Mar, 7 Mar (where is my order), 9 Mar 03:00 UTC = 8 Mar 22:00 local -> the helpdesk covers 6-8 Mar;
      orders placed 4, 5, 6, 7, 9, 10, 11 Mar, fulfilled: the 4th's on 6 Mar, the 5th's on 9 Mar, the 6th's on 7 Mar,
      the 7th's on 10 Mar -> the orders cover 4-11 Mar. Both cover 6-8 Mar: 3 tickets per 2 orders (6th, 7th) = 150;
      1 WISMO ticket per 2 fulfilled (6th, 7th) = 50. Over every day of the week it was 3 per 6 orders = 50 and
      1 per 4 fulfilled = 25.
more: the reverse: tickets 4, 5 (WISMO), 6, 7 (WISMO), 9, 10 Mar; orders 6, 7, 8 Mar, the 6th's fulfilled 7 Mar, the
      8th's 12 Mar. Both cover 6-8 Mar: 2 tickets per 3 orders = 200/3; 1 WISMO per 1 fulfilled (7 Mar) = 100.
      Over the week it was 6 per 3 = 200 and 2 per 1 = 200.
apart: tickets 4 and 5 Mar, orders 7 and 8 Mar (fulfilled the same days): no day both cover, so both rates are
      unknown in every period (over the week it was 2 per 2 orders = 100 and 0 per 2 fulfilled = 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from datetime import datetime as D

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import order_rollup, rollups
from data.categorising import categorise
from data.classifier import load_taxonomy
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics import complaints, fulfilment, lag_quantiles, orders
from metrics import query as mq
from settings import Settings
from tests.conftest import on_clock
from tests.test_order_rollup import _wismo_raw

RATES = ["contacts_per_100_orders", "wismo_per_100_fulfilled"]
PARTS = ["tickets_created_shared_days", "orders_shared_days", "wismo_tickets_shared_days",
         "orders_fulfilled_shared_days"]
WEEK = mq.Filters(date(2024, 3, 4), date(2024, 3, 10))
MARCH = mq.Filters(date(2024, 3, 1), date(2024, 3, 31))
THREE_WEEKS = mq.Filters(date(2024, 2, 26), date(2024, 3, 17))
WISMO = "shipping_status"


def _at(day: int, hour: int = 15) -> D:
    return D(2024, 3, day, hour)


# (created, category) per ticket; (placed, fulfilled) per order
STORES: dict[str, tuple[list[tuple[D, str]], list[tuple[D, D | None]]]] = {
    "part": ([(_at(6), "refund"), (_at(7), WISMO), (D(2024, 3, 9, 3), "refund")],
             [(_at(4), _at(6)), (_at(5), _at(9)), (_at(6), _at(7)), (_at(7), _at(10)), (_at(9), None),
              (_at(10), None), (_at(11), None)]),
    "more": ([(_at(4), "refund"), (_at(5), WISMO), (_at(6), "refund"), (_at(7), WISMO), (_at(9), "refund"),
              (_at(10), "refund")],
             [(_at(6), _at(7)), (_at(7), None), (_at(8), _at(12))]),
    "apart": ([(_at(4), "refund"), (_at(5), WISMO)], [(_at(7), _at(7, 18)), (_at(8), _at(8, 18))]),
}


# part: the tickets name orders placed on 4 Mar (before the days both cover), 6 Mar and 10 Mar (after them)
ORDER_OF = {"part": ["O0", "O2", "O5"]}


def _store(settings: Settings, name: str) -> Warehouse:
    created, placed = STORES[name]
    wh = on_clock(settings)
    tickets = pl.DataFrame({"ticket_id": [f"T{i}" for i in range(len(created))], "created_at": [c for c, _ in created],
                            "category_exported": [k for _, k in created],
                            "order_id": ORDER_OF.get(name, [None] * len(created)),
                            "channel": ["email", "chat"] * (len(created) // 2) + ["email"] * (len(created) % 2)})
    orders = pl.DataFrame({"order_id": [f"O{i}" for i in range(len(placed))], "created_at": [p for p, _ in placed],
                           "fulfilled_at": [f for _, f in placed], "currency": "USD", "gross_sales": 10.0,
                           "shipping_method": "Express"})
    for kind, source, frame in (("tickets", "desk", tickets), ("orders", "shop", orders)):
        rows = frame.with_columns(source=pl.lit(source))
        import_batch(wh, Batch(f"{kind}.csv", f"sha-{kind}", source, kind, {kind: rows}))
    categorise(wh, load_taxonomy())
    return wh


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, new_york: Settings) -> Iterator[tuple[str, Warehouse]]:
    wh = _store(new_york, request.param)
    yield request.param, wh
    wh.close()


def _rounded(*values: float | None) -> tuple[float | None, ...]:
    return tuple(None if value is None else round(value, 9) for value in values)


WEEK_RATES = {"part": (150.0, 50.0), "more": _rounded(200 / 3, 100.0), "apart": (None, None)}


def _rates(wh: Warehouse, settings: Settings, view: mq.Filters, grain: str | None = None) -> list[tuple[object, ...]]:
    """(contacts per 100 orders, WISMO per 100 fulfilled) per period, to nine decimals."""
    frame = mq.query(wh.cursor(), RATES, view, grain, settings=settings)
    return [_rounded(*row) for row in zip(*(frame[name].to_list() for name in RATES), strict=True)]


def test_rates_count_the_days_both_exports_cover_over_a_week_a_month_and_the_view(
        store: tuple[str, Warehouse], new_york: Settings) -> None:
    name, wh = store
    expected = [WEEK_RATES[name]]
    assert _rates(wh, new_york, WEEK) == expected
    assert _rates(wh, new_york, WEEK, "week") == expected
    assert _rates(wh, new_york, MARCH, "month") == expected  # March holds no other shared day
    assert _rates(wh, new_york, MARCH) == expected


def test_weeks_without_a_day_both_exports_cover_are_unknown(store: tuple[str, Warehouse], new_york: Settings) -> None:
    name, wh = store
    assert _rates(wh, new_york, THREE_WEEKS, "week") == [(None, None), WEEK_RATES[name], (None, None)]


def test_days_of_the_part_store_count_on_their_own(new_york: Settings) -> None:
    # 6 Mar: 1 ticket, 1 order, 0 WISMO of 1 fulfilled; 7 Mar: 1 of 1 each; 8 Mar: 1 ticket (22:00 local), no order
    # placed or fulfilled: nothing to divide by. The other days lie outside the helpdesk export.
    wh = _store(new_york, "part")
    assert _rates(wh, new_york, WEEK, "day") == [(None, None), (None, None), (100.0, 0.0), (100.0, 100.0),
                                                 (None, None), (None, None), (None, None)]


def test_the_days_are_the_settings_clocks(settings: Settings) -> None:
    # On UTC's clock the last ticket (9 Mar 03:00) falls on the 9th: both cover 6-9 Mar, 3 tickets per 3 orders
    # (6th, 7th, 9th), and 1 WISMO per 3 fulfilled (6th, 7th, 9th).
    wh = _store(settings, "part")
    assert _rates(wh, settings, WEEK) == [_rounded(100.0, 100 / 3)]


def test_the_parts_are_unknown_where_the_exports_share_no_day(new_york: Settings) -> None:
    wh = _store(new_york, "apart")
    row = mq.totals(wh.cursor(), ["tickets_created", "orders", *PARTS], WEEK, new_york)
    assert row == {"tickets_created": 2, "orders": 2, **dict.fromkeys(PARTS)}


VIEWS = [WEEK, MARCH, THREE_WEEKS, mq.Filters(date(2024, 3, 7), date(2024, 3, 7)),
         mq.Filters(date(2024, 3, 1), date(2024, 3, 31), channel=("chat",)),
         mq.Filters(date(2024, 3, 4), date(2024, 3, 10), category=(WISMO,))]


def test_rollup_equals_raw_for_the_rates_and_their_parts(store: tuple[str, Warehouse], new_york: Settings) -> None:
    _, wh = store
    cur = wh.cursor()
    assert mq.rollup_current(cur, new_york) and lag_quantiles.current(cur, new_york), "else nothing is compared"
    for view in VIEWS:
        for grain in (None, *mq.GRAINS):
            fast = mq.query(cur, RATES + PARTS, view, grain, settings=new_york, samples=True)
            raw = mq.query(cur, RATES + PARTS, view, grain, settings=new_york, samples=True, rollup=False)
            assert_frame_equal(fast, raw)
            for by in ("channel", "category"):  # the ticket parts broken down
                names = ["tickets_created_shared_days", "wismo_tickets_shared_days"]
                assert_frame_equal(mq.query(cur, names, view, grain, by=by, settings=new_york, samples=True),
                                   mq.query(cur, names, view, grain, by=by, settings=new_york, samples=True,
                                            rollup=False))


def test_the_rollup_and_the_order_rollup_are_read(new_york: Settings) -> None:
    wh = _store(new_york, "part")
    sql = mq.plan(wh.cursor(), RATES, WEEK, settings=new_york)
    assert f"FROM {rollups.DAYS_TABLE} " in sql and f"FROM {order_rollup.PARTS_TABLE} " in sql
    assert "FROM tickets WHERE created_at" not in sql and "FROM orders WHERE created_at" not in sql


def test_the_weekly_wismo_chart_divides_the_days_both_exports_cover(store: tuple[str, Warehouse],
                                                                   new_york: Settings) -> None:
    # part: 1 WISMO ticket (7 Mar) of 2 fulfilled (6th, 7th); more: 1 (7 Mar) of 1 (7 Mar); apart: none shared
    name, wh = store
    frame = fulfilment.wismo_against_lag(wh.cursor(), THREE_WEEKS, settings=new_york)
    shared = {"part": (1, 2), "more": (1, 1), "apart": (None, None)}[name]
    assert frame.select("wismo_tickets_shared_days", "fulfilled_orders_shared_days").rows() == [
        (None, None), shared, (None, None)]
    assert [_rounded(rate)[0] for rate in frame["wismo_per_100_fulfilled"]] == [None, WEEK_RATES[name][1], None]
    assert_frame_equal(frame, _wismo_raw(wh.cursor(), THREE_WEEKS, new_york))


def test_tickets_per_order_by_shipping_method_count_the_days_both_exports_cover(new_york: Settings) -> None:
    # Every order ships Express. Orders placed 6-8 Mar: the 6th's and the 7th's; tickets created then: all three,
    # whatever day their order was placed -> 3 per 2 orders = 150 per 100 (over the week: 3 per 6 orders = 50);
    # per category: 2 refunds per 2 orders = 1,000 per 1,000, 1 where-is-my-order = 500.
    wh = _store(new_york, "part")
    cur = wh.cursor()
    assert orders.contact_rollup_serves(cur, WEEK, new_york), "else the rollup is not compared"
    by_value = orders.contact_rate_by(cur, WEEK, "shipping_method", new_york)
    assert by_value.rows() == [("Express", 2, 3, 150.0)]
    assert_frame_equal(by_value, orders.contact_rate_by(cur, WEEK, "shipping_method", new_york, rollup=False))
    per_category = complaints.by_order_dimension(cur, WEEK, "shipping_method", new_york)
    assert per_category.select("category", "tickets", "sold", "per_1000").rows() == [
        ("refund", 2, 2.0, 1000.0), (WISMO, 1, 2.0, 500.0)]
    assert_frame_equal(per_category, complaints.by_order_dimension(cur, WEEK, "shipping_method", new_york,
                                                                   rollup=False), check_row_order=False)


def test_tickets_per_order_by_value_are_left_out_where_the_exports_share_no_day(new_york: Settings) -> None:
    wh = _store(new_york, "apart")
    for rollup in (True, False):
        assert orders.contact_rate_by(wh.cursor(), WEEK, "shipping_method", new_york, rollup=rollup).is_empty()


def test_the_rates_parts_are_not_offered_as_trends_of_their_own() -> None:
    from ui.trends import TICKET_KPIS

    assert "tickets_created" in TICKET_KPIS and not set(PARTS) & set(TICKET_KPIS)
