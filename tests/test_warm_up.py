"""The server's warm-up (warm_up.py): `streamlit run dashboard.py` serves the frame as an app whose start works the
Overview out before the first visit, and that visit then reads it from the shared caches. (How much sooner the
Overview shows is measured by bench/startup.py, not here.)"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.web.server.app_discovery import discover_asgi_app

import warm_up
from metrics import query as mq
from settings import get_settings
from tests.conftest import PROJECT, held_by_another_process, load_fixture, use_warehouse, warehouse_file
from ui import session

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = PROJECT / "dashboard.py"


def _counted(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[object]:
    """Replace ``owner.name`` with the same callable that notes each call; returns the list of calls. A function keeps
    its name and signature, so its cache key and the settings it is given stay those of the original."""
    original: Callable[..., Any] = getattr(owner, name)
    calls: list[object] = []

    def noting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, noting if isinstance(original, type) else functools.wraps(original)(noting))
    return calls


def test_streamlit_run_serves_the_dashboard_as_an_app_of_the_same_file() -> None:
    found = discover_asgi_app(DASHBOARD)
    assert (found.is_asgi_app, found.import_string) == (True, "dashboard:app")


def test_a_visit_after_the_warm_up_opens_no_warehouse_and_reads_the_tiles_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse_file(monkeypatch, tmp_path / "warm.duckdb", load_fixture)
    opened = _counted(monkeypatch, session, "Warehouse")
    compared = _counted(monkeypatch, mq, "compare")
    warm_up.warm_up()
    assert (len(opened), len(compared)) == (1, 1)

    app = AppTest.from_file(str(DASHBOARD), default_timeout=60).run()

    assert not app.exception
    tiles = {metric.label: metric.value for metric in app.metric}
    assert (tiles["Tickets created"], tiles["Orders"]) == ("7", "4")  # the fixture's default 30 days (test_pages)
    assert (len(opened), len(compared)) == (1, 1)


def test_a_bad_setting_stops_the_warm_up_quietly_for_the_first_visit_to_name(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CSPULSE_TIMEZONE", "Mars/Olympus_Mons")
    opened = _counted(monkeypatch, session, "Warehouse")
    with caplog.at_level(logging.INFO, logger="cspulse"):
        warm_up.warm_up()
    assert opened == []
    assert "no warm-up: a setting has a value CS Pulse cannot use" in caplog.text
    assert "Mars" not in caplog.text


def test_a_failing_warm_up_is_logged_and_the_first_visit_still_draws_the_overview(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    warehouse_file(monkeypatch, tmp_path / "warm.duckdb", load_fixture)
    original = mq.default_filters
    monkeypatch.setattr(mq, "default_filters", functools.wraps(original)(lambda *a, **k: 1 / 0))
    with caplog.at_level(logging.INFO, logger="cspulse"):
        warm_up.warm_up()
    assert "the warm-up failed" in caplog.text and "ZeroDivisionError" in caplog.text
    monkeypatch.setattr(mq, "default_filters", original)

    app = AppTest.from_file(str(DASHBOARD), default_timeout=60).run()

    assert not app.exception and not app.error
    assert {metric.label: metric.value for metric in app.metric}["Tickets created"] == "7"


def test_the_server_starts_serving_while_the_warm_up_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lifespan hands the warm-up to a thread of its own and returns: the health check does not wait for it."""
    release, finished = threading.Event(), threading.Event()

    def slow_warm_up() -> None:
        release.wait(60)
        finished.set()

    monkeypatch.setattr(warm_up, "warm_up", slow_warm_up)

    async def serve() -> bool:
        async with warm_up.lifespan(object()):
            return finished.is_set()  # the server runs here

    assert asyncio.run(serve()) is False
    release.set()
    assert finished.wait(60)


def test_a_warehouse_in_use_stops_the_warm_up_with_a_line_in_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    path = warehouse_file(monkeypatch, tmp_path / "held.duckdb", load_fixture)
    with held_by_another_process(path), caplog.at_level(logging.INFO, logger="cspulse"):
        warm_up.warm_up()
    assert "no warm-up: warehouse unavailable" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_broken_taxonomy_file_stops_the_warm_up_before_the_warehouse_as_it_stops_the_frame(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "mine.toml"
    broken.write_text('languages = ["en"]\n[categories.Bad-Slug]\nlabel = "x"\ndescription = "y"\n')
    monkeypatch.setenv("CSPULSE_TAXONOMY_PATH", str(broken))
    get_settings.cache_clear()
    opened = _counted(monkeypatch, session, "Warehouse")
    with caplog.at_level(logging.INFO, logger="cspulse"):
        warm_up.warm_up()
    assert opened == []
    assert "the complaint taxonomy file is not usable" in caplog.text and "the warm-up failed" not in caplog.text


def test_a_time_zone_change_the_warm_up_worked_out_is_said_to_the_first_visit_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = warehouse_file(monkeypatch, tmp_path / "warm.duckdb", load_fixture)  # its columns on UTC
    monkeypatch.setenv("CSPULSE_TIMEZONE", "America/New_York")
    use_warehouse(monkeypatch, path)
    warm_up.warm_up()

    def toasts() -> list[str]:
        app = AppTest.from_file(str(DASHBOARD), default_timeout=60).run()
        assert not app.exception
        return [toast.value for toast in app.toast]

    assert [t for t in toasts() if "worked out again for America/New_York" in t] != []
    assert [t for t in toasts() if "worked out again" in t] == []  # the next visit is not told again
