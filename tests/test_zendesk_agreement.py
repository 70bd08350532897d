"""For Zendesk input, the durations CS Pulse computes from timestamps agree with Zendesk's own minute columns.

``zendesk_durations.csv`` is written as Zendesk writes it: its minute columns were worked out by hand for the
default schedule (09:00-18:00, Monday to Friday, UTC), e.g. 303: Fri 17:55 -> Mon 09:05 is 3,790 calendar and
10 business minutes. The same file with those columns removed makes CS Pulse recompute them from the timestamps.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from data.format_types import Context
from data.plans import plan_files, run_plan
from data.raw_tables import Limits
from data.warehouse import Warehouse
from metrics import query as mq
from settings import Settings

FILE = Path(__file__).resolve().parent / "fixtures" / "tickets" / "zendesk_durations.csv"
MINUTE_COLUMNS = ["Full resolution time in minutes", "Full resolution time in minutes within business hours"]
SOLVED_WEEK = mq.Filters(date(2024, 3, 4), date(2024, 3, 11))
KPIS = ["full_resolution_minutes_median", "full_resolution_business_minutes_median"]


def imported(content: bytes, name: str) -> Warehouse:
    wh = Warehouse()
    [plan] = plan_files([(name, content)], Context(tz="UTC", salt="s"), Limits(10_000_000, 10_000, 300))
    assert run_plan(wh, plan).status == "imported", plan.reason
    return wh


def without_minute_columns() -> bytes:
    frame = pl.read_csv(FILE, infer_schema=False).drop(MINUTE_COLUMNS)
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


@pytest.fixture
def both() -> tuple[Warehouse, Warehouse]:
    return imported(FILE.read_bytes(), "zendesk.csv"), imported(without_minute_columns(), "zendesk-bare.csv")


def test_zendesk_medians_from_timestamps_equal_the_exports_own(both: tuple[Warehouse, Warehouse],
                                                               settings: Settings) -> None:
    exported, recomputed = (mq.totals(wh.cursor(), KPIS, SOLVED_WEEK, settings) for wh in both)
    # calendar [30, 120, 1110, 3000, 3790] -> 1110; business [0, 10, 120, 180, 210] -> 120
    assert exported == recomputed == {"full_resolution_minutes_median": 1110.0,
                                      "full_resolution_business_minutes_median": 120.0}


def test_zendesk_every_tickets_duration_from_timestamps_equals_the_exports(both: tuple[Warehouse, Warehouse],
                                                                           settings: Settings) -> None:
    sql = "SELECT ticket_id, full_resolution_minutes FROM tickets ORDER BY ticket_id"
    exported, recomputed = (wh.cursor().execute(sql).fetchall() for wh in both)
    assert exported == recomputed
    assert dict(exported)["303"] == 3790.0 and dict(exported)["306"] is None
