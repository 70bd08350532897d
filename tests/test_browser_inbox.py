"""A scheduled import beside a live dashboard, in Chromium: `python -m data.cli` run while `streamlit run` holds
the warehouse queues the file in its inbox, the dashboard imports it, and the pages show it without a restart.

Skips only where the tools are absent (Debian's chromium, the playwright package); .ci/run installs both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from data.warehouse import Warehouse
from tests.conftest import TICKETS, load_fixture
from tests.test_browser import ARTIFACTS, chromium, serve
from tests.test_cli import ZENDESK_HEADER, ingest, zendesk_rows

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(30_000)
        yield tab


def _tickets(page: Page) -> int:
    counts = page.get_by_text(re.compile(r"^Tickets: [\d,]+")).first
    counts.wait_for()
    return int(re.match(r"Tickets: ([\d,]+)", counts.inner_text()).group(1).replace(",", ""))  # type: ignore[union-attr]


def test_a_scheduled_import_appears_on_the_running_dashboard(page: Page, tmp_path: Path) -> None:
    db = tmp_path / "live.duckdb"
    wh = Warehouse(db)
    load_fixture(wh)
    wh.close()
    export = tmp_path / "nightly.csv"
    export.write_text(ZENDESK_HEADER + zendesk_rows(range(700, 704)))
    with serve(db, tmp_path) as url:
        page.goto(f"{url}/data")
        assert _tickets(page) == len(TICKETS)
        done = ingest(export, "--db", db, "--json")  # as cron would run it, while the dashboard holds the file
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["inserted"] == 4
        page.reload()
        assert _tickets(page) == len(TICKETS) + 4
        page.get_by_text("nightly.csv").first.wait_for(state="attached")  # in the import ledger (a canvas grid)
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "scheduled-import.png"), full_page=True)
