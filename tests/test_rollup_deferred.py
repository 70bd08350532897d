"""Writes inside ``rollups.deferred()`` leave every rollup stale (read nowhere) and ``rollups.sync`` builds them once:
the same tables as writes that keep them, step by step. The dashboard's first start builds the demo store so
(tests/test_startup.py counts the builds)."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from data import contact_rollup, order_rollup, rollups
from data.categorising import categorise
from data.classifier import load_taxonomy
from data.linking import link
from data.warehouse import Warehouse
from metrics.query import Filters, query, rollup_current
from settings import Settings
from tests.conftest import on_clock
from tests.test_rollups import VIEWS, _import, _orders, _tickets

ROLLUP_TABLES = ("ticket_rollup", "ticket_rollup_days", "ticket_rollup_steps", "ticket_rollup_hours",
                 "ticket_rollup_buckets", "ticket_rollup_values", "staffing_slots", "staffing_agents",
                 order_rollup.VALUES_TABLE, order_rollup.BUCKETS_TABLE, contact_rollup.TABLE)


def _write_everything(wh: Warehouse) -> None:
    """What a first start does to the demo store: an import of tickets and orders, categorising, linking."""
    _import(wh, "tickets", {"tickets": _tickets(1500, seed=7)})
    _import(wh, "orders", {"orders": _orders()})
    categorise(wh, load_taxonomy())
    link(wh, window_days=30)


def _table(wh: Warehouse, table: str) -> pl.DataFrame:
    if table == rollups.VALUES_TABLE:  # each value's keys as text: their numbers follow the order writes met them in
        table = f"(SELECT * EXCLUDE (combo) FROM {table} LEFT JOIN {rollups.COMBOS_TABLE} USING (combo))"
    return wh.cursor().execute(f"SELECT * FROM {table} ORDER BY ALL").pl()


def test_deferred_writes_leave_the_rollups_unread_and_one_sync_builds_what_kept_writes_hold(
        new_york: Settings) -> None:
    kept, deferred = on_clock(new_york), on_clock(new_york)
    _write_everything(kept)
    with rollups.deferred():
        _write_everything(deferred)
    cur = deferred.cursor()
    assert not rollup_current(cur, new_york) and not rollups.is_current(cur, rollups.ORDERS)
    assert not rollups.is_current(cur, rollups.CONTACTS)
    view = VIEWS[0]
    raw = query(cur, ["tickets_created", "first_reply_minutes_median"], view, settings=new_york, rollup=False)
    assert_frame_equal(query(cur, ["tickets_created", "first_reply_minutes_median"], view, settings=new_york), raw)

    assert rollups.sync(deferred, new_york)
    assert rollup_current(deferred.cursor(), new_york) and rollups.is_current(deferred.cursor(), rollups.ORDERS)
    assert rollups.is_current(deferred.cursor(), rollups.CONTACTS)
    assert deferred.data_version() == kept.data_version()  # every write still bumped it
    for table in ROLLUP_TABLES:
        # sums of durations may add in another order after a refresh than in a build
        assert_frame_equal(_table(deferred, table), _table(kept, table), rel_tol=1e-12, abs_tol=1e-9)
    kept.close()
    deferred.close()


def test_a_write_after_the_block_keeps_the_rollups_again(new_york: Settings) -> None:
    """Outside the block, a write keeps them as before: a stale rollup is built whole by the next write."""
    wh = on_clock(new_york)
    with rollups.deferred():
        _import(wh, "tickets", {"tickets": _tickets(400, seed=8)})
    assert not rollup_current(wh.cursor(), new_york)
    _import(wh, "orders", {"orders": _orders()})
    cur = wh.cursor()
    assert rollup_current(cur, new_york) and rollups.is_current(cur, rollups.ORDERS)
    whole = Filters(VIEWS[0].start, VIEWS[0].end)
    assert_frame_equal(query(cur, ["tickets_created", "tickets_solved"], whole, "week", settings=new_york),
                       query(cur, ["tickets_created", "tickets_solved"], whole, "week", settings=new_york,
                             rollup=False))
    wh.close()
