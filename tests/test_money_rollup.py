"""The money rollup (data/money_rollup.py) gives the Orders page's money at stake (metrics.orders_links: the refunds
of orders with and without tickets, the orders open tickets wait on, the open tickets) exactly what the rows give
(``rollup=False``, no tolerance), after every write that changes them: orders of two shops numbering their orders
alike, in two currencies, one shop recording refunds and one not; tickets naming orders (some of no order) or found
by their customer, most solved, some open; linking, a re-import of orders that moves them to other days and values,
a re-import of tickets that moves them to other days and orders, undoing both, clearing a shop, a clock change,
clearing the helpdesk. A week worked out by hand first; a rollup a writer left behind is not read; a ticket-only
write works out its days, not the whole table.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from datetime import datetime as D
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, money_rollup, order_rollup, rollups
from data.ingest import clear_source, undo_import
from data.linking import link
from data.warehouse import Warehouse
from metrics import orders_links
from metrics import query as mq
from metrics.registry import ORDER_VALUE
from settings import Settings
from tests.conftest import on_clock
from tests.test_contact_rollup import _import, _tickets
from tests.test_order_parts import MONEY, _random_orders
from tests.test_retention import assert_retention_served_equals_raw

VIEWS = [mq.Filters(date(2024, 1, 1), date(2024, 12, 31)), mq.Filters(date(2024, 3, 10), date(2024, 3, 10)),
         mq.Filters(date(2024, 2, 12), date(2024, 4, 7)),
         mq.Filters(date(2024, 2, 1), date(2024, 5, 31), channel=("email",))]  # ticket filters change nothing


# view ends across the tickets' days (and after them): tickets open at each end wait on orders
ENDS = [mq.Filters(date(2024, 1, 1), date(2024, 1, 20) + timedelta(days=d)) for d in range(0, 130, 3)]
# ticket filters at some of them: one channel (waiting from each channel's steps), two (open tickets from the
# rollup, waiting from the rows), a channel with a category (the rows)
CHOSEN: list[dict[str, tuple[str, ...]]] = [{"channel": ("email",)}, {"channel": ("chat",)},
                                            {"channel": ("email", "phone")},
                                            {"channel": ("email",), "category": ("shipping_status",)}]


def _tickets_solved(rng: random.Random, count: int, prefix: str = "t") -> pl.DataFrame:
    """As tests/test_contact_rollup.py's tickets, most solved (some on the day they were created, some days later,
    a few before they were created), some open, some marked solved with no solve time."""
    tickets = _tickets(rng, count, prefix)
    solved = [None if rng.random() < 0.25 else at + timedelta(hours=rng.choice([-30, 0.5, 3, 20, 60, 400]))
              for at in tickets["created_at"]]
    status = [rng.choice(["open", "pending"]) if at is None and rng.random() < 0.7 else rng.choice(["solved", None])
              for at in solved]
    return tickets.with_columns(solved_at=pl.Series(solved, dtype=pl.Datetime("us")), status=pl.Series(status))


def _orders(rng: random.Random, shop: str, ids: list[str], refunds: bool, updated: D) -> dict[str, pl.DataFrame]:
    return {"orders": _random_orders(rng, ids, shop, refunds, updated)}


def assert_served_equals_raw(wh: Warehouse, settings: Settings) -> None:
    cur = wh.cursor()
    assert rollups.is_current(cur, rollups.MONEY), "the rollup must be current, else the comparison proves nothing"
    # every row it holds: what a build from the rows now gives
    for table, sql in ((money_rollup.LINKS_TABLE, money_rollup._links("TRUE")),
                       (money_rollup.PARTS_TABLE, money_rollup._parts("TRUE")),
                       (money_rollup.WAITING_TABLE, money_rollup._waiting("TRUE")),
                       (money_rollup.WAITING_BY_CHANNEL_TABLE, money_rollup._waiting("TRUE", by_channel=True)),
                       (money_rollup.OPEN_TABLE, money_rollup._open("TRUE"))):
        held = cur.execute(f"SELECT * FROM {table} ORDER BY ALL").pl()
        assert_frame_equal(held, cur.execute(f"{sql} ORDER BY ALL").pl(), check_exact=True)
    for view in VIEWS:
        served = orders_links._refunds(cur, view, settings)
        assert_frame_equal(served, orders_links._refunds(cur, view, settings, rollup=False), check_exact=True)
    for view in ENDS + [replace(end, **chosen) for end in ENDS[::4] for chosen in CHOSEN]:
        assert orders_links._serves(cur, view, settings, channels=None) == (not view.category)
        served = orders_links._waiting(cur, view, settings)
        assert_frame_equal(served, orders_links._waiting(cur, view, settings, rollup=False), check_exact=True)
        counts = orders_links._open_counts(cur, view, settings)
        assert counts == orders_links._open_counts(cur, view, settings, rollup=False)
    assert_retention_served_equals_raw(wh, settings)  # the Orders page's other kept table, after the same writes


def test_the_rollup_tests_links_and_values_as_the_page_does() -> None:
    assert money_rollup.ORDER_VALUE == ORDER_VALUE == order_rollup.ORDER_VALUE
    assert f"WHERE {money_rollup.LINKED})" in " ".join(orders_links._REFUNDS_FROM_ROWS.split())
    assert "FROM tickets" not in orders_links._REFUNDS_FROM_PARTS  # served without a scan of either table
    assert "FROM orders" not in orders_links._REFUNDS_FROM_PARTS


def test_rollup_equals_raw_after_every_write(new_york: Settings) -> None:
    rng = random.Random(16)
    wh = on_clock(new_york)
    ids = [str(n) for n in range(60)]
    north = _import(wh, "north", "north", _orders(rng, "north", ids, True, D(2024, 1, 1)))
    assert_served_equals_raw(wh, new_york)
    _import(wh, "tickets", "desk", {"tickets": _tickets_solved(rng, 400)})  # before linking: no order has a ticket yet
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    south = _import(wh, "south", "south", _orders(rng, "south", ids[:40], False, D(2024, 1, 1)))  # same numbers
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    # the same orders on other days, with other values
    renamed = _import(wh, "north-again", "north", _orders(rng, "north", ids[:30], True, D(2024, 6, 1)))
    assert_served_equals_raw(wh, new_york)
    # tickets again, to other days and other orders, and new ones
    moved = _tickets_solved(rng, 150).with_columns(updated_at=pl.lit(D(2024, 6, 2)))
    again = _import(wh, "tickets-again", "desk", {"tickets": pl.concat([moved, _tickets_solved(rng, 50, "new")])})
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    undo_import(wh, again)
    assert_served_equals_raw(wh, new_york)
    undo_import(wh, renamed)
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    cur = wh.cursor()
    assert cur.execute(f"SELECT count(DISTINCT with_tickets) FROM {money_rollup.PARTS_TABLE}").fetchone() == (2,)
    undo_import(wh, south)
    assert_served_equals_raw(wh, new_york)
    clear_source(wh, "north")
    assert_served_equals_raw(wh, new_york)
    _import(wh, "north-back", "north", _orders(rng, "north", ids, True, D(2024, 7, 1)))
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    london = Settings(_env_file=None, timezone="Europe/London")  # type: ignore[call-arg]
    clock.sync(wh, clock.Clock.of(london))  # every local day moves
    assert_served_equals_raw(wh, london)
    clear_source(wh, "desk")  # every ticket gone: no order has a ticket, none waits
    assert_served_equals_raw(wh, london)
    assert north


def test_a_week_worked_out_by_hand(new_york: Settings) -> None:
    wh = on_clock(new_york)
    cents = [Decimal("10.00"), Decimal("20.00"), Decimal("30.00"), Decimal("40.00")]
    shop = pl.DataFrame({
        "order_id": ["1", "2", "3", "4"], "created_at": [D(2024, 3, 5, 15)] * 4, "currency": "USD",
        "total": pl.Series(cents, dtype=MONEY), "gross_sales": pl.Series(cents, dtype=MONEY),
        "refunded_amount": pl.Series([Decimal("5.00"), Decimal("0.00"), None, Decimal("40.00")], dtype=MONEY),
    }).with_columns(source=pl.lit("north"), updated_at=pl.col("created_at"))
    _import(wh, "north", "north", {"orders": shop})
    # orders 1 and 3 named by tickets (3 twice, one of them after the week); 4 by none
    tickets = pl.DataFrame({"ticket_id": ["a", "b", "c"], "order_id": ["1", "3", "3"],
                            "created_at": [D(2024, 3, 6, 15), D(2024, 3, 7, 15), D(2024, 4, 2, 15)]})
    _import(wh, "desk", "desk", {"tickets": tickets.with_columns(source=pl.lit("desk"))})
    link(wh, window_days=30)
    week = mq.Filters(date(2024, 3, 4), date(2024, 3, 10))
    found = orders_links._refunds(wh.cursor(), week, new_york)
    assert found.select("with_tickets", "orders", "refunded_orders").rows() == [(True, 2, 1), (False, 2, 1)]
    # with tickets: 1 (10.00, 5.00 refunded) and 3 (no refund recorded: in neither value); without: 2 and 4
    assert found["refund_rate"].to_list() == [1.0, 0.5]
    assert found["order_value"].to_list() == [Decimal("10.00"), Decimal("60.00")]
    assert found["refunded_value"].to_list() == [Decimal("5.00"), Decimal("40.00")]
    assert found["refund_rate_by_value"].to_list() == [0.5, 40 / 60]
    assert_served_equals_raw(wh, new_york)


def test_a_rollup_a_writer_left_behind_is_not_read(new_york: Settings) -> None:
    rng = random.Random(3)
    wh = on_clock(new_york)
    _import(wh, "north", "north", _orders(rng, "north", [str(n) for n in range(60)], True, D(2024, 1, 1)))
    _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
    link(wh, window_days=30)
    view = VIEWS[0]
    before = orders_links._refunds(wh.cursor(), view, new_york)
    with wh.transaction() as cur:  # a write that does not keep it
        cur.execute("UPDATE tickets SET order_source = NULL, linked_order_id = NULL")
        Warehouse.bump_version(cur)
    cur = wh.cursor()
    assert not rollups.is_current(cur, rollups.MONEY)
    after = orders_links._refunds(cur, view, new_york)
    assert_frame_equal(after, orders_links._refunds(cur, view, new_york, rollup=False))
    assert before["with_tickets"].any() and not after["with_tickets"].any()  # the rows' own answer
    assert rollups.sync(wh, new_york)  # built whole on the next start
    assert_served_equals_raw(wh, new_york)


def test_a_ticket_only_write_works_out_its_days_not_the_whole_table(new_york: Settings) -> None:
    rng = random.Random(5)
    wh = on_clock(new_york)
    _import(wh, "north", "north", _orders(rng, "north", [str(n) for n in range(60)], True, D(2024, 1, 1)))
    _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
    with wh.transaction() as cur:  # a marker on a day no order has
        cur.execute(f"INSERT INTO {money_rollup.PARTS_TABLE} VALUES (DATE '2000-01-01', 'USD', 'x', TRUE, 1, 0, 0, "
                    "NULL, NULL)")
    more = pl.DataFrame({"ticket_id": ["x"], "created_at": [D(2024, 3, 5)], "order_id": ["4"]})
    _import(wh, "more", "desk", {"tickets": more.with_columns(source=pl.lit("desk"))})
    link(wh, window_days=30)
    cur = wh.cursor()
    assert rollups.is_current(cur, rollups.MONEY)
    kept = cur.execute(f"SELECT count(*) FROM {money_rollup.PARTS_TABLE} WHERE day = DATE '2000-01-01'").fetchone()
    assert kept == (1,)  # not built again: the marker is still there


@pytest.mark.parametrize("deferred", [False, True])
def test_a_start_builds_a_missing_or_deferred_rollup(new_york: Settings, deferred: bool) -> None:
    rng = random.Random(9)
    wh = on_clock(new_york)
    if deferred:
        with rollups.deferred():
            _import(wh, "north", "north", _orders(rng, "north", [str(n) for n in range(60)], True, D(2024, 1, 1)))
            _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
            link(wh, window_days=30)
    else:
        _import(wh, "north", "north", _orders(rng, "north", [str(n) for n in range(60)], True, D(2024, 1, 1)))
        _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
        with wh.transaction() as cur:  # as a warehouse from before the rollup
            cur.execute(f"DROP TABLE {money_rollup.PARTS_TABLE}")
            cur.execute("DELETE FROM warehouse_meta WHERE key = $key", {"key": money_rollup.META_KEY})
    assert not rollups.is_current(wh.cursor(), rollups.MONEY)
    rollups.sync(wh, new_york)
    assert_served_equals_raw(wh, new_york)


def test_waiting_by_channel_worked_out_by_hand(new_york: Settings) -> None:
    """Order 1 (10.00) waits on a (email) and b (chat), order 3 (30.00) on c (chat), all open at the 10th. Every
    channel: 2 orders, 3 tickets, 40.00. Email: order 1, 1 ticket, 10.00. Chat: orders 1 and 3 (1 counted once
    however many channels wait on it), 2 tickets, 40.00. Email and chat: the rows, as every channel."""
    wh = on_clock(new_york)
    shop = pl.DataFrame({"order_id": ["1", "3"], "created_at": [D(2024, 3, 5, 15)] * 2, "currency": "USD",
                         "total": pl.Series([Decimal("10.00"), Decimal("30.00")], dtype=MONEY)})
    shop = shop.with_columns(source=pl.lit("north"), updated_at=pl.col("created_at"))
    _import(wh, "north", "north", {"orders": shop})
    tickets = pl.DataFrame({"ticket_id": ["a", "b", "c"], "order_id": ["1", "1", "3"],
                            "channel": ["email", "chat", "chat"], "status": ["open", "open", "solved"],
                            "created_at": [D(2024, 3, 6, 15), D(2024, 3, 7, 15), D(2024, 3, 6, 15)],
                            "solved_at": [None, None, D(2024, 3, 20, 15)]})
    tickets = tickets.with_columns(source=pl.lit("desk"), updated_at=pl.col("created_at"))
    _import(wh, "desk", "desk", {"tickets": tickets})
    link(wh, window_days=30)
    end = mq.Filters(date(2024, 3, 4), date(2024, 3, 10))
    cur = wh.cursor()
    wanted = {(): (2, 3, Decimal("40.00")), ("email",): (1, 1, Decimal("10.00")), ("chat",): (2, 2, Decimal("40.00")),
              ("email", "chat"): (2, 3, Decimal("40.00"))}
    for channels, (orders, open_tickets, value) in wanted.items():
        view = replace(end, channel=channels)
        found = orders_links._waiting(cur, view, new_york)
        assert found.select("orders", "open_tickets", "order_value").rows() == [(orders, open_tickets, value)]
        assert orders_links._open_counts(cur, view, new_york) == (open_tickets, 0)
    assert_served_equals_raw(wh, new_york)
