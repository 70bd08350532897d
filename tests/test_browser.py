"""The Overview in a real Chromium against `streamlit run`: tiles, a filter, the URL round trip, page switches.

Skips only where the tools are absent (Debian's chromium, the playwright package); .ci/run installs both.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from data.warehouse import Warehouse
from tests.conftest import PROJECT, load_fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium")
ARTIFACTS = PROJECT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answers(url: str, server: subprocess.Popen[bytes], seconds: float = 90) -> None:
    """Until ``url`` answers 200, which ``server`` (a process this test started) is to serve."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{server.args[:3]} exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer in {seconds} s")


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "browser.duckdb"
    wh = Warehouse(path)
    load_fixture(wh)
    wh.close()
    with serve(path, tmp_path) as url:
        yield url


@contextmanager
def serve(path: Path, logs: Path, *, port: int | None = None, env: dict[str, str] | None = None,
          args: tuple[str, ...] = ()) -> Iterator[str]:
    """`streamlit run dashboard.py` on 127.0.0.1 over the warehouse at ``path``, until the block ends; ``env`` and
    ``args`` add to its environment and command line."""
    port = port or free_port()
    env = {**os.environ, "CSPULSE_WAREHOUSE_PATH": str(path), **(env or {})}
    log = (logs / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT / "dashboard.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", *args],
        cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/_stcore/health", server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright, closed at the end of the block; skips, saying which, where either is
    absent. Every browser test launches it here."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(server_url: str) -> Iterator[Page]:
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(30_000)
        yield tab


def _tile(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text=label).first.get_by_test_id("stMetricValue")


def _wait_for_tile(page: Page, label: str, value: str) -> None:
    from playwright.sync_api import expect

    expect(_tile(page, label)).to_have_text(value, timeout=30_000)


def test_browser_overview_filter_url_round_trip_and_page_switch(page: Page, server_url: str) -> None:
    """A channel chosen in Chromium changes the tiles and the URL, and survives a reload and a trip to Data."""
    page.goto(server_url)
    # Defaults: the 30 days up to the newest data (2024-02-11..03-11) hold all 7 fixture tickets.
    _wait_for_tile(page, "Tickets created", "7")
    for label in ("Orders", "Backlog", "First reply (median)"):
        assert re.search(r"\d", _tile(page, label).inner_text()), label

    channel = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(has_text="Channel")
    channel.click()
    page.get_by_role("option", name="email").click()
    page.keyboard.press("Escape")
    _wait_for_tile(page, "Tickets created", "4")  # T1, T3, T5, T6 are email
    page.wait_for_url(re.compile(r"channel=email"))

    page.reload()
    _wait_for_tile(page, "Tickets created", "4")
    assert "email" in channel.inner_text()

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data", exact=True).click()
    page.wait_for_url(re.compile(r"/data"))
    page.get_by_text("One row per import").wait_for()
    assert "email" in channel.inner_text()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Overview", exact=True).click()
    _wait_for_tile(page, "Tickets created", "4")
    assert "channel=email" in page.url

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)


def test_browser_import_page_previews_imports_and_reports(page: Page, server_url: str, tmp_path: Path) -> None:
    """An upload is previewed with its unreadable cells, imports 2 of 3 records, and a second import changes nothing."""
    export = tmp_path / "zendesk-march.csv"
    export.write_text(
        "Id,Requester email,Subject,Status,Priority,Via,Created at,Updated at,Solved at,Replies,"
        "First reply time in minutes\n"
        "501,ada@example.com,=HYPERLINK(\"http://evil\"),solved,Normal,Mail,2024-03-09 09:00:00,"
        "2024-03-09 10:00:00,2024-03-09 10:00:00,1,20\n"
        "502,ben@example.com,Where is my order?,open,High,Chat,2024-03-10 11:00:00,2024-03-10 11:00:00,,0,-5\n"
        "503,cy@example.com,Lost,open,Low,Mail,yesterday,,,0,\n")
    page.goto(f"{server_url}/imports")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(export))
    page.get_by_text("Zendesk ticket export").wait_for()
    preview = page.get_by_test_id("stDataFrame").first
    preview.wait_for()
    # 503's date rejects it; 502's negative first reply only stays out of the KPIs
    page.get_by_text("2 cells cannot be read — which and why").wait_for()
    page.get_by_text("3 records read; 1 cannot be read and will be left out.").wait_for()
    page.get_by_role("button", name="Import", exact=True).click()
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stMetric").filter(has_text="Inserted").get_by_test_id("stMetricValue")).to_have_text(
        "2", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import.png"), full_page=True)
    # once imported the file is let go (ui/imports.py): the uploader is empty, and the same file dropped again
    expect(page.get_by_role("button", name="Import", exact=True)).to_have_count(0)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(export))
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("This file was imported before; nothing changed.").wait_for()


def test_browser_unknown_export_is_mapped_once_then_imported(page: Page, server_url: str, tmp_path: Path) -> None:
    export = tmp_path / "cases.csv"
    export.write_text("Case,Opened,State\nA-1,31/01/2024 09:00,closed\nA-2,01/02/2024 10:00,open\n")
    page.goto(f"{server_url}/imports")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(export))
    page.get_by_text("Map its columns once", exact=True).wait_for()  # no st.form: each choice reruns the page at once
    form = page.get_by_test_id("stMain")
    form.get_by_label("Name this source").fill("cases")
    for label, header in (("Ticket id *", "Case"), ("Created at *", "Opened"), ("Status", "State")):
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
        form.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
        page.keyboard.type(header)
        page.keyboard.press("Enter")
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
    form.get_by_role("button", name="Save mapping").click()
    page.get_by_text("cases export (saved mapping)").wait_for()
    page.get_by_role("button", name="Import", exact=True).click()
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stMetric").filter(has_text="Inserted").get_by_test_id("stMetricValue")).to_have_text(
        "2", timeout=30_000)


def test_browser_trends_point_opens_its_tickets_and_the_download_is_safe(page: Page, server_url: str,
                                                                          tmp_path: Path) -> None:
    page.goto(f"{server_url}/trends?start=2024-03-04&end=2024-03-10&kpi=tickets_created&grain=day")
    chart = page.get_by_test_id("stPlotlyChart").first
    points = chart.locator(".scatterlayer .trace .points path")
    points.nth(4).wait_for()
    points.nth(4).click(force=True)  # Friday 2024-03-08: T4 only
    table = page.get_by_test_id("stDataFrame").first
    page.get_by_text("1 ticket behind tickets created, 08 Mar").wait_for()
    table.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trends.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download these tickets (CSV)").click()
    saved = tmp_path / "tickets.csv"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8-sig")
    assert "T4" in text and "***-4567" in text and "555" not in text  # the phone number is masked

    # a day holding the formula-looking subject: the CSV cell is neutralised
    page.goto(f"{server_url}/trends?start=2024-03-04&end=2024-03-10&kpi=tickets_created&grain=day")
    points = page.get_by_test_id("stPlotlyChart").first.locator(".scatterlayer .trace .points path")
    points.nth(1).wait_for()
    points.nth(1).click(force=True)  # Tuesday: T2
    page.get_by_text("1 ticket behind tickets created, 05 Mar").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download these tickets (CSV)").click()
    download.value.save_as(saved)
    subject = next(line for line in saved.read_text(encoding="utf-8-sig").splitlines() if line.startswith("T2"))
    assert "'=HYPERLINK" in subject


def test_browser_team_page_draws_its_table_caption_and_a_chart(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/team?start=2024-03-04&end=2024-03-10")
    page.get_by_text("Click a column header to sort").wait_for()
    page.get_by_test_id("stPlotlyChart").first.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "team.png"), full_page=True)


def test_browser_complaints_page_saves_a_correction_and_confirms_it(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/complaints?start=2024-03-04&end=2024-03-10&example=shipping_status")
    page.get_by_text("Top categories").wait_for()
    form = page.get_by_test_id("stForm")
    form.wait_for()
    # the first run mirrors the view into the URL and may rerun once: pick only when the app is idle
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
    for label, choice in (("Ticket", "T3"), ("Right category", "Wrong item")):
        form.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
        page.keyboard.type(choice)
        page.keyboard.press("Enter")
    form.get_by_role("button", name="Save correction").click()
    page.get_by_text("Ticket T3 is now Wrong item.").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "complaints.png"), full_page=True)
