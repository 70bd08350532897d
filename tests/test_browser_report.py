"""The Overview's "Download this view (HTML)" in a real Chromium: the saved file opens from file:// with every request
recorded, and none leaves; its chart is interactive and its tiles read as the page's.

Skips only where the tools are absent (Debian's chromium, the playwright package), as tests/test_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from data.warehouse import Warehouse
from tests.conftest import load_fixture
from tests.test_browser import ARTIFACTS, chromium, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_browser_overview_report_opens_offline_with_the_pages_tiles_and_a_live_chart(
        browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "report.duckdb"
    wh = Warehouse(path)
    load_fixture(wh)
    wh.close()
    saved = tmp_path / "overview.html"
    with serve(path, tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(30_000)
        page.goto(f"{url}/?start=2024-03-04&end=2024-03-10")
        tiles = page.get_by_test_id("stMetric")
        tiles.filter(has_text="Tickets created").get_by_test_id("stMetricValue").filter(has_text="4").wait_for()
        page.get_by_test_id("stPlotlyChart").nth(1).locator(".main-svg").first.wait_for()
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
        shown = {tile.get_by_test_id("stMetricLabel").inner_text().strip():
                 tile.get_by_test_id("stMetricValue").inner_text().strip() for tile in tiles.all()}
        with page.expect_download() as download:
            page.get_by_test_id("stSidebar").get_by_role("button", name="Download this view (HTML)").click()
        download.value.save_as(saved)
        assert download.value.suggested_filename == "cs-pulse-overview-2024-03-04-2024-03-10.html"

    offline = browser.new_context(viewport={"width": 1300, "height": 1000})
    requests: list[str] = []

    def record(route: object) -> None:
        requested = route.request.url  # type: ignore[attr-defined]
        requests.append(requested)
        if requested.startswith("file:"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            route.abort()  # type: ignore[attr-defined]

    offline.route("**/*", record)
    report = offline.new_page()
    report.goto(saved.as_uri())
    report.locator(".plotly .main-svg").first.wait_for()
    report.wait_for_load_state("networkidle")
    assert report.evaluate("typeof window.Plotly") == "object"
    assert report.locator(".js-plotly-plot").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    report.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    # hovering a bar gives its value: the chart answers the mouse, it is not a picture
    report.locator(".js-plotly-plot").nth(1).locator(".bars path").first.hover(force=True)
    report.locator(".hoverlayer .hovertext").first.wait_for()
    assert [request for request in requests if not request.startswith("file:")] == []
    assert requests == [saved.as_uri()]

    labels = report.locator(".tile .label").all_inner_texts()
    values = report.locator(".tile .value").all_inner_texts()
    assert dict(zip(labels, values, strict=True)) == shown
    assert shown["Tickets created"] == "4" and len(shown) == 14
    assert "Data up to 11 Mar 2024" in report.locator(".header").inner_text()
    offline.close()
