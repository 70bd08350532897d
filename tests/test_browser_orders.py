"""The Orders & loyalty page in a real Chromium against `streamlit run` on the fixture warehouse, with tickets tied
to orders as in tests/test_orders_page.py: reached from the sidebar, its tiles per currency, the contact-rate
chart, and the per-shipping-method table kept in the URL.

Skips only where the tools are absent (Debian's chromium, the playwright package), like tests/test_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from data.warehouse import Warehouse
from tests.conftest import load_fixture
from tests.test_browser import ARTIFACTS, _wait_for_tile, page, serve  # noqa: F401 - `page` is a fixture
from tests.test_orders_page import link_tickets

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "orders.duckdb"
    wh = Warehouse(path)
    load_fixture(wh)
    link_tickets(wh)
    wh.close()
    with serve(path, tmp_path) as url:
        yield url


def test_browser_orders_page_from_the_sidebar_shows_tiles_chart_and_keeps_its_choice(
        page: Page, server_url: str) -> None:  # noqa: F811 - the imported fixture
    page.goto(f"{server_url}/?start=2024-03-04&end=2024-03-10")
    _wait_for_tile(page, "Tickets created", "4")  # the week's dates have reached the sidebar
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Orders & loyalty", exact=True).click()
    # worked out in tests/conftest.py beside ORDERS
    _wait_for_tile(page, "Net sales (USD)", "USD 120.00")
    _wait_for_tile(page, "Net sales (EUR)", "EUR 0.00")
    _wait_for_tile(page, "Fulfilment lag (median)", "2.0 d")
    page.get_by_test_id("stPlotlyChart").first.wait_for()
    page.get_by_test_id("stButtonGroup").filter(has_text="Shipping method").get_by_text("Shipping method").click()
    page.wait_for_url("**contact_by=shipping_method**")
    page.get_by_text("Orders placed with that shipping method").wait_for()
    assert "start=2024-03-04" in page.url
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "orders.png"), full_page=True)
