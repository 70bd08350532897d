"""Mapping an unknown export in one pass, in a real Chromium against `streamlit run`: a line-level orders file in
the UCI Online Retail layout is uploaded, its fields follow the kind chosen and start on guessed headers, the
mapping is saved and the file imported as orders.

Skips only where the tools are absent (Debian's chromium, the playwright package), like tests/test_browser.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import PROJECT
from tests.test_browser import ARTIFACTS, page, server_url  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser
RETAIL = PROJECT / "tests" / "fixtures" / "orders" / "online_retail_lines.csv"


def _box(main: Locator, label: str) -> Locator:
    return main.get_by_test_id("stSelectbox").filter(has_text=label).first


def _idle(tab: Page) -> None:
    tab.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def test_browser_line_level_orders_are_mapped_in_one_pass_then_imported(
        page: Page, server_url: str) -> None:  # noqa: F811 - the imported fixtures
    from playwright.sync_api import expect

    page.goto(f"{server_url}/imports")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(RETAIL))
    page.get_by_text("Map its columns once", exact=True).wait_for()
    main = page.get_by_test_id("stMain")
    kind = main.get_by_test_id("stRadio").filter(has_text="It holds")

    _idle(page)
    kind.get_by_text("tickets", exact=True).click()  # the ticket fields replace the order fields at once
    expect(_box(main, "Ticket id *")).to_be_visible()
    expect(main.get_by_test_id("stSelectbox").filter(has_text="Order number *")).to_have_count(0)

    _idle(page)
    kind.get_by_text("orders", exact=True).click()
    for label, header in (("Order number *", "InvoiceNo"), ("Ordered at *", "InvoiceDate"),
                          ("Unit price (line)", "UnitPrice"), ("SKU or stock code (line)", "StockCode")):
        expect(main.get_by_role("combobox", name=label, exact=True)).to_have_value(
            f"{header} (guessed from the header)")
    main.get_by_text("Not read: Country.").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "mapping-form.png"), full_page=True)

    _idle(page)
    main.get_by_label("Currency of every amount (no column names it)").fill("GBP")
    main.get_by_label("Currency of every amount (no column names it)").press("Enter")
    _idle(page)
    main.get_by_role("button", name="Save mapping").click()
    page.get_by_text("online-retail-lines export (saved mapping)").wait_for()
    page.get_by_text("1 cancellation left out (C581005)", exact=False).wait_for()
    page.get_by_text("Times in this file carry no offset: read as UTC.").wait_for()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_test_id("stMetric").filter(has_text="Inserted").get_by_test_id("stMetricValue")).to_have_text(
        "5", timeout=30_000)  # five invoices; the cancellation is not an order
    page.screenshot(path=str(ARTIFACTS / "mapping.png"), full_page=True)
