"""Order exports end to end: Shopify, WooCommerce and Olist files in, canonical orders, lines and reviews out.

Every expected value is worked out by hand from the fixtures in ``fixtures/orders`` (written for these tests).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime as D
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from data.cast import Problem
from data.format_types import Context, Format, Typed, type_columns
from data.formats_orders import SHOPIFY, WOOCOMMERCE, WOOCOMMERCE_DEFAULT_CURRENCY, split_products
from data.plans import Plan, plan_files, run_plan
from data.privacy import customer_keys
from data.raw_tables import Limits, read_table
from data.warehouse import Warehouse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "orders"
OLIST_FIXTURES = FIXTURES / "olist"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
LIMITS = Limits(max_bytes=50_000_000, max_rows=1_000_000, max_columns=500)
SALT = "test-salt"
TOKYO = Context(tz="Asia/Tokyo", salt=SALT)  # far from every fixture's clock: offsets in the values must win
BERLIN = Context(tz="Europe/Berlin", salt=SALT)
NEW_YORK = Context(tz="America/New_York", salt=SALT)


def fixture(name: str) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


def olist_files(*names: str) -> list[tuple[str, bytes]]:
    paths = [OLIST_FIXTURES / name for name in names] if names else sorted(OLIST_FIXTURES.glob("*.csv"))
    return [(path.name, path.read_bytes()) for path in paths]


def plan_one(files: list[tuple[str, bytes]], ctx: Context) -> Plan:
    plans = plan_files(files, ctx, LIMITS)
    assert len(plans) == 1, [p.label for p in plans]
    assert plans[0].ok, plans[0].reason
    return plans[0]


def by_order(frame: pl.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    keys = [c for c in ("order_id", "line_number", "review_id") if c in frame.columns]
    return frame.sort(keys).select("order_id", *columns).rows()


def shaped(fmt: Format, name: str, ctx: Context) -> tuple[Typed, dict[str, pl.DataFrame]]:
    """The format's own reading: what its shape step adds to the rejected rows and notes stays visible here."""
    raw = read_table((FIXTURES / name).read_bytes(), name, LIMITS)
    typed = type_columns(fmt, raw, ctx)
    return typed, fmt.shape(typed, ctx)


def text_cells(frames: dict[str, pl.DataFrame]) -> set[str]:
    return {value for frame in frames.values() for column, dtype in frame.schema.items() if dtype == pl.String
            for value in frame[column].drop_nulls().to_list()}


def table_rows(warehouse: Warehouse, sql: str) -> list[tuple[object, ...]]:
    return warehouse.cursor().execute(sql).fetchall()


def cut_columns(content: bytes, keep: int) -> bytes:
    """The same export with only its first ``keep`` columns, as Shopify's older layouts stop earlier."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(row[:keep] for row in csv.reader(io.StringIO(content.decode())))
    return out.getvalue().encode()


# --- Shopify -------------------------------------------------------------------------------------------------------


def test_shopify_groups_line_items_into_orders() -> None:
    plan = plan_one([fixture("shopify_three_orders.csv")], TOKYO)
    assert (plan.source, plan.kind, plan.label, plan.rows_read) == ("shopify", "orders", "Shopify orders export", 6)
    assert plan.problems == [] and plan.rejected_rows == 0
    orders, lines = plan.frames["orders"], plan.frames["order_lines"]
    # #1001: 2 × 25.00 + 1 × 40.00 + 3 × 5.50 = 106.50; #1002: 120.00; #1003: 60.00 + 2 × 15.00 = 90.00
    assert by_order(orders, "gross_sales", "discounts", "shipping", "taxes", "total", "refunded_amount") == [
        ("#1001", Decimal("106.50"), Decimal("10.00"), Decimal("5.00"), Decimal("8.12"), Decimal("109.62"),
         Decimal("0.00")),
        ("#1002", Decimal("120.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("120.00"),
         Decimal("120.00")),
        ("#1003", Decimal("90.00"), Decimal("0.00"), Decimal("7.50"), Decimal("0.00"), Decimal("97.50"),
         Decimal("15.00")),
    ]
    assert by_order(orders, "currency", "financial_status", "fulfillment_status", "shipping_method",
                    "discount_code", "source") == [
        ("#1001", "USD", "paid", "fulfilled", "Standard", "WELCOME10", "shopify"),
        ("#1002", "USD", "refunded", "unfulfilled", "Standard", None, "shopify"),
        ("#1003", "USD", "partially_refunded", "partial", "Express", None, "shopify"),
    ]
    assert by_order(lines, "line_number", "sku", "product_name", "vendor", "quantity", "price", "currency") == [
        ("#1001", 1, "TEE-BLK-M", "Logo Tee - Black / M", "Acme Apparel", 2, Decimal("25.00"), "USD"),
        ("#1001", 2, "TOTE-NAT", "Canvas Tote", "Acme Bags", 1, Decimal("40.00"), "USD"),
        ("#1001", 3, "STK-3", "Sticker Pack", "Acme Paper", 3, Decimal("5.50"), "USD"),
        ("#1002", 1, "COAT-M", "Wool Coat - M", "Acme Outerwear", 1, Decimal("120.00"), "USD"),
        ("#1003", 1, "JKT-S", "Rain Jacket - S", "Acme Outerwear", 1, Decimal("60.00"), "USD"),
        ("#1003", 2, "SOCK-2", "Wool Socks", "Acme Apparel", 2, Decimal("15.00"), "USD"),
    ]


def test_shopify_offsets_changing_at_dst_convert_each_row_by_its_own() -> None:
    orders = plan_one([fixture("shopify_three_orders.csv")], TOKYO).frames["orders"]
    # -0700 before 2023-11-05 02:00 in Los Angeles, -0800 after; 01:30 happened twice and "-0800" says which
    assert by_order(orders, "created_at", "fulfilled_at", "cancelled_at", "updated_at") == [
        ("#1001", D(2023, 11, 4, 17, 15), D(2023, 11, 5, 17, 0), None, D(2023, 11, 5, 17, 0)),
        ("#1002", D(2023, 11, 5, 9, 30), None, D(2023, 11, 5, 20, 0), D(2023, 11, 5, 20, 0)),
        ("#1003", D(2023, 11, 6, 22, 0), None, None, D(2023, 11, 6, 22, 0, 5)),
    ]


def test_shopify_customer_key_is_the_hashed_email_and_personal_data_is_never_kept() -> None:
    plan = plan_one([fixture("shopify_three_orders.csv")], TOKYO)
    alice, bob = customer_keys(pl.Series(["alice@example.com", "bob@example.com"]), SALT).to_list()
    assert by_order(plan.frames["orders"], "customer_key") == [("#1001", alice), ("#1002", bob), ("#1003", alice)]
    cells = text_cells(plan.frames)
    assert not [c for c in cells if "@" in c or "Example" in c or "555" in c or "94107" in c or "gift" in c]
    assert "email" not in plan.frames["orders"].columns


@pytest.mark.parametrize("columns", [71, 73])
def test_shopify_older_layouts_read_like_the_79_column_one(columns: int) -> None:
    name, content = fixture("shopify_three_orders.csv")
    full = plan_one([(name, content)], TOKYO)
    older = plan_one([(f"older_{columns}.csv", cut_columns(content, columns))], TOKYO)
    assert older.frames["orders"].equals(full.frames["orders"])
    assert older.frames["order_lines"].equals(full.frames["order_lines"])


def test_shopify_trimmed_layout_is_matched_by_names() -> None:
    plan = plan_one([fixture("shopify_trimmed.csv")], TOKYO)
    assert plan.source == "shopify" and plan.problems == []
    # #2001: 2 × 9.00 + 12.00 = 30.00 (before DST in Europe, +0100); #2002 after it (+0200)
    assert by_order(plan.frames["orders"], "created_at", "currency", "gross_sales", "total", "financial_status",
                    "fulfillment_status") == [
        ("#2001", D(2024, 3, 30, 17, 0), "EUR", Decimal("30.00"), Decimal("30.00"), "paid", None),
        ("#2002", D(2024, 4, 1, 7, 0), "EUR", Decimal("15.00"), Decimal("15.00"), "pending", None),
    ]
    assert by_order(plan.frames["order_lines"], "line_number", "product_name", "quantity", "price", "sku") == [
        ("#2001", 1, "Mug", 2, Decimal("9.00"), None),
        ("#2001", 2, "Loose Tea", 1, Decimal("12.00"), None),
        ("#2002", 1, "Loose Tea", 1, Decimal("15.00"), None),
    ]


def test_shopify_spreadsheet_resave_reads_day_first_dates_whole_money_and_true_false() -> None:
    plan = plan_one([fixture("shopify_resaved.csv")], BERLIN)
    assert plan.problems == [] and plan.rejected_rows == 0
    # Berlin is UTC+1 in winter; "31/12" proves the dates are day-first, so 05/01 is 5 January
    assert by_order(plan.frames["orders"], "created_at", "fulfilled_at", "updated_at", "gross_sales", "shipping",
                    "total") == [
        ("#3001", D(2023, 12, 31, 21, 36), D(2024, 1, 2, 9, 5), D(2024, 1, 2, 9, 5), Decimal("65.00"),
         Decimal("5.00"), Decimal("70.00")),
        ("#3002", D(2024, 1, 5, 8, 0), None, D(2024, 1, 5, 8, 1), Decimal("120.00"), Decimal("0.00"),
         Decimal("120.00")),
    ]
    assert by_order(plan.frames["order_lines"], "quantity", "price") == [
        ("#3001", 2, Decimal("25.00")), ("#3001", 1, Decimal("15.00")), ("#3002", 1, Decimal("120.00"))]


def test_shopify_bad_cell_in_a_continuation_row_rejects_its_whole_order() -> None:
    plan = plan_one([fixture("shopify_bad_continuation.csv")], TOKYO)
    assert plan.problems == [Problem(3, "Lineitem price", "12.5O", "not an amount of money")]
    assert by_order(plan.frames["orders"], "gross_sales") == [("#4001", Decimal("10.00")), ("#4003", Decimal("9.00"))]
    assert plan.frames["order_lines"]["order_id"].to_list() == ["#4001", "#4003", "#4003"]
    typed, _ = shaped(SHOPIFY, "shopify_bad_continuation.csv", TOKYO)
    assert typed.rejected == {2, 3, 4}  # all three rows of #4002
    assert any("#4002" in note and "3 rows" in note for note in typed.notes)


def test_shopify_plan_counts_every_row_of_a_rejected_order() -> None:
    plan = plan_one([fixture("shopify_bad_continuation.csv")], TOKYO)
    assert plan.rejected_rows == 3
    assert any("#4002" in note for note in plan.notes)


def test_shopify_without_a_currency_column_is_refused_by_name() -> None:
    name, content = fixture("shopify_trimmed.csv")
    content = content.replace(b"Currency", b"Curr")
    [plan] = plan_files([(name, content)], TOKYO, LIMITS)
    assert not plan.ok and plan.source == "shopify"
    assert plan.reason == "shopify_trimmed.csv: no column 'Currency' for a Shopify orders export"


def test_shopify_imports_into_the_warehouse_once() -> None:
    plan = plan_one([fixture("shopify_three_orders.csv")], TOKYO)
    warehouse = Warehouse()
    first = run_plan(warehouse, plan)
    assert (first.status, first.rows_read, first.inserted) == ("imported", 6, 3)
    assert first.per_table["order_lines"]["inserted"] == 6
    assert table_rows(warehouse, "SELECT order_id, gross_sales, created_at FROM orders ORDER BY order_id") == [
        ("#1001", Decimal("106.50"), D(2023, 11, 4, 17, 15)),
        ("#1002", Decimal("120.00"), D(2023, 11, 5, 9, 30)),
        ("#1003", Decimal("90.00"), D(2023, 11, 6, 22, 0)),
    ]
    assert table_rows(warehouse, "SELECT order_id, count(*), sum(price * quantity) FROM order_lines "
                                 "GROUP BY order_id ORDER BY order_id") == [
        ("#1001", 3, Decimal("106.50")), ("#1002", 1, Decimal("120.00")), ("#1003", 2, Decimal("90.00"))]
    again = run_plan(warehouse, plan)
    assert (again.status, again.import_id) == ("already_imported", first.import_id)
    assert table_rows(warehouse, "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines)") == [
        (3, 6)]


# --- WooCommerce ---------------------------------------------------------------------------------------------------


def test_woocommerce_refund_rows_net_into_one_order() -> None:
    plan = plan_one([fixture("woocommerce_orders_cp1252.csv")], NEW_YORK)
    assert (plan.source, plan.rows_read, plan.problems) == ("woocommerce", 6, [])
    # 5001: 45 sold, a '-15 refund row -> partially refunded; 5004: 20 sold, '-20 back -> refunded
    assert by_order(plan.frames["orders"], "gross_sales", "refunded_amount", "financial_status",
                    "fulfillment_status", "total") == [
        ("5001", Decimal("45.00"), Decimal("15.00"), "partially_refunded", "fulfilled", None),
        ("5002", Decimal("30.00"), Decimal("0.00"), "paid", "fulfilled", None),
        ("5003", Decimal("12.50"), Decimal("0.00"), "paid", "unfulfilled", None),
        ("5004", Decimal("20.00"), Decimal("20.00"), "refunded", None, None),
    ]


def test_woocommerce_us_dates_read_in_the_account_time_zone() -> None:
    orders = plan_one([fixture("woocommerce_orders_cp1252.csv")], NEW_YORK).frames["orders"]
    # New York is UTC-4 in August; "8/13/2024" proves month first; updated_at is the last refund
    assert by_order(orders, "created_at", "updated_at") == [
        ("5001", D(2024, 8, 9, 15, 33), D(2024, 8, 12, 13, 5)),
        ("5002", D(2024, 8, 10, 20, 20), D(2024, 8, 10, 20, 20)),
        ("5003", D(2024, 8, 13, 12, 0), D(2024, 8, 13, 12, 0)),
        ("5004", D(2024, 8, 14, 14, 0), D(2024, 8, 15, 16, 0)),
    ]


def test_woocommerce_windows_1252_currency_symbols_name_the_currency() -> None:
    plan = plan_one([fixture("woocommerce_orders_cp1252.csv")], NEW_YORK)
    assert "decoded as Windows-1252 (the file is not valid UTF-8)" in plan.notes
    assert by_order(plan.frames["orders"], "currency") == [
        ("5001", "EUR"), ("5002", "GBP"), ("5003", WOOCOMMERCE_DEFAULT_CURRENCY), ("5004", "EUR")]
    assert WOOCOMMERCE_DEFAULT_CURRENCY == "USD"
    typed, _ = shaped(WOOCOMMERCE, "woocommerce_orders_cp1252.csv", NEW_YORK)
    assert "The currency of 1 order is not named, or its symbol is shared by several currencies (e.g. $12.50): read " \
           "as USD." in typed.notes


def test_woocommerce_products_become_lines_with_html_entities_decoded() -> None:
    plan = plan_one([fixture("woocommerce_orders_cp1252.csv")], NEW_YORK)
    assert by_order(plan.frames["order_lines"], "line_number", "product_name", "quantity", "price", "currency") == [
        ("5001", 1, "Mug & Saucer", 2, None, "EUR"),
        ("5001", 2, "Tea Towel", 1, None, "EUR"),
        ("5002", 1, "Fish & Chips Plate, Large", 1, None, "GBP"),
        ("5003", 1, "Sticker", 1, None, "USD"),
        ("5004", 1, "Café Crème Beans", 1, None, "EUR"),
    ]
    assert by_order(plan.frames["orders"], "discount_code") == [
        ("5001", None), ("5002", "SUMMER5"), ("5003", None), ("5004", None)]


def test_woocommerce_product_cells_are_split_before_each_quantity() -> None:
    assert split_products("2× Mug &amp; Saucer, 1× Salt, Pepper &amp; Oil Set", 3) == [
        (2, "Mug & Saucer"), (1, "Salt, Pepper & Oil Set")]
    assert split_products("Gift Card", 2) == [(2, "Gift Card")]  # one product: Items sold is its quantity
    assert split_products("Mug, Towel", 2) == [(None, "Mug"), (None, "Towel")]  # how many of each is not said
    assert split_products(None, None) == []


def test_woocommerce_customer_names_are_never_kept() -> None:
    plan = plan_one([fixture("woocommerce_orders_cp1252.csv")], NEW_YORK)
    cells = text_cells(plan.frames)
    assert not [c for c in cells if any(name in c for name in ("Chloé", "Dupont", "Jane", "Roe", "Tom", "Sam Lee"))]
    assert plan.frames["orders"]["customer_key"].null_count() == 4  # a name is not an identity


def test_woocommerce_newer_net_sales_header_reads_the_same() -> None:
    name, content = fixture("woocommerce_orders_cp1252.csv")
    newer = plan_one([(name, content.replace(b",N. Revenue,", b",Net Sales,"))], NEW_YORK)
    older = plan_one([(name, content)], NEW_YORK)
    assert newer.frames["orders"].equals(older.frames["orders"])


# --- Olist ---------------------------------------------------------------------------------------------------------


def test_olist_set_is_detected_from_files_given_together() -> None:
    plans = plan_files([*olist_files(), fixture("shopify_trimmed.csv")], TOKYO, LIMITS)
    assert sorted(p.source for p in plans) == ["olist", "shopify"]
    olist = next(p for p in plans if p.source == "olist")
    assert olist.ok and olist.label == "Olist marketplace export set"
    assert sorted(olist.files) == sorted(path.name for path in OLIST_FIXTURES.glob("*.csv"))
    assert (olist.rows_read, olist.rejected_rows, olist.problems) == (3, 0, [])
    assert {name: frame.height for name, frame in olist.frames.items()} == {
        "orders": 3, "order_lines": 4, "reviews": 3}
    assert any("olist_products_dataset.csv, product_category_name_translation.csv recognised" in note
               for note in olist.notes)


def test_olist_joins_and_sums_by_hand() -> None:
    """An Olist order sums its items and freight, totals its payments (else items plus freight); one buyer, one key."""
    plan = plan_one(olist_files(), TOKYO)
    # o1: items 59.90 + 59.90 + 120.00 = 239.80, freight 12.30 + 12.30 + 8.40 = 33.00, paid 200.00 + 72.80;
    # o2 (cancelled): no items, paid 89.90; o3: 35.50 + 15.10, no payments -> total = gross + shipping = 50.60
    assert by_order(plan.frames["orders"], "currency", "gross_sales", "shipping", "total", "financial_status",
                    "fulfillment_status") == [
        ("o1", "BRL", Decimal("239.80"), Decimal("33.00"), Decimal("272.80"), "paid", "fulfilled"),
        ("o2", "BRL", Decimal("0.00"), Decimal("0.00"), Decimal("89.90"), "voided", "unfulfilled"),
        ("o3", "BRL", Decimal("35.50"), Decimal("15.10"), Decimal("50.60"), "paid", "fulfilled"),
    ]
    assert by_order(plan.frames["order_lines"], "line_number", "sku", "vendor", "quantity", "price", "currency") == [
        ("o1", 1, "p1", "s1", 1, Decimal("59.90"), "BRL"),
        ("o1", 2, "p1", "s1", 1, Decimal("59.90"), "BRL"),
        ("o1", 3, "p2", "s2", 1, Decimal("120.00"), "BRL"),
        ("o3", 1, "p3", "s1", 1, Decimal("35.50"), "BRL"),
    ]
    u1, u2 = customer_keys(pl.Series(["u1", "u2"]), SALT).to_list()  # o1 and o3 are the same person
    assert by_order(plan.frames["orders"], "customer_key") == [("o1", u1), ("o2", u2), ("o3", u1)]
    assert {frame["source"].unique().to_list()[0] for frame in plan.frames.values()} == {"olist"}


def test_olist_reads_sao_paulo_wall_clock_as_utc_and_notes_the_skipped_hour() -> None:
    plan = plan_one(olist_files(), TOKYO)
    # o1 on 10 Feb 2018 is summer time (UTC-2) until 18 Feb, delivered on 20 Feb at UTC-3; o2 in July, UTC-3;
    # o3 at 00:30 on 15 Oct 2017, an hour São Paulo skipped (00:00 -> 01:00): read as 01:30 summer time
    assert by_order(plan.frames["orders"], "created_at", "fulfilled_at", "cancelled_at", "updated_at") == [
        ("o1", D(2018, 2, 10, 15, 0), D(2018, 2, 12, 11, 0), None, D(2018, 2, 20, 20, 45)),
        ("o2", D(2018, 7, 29, 16, 54, 51), None, D(2018, 7, 29, 17, 24, 20), D(2018, 7, 29, 17, 24, 20)),
        ("o3", D(2017, 10, 15, 3, 30), D(2017, 10, 17, 13, 0), None, D(2017, 10, 17, 13, 0)),
    ]
    skipped = "1 time in the hour São Paulo clocks skipped at daylight saving read one hour later"
    assert f"olist_orders_dataset.csv: {skipped}" in plan.notes
    assert f"olist_order_reviews_dataset.csv: {skipped}" in plan.notes  # r3, below


def test_olist_reviews_keep_their_text() -> None:
    plan = plan_one(olist_files(), TOKYO)
    assert by_order(plan.frames["reviews"], "review_id", "score", "title", "message", "created_at",
                    "updated_at") == [
        ("o1", "r1", 5, "Recomendo", "Chegou antes do prazo.\r\nProduto ótimo!", D(2018, 2, 21, 3, 0),
         D(2018, 2, 22, 13, 15)),
        ("o2", "r2", 1, None, "Pedido cancelado sem aviso", D(2018, 8, 1, 3, 0), D(2018, 8, 1, 3, 0)),
        ("o3", "r3", 4, None, None, D(2017, 10, 15, 3, 0), D(2017, 10, 16, 11, 0)),
    ]


def test_olist_items_and_reviews_of_unknown_orders_are_left_out_with_a_note() -> None:
    plan = plan_one(olist_files(), TOKYO)
    assert "Olist set: 1 item of orders that are not in the orders file left out: o9" in plan.notes
    assert "Olist set: 1 review of orders that are not in the orders file left out: o8" in plan.notes
    assert plan.rejected_rows == 0


def test_olist_unreadable_item_leaves_out_its_whole_order() -> None:
    files = [(name, content.replace(b",120.00,", b",12O.00,")) for name, content in olist_files()]
    plan = plan_one(files, TOKYO)
    assert plan.problems == [Problem(3, "olist_order_items_dataset.csv: price", "12O.00", "not an amount of money")]
    assert plan.frames["orders"]["order_id"].sort().to_list() == ["o2", "o3"]
    assert plan.frames["order_lines"]["order_id"].to_list() == ["o3"]
    assert plan.frames["reviews"]["order_id"].sort().to_list() == ["o2", "o3"]
    # the bad item, then o1's order row, its 2 other items, 2 payments and 1 review
    assert plan.rejected_rows == 1 + 1 + 2 + 2 + 1


def test_olist_without_optional_files_notes_what_is_missing() -> None:
    plan = plan_one(olist_files("olist_orders_dataset.csv", "olist_order_items_dataset.csv"), TOKYO)
    assert set(plan.frames) == {"orders", "order_lines"}
    assert by_order(plan.frames["orders"], "total", "customer_key") == [
        ("o1", Decimal("272.80"), None), ("o2", Decimal("0.00"), None), ("o3", Decimal("50.60"), None)]
    missing = [note for note in plan.notes if note.startswith("Olist set: no ")]
    assert [note.split(" (")[0] for note in missing] == [
        "Olist set: no payments file", "Olist set: no customers file", "Olist set: no reviews file"]


def test_olist_without_its_orders_file_is_refused() -> None:
    [plan] = plan_files(olist_files("olist_order_reviews_dataset.csv"), TOKYO, LIMITS)
    assert plan.source == "olist" and not plan.ok
    assert plan.reason.startswith("olist_order_reviews_dataset.csv: an Olist set needs its orders file")


def test_olist_imports_into_the_warehouse_once() -> None:
    plan = plan_one(olist_files(), TOKYO)
    warehouse = Warehouse()
    first = run_plan(warehouse, plan)
    assert first.status == "imported"
    assert {t: c["inserted"] for t, c in first.per_table.items()} == {"orders": 3, "order_lines": 4, "reviews": 3}
    assert table_rows(warehouse, "SELECT review_id, order_id, score FROM reviews ORDER BY review_id") == [
        ("r1", "o1", 5), ("r2", "o2", 1), ("r3", "o3", 4)]
    assert run_plan(warehouse, plan).status == "already_imported"
    assert run_plan(warehouse, plan_one(olist_files(), TOKYO)).status == "already_imported"


# --- real exports --------------------------------------------------------------------------------------------------

REAL_EXPORTS = {
    # folder (or file) -> orders, line rows, reviews, currency
    "shopify-real-store-monfrere-redacted/Shopify_orders_export_2.csv": (4936, 7921, None, "USD"),
    "shopify-devstore-sample/orders_export_1.csv": (51, 121, None, "INR"),
    "olist-sample-4000-consistent": (4000, 4519, 3986, "BRL"),
}


def real_files(relative: str) -> list[tuple[str, bytes]]:
    if not REAL.is_dir():
        pytest.skip(f"the real exports are not here ({REAL}); they are kept outside the project")
    path = REAL / relative
    paths = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    return [(p.name, p.read_bytes()) for p in paths]


@pytest.mark.parametrize("relative", list(REAL_EXPORTS), ids=["monfrere", "devstore", "olist"])
def test_real_exports_read_whole_and_import_once(relative: str) -> None:
    orders, lines, reviews, currency = REAL_EXPORTS[relative]
    plan = plan_one(real_files(relative), Context(tz="America/Los_Angeles", salt=SALT))
    assert (plan.rejected_rows, plan.problems) == (0, [])
    assert plan.frames["orders"].height == orders and plan.frames["order_lines"].height == lines
    assert plan.frames["orders"]["currency"].unique().to_list() == [currency]
    if reviews is not None:
        assert plan.frames["reviews"].height == reviews
    assert not [c for c in text_cells(plan.frames) if "@" in c]
    warehouse = Warehouse()
    assert run_plan(warehouse, plan).status == "imported"
    counts = "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines), (SELECT count(*) FROM reviews)"
    before = table_rows(warehouse, counts)
    assert before == [(orders, lines, reviews or 0)]
    assert run_plan(warehouse, plan).status == "already_imported"
    assert table_rows(warehouse, counts) == before
