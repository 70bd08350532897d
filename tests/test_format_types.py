"""The shared typing machinery: impossible times, vocabularies, unreadable rows."""

from __future__ import annotations

from datetime import datetime as D

import polars as pl

from data.format_types import CHANNELS, finish_tickets, vocabulary


def test_finish_tickets_recomputes_missing_durations_from_timestamps() -> None:
    frame = pl.DataFrame({"created_at": [D(2024, 1, 1, 9)], "first_reply_at": [D(2024, 1, 1, 9, 30)],
                          "solved_at": [D(2024, 1, 1, 11, 30)], "full_resolution_minutes": [None]},
                         schema_overrides={"full_resolution_minutes": pl.Float64})
    out = finish_tickets(frame, [])
    assert out.select("first_reply_minutes", "full_resolution_minutes").row(0) == (30.0, 150.0)
    assert out["updated_at"].to_list() == [D(2024, 1, 1, 11, 30)]


def test_finish_tickets_keeps_export_durations_over_timestamps() -> None:
    frame = pl.DataFrame({"created_at": [D(2024, 1, 1, 9)], "solved_at": [D(2024, 1, 1, 11)],
                          "full_resolution_minutes": [45.0]})
    assert finish_tickets(frame, [])["full_resolution_minutes"].to_list() == [45.0]


def test_finish_tickets_flags_impossible_times_and_leaves_them_out() -> None:
    notes: list[str] = []
    frame = pl.DataFrame({
        "created_at": [D(2024, 1, 1, 10), D(2024, 1, 1, 9), D(2024, 1, 1, 9)],
        "first_reply_at": [D(2024, 1, 1, 10, 5), D(2024, 1, 1, 9, 30), D(2024, 1, 1, 9, 20)],
        "solved_at": [D(2024, 1, 1, 8), D(2024, 1, 1, 9, 10), D(2024, 1, 1, 12)],
    })
    out = finish_tickets(frame, notes)
    assert out["data_issues"].to_list() == ["resolved before created; resolved before first reply",
                                            "resolved before first reply", None]
    assert out["full_resolution_minutes"].to_list() == [None, None, 180.0]
    assert out["first_reply_minutes"].to_list() == [5.0, 30.0, 20.0]
    assert notes and notes[0].startswith("2 tickets have impossible times")


def test_vocabulary_maps_known_words_and_names_unknown_ones() -> None:
    notes: list[str] = []
    out = vocabulary(pl.Series(["Mail", "Web form", "Carrier pigeon", None]), CHANNELS, "other", "Channels", notes)
    assert out.to_list() == ["email", "web", "other", None]
    assert notes == ["Channels not known to CS Pulse, read as 'other': 'carrier pigeon' (1)"]


def test_type_columns_rejects_every_unreadable_row_even_past_the_listed_problems() -> None:
    from data.cast import MAX_PROBLEMS
    from data.format_types import Context, type_columns
    from data.formats import mapped_format
    from data.raw_tables import Limits, read_table

    bad = MAX_PROBLEMS + 5
    csv = "Case,Opened\n" + "".join(f"{i},not a date\n" for i in range(bad)) + "ok,2024-01-01 09:00\n"
    raw = read_table(csv.encode(), "cases.csv", Limits(10**7, 10**6, 100))
    fmt = mapped_format("cases", {"kind": "tickets", "columns": {"ticket_id": "Case", "created_at": "Opened"}})
    typed = type_columns(fmt, raw, Context(tz="UTC", salt="s"))
    assert len(typed.rejected) == bad and len(typed.problems) == MAX_PROBLEMS
    assert typed.frame["ticket_id"].to_list() == ["ok"]
