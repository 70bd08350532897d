"""Mapping an unknown export in one pass: a guess from the header names, a customer number where there is no email,
and a file of one row per line item grouped into orders with their lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime as D
from decimal import Decimal
from pathlib import Path

import pytest

from data.basics import ImportRejected
from data.format_types import Context
from data.formats import guess_kind, guess_mapping, header_words, mapped_format
from data.plans import Plan, load_mappings, plan_files, run_plan, save_mapping
from data.privacy import customer_key
from data.raw_tables import Limits
from data.warehouse import Warehouse
from tests.conftest import PROJECT

FIXTURES = PROJECT / "tests" / "fixtures"
# Our own rows in the UCI Online Retail layout: invoice 581001 has three lines, C581005 is a cancellation (a credit
# note: quantity -2), 581004 has no customer, 581003's customer is written 17850.0 as a spreadsheet saves it.
RETAIL = FIXTURES / "orders" / "online_retail_lines.csv"
RETAIL_HEADERS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                  "Country"]
RETAIL_GUESS = {"order_id": "InvoiceNo", "created_at": "InvoiceDate", "customer_id": "CustomerID", "sku": "StockCode",
                "product_name": "Description", "quantity": "Quantity", "price": "UnitPrice"}
SALT = "one-pass"
CTX = Context(tz="UTC", salt=SALT)
LIMITS = Limits(10**7, 10**6, 100)


@pytest.fixture
def wh() -> Iterator[Warehouse]:
    warehouse = Warehouse()
    yield warehouse
    warehouse.close()


def _plan(path: Path, mappings: dict[str, dict[str, object]]) -> Plan:
    [plan] = plan_files([(path.name, path.read_bytes())], CTX, LIMITS, mappings=mappings)
    return plan


def _rows(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.cursor().execute(sql).fetchall()


def test_guess_reads_header_names_as_words() -> None:
    assert header_words("InvoiceNo", "orders") == "number"  # camel case split, "No" is a number, the noun dropped
    assert header_words("CustomerID", "orders") == "customer id"
    assert header_words("Order #", "orders") == "number"
    assert header_words("Ticket Status", "tickets") == "status"
    assert header_words("UnitPrice", "orders") == "unit price"


def test_guess_maps_the_online_retail_layout_onto_orders_and_lines() -> None:
    assert guess_mapping("orders", RETAIL_HEADERS) == RETAIL_GUESS  # Country: the warehouse keeps no address
    assert guess_kind(RETAIL_HEADERS) == "orders"  # tickets would find no ticket id or creation time


def test_guess_maps_a_generic_ticket_export() -> None:
    headers = (FIXTURES / "tickets" / "kaggle_like.csv").read_text().splitlines()[0].split(",")
    guess = guess_mapping("tickets", headers)
    assert guess_kind(headers) == "tickets"
    assert {t: guess[t] for t in ("ticket_id", "status", "customer_email", "satisfaction", "category_exported")} == {
        "ticket_id": "Ticket ID", "status": "Ticket Status", "customer_email": "Customer Email",
        "satisfaction": "Customer Satisfaction Rating", "category_exported": "Ticket Type"}
    assert "customer_id" not in guess  # "Customer Name" is a name, not a customer number


def test_guess_never_reads_a_business_hours_column_as_the_calendar_one() -> None:
    headers = ["Id", "Created", "First reply time in minutes within business hours"]
    assert guess_mapping("tickets", headers) == {"ticket_id": "Id", "created_at": "Created"}


def test_guess_uses_each_header_once_the_closest_name_winning() -> None:
    # "Total" is the total, so "Amount" is left; "Status" is the payment status, the fulfilment one has its own
    guess = guess_mapping("orders", ["Order ID", "Date", "Total", "Amount", "Status", "Fulfillment Status"])
    assert guess == {"order_id": "Order ID", "created_at": "Date", "total": "Total", "financial_status": "Status",
                     "fulfillment_status": "Fulfillment Status"}


def test_unknown_file_says_which_date_order_its_dates_prove(tmp_path: Path) -> None:
    assert _plan(RETAIL, {}).date_order_seen == "MDY"  # 12/13/2011: no 13th month
    day_first = tmp_path / "day_first.csv"
    day_first.write_text("Case,Opened\nA-1,31/01/2024 09:00\nA-2,01/02/2024 10:00\n")
    assert _plan(day_first, {}).date_order_seen == "DMY"
    undecided = tmp_path / "undecided.csv"
    undecided.write_text("Case,Opened\nA-1,01/02/2024 09:00\n")
    assert _plan(undecided, {}).date_order_seen == "unknown"


def test_mapping_of_orders_needs_a_currency_column_or_code() -> None:
    with pytest.raises(ImportRejected, match="Currency"):
        mapped_format("retail", {"kind": "orders", "columns": RETAIL_GUESS})
    with pytest.raises(ImportRejected, match="Currency"):
        mapped_format("retail", {"kind": "orders", "columns": RETAIL_GUESS, "currency": "pounds"})
    assert mapped_format("retail", {"kind": "orders", "columns": RETAIL_GUESS, "currency": "gbp"}).kind == "orders"


def test_mapping_needs_a_name(wh: Warehouse) -> None:
    with pytest.raises(ImportRejected, match="name"):
        save_mapping(wh, " ", {"kind": "orders", "columns": RETAIL_GUESS, "currency": "GBP"})


def test_mapped_line_items_import_as_orders_with_their_lines(wh: Warehouse) -> None:
    save_mapping(wh, "online-retail", {"kind": "orders", "columns": RETAIL_GUESS, "currency": "GBP"})
    plan = _plan(RETAIL, load_mappings(wh))  # recognised by its headers, as the next file will be
    assert (plan.ok, plan.source, plan.rows_read) == (True, "mapped:online-retail", 8)
    assert run_plan(wh, plan).status == "imported"
    # Σ unit price x quantity per invoice:
    #   581001: 6 x 2.55 + 6 x 3.39 + 8 x 2.75 = 15.30 + 20.34 + 22.00 = 57.64
    #   581002: 6 x 1.85 = 11.10;  581003: 4 x 2.10 = 8.40;  581004: 12 x 4.25 = 51.00;  581006: 1 x 18.00
    orders = _rows(wh, "SELECT order_id, created_at, currency, gross_sales FROM orders ORDER BY order_id")
    assert orders == [
        ("581001", D(2011, 12, 13, 8, 26), "GBP", Decimal("57.64")),
        ("581002", D(2011, 12, 13, 9, 2), "GBP", Decimal("11.10")),
        ("581003", D(2011, 12, 14, 10, 15), "GBP", Decimal("8.40")),
        ("581004", D(2011, 12, 14, 11, 30), "GBP", Decimal("51.00")),
        ("581006", D(2011, 12, 15, 14, 41), "GBP", Decimal("18.00")),
    ]
    lines = _rows(wh, "SELECT line_number, sku, product_name, quantity, price FROM order_lines "
                      "WHERE order_id = '581001' ORDER BY line_number")
    assert lines == [(1, "85099A", "ROSE PATTERN TEA MUG", 6, Decimal("2.55")),
                     (2, "71020", "WHITE TIN LANTERN", 6, Decimal("3.39")),
                     (3, "84400B", "BLUE STAR COAT HOOK", 8, Decimal("2.75"))]
    assert _rows(wh, "SELECT count(*), count(DISTINCT order_id) FROM order_lines") == [(7, 5)]


def test_mapped_cancellation_is_left_out_and_said_so(wh: Warehouse) -> None:
    save_mapping(wh, "online-retail", {"kind": "orders", "columns": RETAIL_GUESS, "currency": "GBP"})
    plan = _plan(RETAIL, load_mappings(wh))
    assert any(note.startswith("1 cancellation left out (C581005)") for note in plan.notes)
    run_plan(wh, plan)
    assert _rows(wh, "SELECT count(*) FROM orders WHERE order_id LIKE 'C%'") == [(0,)]
    assert _rows(wh, "SELECT count(*) FROM order_lines WHERE quantity < 0") == [(0,)]


def test_mapped_customer_number_is_hashed_like_an_email_and_never_stored(wh: Warehouse) -> None:
    save_mapping(wh, "online-retail", {"kind": "orders", "columns": RETAIL_GUESS, "currency": "GBP"})
    run_plan(wh, _plan(RETAIL, load_mappings(wh)))
    keys = dict(_rows(wh, "SELECT order_id, customer_key FROM orders"))
    assert keys["581001"] == keys["581003"] == customer_key("17850", SALT)  # 17850.0 is the same customer
    assert keys["581002"] == customer_key("13047", SALT) != keys["581001"]
    assert keys["581004"] is None
    # every stored value but the keys themselves (whose digits may happen to contain anything), as text
    text = str(_rows(wh, "SELECT string_agg(COLUMNS(c -> c != 'customer_key')::VARCHAR, '|') FROM "
                         "(SELECT * FROM orders UNION ALL BY NAME SELECT * FROM order_lines)"))
    assert "581001" in text and not any(number in text for number in ("17850", "13047", "12583"))


def test_mapped_tickets_take_the_customer_number_where_there_is_no_email(wh: Warehouse, tmp_path: Path) -> None:
    export = tmp_path / "cases.csv"
    export.write_text("Case,Opened,Email,Client\n"
                      "A-1,2024-03-04 09:00,ada@example.com,C-7\n"
                      "A-2,2024-03-04 10:00,,C-7\n")
    columns = {"ticket_id": "Case", "created_at": "Opened", "customer_email": "Email", "customer_id": "Client"}
    assert guess_mapping("tickets", ["Case", "Opened", "Email", "Client"]) == columns
    save_mapping(wh, "cases", {"kind": "tickets", "columns": columns})
    run_plan(wh, _plan(export, load_mappings(wh)))
    keys = dict(_rows(wh, "SELECT ticket_id, customer_key FROM tickets"))
    assert keys == {"A-1": customer_key("ada@example.com", SALT), "A-2": customer_key("C-7", SALT)}


def test_mapped_orders_of_one_row_each_still_read_as_before(wh: Warehouse, tmp_path: Path) -> None:
    export = tmp_path / "orders.csv"
    export.write_text("Order ID,Date,Currency,Total,Email\n"
                      "W-1,2024-03-04 09:00,EUR,12.50,ada@example.com\n"
                      "W-2,2024-03-05 10:00,eur,7.00,\n")
    columns = guess_mapping("orders", ["Order ID", "Date", "Currency", "Total", "Email"])
    assert columns == {"order_id": "Order ID", "created_at": "Date", "currency": "Currency",
                       "customer_email": "Email", "total": "Total"}
    save_mapping(wh, "shop", {"kind": "orders", "columns": columns})
    run_plan(wh, _plan(export, load_mappings(wh)))
    assert _rows(wh, "SELECT order_id, currency, total FROM orders ORDER BY order_id") == [
        ("W-1", "EUR", Decimal("12.50")), ("W-2", "EUR", Decimal("7.00"))]
    assert _rows(wh, "SELECT count(*) FROM order_lines") == [(0,)]
