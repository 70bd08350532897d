"""A store's first real export in a real Chromium, as a new user meets it: the dashboard opens on the demo store,
the analyst imports a trimmed Zendesk export (two spring months, business-hours durations only, the store's own
category in a custom field), clears the demo, and every page shows numbers and no empty chart.

Skips only where the tools are absent (Debian's chromium, the playwright package), like tests/test_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.first_export import zendesk_first_export
from tests.test_browser import ARTIFACTS, page, serve  # noqa: F401 - `page` is a fixture

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
PAGES = ["", "trends", "team", "staffing", "complaints", "data"]
# every drawn chart holds at least one number that is not zero: an empty chart or all-zero bars fail
CHART_HOLDS_DATA = """() => {
    const flat = v => v == null ? [] :
        typeof v === 'object' && v.length !== undefined ? Array.from(v).flatMap(flat) : [v];
    return [...document.querySelectorAll('.js-plotly-plot')].map(plot => (plot._fullData || []).some(trace =>
        ['x', 'y', 'z'].some(axis => flat(trace[axis]).some(v => typeof v === 'number' && v !== 0 && !isNaN(v)))));
}"""


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """`streamlit run` on an empty folder: the first start builds the demo store, as for a new user."""
    with serve(tmp_path / "first.duckdb", tmp_path) as url:
        yield url


def _idle(tab: Page) -> None:
    tab.wait_for_timeout(500)
    tab.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=180_000)
    tab.wait_for_timeout(1_500)  # Plotly draws after the script run ends


def test_browser_first_real_export_after_the_demo_every_page_shows_numbers(
        page: Page, server_url: str, tmp_path: Path) -> None:  # noqa: F811 - the imported fixture
    from playwright.sync_api import expect

    page.set_default_timeout(180_000)
    page.set_viewport_size({"width": 1400, "height": 2400})  # Streamlit draws a Plotly chart once it is in view
    export = tmp_path / "zendesk-tickets.csv"
    export.write_bytes(zendesk_first_export())
    page.goto(f"{server_url}/imports")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(export))
    page.get_by_text("Which column holds the ticket category?").wait_for()
    page.get_by_text("carry no offset").first.wait_for()  # the clock the times are read on is named
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_test_id("stMetric").filter(has_text="Inserted").get_by_test_id("stMetricValue")) \
        .to_have_text("600", timeout=120_000)

    page.goto(f"{server_url}/data")
    page.get_by_role("button", name="Yes, remove the demo data").first.click()
    page.get_by_text("Demo data cleared").wait_for()
    expect(page.get_by_text("Tickets: 600")).to_be_visible(timeout=60_000)

    ARTIFACTS.mkdir(exist_ok=True)
    for name in PAGES:
        page.goto(f"{server_url}/{name}")
        page.locator("h1").first.wait_for()
        _idle(page)
        page.screenshot(path=str(ARTIFACTS / f"first-export-{name or 'overview'}.png"), full_page=True)
        assert page.get_by_test_id("stException").count() == 0, name
        assert page.locator("[data-testid=stAlertContentError]").count() == 0, name
        charts = page.evaluate(CHART_HOLDS_DATA)
        assert all(charts), f"{name or 'overview'}: an empty chart among {len(charts)}"
        if name in ("", "trends", "team", "staffing", "complaints"):
            assert charts, f"{name or 'overview'} draws no chart"
        assert "Demo data" not in page.get_by_test_id("stMain").inner_text(), name

    page.goto(server_url)
    _idle(page)
    first_reply = page.get_by_test_id("stMetric").filter(has_text=re.compile("First reply")).first
    assert re.search(r"\d", first_reply.get_by_test_id("stMetricValue").inner_text())  # business hours, not "—"
    page.goto(f"{server_url}/complaints")
    _idle(page)
    assert "Damaged on arrival" in page.get_by_test_id("stMain").inner_text()  # the store's own category names
