"""The contact rollup (data/contact_rollup.py) gives tickets per 100 orders by SKU, vendor and the orders' own values
exactly what the rows give (metrics.orders ``contact_rate_by`` with ``rollup=False``, and Polars from the rows), after
every write that changes what it counts: orders of two shops numbering their orders alike, tickets naming orders by
the export's column (some of no order, some of both shops' order) or found by their customer, linking, a re-import
of orders that changes their values (before linking again), a re-import of tickets that moves them to other days and
other orders, undoing both, clearing a shop, a clock change, deferred writes; a rollup a writer left behind is not
read, and a ticket-only write works out its days, not the whole table.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from datetime import datetime as D

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, contact_rollup, order_rollup, rollups
from data.categorising import categorise, correct
from data.classifier import load_taxonomy
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.linking import link
from data.warehouse import Warehouse
from metrics import complaints, orders, orders_links
from metrics import query as mq
from settings import Settings
from tests.conftest import on_clock
from tests.test_contact_rate_by import expected

VIEWS = [mq.Filters(date(2024, 1, 1), date(2024, 12, 31)), mq.Filters(date(2024, 3, 10), date(2024, 3, 10)),
         mq.Filters(date(2024, 2, 12), date(2024, 4, 7))]
SKUS, VENDORS = ["A", "B", "C", None], ["Acme", "Bolt", None]
SHIPPING = mq.Filters(date(2024, 1, 1), date(2024, 12, 31), category=("shipping_status",))  # a category filter
# the ticket filters the rollup holds as keys: a channel, two, and a channel with a category
HELD = [mq.Filters(date(2024, 1, 1), date(2024, 12, 31), channel=("email",)),
        mq.Filters(date(2024, 2, 12), date(2024, 4, 7), channel=("email", "chat")),
        mq.Filters(date(2024, 1, 1), date(2024, 12, 31), channel=("chat",), category=("shipping_status",))]
EXPORTED = ["shipping_status", "refund", None]  # the helpdesk's own categories, in turn


def _shop(rng: random.Random, shop: str, ids: list[str], skus: list[str | None]) -> dict[str, pl.DataFrame]:
    """Orders placed over Jan-Apr 2024 (many near New York's midnight and its March clock change), 0-3 lines each,
    a SKU or vendor twice in some orders."""
    placed = [D(2024, 1, 5) + timedelta(days=rng.randrange(100), hours=rng.choice([3, 4, 5, 14])) for _ in ids]
    frame = pl.DataFrame({
        "order_id": ids, "created_at": placed, "currency": "USD", "customer_key": [int(i) % 25 for i in ids],
        "shipping_method": [rng.choice(["Express", "Standard", None]) for _ in ids],
        "country": [rng.choice(["US", "CA"]) for _ in ids], "discount_code": [rng.choice(["X", None]) for _ in ids],
        "sales_channel": [rng.choice(["web", "pos"]) for _ in ids]},
        schema_overrides={"customer_key": pl.UInt64}).with_columns(source=pl.lit(shop), updated_at=pl.col("created_at"))
    rows = [(i, n, rng.choice(skus), rng.choice(VENDORS), 1) for i in ids for n in range(rng.randrange(4))]
    lines = pl.DataFrame(rows, orient="row", schema={"order_id": pl.String, "line_number": pl.Int32,
                                                     "sku": pl.String, "vendor": pl.String, "quantity": pl.Int32})
    return {"orders": frame, "order_lines": lines.with_columns(source=pl.lit(shop))}


def _tickets(rng: random.Random, count: int, prefix: str = "t") -> pl.DataFrame:
    """Tickets over Jan-May 2024 (many around local midnight): some name an order (a few of no order), some only
    come from a customer who ordered, some from neither."""
    rows = []
    for n in range(count):
        created = D(2024, 1, 20) + timedelta(days=rng.randrange(110), hours=rng.choice([2, 4, 5, 13, 23]),
                                             minutes=rng.randrange(60))
        named = str(rng.randrange(70)) if rng.random() < 0.5 else None  # 60-69: no such order
        customer = rng.randrange(25) if rng.random() < 0.6 else None
        rows.append((f"{prefix}{n}", created, named, customer, rng.choice(["email", "chat", "phone", None])))
    return pl.DataFrame(rows, orient="row", schema={
        "ticket_id": pl.String, "created_at": pl.Datetime("us"), "order_id": pl.String, "customer_key": pl.UInt64,
        "channel": pl.String}).with_columns(source=pl.lit("desk"), updated_at=pl.col("created_at"))


def _import(wh: Warehouse, name: str, source: str, frames: dict[str, pl.DataFrame]) -> str:
    kind = "tickets" if "tickets" in frames else "orders"
    result = import_batch(wh, Batch(f"{name}.csv", f"sha-{name}", source, kind, frames))
    assert result.status == "imported"
    return result.import_id  # type: ignore[return-value]


def assert_served_equals_raw(wh: Warehouse, settings: Settings) -> None:
    cur = wh.cursor()
    assert rollups.is_current(cur, rollups.CONTACTS), "the rollup must be current, else the comparison proves nothing"
    # every value it holds, on every day: what a build from the rows now gives
    held = cur.execute(f"SELECT * FROM {contact_rollup.TABLE} ORDER BY ALL").pl()
    assert_frame_equal(held, cur.execute(f"{contact_rollup._counts('TRUE')} ORDER BY ALL").pl())
    # the orders per value and placed day the contact rate reads beside it (data/order_rollup.py), likewise
    assert rollups.is_current(cur, rollups.ORDERS)
    held = cur.execute(f"SELECT * FROM {order_rollup.VALUES_TABLE_BY_DAY} ORDER BY ALL").pl()
    assert_frame_equal(held, cur.execute(f"{order_rollup._day_values('TRUE')} ORDER BY ALL").pl())
    for view in VIEWS:  # and the page's numbers from it: every dimension over the whole data, SKUs over parts
        assert orders.contact_rollup_serves(cur, view, settings)
        for dimension in contact_rollup.DIMENSIONS if view == VIEWS[0] else ("sku",):
            served = orders.contact_rate_by(cur, view, dimension, settings)
            assert_frame_equal(served, orders.contact_rate_by(cur, view, dimension, settings, rollup=False))
        shares = orders_links.link_shares(cur, view, settings)
        assert_frame_equal(shares, orders_links.link_shares(cur, view, settings, rollup=False))
    for view in (VIEWS[0], SHIPPING, *HELD):  # the Complaints page's tickets per category and value
        assert orders.contact_rollup_serves(cur, view, settings)
        for dimension in complaints.ORDER_DIMENSIONS:
            served = complaints.by_order_dimension(cur, view, dimension, settings).sort("value", "category")
            raw = complaints.by_order_dimension(cur, view, dimension, settings, rollup=False).sort("value", "category")
            assert_frame_equal(served, raw)
    assert not orders.contact_rollup_serves(cur, replace(VIEWS[0], priority=("high",)), settings)  # not a key
    for view in (SHIPPING, *HELD):
        for dimension in contact_rollup.DIMENSIONS:
            assert_frame_equal(orders.contact_rate_by(cur, view, dimension, settings),
                               orders.contact_rate_by(cur, view, dimension, settings, rollup=False))
        assert_frame_equal(orders_links.link_shares(cur, view, settings),
                           orders_links.link_shares(cur, view, settings, rollup=False))


def test_the_rollup_joins_tickets_to_orders_as_the_metrics_do() -> None:
    assert contact_rollup.reaches("g", "v") == mq.ticket_reaches_order("g", "v")
    assert set(contact_rollup.DIMENSIONS) == set(orders.CONTACT_DIMENSIONS)


def test_rollup_equals_raw_after_every_write(new_york: Settings) -> None:
    rng = random.Random(16)
    wh = on_clock(new_york)
    ids = [str(n) for n in range(60)]
    north = _import(wh, "north", "north", _shop(rng, "north", ids, SKUS))
    assert_served_equals_raw(wh, new_york)
    first = _tickets(rng, 400).with_columns(category_exported=pl.Series([EXPORTED[n % 3] for n in range(400)]))
    _import(wh, "tickets", "desk", {"tickets": first})  # before linking: by the export's order number alone
    assert_served_equals_raw(wh, new_york)
    categorise(wh, load_taxonomy())
    assert wh.cursor().execute("SELECT count(DISTINCT category) FROM tickets").fetchone()[0] >= 2
    assert_served_equals_raw(wh, new_york)
    correct(wh, "desk", "t1", "refund")
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    _import(wh, "south", "south", _shop(rng, "south", ids[:40], SKUS))  # the same numbers in another shop
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    # the same orders with other SKUs, vendors and shipping methods: tickets of any day now reach other values
    changed = _shop(rng, "north", ids[:30], ["A", "D", None])
    changed["orders"] = changed["orders"].with_columns(updated_at=pl.lit(D(2024, 6, 1)))
    renamed = _import(wh, "north-again", "north", changed)
    assert_served_equals_raw(wh, new_york)
    # tickets again, to other days and other orders, and new ones
    moved = _tickets(rng, 150).with_columns(updated_at=pl.lit(D(2024, 6, 2)))
    again = _import(wh, "tickets-again", "desk", {"tickets": pl.concat([moved, _tickets(rng, 50, "new")])})
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    undo_import(wh, again)
    assert_served_equals_raw(wh, new_york)
    undo_import(wh, renamed)
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    clear_source(wh, "south")
    assert_served_equals_raw(wh, new_york)
    link(wh, window_days=30)
    assert_served_equals_raw(wh, new_york)
    assert wh.cursor().execute("SELECT count(*) FROM tickets WHERE order_link IS NOT NULL").fetchone()[0] > 100
    undo_import(wh, north)  # tickets left naming no order
    assert_served_equals_raw(wh, new_york)
    london = Settings(_env_file=None, timezone="Europe/London")  # type: ignore[call-arg]
    clock.sync(wh, clock.Clock.of(london))  # every local day moves
    assert_served_equals_raw(wh, london)


def test_served_counts_as_polars_does_from_the_rows(new_york: Settings) -> None:
    rng = random.Random(7)
    wh = on_clock(new_york)
    ids = [str(n) for n in range(60)]
    _import(wh, "north", "north", _shop(rng, "north", ids, SKUS))
    _import(wh, "south", "south", _shop(rng, "south", ids[:40], SKUS))
    _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 400)})
    link(wh, window_days=30)
    cur = wh.cursor()
    assert cur.execute("SELECT count(DISTINCT order_link) FROM tickets").fetchone()[0] == 2  # number, customer
    columns = ["value", "orders", "tickets", "per_100"]
    for view in (VIEWS[0], VIEWS[2]):  # days with orders
        assert orders.contact_rollup_serves(cur, view, new_york)
        for dimension in ("sku", "vendor", "shipping_method"):
            found = orders.contact_rate_by(cur, view, dimension, new_york).select(columns)
            wanted = expected(cur, view, dimension).select(columns)
            assert found.height == wanted.height > 1
            casts = {"orders": pl.Int64, "tickets": pl.Int64}
            assert found.cast(casts).sort("value").equals(wanted.cast(casts).sort("value"))  # type: ignore[arg-type]


def test_a_week_worked_out_by_hand(new_york: Settings) -> None:
    """Order 1 (north) has SKU A on two lines and B; order 1 (south) has A; order 2 (north) has B. Tickets: t1 links
    to north's 1, t2 names '1' in its column (both shops' order 1), t3 links to north's 2, t4 (the week before)
    links to north's 1. North's 2 is placed on 7 Mar, the others on the 4th: both exports cover 4-7 Mar.
    In the week: A reached by t1 and t2 (once each, whatever the lines): 2; B by t1, t2, t3: 3.
    Orders placed in the week: A in north's 1 and south's 1 (2), B in north's 1 and 2 (2). By email (t1 came by
    chat): A by t2: 1; B by t2 and t3: 2; the orders as before (a ticket filter)."""
    wh = on_clock(new_york)
    lines = {"north": [("1", 1, "A"), ("1", 2, "A"), ("1", 3, "B"), ("2", 1, "B")], "south": [("1", 1, "A")]}
    for shop, rows in lines.items():
        ids = sorted({row[0] for row in rows})
        placed = [D(2024, 3, 7, 10) if (shop, i) == ("north", "2") else D(2024, 3, 4, 15) for i in ids]
        frame = pl.DataFrame({"order_id": ids, "created_at": placed, "currency": "USD"})
        _import(wh, shop, shop, {"orders": frame.with_columns(source=pl.lit(shop)), "order_lines": pl.DataFrame(
            rows, orient="row", schema={"order_id": pl.String, "line_number": pl.Int32, "sku": pl.String},
        ).with_columns(source=pl.lit(shop))})
    tickets = pl.DataFrame({"ticket_id": ["t1", "t2", "t3", "t4"], "order_id": ["#1", "1", "2", "1"],
                            "created_at": [D(2024, 3, 5, 15), D(2024, 3, 6, 15), D(2024, 3, 7, 15), D(2024, 2, 28)],
                            "channel": ["chat", "email", "email", "email"]})
    _import(wh, "tickets", "desk", {"tickets": tickets.with_columns(source=pl.lit("desk"))})
    with wh.transaction() as cur:  # links as an analyst would have them: t2's number left to both shops
        links = pl.DataFrame({"ticket_id": ["t1", "t3", "t4"], "order_source": ["north"] * 3,
                              "linked_order_id": ["1", "2", "1"]})
        cur.register("links", links)
        rollups.note_days(cur, "SELECT created_local_date, solved_local_date FROM tickets")
        cur.execute("UPDATE tickets t SET order_source = l.order_source, linked_order_id = l.linked_order_id "
                    "FROM links l WHERE t.ticket_id = l.ticket_id")
        rollups.bump_version(cur)
    cur = wh.cursor()
    week = mq.Filters(date(2024, 3, 4), date(2024, 3, 10))
    assert orders.contact_rollup_serves(cur, week, new_york)
    found = orders.contact_rate_by(cur, week, "sku", new_york).select("value", "orders", "tickets").rows()
    assert sorted(found) == [("A", 2, 2), ("B", 2, 3)]
    by_email = replace(week, channel=("email",))
    assert orders.contact_rollup_serves(cur, by_email, new_york)
    found = orders.contact_rate_by(cur, by_email, "sku", new_york).select("value", "orders", "tickets").rows()
    assert sorted(found) == [("A", 2, 1), ("B", 2, 2)]


def test_a_rollup_a_writer_left_behind_is_not_read(new_york: Settings) -> None:
    rng = random.Random(3)
    wh = on_clock(new_york)
    _import(wh, "north", "north", _shop(rng, "north", [str(n) for n in range(60)], SKUS))
    _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
    view = VIEWS[0]
    before = orders.contact_rate_by(wh.cursor(), view, "sku", new_york)
    with wh.transaction() as cur:
        cur.execute("UPDATE tickets SET order_id = '3' WHERE order_id IS NULL")  # a write that does not keep it
        Warehouse.bump_version(cur)
    cur = wh.cursor()
    assert not rollups.is_current(cur, rollups.CONTACTS) and not orders.contact_rollup_serves(cur, view, new_york)
    after = orders.contact_rate_by(cur, view, "sku", new_york)
    assert_frame_equal(after, orders.contact_rate_by(cur, view, "sku", new_york, rollup=False))
    assert after["tickets"].sum() > before["tickets"].sum()  # the rows' own counts
    assert rollups.sync(wh, new_york)  # built whole on the next start
    assert_served_equals_raw(wh, new_york)


def test_a_ticket_only_write_works_out_its_days_not_the_whole_table(new_york: Settings) -> None:
    rng = random.Random(5)
    wh = on_clock(new_york)
    _import(wh, "north", "north", _shop(rng, "north", [str(n) for n in range(60)], SKUS))
    _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
    with wh.transaction() as cur:  # a marker on a day no ticket has
        cur.execute(f"INSERT INTO {contact_rollup.TABLE} VALUES (DATE '2000-01-01', 'sku', 'A', NULL, NULL, 1)")
    more = pl.DataFrame({"ticket_id": ["x"], "created_at": [D(2024, 3, 5)], "order_id": ["4"]})
    _import(wh, "more", "desk", {"tickets": more.with_columns(source=pl.lit("desk"))})
    cur = wh.cursor()
    assert rollups.is_current(cur, rollups.CONTACTS)
    kept = cur.execute(f"SELECT count(*) FROM {contact_rollup.TABLE} WHERE day = DATE '2000-01-01'").fetchone()
    assert kept == (1,)  # not built again: the marker is still there


@pytest.mark.parametrize("deferred", [False, True])
def test_a_start_builds_a_missing_or_deferred_rollup(new_york: Settings, deferred: bool) -> None:
    rng = random.Random(9)
    wh = on_clock(new_york)
    if deferred:
        with rollups.deferred():
            _import(wh, "north", "north", _shop(rng, "north", [str(n) for n in range(60)], SKUS))
            _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
    else:
        _import(wh, "north", "north", _shop(rng, "north", [str(n) for n in range(60)], SKUS))
        _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
        with wh.transaction() as cur:  # as a warehouse from before the rollup
            cur.execute(f"DROP TABLE {contact_rollup.TABLE}")
            cur.execute("DELETE FROM warehouse_meta WHERE key = $key", {"key": contact_rollup.META_KEY})
    assert not rollups.is_current(wh.cursor(), rollups.CONTACTS)
    rollups.sync(wh, new_york)
    assert_served_equals_raw(wh, new_york)


def test_complaints_per_value_are_read_from_the_rollup(new_york: Settings) -> None:
    """A count changed in the table shows in the Complaints page's tickets per SKU (so it is what is read); the
    rows, read with ``rollup=False``, do not see it."""
    rng = random.Random(12)
    wh = on_clock(new_york)
    _import(wh, "north", "north", _shop(rng, "north", [str(n) for n in range(60)], SKUS))
    _import(wh, "tickets", "desk", {"tickets": _tickets(rng, 200)})
    view = VIEWS[0]
    before = complaints.by_order_dimension(wh.cursor(), view, "sku", new_york).filter(pl.col("value") == "A")
    with wh.transaction() as cur:
        cur.execute(f"UPDATE {contact_rollup.TABLE} SET tickets = tickets + 5 WHERE dimension = 'sku' AND value = 'A' "
                    "AND day = (SELECT min(day) FROM contact_rollup WHERE dimension = 'sku' AND value = 'A')")
    cur = wh.cursor()
    after = complaints.by_order_dimension(cur, view, "sku", new_york).filter(pl.col("value") == "A")
    assert after["tickets"].sum() == before["tickets"].sum() + 5
    raw = complaints.by_order_dimension(cur, view, "sku", new_york, rollup=False).filter(pl.col("value") == "A")
    assert raw["tickets"].sum() == before["tickets"].sum()
