"""Complaint categories: weekly counts, the rising-category test on a series built to spike, complaints per
1,000 orders or units by order-side dimension, and example tickets."""

from __future__ import annotations

from datetime import date, timedelta
from datetime import datetime as D

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import rollups
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics import complaints as mc
from metrics.query import Filters
from settings import Settings

END = date(2024, 3, 31)  # a Sunday; week 0 is 03-25..03-31
VIEW = Filters(date(2024, 3, 1), END)


def week_day(weeks_ago: int, offset: int = 0) -> D:
    day = END - timedelta(days=7 * weeks_ago + offset)
    return D(day.year, day.month, day.day, 12)


def series(per_category: dict[str, list[int]]) -> Warehouse:
    """Tickets per category per week: list index = weeks ago (0 = the view's last 7 days)."""
    rows = [{"category": category, "created_at": week_day(weeks_ago, offset=i % 7)}
            for category, counts in per_category.items() for weeks_ago, n in enumerate(counts) for i in range(n)]
    frame = pl.DataFrame(rows).with_columns(source=pl.lit("s"), ticket_id=pl.format("T{}", pl.int_range(pl.len())))
    wh = Warehouse()
    import_batch(wh, Batch("s.csv", "sha-s", "s", "tickets", {"tickets": frame}))
    return wh


def recategorised(wh: Warehouse, sql: str, params: dict[str, object] | None = None) -> None:
    """A change of categories as data/categorising.py writes it: the days of the tickets noted, the rollups kept
    (the complaint rollup counts by category source and confidence)."""
    with wh.transaction() as cur:
        rollups.note_days(cur, "SELECT created_local_date, solved_local_date FROM tickets")
        cur.execute(sql, params or {})
        rollups.bump_version(cur)


def test_category_shares_of_the_fixture_week(warehouse: Warehouse, settings: Settings) -> None:
    """Each category's tickets, share and change against the week before, largest first; a channel filter applies."""
    week = Filters(date(2024, 3, 4), date(2024, 3, 10))
    # created 4-10 March: T1, T3 shipping_status, T2 refund, T4 damaged_item; the week before only T5 (other),
    # which has no ticket this week and is left out. Ties (1 and 1) by category.
    assert mc.category_shares(warehouse.cursor(), week, settings).rows(named=True) == [
        {"by_value": "shipping_status", "tickets": 2, "before": 0, "share": 0.5, "change": 2},
        {"by_value": "damaged_item", "tickets": 1, "before": 0, "share": 0.25, "change": 1},
        {"by_value": "refund", "tickets": 1, "before": 0, "share": 0.25, "change": 1}]
    email = Filters(week.start, week.end, channel=("email",))  # T1 and T3
    assert mc.category_shares(warehouse.cursor(), email, settings).select("by_value", "share").rows() == [
        ("shipping_status", 1.0)]


def test_category_shares_change_against_the_period_before(warehouse: Warehouse, settings: Settings) -> None:
    # 26 Feb - 3 Mar: T5 (other, 28 Feb); the week before, 19-25 Feb: T6 (other, 20 Feb) -> 1 against 1
    week = Filters(date(2024, 2, 26), date(2024, 3, 3))
    assert mc.category_shares(warehouse.cursor(), week, settings).rows() == [("other", 1, 1, 1.0, 0)]


def test_rising_test_comes_from_settings() -> None:
    settings = Settings(_env_file=None, rising_weeks=6, rising_z=2.5, rising_min=3)  # type: ignore[call-arg]
    assert mc.RisingTest.from_settings(settings) == mc.RisingTest(weeks=6, z=2.5, min_tickets=3)


def test_weekly_counts_place_tickets_in_seven_day_windows_ending_on_the_last_day(settings: Settings) -> None:
    wh = series({"refund": [3, 0, 1]})
    counts = mc.weekly_counts(wh.cursor(), VIEW, weeks=2, settings=settings)
    assert counts.to_dicts() == [{"category": "refund", "weeks_ago": 0, "tickets": 3},
                                 {"category": "refund", "weeks_ago": 1, "tickets": 0},
                                 {"category": "refund", "weeks_ago": 2, "tickets": 1}]


def test_weekly_counts_apply_the_views_channel_category_and_priority_filters(settings: Settings) -> None:
    # week 0: refund by email (normal, high), refund by chat (high), damaged_item by email (high); week 1: a chat
    # ticket the filters leave out, so the export reaches into week 1 and its count is a real 0
    rows = [("refund", "email", "normal"), ("refund", "email", "high"), ("refund", "chat", "high"),
            ("damaged_item", "email", "high"), ("refund", "chat", "low")]
    frame = pl.DataFrame({"ticket_id": [f"T{i}" for i in range(len(rows))], "category": [r[0] for r in rows],
                          "channel": [r[1] for r in rows], "priority": [r[2] for r in rows],
                          "created_at": [week_day(0)] * 4 + [week_day(1)]}).with_columns(source=pl.lit("s"))
    wh = Warehouse()
    import_batch(wh, Batch("s.csv", "sha-s", "s", "tickets", {"tickets": frame}))
    view = Filters(VIEW.start, VIEW.end, channel=("email",), category=("refund",), priority=("high",))
    counts = mc.weekly_counts(wh.cursor(), view, weeks=1, settings=settings)
    # only the email, refund, high ticket is left
    assert counts.to_dicts() == [{"category": "refund", "weeks_ago": 0, "tickets": 1},
                                 {"category": "refund", "weeks_ago": 1, "tickets": 0}]


def test_weekly_counts_leave_out_weeks_before_the_exports_first_ticket(settings: Settings) -> None:
    # the export begins 2 weeks ago: week 3 and older are unknown, not quiet, and stay out of the baseline
    wh = series({"refund": [5, 0, 1]})
    counts = mc.weekly_counts(wh.cursor(), VIEW, weeks=8, settings=settings)
    assert counts["weeks_ago"].to_list() == [0, 1, 2]
    assert mc.rising(counts, mc.RisingTest())["mean"].to_list() == [0.5]  # (0 + 1) / 2, not (0 + 1 + 0 x 6) / 8


def test_category_change_is_unknown_where_the_export_does_not_reach_the_period_before(
        warehouse: Warehouse, settings: Settings) -> None:
    # 20-26 Feb holds T6 (other, 20 Feb), the fixture's first ticket: the 7 days before it hold no export, so the
    # change is unknown, not "+1"
    week = Filters(date(2024, 2, 20), date(2024, 2, 26))
    assert mc.category_shares(warehouse.cursor(), week, settings).rows() == [("other", 1, None, 1.0, None)]


def test_category_shares_before_the_export_equal_its_statement(warehouse: Warehouse, settings: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The period before a view that starts with the export is unknown without its statement, in the same frame."""
    week = Filters(date(2024, 2, 20), date(2024, 2, 26))
    skipped = mc.category_shares(warehouse.cursor(), week, settings)
    monkeypatch.setattr(mc, "ends_before_every_row", lambda *args: False)
    assert_frame_equal(skipped, mc.category_shares(warehouse.cursor(), week, settings))


def test_rising_flags_the_spike_and_not_the_noise(settings: Settings) -> None:
    baseline = [2, 3, 2, 3, 2, 3, 2, 3]  # mean 2.5, sample sd 0.5345
    wh = series({
        "damaged_item": [10, *baseline],  # z = (10 - 2.5) / 0.5345 = 14.0 -> rising
        "refund": [3, *baseline],  # z = 0.94 -> steady
        "discount": [6, *[0] * 8],  # no spread, above its mean, 6 >= 5 tickets -> rising
        "exchange": [4, *[0] * 8],  # above a flat zero but only 4 tickets -> not news
    })
    table = mc.rising(mc.weekly_counts(wh.cursor(), VIEW, weeks=8, settings=settings), mc.RisingTest())
    flags = {row["category"]: row["is_rising"] for row in table.iter_rows(named=True)}
    assert flags == {"damaged_item": True, "refund": False, "discount": True, "exchange": False}
    damaged = table.filter(pl.col("category") == "damaged_item").row(0, named=True)
    assert damaged["mean"] == 2.5 and damaged["z"] == pytest.approx(7.5 / 0.5345, rel=1e-3)
    assert table["category"][0] == "damaged_item"  # rising first, largest z first


def test_rising_flags_a_category_only_once_its_z_reaches_the_given_threshold(settings: Settings) -> None:
    wh = series({"refund": [4, 2, 3, 2, 3, 2, 3, 2, 3]})  # z = 1.5 / 0.5345 = 2.8
    weekly = mc.weekly_counts(wh.cursor(), VIEW, weeks=8, settings=settings)
    assert mc.rising(weekly, mc.RisingTest(z=3.0, min_tickets=1))["is_rising"].to_list() == [False]
    assert mc.rising(weekly, mc.RisingTest(z=2.5, min_tickets=1))["is_rising"].to_list() == [True]


@pytest.fixture
def shop() -> Warehouse:
    """Three orders in March: O1 (2 x MUG, 1 x CUP, standard), O2 (1 x MUG, express), O3 (3 x CUP, standard).
    Tickets: damaged on O1 and O2, wrong item on O3, and one ticket with no order, each an hour or two after its
    order: both exports cover 2-4 March, the days a rate per order counts (tests/test_shared_days.py)."""
    wh = Warehouse()
    orders = pl.DataFrame({"order_id": ["O1", "O2", "O3"], "currency": ["USD"] * 3,
                           "created_at": [D(2024, 3, 2, 10), D(2024, 3, 3, 10), D(2024, 3, 4, 10)],
                           "shipping_method": ["standard", "express", "standard"],
                           "discount_code": [None, "SPRING", None]}).with_columns(source=pl.lit("shop"))
    lines = pl.DataFrame({"order_id": ["O1", "O1", "O2", "O3"], "line_number": [1, 2, 1, 1],
                          "sku": ["MUG", "CUP", "MUG", "CUP"], "vendor": ["Clay Co", "Glass Co", "Clay Co", "Glass Co"],
                          "quantity": [2, 1, 1, 3]}).with_columns(source=pl.lit("shop"))
    import_batch(wh, Batch("orders.csv", "sha-o", "shop", "orders", {"orders": orders, "order_lines": lines}))
    tickets = pl.DataFrame({"ticket_id": ["1", "2", "3", "4"], "order_id": ["O1", "O2", "O3", None],
                            "category": ["damaged_item", "damaged_item", "wrong_item", "other"],
                            "created_at": [D(2024, 3, 2, 11), D(2024, 3, 3, 11), D(2024, 3, 4, 11), D(2024, 3, 4, 12)],
                            "subject": ["Mug broke", "Mug cracked", "Not my cup", "Hi"]}
                           ).with_columns(source=pl.lit("desk"))
    import_batch(wh, Batch("tickets.csv", "sha-t", "desk", "tickets", {"tickets": tickets}))
    return wh


def test_complaints_per_1000_units_by_sku(shop: Warehouse, settings: Settings) -> None:
    """A complaint counts against every SKU in its order, per 1,000 units of that SKU sold."""
    table = mc.by_order_dimension(shop.cursor(), VIEW, "sku", settings)
    rows = {(r["value"], r["category"]): (r["tickets"], r["sold"], r["per_1000"]) for r in table.iter_rows(named=True)}
    # MUG: 3 units sold; damaged tickets on O1 and O2 both hold a mug -> 2 / 3 x 1000
    # CUP: 4 units sold; O1's damaged ticket also counts against its cup; O3's wrong item -> 1 each per 4 units
    assert rows == {("MUG", "damaged_item"): (2, 3, pytest.approx(2000 / 3)),
                    ("CUP", "damaged_item"): (1, 4, 250.0),
                    ("CUP", "wrong_item"): (1, 4, 250.0)}
    assert table["per"].unique().to_list() == ["units"]


def test_complaints_per_1000_orders_by_shipping_method(shop: Warehouse, settings: Settings) -> None:
    """Shipping methods and discount codes give complaints per 1,000 orders of each."""
    table = mc.by_order_dimension(shop.cursor(), VIEW, "shipping_method", settings)
    rows = {(r["value"], r["category"]): (r["tickets"], r["sold"]) for r in table.iter_rows(named=True)}
    assert rows == {("standard", "damaged_item"): (1, 2), ("standard", "wrong_item"): (1, 2),
                    ("express", "damaged_item"): (1, 1)}
    codes = mc.by_order_dimension(shop.cursor(), VIEW, "discount_code", settings)
    assert codes.select("value", "tickets", "sold", "per_1000").rows() == [("SPRING", 1, 1, 1000.0)]


def test_order_dimension_is_checked_against_a_fixed_list(shop: Warehouse, settings: Settings) -> None:
    with pytest.raises(ValueError, match="dimension"):
        mc.by_order_dimension(shop.cursor(), VIEW, "sku; DROP TABLE orders", settings)


def test_examples_are_the_newest_of_the_category(shop: Warehouse, settings: Settings) -> None:
    table = mc.examples(shop.cursor(), VIEW, "damaged_item", settings=settings)
    assert table["ticket_id"].to_list() == ["2", "1"]
    assert mc.examples(shop.cursor(), VIEW, "x' OR '1'='1", settings=settings).is_empty()


def test_for_categories_sums_the_chosen_categories_per_value(shop: Warehouse, settings: Settings) -> None:
    table = mc.by_order_dimension(shop.cursor(), VIEW, "sku", settings)
    # CUP: one damaged and one wrong-item ticket over 4 units -> 500 per 1,000; MUG: 2 damaged over 3 units
    both = mc.for_categories(table, ("damaged_item", "wrong_item"))
    assert both.select("value", "tickets", "sold").rows() == [("MUG", 2, 3), ("CUP", 2, 4)]
    assert both["per_1000"].to_list() == [pytest.approx(2000 / 3), 500.0]
    assert mc.for_categories(table, ("wrong_item",)).select("value", "per_1000").rows() == [("CUP", 250.0)]


def test_category_sources_count_tickets_per_source(settings: Settings) -> None:
    wh = series({"refund": [2]})
    recategorised(wh, "UPDATE tickets SET category_source = 'rules' WHERE ticket_id = 'T0'")
    table = mc.category_sources(wh.cursor(), VIEW, settings)
    assert dict(table.select("category_source", "tickets").iter_rows()) == {"rules": 1, "pending": 1}
    assert table["share"].to_list() == [0.5, 0.5]


def test_placed_by_lists_a_sources_tickets_least_sure_first(settings: Settings) -> None:
    """The tickets behind one source's share, lowest confidence first, so an analyst corrects where it pays most."""
    wh = series({"refund": [3], "exchange": [1]})
    # T0..T2 refund, T3 exchange (in the order series writes them): three placed by rules at 0.9, 0.6 and 0.7
    for ticket, confidence in (("T0", 0.9), ("T1", 0.6), ("T2", 0.7)):
        recategorised(wh, "UPDATE tickets SET category_source = 'rules', category_confidence = $c "
                          "WHERE ticket_id = $t", {"c": confidence, "t": ticket})
    recategorised(wh, "UPDATE tickets SET category_source = 'none', category = NULL WHERE ticket_id = 'T3'")
    cur = wh.cursor()
    rules = mc.placed_by(cur, VIEW, "rules", settings=settings)
    assert rules.select("ticket_id", "category_confidence").rows() == [("T1", 0.6), ("T2", 0.7), ("T0", 0.9)]
    assert mc.placed_by(cur, VIEW, "none", settings=settings).select("ticket_id", "category").rows() == [
        ("T3", "uncategorised")]
    assert mc.placed_by(cur, VIEW, "model", settings=settings).is_empty()
    assert mc.placed_by(cur, VIEW, "rules' OR 1=1 --", settings=settings).is_empty()  # a bound value, not SQL
