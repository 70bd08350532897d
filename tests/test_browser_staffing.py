"""The Staffing page in a real Chromium against `streamlit run` on the demo store: a what-if slider moves the gap,
the scenario lands in the URL, and a reload keeps it.

Skips only where the tools are absent (Debian's chromium, the playwright package), like tests/test_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import demo_warehouse_file
from tests.test_browser import ARTIFACTS, page, serve  # noqa: F401 - `page` is a fixture

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """`streamlit run` on a warehouse holding the demo store (two years with Black Friday peaks)."""
    with serve(demo_warehouse_file(tmp_path / "demo.duckdb", "browser"), tmp_path) as url:
        yield url


def _tile(tab: Page, label: str) -> Locator:
    return tab.get_by_test_id("stMetric").filter(has_text=label).first.get_by_test_id("stMetricValue")


def test_browser_staffing_slider_recomputes_the_gap_and_keeps_it_in_the_url(
        page: Page, server_url: str) -> None:  # noqa: F811 - the imported fixture
    from playwright.sync_api import expect

    page.goto(f"{server_url}/staffing?peak=bfcm-2025")
    short = _tile(page, "Agent-hours short")
    expect(short).to_have_text(re.compile(r"^\d[\d,]*$"), timeout=60_000)
    page.get_by_test_id("stPlotlyChart").nth(1).wait_for()
    before = short.inner_text()

    # the service-level slider: focus its thumb and step it up to 99 %, as a keyboard user would
    slider = page.get_by_test_id("stSlider").filter(has_text="Service level").get_by_role("slider")
    slider.focus()
    page.keyboard.press("End")
    page.wait_for_url(re.compile(r"sl=99"), timeout=30_000)
    expect(short).not_to_have_text(before, timeout=30_000)
    after = short.inner_text()
    assert int(after.replace(",", "")) > int(before.replace(",", ""))  # a stricter target needs more agents

    page.reload()
    expect(_tile(page, "Agent-hours short")).to_have_text(after, timeout=60_000)
    assert "99" in page.get_by_test_id("stSlider").filter(has_text="Service level").inner_text()
    page.get_by_test_id("stPlotlyChart").nth(2).wait_for()
    page.set_viewport_size({"width": 1400, "height": 4400})  # Streamlit scrolls inside the page: show it all
    page.wait_for_timeout(1_500)  # let Plotly redraw at the new size before the picture
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "staffing.png"), full_page=True)
