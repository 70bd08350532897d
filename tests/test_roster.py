"""An agent roster imports through the same path as every export: detected by its headers, times on the
account's clock, impossible shifts left out and said so, a re-import changes nothing."""

from __future__ import annotations

from datetime import datetime as D
from pathlib import Path

from data.format_types import Context
from data.plans import plan_files, run_plan
from data.raw_tables import Limits
from data.warehouse import Warehouse

ROSTER = Path(__file__).resolve().parent / "fixtures" / "roster" / "roster.csv"
LIMITS = Limits(10_000_000, 10_000, 300)


def test_roster_is_recognised_and_imported_with_times_in_utc() -> None:
    wh = Warehouse()
    [plan] = plan_files([("roster.csv", ROSTER.read_bytes())], Context(tz="Europe/Berlin", salt="s"), LIMITS)
    assert (plan.source, plan.kind, plan.label) == ("roster", "roster", "Agent roster (shifts)")
    result = run_plan(wh, plan)
    assert (result.status, result.inserted) == ("imported", 3)
    rows = wh.cursor().execute("SELECT agent, starts_at, ends_at, channel FROM roster ORDER BY starts_at").fetchall()
    # Berlin is UTC+1 in March: 09:00 local = 08:00 UTC; Cleo's night shift ends the next morning
    assert rows == [("Agent Ada", D(2024, 3, 4, 8), D(2024, 3, 4, 16), "chat"),
                    ("Agent Ben", D(2024, 3, 4, 11), D(2024, 3, 4, 19), "email"),
                    ("Agent Cleo", D(2024, 3, 4, 21), D(2024, 3, 5, 5), None)]
    assert any("1 shifts end before they start" in note for note in plan.notes)


def test_roster_reimport_changes_nothing() -> None:
    wh = Warehouse()
    ctx = Context(tz="UTC", salt="s")
    [plan] = plan_files([("roster.csv", ROSTER.read_bytes())], ctx, LIMITS)
    run_plan(wh, plan)
    [again] = plan_files([("roster-copy.csv", ROSTER.read_bytes())], ctx, LIMITS)
    assert run_plan(wh, again).status == "already_imported"
    assert wh.row_count("roster") == 3
