"""Sign-in end to end in a real Chromium: `streamlit run` with ``[auth]`` against a local OpenID Connect provider
(oidc-provider-mock, on 127.0.0.1, started here; nothing outside this machine). Signed out sees only the sign-in, a
stranger is refused, a viewer reaches neither the Import page nor a write (also not by its address or by a press
sent to a disabled button), an analyst imports, and sign-out works.

Skips only where the tools are absent (Debian's chromium, the playwright package); .ci/run installs both.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from data.warehouse import Warehouse
from tests.conftest import TICKETS, load_fixture
from tests.test_browser import ARTIFACTS, chromium, free_port, serve, wait_until_answers

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
TEAM = {"CSPULSE_ADMINS": "boss@store.com", "CSPULSE_ANALYSTS": "ana@store.com", "CSPULSE_VIEWERS": "@store.com",
        "CSPULSE_ACCESS_CONTACT": "Bo in support ops"}
EXPORT = ("Id,Requester email,Subject,Status,Priority,Via,Created at,Updated at,Solved at,Replies\n"
          "901,zed@example.com,Parcel late,open,Normal,Mail,2024-03-10 09:00:00,2024-03-10 09:00:00,,0\n"
          "902,yan@example.com,Refund please,solved,High,Mail,2024-03-10 10:00:00,2024-03-10 11:00:00,"
          "2024-03-10 11:00:00,1\n")


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The OpenID Connect provider, in its own process: any client id and secret are accepted; whoever types an
    address on its form signs in with that address as their email."""
    if importlib.util.find_spec("oidc_provider_mock") is None:  # not imported here: it runs in its own process
        pytest.skip("the oidc-provider-mock package is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_answers(f"{url}/.well-known/openid-configuration", server, 60)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()




@pytest.fixture(scope="module")
def app_url(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("auth")
    path = folder / "auth.duckdb"
    wh = Warehouse(path)
    load_fixture(wh)
    wh.close()
    port = free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-secret-of-some-length-0123456789"\n'
        'client_id = "cs-pulse"\n'
        'client_secret = "not-secret-here"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    with serve(path, folder, port=port, env=TEAM, args=("--secrets.files", str(secrets))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (its own cookies: nobody signed in) that reaches only 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    # the provider's form styles itself from a CDN; nothing here may leave the machine
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()


def _settled(page: Page) -> None:
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def _sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=sub]").fill(email)  # the provider's own form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(re.escape(url)))
    page.get_by_role("button", name="Sign out").first.wait_for()  # signed in: the sidebar's or the refusal's


def _shot(page: Page, name: str) -> None:
    _settled(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"auth-{name}.png"), full_page=True)


def _tickets_on_data_page(page: Page, url: str) -> int:
    page.goto(f"{url}/data")
    counts = page.get_by_text(re.compile(r"^Tickets: [\d,]+")).first
    counts.wait_for()
    return int(re.match(r"Tickets: ([\d,]+)", counts.inner_text()).group(1).replace(",", ""))  # type: ignore[union-attr]


def test_signed_out_sees_only_the_sign_in_on_every_address(page: Page, app_url: str) -> None:
    for path in ("", "/data", "/imports", "/trends?channel=email"):
        page.goto(app_url + path)
        page.get_by_role("button", name="Sign in").wait_for()
        _settled(page)
        assert page.get_by_test_id("stMetric").count() == 0, path
        assert page.get_by_test_id("stSidebarNav").count() == 0, path
        assert "Tickets:" not in page.inner_text("body"), path
    _shot(page, "signed-out")


def test_a_stranger_is_refused_and_told_whom_to_ask(page: Page, app_url: str) -> None:
    _sign_in(page, app_url, "stranger@gmail.com")
    alert = page.get_by_test_id("stAlert").first
    alert.wait_for()
    assert "stranger@gmail.com has no access to this dashboard. Ask Bo in support ops to add you." in \
        alert.inner_text()
    assert page.get_by_test_id("stMetric").count() == 0
    _shot(page, "stranger")


def test_a_viewer_browses_but_cannot_import_or_clear(page: Page, app_url: str) -> None:
    _sign_in(page, app_url, "vi@store.com")
    page.get_by_test_id("stMetric").first.wait_for()
    nav = page.get_by_test_id("stSidebarNav")
    assert "Trends" in nav.inner_text() and "Import" not in nav.inner_text()
    assert "Signed in as vi@store.com (viewer)" in page.get_by_test_id("stSidebar").inner_text()
    before = _tickets_on_data_page(page, app_url)

    page.goto(f"{app_url}/imports")  # the page's address, typed: no such page for a viewer
    _settled(page)
    assert page.get_by_test_id("stFileUploaderDropzoneInput").count() == 0

    # the demo's clear button is not on this data (no demo loaded); the correction form is on Complaints
    page.goto(f"{app_url}/complaints")
    save = page.get_by_role("button", name="Save correction")
    save.wait_for()
    assert save.is_disabled()
    save.evaluate("button => button.removeAttribute('disabled')")  # a hand-made press of the disabled button
    save.click(force=True)
    _settled(page)
    assert _tickets_on_data_page(page, app_url) == before
    _shot(page, "viewer")


def test_an_analyst_imports_and_signs_out(page: Page, app_url: str, tmp_path: Path) -> None:
    _sign_in(page, app_url, "ana@store.com")
    before = _tickets_on_data_page(page, app_url)
    assert before == len(TICKETS)
    export = tmp_path / "zendesk-more.csv"
    export.write_text(EXPORT)
    page.goto(f"{app_url}/imports")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(export))
    page.get_by_text("2 records read").wait_for()
    page.get_by_role("button", name="Import", exact=True).click()
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stMetric").filter(has_text="Inserted").get_by_test_id("stMetricValue")).to_have_text(
        "2", timeout=30_000)
    _shot(page, "analyst-imported")
    assert _tickets_on_data_page(page, app_url) == before + 2

    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider ends its own session too
    page.get_by_role("button", name="Sign in").wait_for()
    page.goto(f"{app_url}/data")  # the cookie is gone: the data stays behind the sign-in
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_test_id("stMetric").count() == 0
