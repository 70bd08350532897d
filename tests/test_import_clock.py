"""The export's clock: times without an offset are read on a time zone the analyst can see and choose, remembered per
source; times with an offset are read by their own offset whatever is chosen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime as D
from pathlib import Path

import polars as pl
import pytest

from data import cast
from data.basics import ImportRejected
from data.cli import import_paths
from data.format_types import Context
from data.plans import Plan, load_source_zones, plan_files, run_plan, save_source_zone
from data.raw_tables import Limits
from data.warehouse import Warehouse
from settings import Settings
from tests.conftest import PROJECT

TICKETS = PROJECT / "tests" / "fixtures" / "tickets"
NAIVE = TICKETS / "zendesk_no_offset_dst.csv"
WITH_OFFSETS = TICKETS / "zendesk_with_offsets.csv"
LIMITS = Limits(10**7, 10**6, 100)
UTC = Context(tz="UTC", salt="clock")

# Europe/Berlin is UTC+1 (CET) until Sun 2024-03-31 02:00, then UTC+2 (CEST): clocks jump from 02:00 to 03:00.
#   701 created Sat 03-30 10:00 CET  -> 09:00 UTC; solved 12:00 CET -> 11:00 UTC
#   702 created Sun 03-31 01:30 CET  -> 00:30 UTC (half an hour before the jump)
#   703 created Sun 03-31 03:30 CEST -> 01:30 UTC (half an hour after it: two hours of wall clock, one real hour)
#   704 created Tue 04-02 10:00 CEST -> 08:00 UTC; solved 11:15 CEST -> 09:15 UTC
BERLIN_CREATED = [D(2024, 3, 30, 9), D(2024, 3, 31, 0, 30), D(2024, 3, 31, 1, 30), D(2024, 4, 2, 8)]
BERLIN_SOLVED = [D(2024, 3, 30, 11), None, None, D(2024, 4, 2, 9, 15)]


@pytest.fixture
def wh() -> Iterator[Warehouse]:
    warehouse = Warehouse()
    yield warehouse
    warehouse.close()


def _plan(path: Path, ctx: Context = UTC, zones: dict[str, str] | None = None) -> Plan:
    [plan] = plan_files([(path.name, path.read_bytes())], ctx, LIMITS, zones=zones)
    assert plan.ok, plan.reason
    return plan


def _tickets(plan: Plan) -> pl.DataFrame:
    return plan.frames["tickets"].sort("ticket_id")


def test_clock_times_without_offset_read_on_berlin_land_one_or_two_hours_earlier_in_utc() -> None:
    plan = _plan(NAIVE, Context(tz="Europe/Berlin", salt="clock"))
    tickets = _tickets(plan)
    assert tickets["created_at"].to_list() == BERLIN_CREATED
    assert tickets["solved_at"].to_list() == BERLIN_SOLVED  # 1900-01-01 stays "not solved"


def test_clock_preview_says_which_clock_times_without_offset_are_read_on() -> None:
    plan = _plan(NAIVE, Context(tz="Europe/Berlin", salt="clock"))
    assert plan.naive_times and plan.clock == "Europe/Berlin"
    assert "Times in this file carry no offset: read as Europe/Berlin." in plan.notes


def test_clock_remembered_zone_is_used_for_the_next_file_of_the_same_source(wh: Warehouse) -> None:
    save_source_zone(wh, "zendesk", "Europe/Berlin")
    zones = load_source_zones(wh)
    assert zones == {"zendesk": "Europe/Berlin"}
    plan = _plan(NAIVE, UTC, zones)  # the account's clock is UTC; the remembered one wins for this source
    assert plan.clock == "Europe/Berlin"
    assert _tickets(plan)["created_at"].to_list() == BERLIN_CREATED


def test_clock_remembered_zone_of_one_source_leaves_other_sources_on_the_account_clock(wh: Warehouse) -> None:
    save_source_zone(wh, "zendesk", "Europe/Berlin")
    roster = PROJECT / "tests" / "fixtures" / "roster" / "roster.csv"
    plan = _plan(roster, UTC, load_source_zones(wh))
    assert plan.source == "roster" and plan.naive_times and plan.clock == "UTC"
    # Agent Ada's first shift starts 2024-03-04 09:00 local, and local is UTC here
    assert plan.frames["roster"].sort("starts_at")["starts_at"][0] == D(2024, 3, 4, 9)


def test_clock_a_zone_chosen_again_replaces_the_remembered_one(wh: Warehouse) -> None:
    save_source_zone(wh, "zendesk", "Europe/Berlin")
    save_source_zone(wh, "zendesk", "America/New_York")
    assert load_source_zones(wh) == {"zendesk": "America/New_York"}


def test_clock_an_unknown_zone_is_refused_with_a_message(wh: Warehouse) -> None:
    with pytest.raises(ImportRejected, match="not a time zone"):
        save_source_zone(wh, "zendesk", "Mars/Olympus_Mons")
    assert load_source_zones(wh) == {}


def test_clock_a_file_with_offsets_ignores_the_chosen_zone() -> None:
    plan = _plan(WITH_OFFSETS, UTC, {"zendesk": "Asia/Tokyo"})
    # 801 10:00+01:00 -> 09:00 UTC; 802 10:00+02:00 -> 08:00 UTC: each by its own offset, never by Tokyo's +09:00
    assert _tickets(plan)["created_at"].to_list() == [D(2024, 3, 30, 9), D(2024, 4, 2, 8)]
    assert not plan.naive_times
    assert not [note for note in plan.notes if "carry no offset" in note]


def test_clock_cast_reports_whether_values_carried_an_offset() -> None:
    stamps = pl.Series("t", ["2024-03-30 10:00:00", None, "1900-01-01"])
    assert cast.to_timestamp_utc(stamps, "t", formats=("%Y-%m-%d %H:%M:%S",), tz="UTC").naive_times
    offset = pl.Series("t", ["2024-03-30 10:00:00 +0100", "1900-01-01"])
    formats = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S")
    assert not cast.to_timestamp_utc(offset, "t", formats=formats, tz="UTC").naive_times
    # one value without an offset among offset ones, read by the second format on the retry path
    mixed = pl.Series("t", ["2024-03-30 10:00:00 +0100", "2024-03-30 11:00:00"])
    assert cast.to_timestamp_utc(mixed, "t", formats=formats, tz="UTC").naive_times
    # only placeholders: nothing was read on a clock
    assert not cast.to_timestamp_utc(pl.Series("t", ["1900-01-01"]), "t", formats=formats, tz="UTC").naive_times


def test_clock_import_stores_utc_and_records_the_clock_in_the_ledger(wh: Warehouse) -> None:
    plan = _plan(NAIVE, UTC, {"zendesk": "Europe/Berlin"})
    assert run_plan(wh, plan).status == "imported"
    stored = wh.cursor().execute("SELECT created_at FROM tickets ORDER BY ticket_id").fetchall()
    assert [row[0] for row in stored] == BERLIN_CREATED
    notes = wh.cursor().execute("SELECT notes FROM imports").fetchone()[0]
    assert "read as Europe/Berlin" in notes


def test_clock_command_line_reads_on_the_zone_remembered_for_the_source(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    wh = Warehouse(db)
    save_source_zone(wh, "zendesk", "Europe/Berlin")
    wh.close()
    [result] = import_paths([str(NAIVE)], db, Settings(_env_file=None))  # type: ignore[call-arg]
    assert result.status == "imported"
    wh = Warehouse(db)
    stored = wh.cursor().execute("SELECT created_at FROM tickets ORDER BY ticket_id").fetchall()
    wh.close()
    assert [row[0] for row in stored] == BERLIN_CREATED
