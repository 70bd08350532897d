"""The server's cache of query results is bounded by settings: entries and megabytes, least recently used out first."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from data.ingest import Batch, import_batch
from metrics import facts
from settings import get_settings
from tests.conftest import PROJECT, TICKETS
from ui import session

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def _limit(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    monkeypatch.setenv("CSPULSE_LOAD_DEMO_WHEN_EMPTY", "false")  # an empty warehouse is enough to cache against
    for name, value in values.items():
        monkeypatch.setenv(f"CSPULSE_{name.upper()}", value)
    get_settings.cache_clear()


def test_cache_keeps_at_most_the_configured_entries_dropping_the_least_recently_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _limit(monkeypatch, cache_max_entries="3")
    computed: list[int] = []

    def square(cursor: object, n: int) -> int:
        computed.append(n)
        return n * n

    for n in (1, 2, 3, 1):  # the second 1 is a hit and makes 1 the most recently used
        session.cached(square, n)
    assert session.cached(square, 4) == 16  # a 4th entry: 2, least recently used, goes
    assert session.cached(square, 1) == 1
    assert session.cached(square, 2) == 4
    assert computed == [1, 2, 3, 4, 2]


def test_cache_drops_results_beyond_the_configured_megabytes(monkeypatch: pytest.MonkeyPatch) -> None:
    _limit(monkeypatch, cache_max_mb="1")
    computed: list[int] = []

    def blob(cursor: object, n: int) -> bytes:
        computed.append(n)
        return bytes(600_000)  # two of these pickled exceed 1 MB (1,048,576 bytes)

    session.cached(blob, 1)
    session.cached(blob, 1)
    session.cached(blob, 2)  # does not fit beside 1: 1 goes
    session.cached(blob, 2)
    session.cached(blob, 1)
    assert computed == [1, 2, 1]


def test_cache_bad_limit_stops_start_up_with_a_message_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("CSPULSE_CACHE_MAX_ENTRIES", "0")
    get_settings.cache_clear()
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60).run()
    assert not app.exception
    [error] = app.error
    assert "CSPULSE_CACHE_MAX_ENTRIES" in error.value and "cannot use" in error.value  # the value stays in the log


def test_a_page_run_asks_whether_the_stored_facts_hold_once_per_data_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cache miss used to ask (a statement and a JSON parse); once per data version is enough, and after a
    write the next miss works the facts out for the new version."""
    _limit(monkeypatch)
    wh = session.warehouse()
    asked: list[int] = []
    real_refresh = facts.refresh
    monkeypatch.setattr(facts, "refresh", lambda w: asked.append(w.data_version()) or real_refresh(w))
    before = wh.data_version()
    for n in (1, 2, 3):
        session.cached(_tickets_plus, n)
    assert asked == [before]
    import_batch(wh, Batch("t.csv", "sha-t", "fixture", "tickets", {"tickets": TICKETS}))
    assert session.cached(_tickets_plus, 4) == TICKETS.height + 4
    session.cached(_tickets_plus, 5)
    after = wh.data_version()
    assert after != before and asked == [before, after]
    assert facts._stored(wh.cursor()) is not None  # stored for the version the data is at


def _tickets_plus(cursor: duckdb.DuckDBPyConnection, n: int) -> int:
    return cursor.execute("SELECT count(*) FROM tickets").fetchone()[0] + n
