"""Shared fixtures: a hand-checkable warehouse, settings isolated from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime as D
from pathlib import Path

import polars as pl
import pytest

from data.categorising import categorise
from data.classifier import load_taxonomy
from data.demo import demo_batch
from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from settings import Settings, get_settings

PROJECT = Path(__file__).resolve().parents[1]
REAL_DATA = PROJECT.parent / "shared" / "data" / "real"
NEW_YORK = "America/New_York"  # local days differ from UTC ones, and it changes clocks twice a year

# Seven tickets around the week Mon 2024-03-04 .. Sun 2024-03-10 (UTC). Worked out by hand for that week:
#   created T1-T4 = 4; solved in the week T1, T2, T5 = 3; open at its end T3, T4 (solved 03-12), T6 = 3
#   first reply of T1-T4: 30, 2, 60, 10 -> median 20, p90 = 30 + 0.7 * (60 - 30) = 51
#   full resolution of T1, T2, T5: 120, 1440, 7200 -> median 1440
#   resolution rate: T1, T2, T4 of T1-T4 solved = 0.75; one-touch (replies < 2) T1 of 3 solved = 1/3
#   reopen T2 of 3 = 1/3; CSAT T1 score 5 good, T2 bad, T5 good = 2/3
# Business hours (settings default: 09:00-18:00 Mon-Fri, UTC). 2024 is a leap year: Wed 02-28, Thu 02-29, Fri 03-01.
#   first reply: T1 30, T2 2, T3 45 (the export's own column beats the 60 its stamps give), T4 08:00->08:10 = 0
#   first resolution: T1 120, T2 Tue 10:00->16:00 = 360, T5 Wed 02-28 10:00 -> Mon 03-04 10:00 = 480+540+540+60 = 1620
#   full resolution: T1 120, T2 Tue 10:00 -> Wed 10:00 = 540, T5 1620 (the export's column)
# SLA (created T1-T4, as of the newest change 03-12 08:00; target = stricter of channel and priority):
#   first reply T1 30<=1440, T2 chat/high 2<=2, T3 60<=1440, T4 phone 10>1 -> 3/4
#   resolution T1 120<=4320; T2 chat/high 1440>60; T3 open past 4320 by 03-09 12:00; T4 phone 5760>60 -> 1/4
# escalated (created T1-T4): T2 by tag, T3 by group "Tier 2" -> 1/2; automated (solved T1, T2, T5): T5 tag -> 1/3
# NPS (solved T1, T2, T5): 10 promoter, 3 detractor, 9 promoter -> (2 - 1) / 3 x 100 = 33.3; T3's 0 is unsolved
TICKETS = pl.DataFrame(
    {
        "ticket_id": ["T1", "T2", "T3", "T4", "T5", "T6", "T7"],
        "created_at": [D(2024, 3, 4, 9), D(2024, 3, 5, 10), D(2024, 3, 6, 12), D(2024, 3, 8, 8),
                       D(2024, 2, 28, 10), D(2024, 2, 20, 10), D(2024, 3, 11, 10)],
        "solved_at": [D(2024, 3, 4, 11), D(2024, 3, 6, 10), None, D(2024, 3, 12, 8), D(2024, 3, 5, 10), None, None],
        "status": ["solved", "closed", "open", "solved", "closed", "pending", "new"],
        "channel": ["email", "chat", "email", "phone", "email", "email", "chat"],
        "priority": ["normal", "high", "normal", "normal", "low", "normal", "urgent"],
        "category_exported": ["shipping_status", "refund", "shipping_status", "damaged_item", "other", "other",
                              "refund"],
        "first_reply_minutes": [30.0, 2.0, 60.0, 10.0, 120.0, 5.0, None],
        "full_resolution_minutes": [120.0, 1440.0, None, 5760.0, 7200.0, None, None],
        "agent_replies": [1, 3, 1, 0, 2, 1, 0],
        "reopens": [0, 1, 0, 0, 0, 0, 0],
        "satisfaction_rating": ["good", "bad", "offered", "bad", "good", None, None],
        "satisfaction_score": [5, None, None, 3, None, None, None],
        "first_reply_at": [D(2024, 3, 4, 9, 30), D(2024, 3, 5, 10, 2), D(2024, 3, 6, 13), D(2024, 3, 8, 8, 10),
                           D(2024, 2, 28, 12), D(2024, 2, 20, 10, 5), None],
        "first_solved_at": [D(2024, 3, 4, 11), D(2024, 3, 5, 16), None, D(2024, 3, 12, 8), D(2024, 3, 4, 10), None,
                            None],
        "first_resolution_minutes": [120.0, 360.0, None, 5760.0, 7200.0, None, None],
        "first_reply_business_minutes": [None, None, 45.0, None, None, None, None],
        "full_resolution_business_minutes": [None, None, None, None, 1620.0, None, None],
        "requester_wait_minutes": [100.0, 900.0, None, 4000.0, 3000.0, None, None],
        "tags": ["vip", "escalated vip", None, None, "auto_closed", None, None],
        "group_name": ["Support", "Support", "Tier 2", None, "Support", "Support", None],
        "assignee": ["ana", "ben", "ana", None, "ben", "ana", None],
        "nps_score": [10, 3, 0, None, 9, None, None],
        # personal data and a formula, to be masked and neutralised wherever tickets are shown or downloaded
        "subject": ["Where is order #1001?", '=HYPERLINK("http://evil.example","refund")', "Call me",
                    "Broken mug, call +1 (555) 123-4567", "Thanks", "Reach me at jane.doe@shop.example", "Hello"],
    }
).with_columns(source=pl.lit("fixture"))

# Orders in the same week: USD 100-10 and 50-0 -> AOV 70; EUR 80 -> AOV 80; O4 falls after the week.
#   net sales: USD (100-10-0) + (50-0-20) = 120, EUR 80-0-80 = 0; refund rate O2, O3 of 3 = 2/3
#   refunded share of sales: USD 20 / (90 + 50) = 1/7, EUR 80 / 80 = 1
#   repeat purchase: customers in the week 1 (O1, O2) and 2 (O3) -> 1 of 2 = 0.5 (O4, customer 2, is after it)
#   fulfilment lag of O1, O2: 24 h, 72 h -> median 48, p90 24 + 0.9 x 48 = 67.2; late (> 48 h) O2 -> 1/2
#   fulfilled in the week (by fulfilment time): O1 03-05, O2 03-09 = 2; WISMO tickets created T1, T3 -> 100 per 100
ORDERS = pl.DataFrame(
    {
        "order_id": ["O1", "O2", "O3", "O4"],
        "created_at": [D(2024, 3, 4, 12), D(2024, 3, 6, 15), D(2024, 3, 9, 18), D(2024, 3, 11, 9)],
        "currency": ["USD", "USD", "EUR", "USD"],
        "gross_sales": [100.0, 50.0, 80.0, 1000.0],
        "discounts": [10.0, 0.0, None, 0.0],
        "refunded_amount": [0.0, 20.0, 80.0, 0.0],
        "fulfilled_at": [D(2024, 3, 5, 12), D(2024, 3, 9, 15), None, None],
        "customer_key": pl.Series([1, 1, 2, 2], dtype=pl.UInt64),
    }
).with_columns(source=pl.lit("fixture"))


@pytest.fixture(autouse=True, scope="session")
def _project_streamlit_config() -> None:
    """AppTest runs under the project's `.streamlit/config.toml`, as `streamlit run` does: the tests' own working
    folder (a temp folder, see below) would otherwise leave Streamlit's defaults, such as listening on every
    address, in place."""
    from streamlit import config

    options = tomllib.loads((PROJECT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    for section, values in options.items():
        for key, value in values.items():
            config.set_option(f"{section}.{key}", value, "project config.toml")


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's CSPULSE_ variables or .env; the warehouse goes to a temp file."""
    for name in list(os.environ):
        if name.startswith("CSPULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def use_warehouse(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Point the app at a warehouse file; settings read before this (e.g. while loading a fixture) are dropped."""
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(path))
    get_settings.cache_clear()


@pytest.fixture
def fresh_streamlit_caches() -> Iterator[None]:
    """AppTest runs share Streamlit's caches within the process: each page test starts and ends with them empty."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


def load_fixture(warehouse: Warehouse) -> None:
    import_batch(warehouse, Batch("tickets.csv", "sha-tickets", "fixture", "tickets", {"tickets": TICKETS}))
    import_batch(warehouse, Batch("orders.csv", "sha-orders", "fixture", "orders", {"orders": ORDERS}))
    # as after every import (the exported categories are all taxonomy slugs); the default taxonomy is given so
    # that loading a fixture never reads, and caches, the settings of the test that asked for it
    categorise(warehouse, load_taxonomy())


@pytest.fixture
def warehouse() -> Iterator[Warehouse]:
    wh = Warehouse()
    load_fixture(wh)
    yield wh
    wh.close()


def tickets(rows: list[dict[str, object]]) -> Warehouse:
    """A warehouse holding just these tickets (ids T1, T2, ... in order)."""
    wh = Warehouse()
    ids = pl.format("T{}", pl.int_range(1, len(rows) + 1))
    frame = pl.DataFrame(rows).with_columns(source=pl.lit("t"), ticket_id=ids)
    import_batch(wh, Batch("t.csv", "sha-t", "t", "tickets", {"tickets": frame}))
    return wh


def warehouse_file(monkeypatch: pytest.MonkeyPatch, path: Path, load: Callable[[Warehouse], None]) -> Path:
    """A warehouse file loaded by ``load`` and closed, with the app pointed at it: what a started dashboard finds."""
    wh = Warehouse(path)
    load(wh)
    wh.close()
    use_warehouse(monkeypatch, path)
    return path


def demo_warehouse_file(path: Path, salt: str) -> Path:
    """A closed warehouse file holding the demo store (two years of tickets and orders, with Black Friday peaks)."""
    wh = Warehouse(path)
    import_batch(wh, demo_batch(salt=salt))
    wh.close()
    return path


@contextmanager
def held_by_another_process(path: Path) -> Iterator[None]:
    """While another process has the warehouse file open: DuckDB lets one process open it."""
    code = f"from data.warehouse import Warehouse; import time; w = Warehouse({str(path)!r}); " \
           "print('open', flush=True); time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
            yield
        finally:
            holder.kill()


@pytest.fixture
def new_york() -> Settings:
    return Settings(_env_file=None, timezone=NEW_YORK)  # type: ignore[call-arg]


def on_clock(settings: Settings) -> Warehouse:
    """An empty in-memory warehouse on the settings' clock, as the dashboard brings it on opening: the rollups'
    local days are that clock's."""
    from data import clock

    warehouse = Warehouse()
    clock.sync(warehouse, clock.Clock.of(settings))
    return warehouse
