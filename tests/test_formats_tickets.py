"""Helpdesk ticket exports end to end: fixture bytes -> read_table -> choose_format -> type_columns -> shape.

The fixtures in ``fixtures/tickets/`` are hand-written; every expected value below is worked out from their rows
(times read in UTC unless a test says otherwise).
"""

from __future__ import annotations

from datetime import datetime as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from data.format_types import Context, Typed, type_columns
from data.formats_tickets import TICKET_FORMATS
from data.plans import Plan, choose_format, plan_files, run_plan
from data.privacy import customer_key
from data.raw_tables import Limits, RawTable, header_lookup, read_table
from data.warehouse import Warehouse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tickets"
REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
LIMITS = Limits(max_bytes=10_000_000, max_rows=100_000, max_columns=300)
SALT = "test-salt"
UTC = Context(tz="UTC", salt=SALT)

READABLE = {
    "zendesk_full.csv": ("zendesk", "Zendesk ticket export"),
    "zendesk_trimmed.csv": ("zendesk", "Zendesk ticket export"),
    "zendesk_explore.csv": ("zendesk", "Zendesk Explore report"),
    "zendesk_explore_dates.csv": ("zendesk", "Zendesk Explore report"),
    "freshdesk.csv": ("freshdesk", "Freshdesk ticket export"),
    "gorgias.csv": ("gorgias", "Gorgias ticket export"),
    "helpscout.csv": ("helpscout", "Help Scout conversations export"),
}


# --- helpers ------------------------------------------------------------------------------------------------------
def raw_table(name: str, content: bytes | None = None) -> RawTable:
    return read_table(content if content is not None else (FIXTURES / name).read_bytes(), name, LIMITS)


def shaped(name: str, ctx: Context = UTC, content: bytes | None = None) -> tuple[pl.DataFrame, Typed]:
    """The canonical tickets of a fixture and the typed reading (its notes include the shape step's)."""
    raw = raw_table(name, content)
    fmt = choose_format(raw, "auto", {})
    typed = type_columns(fmt, raw, ctx)
    return fmt.shape(typed, ctx)["tickets"], typed


def tickets(name: str, ctx: Context = UTC) -> dict[str, dict[str, Any]]:
    """ticket_id -> canonical row."""
    frame, _ = shaped(name, ctx)
    return {row["ticket_id"]: row for row in frame.iter_rows(named=True)}


def plan_of(name: str, ctx: Context = UTC) -> Plan:
    [plan] = plan_files([(name, (FIXTURES / name).read_bytes())], ctx, LIMITS)
    return plan


def matching_formats(raw: RawTable) -> list[str]:
    headers = header_lookup(raw.frame)
    return [f"{f.label} {f.signature}" for f in TICKET_FORMATS if f.matches(headers)]


def emails_in(frame: pl.DataFrame) -> list[str]:
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return [f"{c}: {v}" for c in text for v in frame[c].drop_nulls() if "@" in v]


# --- detection ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), READABLE.items())
def test_formats_each_fixture_is_recognised_and_read_without_rejects(name: str, expected: tuple[str, str]) -> None:
    plan = plan_of(name)
    assert (plan.source, plan.label, plan.reason) == (*expected, "")
    assert plan.rejected_rows == 0 and plan.problems == []
    assert set(plan.frames) == {"tickets"}


@pytest.mark.parametrize("name", READABLE)
def test_formats_no_fixture_matches_two_ticket_formats(name: str) -> None:
    assert len(matching_formats(raw_table(name))) == 1


def test_formats_kaggle_ticket_headers_match_no_format() -> None:
    raw = raw_table("kaggle_like.csv")
    assert matching_formats(raw) == []
    assert "do not look like a known export" in plan_of("kaggle_like.csv").reason


def test_formats_helpscout_export_with_an_id_column_is_not_read_as_zendesk() -> None:
    content = (b"Id,Number,Status,Mailbox,Customer Email,Subject,Created At\n"
               b"77,701,active,Support,a.b@example.com,Hello,2024-08-05 09:00:00\n")
    raw = raw_table("conversations.csv", content)
    assert choose_format(raw, "auto", {}).source == "helpscout"


def test_formats_signatures_name_columns_the_format_reads() -> None:
    # detection must never rest on a column that is then ignored
    for fmt in TICKET_FORMATS:
        read = {h.lower() for f in fmt.fields for h in f.headers}
        assert {h.lower() for h in fmt.signature} <= read, fmt.label


# --- Zendesk CSV export -------------------------------------------------------------------------------------------
def test_zendesk_full_export_maps_every_canonical_column() -> None:
    ana = tickets("zendesk_full.csv")["101"]
    assert {k: ana[k] for k in ("status", "priority", "channel", "group_name", "assignee", "subject", "tags",
                                "category_exported", "reopens", "agent_replies", "satisfaction_rating")} == {
        "status": "solved", "priority": "normal", "channel": "email", "group_name": "Support",
        "assignee": "Sam Rivera", "subject": "Where is my order #1001?", "tags": "wismo shipping",
        "category_exported": "Shipping Status", "reopens": 0, "agent_replies": 1, "satisfaction_rating": "good"}
    assert (ana["created_at"], ana["solved_at"], ana["updated_at"]) == (
        D(2024, 3, 4, 9), D(2024, 3, 4, 11), D(2024, 3, 4, 12))
    assert (ana["first_reply_minutes"], ana["first_resolution_minutes"], ana["full_resolution_minutes"],
            ana["requester_wait_minutes"]) == (30.0, 120.0, 120.0, 100.0)


def test_zendesk_trimmed_export_reads_the_columns_it_has() -> None:
    frame, _ = shaped("zendesk_trimmed.csv")
    assert frame["ticket_id"].to_list() == ["201", "202", "203", "204"]
    assert "priority" not in frame.columns and "first_reply_minutes" not in frame.columns
    assert frame["agent_replies"].to_list() == [1, 2, 1, 0]


def test_zendesk_1900_placeholder_means_not_solved() -> None:
    full, trimmed = tickets("zendesk_full.csv"), tickets("zendesk_trimmed.csv")
    assert [full["102"]["solved_at"], full["105"]["solved_at"], trimmed["202"]["solved_at"]] == [None] * 3
    assert trimmed["202"]["full_resolution_minutes"] is None


def test_zendesk_resolution_time_in_hours_is_only_a_fallback() -> None:
    full, trimmed = tickets("zendesk_full.csv"), tickets("zendesk_trimmed.csv")
    assert full["101"]["full_resolution_minutes"] == 120.0  # minutes column wins over Resolution time 3 h
    assert full["103"]["full_resolution_minutes"] == 90.0  # minutes cell empty: 1.5 h
    assert trimmed["201"]["full_resolution_minutes"] == 90.0  # no minutes column: 1.5 h
    assert trimmed["204"]["full_resolution_minutes"] == 150.0  # 2.5 h, and no solve time to recompute from


def test_zendesk_business_hour_twins_go_to_their_own_columns() -> None:
    full = tickets("zendesk_full.csv")
    assert (full["101"]["full_resolution_minutes"], full["101"]["full_resolution_business_minutes"]) == (120.0, 90.0)
    assert (full["102"]["first_reply_minutes"], full["102"]["first_reply_business_minutes"]) == (45.0, 15.0)


def test_zendesk_satisfaction_words_and_scores() -> None:
    """Good, Bad and Offered read as ratings, Not Offered and Unoffered as none; a score is kept, 5 good, 2 or 3 bad."""
    full, trimmed = tickets("zendesk_full.csv"), tickets("zendesk_trimmed.csv")
    # Good, Offered, Bad, Not Offered, Unoffered
    assert [full[t]["satisfaction_rating"] for t in ("101", "102", "103", "104", "105")] == [
        "good", "offered", "bad", None, None]
    assert [(trimmed[t]["satisfaction_rating"], trimmed[t]["satisfaction_score"]) for t in ("201", "202", "203",
                                                                                             "204")] == [
        ("good", 5), (None, None), ("bad", 2), ("bad", 3)]


def test_zendesk_via_becomes_the_channel() -> None:
    full, trimmed = tickets("zendesk_full.csv"), tickets("zendesk_trimmed.csv")
    # Mail, Web form, Phone call (inbound), Chat, API
    assert [full[t]["channel"] for t in ("101", "102", "103", "104", "105")] == [
        "email", "web", "phone", "chat", "other"]
    assert trimmed["203"]["channel"] == "chat"  # Web Widget


def test_zendesk_ticket_resolved_before_created_is_flagged_and_its_duration_left_out() -> None:
    frame, typed = shaped("zendesk_full.csv")
    dana = frame.filter(pl.col("ticket_id") == "104").row(0, named=True)
    assert (dana["solved_at"], dana["created_at"]) == (D(2024, 3, 7, 11), D(2024, 3, 7, 12))
    assert dana["data_issues"] == "resolved before created"
    assert dana["full_resolution_minutes"] is None
    assert frame["data_issues"].null_count() == 4
    assert any("1 ticket has impossible times" in note for note in typed.notes)


def test_zendesk_reply_and_first_solve_times_come_from_their_durations() -> None:
    full = tickets("zendesk_full.csv")
    assert (full["101"]["first_reply_at"], full["101"]["first_solved_at"]) == (D(2024, 3, 4, 9, 30),
                                                                                D(2024, 3, 4, 11))
    assert (full["102"]["first_reply_at"], full["102"]["first_solved_at"]) == (D(2024, 3, 5, 10, 45),
                                                                                D(2024, 3, 5, 11))
    assert full["105"]["first_reply_at"] is None


def test_zendesk_times_are_read_in_the_account_time_zone() -> None:
    berlin = tickets("zendesk_full.csv", Context(tz="Europe/Berlin", salt=SALT))
    assert berlin["101"]["created_at"] == D(2024, 3, 4, 8)  # 09:00 CET is 08:00 UTC
    assert berlin["105"]["created_at"] == D(2024, 3, 8, 9, 15)  # 2024-03-08T09:15:00Z carries its own zone


def test_zendesk_category_prefers_the_custom_field_over_ticket_type() -> None:
    full = tickets("zendesk_full.csv")
    # as exported: the store's own words, compared with the taxonomy only when categorising
    assert [full[t]["category_exported"] for t in ("101", "102", "103")] == ["Shipping Status", "Problem",
                                                                            "Refund Request"]


def test_zendesk_customer_key_is_the_salted_hash_of_the_normalised_email() -> None:
    full = tickets("zendesk_full.csv")
    assert full["102"]["customer_key"] == customer_key("ben.okafor@example.com", SALT)  # " BEN.OKAFOR@Example.com "


def test_zendesk_statuses_and_priorities_are_read_and_an_empty_priority_stays_unknown() -> None:
    full = tickets("zendesk_full.csv")
    # an empty priority stays unknown rather than passing for "normal"
    assert [(full[t]["status"], full[t]["priority"]) for t in ("101", "102", "103", "104", "105")] == [
        ("solved", "normal"), ("open", "high"), ("closed", "urgent"), ("solved", "low"), ("pending", None)]


# --- Zendesk Explore ----------------------------------------------------------------------------------------------
def test_zendesk_explore_report_labels_map_to_canonical_columns() -> None:
    report = tickets("zendesk_explore.csv")
    eve = report["301"]
    assert {k: eve[k] for k in ("status", "channel", "priority", "group_name", "assignee", "tags", "category_exported",
                                "first_reply_minutes", "first_reply_business_minutes", "full_resolution_minutes",
                                "requester_wait_minutes", "satisfaction_rating")} == {
        "status": "solved", "channel": "email", "priority": "normal", "group_name": "Tier 1",
        "assignee": "Sam Rivera", "tags": "refund damaged", "category_exported": "Incident",
        "first_reply_minutes": 12.0,
        "first_reply_business_minutes": 12.0, "full_resolution_minutes": 150.0, "requester_wait_minutes": 140.0,
        "satisfaction_rating": "good"}
    assert (eve["created_at"], eve["first_reply_at"], eve["solved_at"]) == (
        D(2024, 5, 6, 8), D(2024, 5, 6, 8, 12), D(2024, 5, 6, 10, 30))
    assert report["303"]["full_resolution_minutes"] == 1440.0  # "1,440"
    assert [report[t]["channel"] for t in ("302", "303")] == ["chat", "phone"]
    assert [report[t]["satisfaction_rating"] for t in ("302", "303")] == ["offered", "bad"]


def test_zendesk_explore_dates_and_aggregated_metric_labels() -> None:
    """An Explore report of dates and SUM()/MED() labels reads; with no status column, a solve date means solved."""
    report = tickets("zendesk_explore_dates.csv")
    assert (report["311"]["created_at"], report["311"]["solved_at"]) == (D(2024, 5, 6), D(2024, 5, 7))
    assert [report[t]["agent_replies"] for t in ("311", "312")] == [2, 1]  # SUM(Agent replies)
    assert report["311"]["full_resolution_minutes"] == 1440.0  # MED(Full resolution time (min))
    # no status column: the solve date is the evidence
    assert [report[t]["status"] for t in ("311", "312")] == ["solved", "open"]


# --- Freshdesk ----------------------------------------------------------------------------------------------------
def test_freshdesk_capitalisation_variants_are_read() -> None:
    frame, _ = shaped("freshdesk.csv")  # "Created Time", "First Response Time (in Hrs)", "Agent Interactions", ...
    hiro = frame.filter(pl.col("ticket_id") == "402").row(0, named=True)
    assert (hiro["created_at"], hiro["first_reply_minutes"], hiro["full_resolution_minutes"]) == (
        D(2024, 6, 4, 10), 30.0, 1440.0)  # 0.5 h and 24 h
    assert frame["agent_replies"].to_list() == [2, 3, 1, 0, 0]


def test_freshdesk_empty_hour_columns_are_recomputed_from_timestamps() -> None:
    hana = tickets("freshdesk.csv")["401"]
    # created 09:00, first response 09:20, resolved 11:30
    assert (hana["first_reply_minutes"], hana["full_resolution_minutes"]) == (20.0, 150.0)
    assert hana["first_reply_at"] == D(2024, 6, 3, 9, 20)


def test_freshdesk_closed_time_is_the_solve_when_resolved_time_is_empty() -> None:
    assert tickets("freshdesk.csv")["402"]["solved_at"] == D(2024, 6, 5, 10)


def test_freshdesk_custom_status_reads_as_open_with_a_note() -> None:
    frame, typed = shaped("freshdesk.csv")
    jo = frame.filter(pl.col("ticket_id") == "403").row(0, named=True)
    assert jo["status"] == "open"
    assert jo["solved_at"] is None and jo["full_resolution_minutes"] is None  # its Resolved time is not a solve
    assert any("'waiting on third party' (1)" in note and "'open'" in note for note in typed.notes)


def test_freshdesk_source_priority_type_and_survey() -> None:
    """Freshdesk sources, priorities, types, survey answers and statuses map onto CS Pulse's own values."""
    frame, _ = shaped("freshdesk.csv")
    # Email, Portal, Chat, Feedback Widget, Outbound Email
    assert frame["channel"].to_list() == ["email", "web", "chat", "web", "email"]
    assert frame["priority"].to_list() == ["normal", "low", "high", "urgent", "normal"]
    assert frame["category_exported"].to_list() == ["Shipping Status", "Refund", None, "Product Question", None]
    # Awesome, 4, -, Not Good, -
    assert frame["satisfaction_rating"].to_list() == ["good", "good", None, "bad", None]
    assert frame["satisfaction_score"].to_list() == [None, 4, None, None, None]
    assert frame["status"].to_list() == ["solved", "closed", "open", "pending", "open"]


def test_freshdesk_unreadable_survey_answer_is_noted_and_the_ticket_kept() -> None:
    content = b"Ticket ID,Status,Created time,Survey results\n1,Open,2024-06-03 09:00:00,Maybe later\n"
    frame, typed = shaped("survey.csv", content=content)
    assert frame.height == 1 and frame["satisfaction_rating"].to_list() == [None]
    assert any("'Maybe later'" in note for note in typed.notes)


# --- Gorgias ------------------------------------------------------------------------------------------------------
def test_gorgias_snoozed_ticket_counts_as_closed() -> None:
    jack = tickets("gorgias.csv")["502"]
    # open, no closed time, snoozed until 2024-07-02 09:00: closed then, 24 h after creation
    assert (jack["status"], jack["solved_at"], jack["full_resolution_minutes"]) == (
        "closed", D(2024, 7, 2, 9), 1440.0)


def test_gorgias_spam_tickets_are_left_out_with_a_note() -> None:
    frame, typed = shaped("gorgias.csv")
    assert frame["ticket_id"].to_list() == ["501", "502", "504", "505"]
    assert "1 spam ticket left out." in typed.notes


def test_gorgias_channels_closes_and_survey_scores() -> None:
    """Gorgias channels map onto CS Pulse's, a survey score of 5 is good and 3 bad, and a close time is the solve."""
    gorgias = tickets("gorgias.csv")
    assert [gorgias[t]["channel"] for t in ("501", "502", "504", "505")] == ["email", "chat", "social", "web"]
    assert [(gorgias[t]["satisfaction_rating"], gorgias[t]["satisfaction_score"]) for t in ("501", "505")] == [
        ("good", 5), ("bad", 3)]
    assert (gorgias["505"]["solved_at"], gorgias["505"]["full_resolution_minutes"]) == (D(2024, 7, 3, 8, 45), 45.0)
    assert gorgias["504"]["status"] == "open" and gorgias["504"]["solved_at"] is None


# --- Help Scout ---------------------------------------------------------------------------------------------------
def test_helpscout_great_is_good_and_okay_or_not_good_is_bad() -> None:
    helpscout = tickets("helpscout.csv")
    # Great, -, Okay, Not Good
    assert [helpscout[t]["satisfaction_rating"] for t in ("601", "602", "603", "604")] == [
        "good", None, "bad", "bad"]


def test_helpscout_first_response_time_in_seconds_or_as_a_duration() -> None:
    helpscout = tickets("helpscout.csv")
    # 1800 s, 00:05:30, 3600 s, 1:00:00
    assert [helpscout[t]["first_reply_minutes"] for t in ("601", "602", "603", "604")] == [30.0, 5.5, 60.0, 60.0]
    assert helpscout["601"]["first_reply_at"] == D(2024, 8, 5, 9, 30)


def test_helpscout_statuses_mailboxes_and_spam() -> None:
    """A conversation's number is its id, statuses read, mailboxes become groups, spam is left out with a note."""
    frame, typed = shaped("helpscout.csv")
    assert frame["ticket_id"].to_list() == ["601", "602", "603", "604"]  # the conversation number; 605 is spam
    assert frame["status"].to_list() == ["closed", "open", "pending", "closed"]
    assert frame["group_name"].to_list() == ["Support", "Sales", "Support", "Support"]
    assert frame["full_resolution_minutes"].to_list() == [180.0, None, None, 1440.0]
    assert "1 spam ticket left out." in typed.notes


# --- personal data ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", READABLE)
def test_formats_customer_emails_never_appear_in_any_frame(name: str) -> None:
    frame = plan_of(name).frames["tickets"]
    assert emails_in(frame) == []
    assert not any("email" in column for column in frame.columns)
    if "customer_key" in frame.columns:  # a 64-bit hash, never text that could hold an address
        assert frame["customer_key"].dtype == pl.UInt64


# --- into the warehouse -------------------------------------------------------------------------------------------
def test_zendesk_export_imports_with_kpi_columns_intact() -> None:
    warehouse = Warehouse()
    try:
        result = run_plan(warehouse, plan_of("zendesk_full.csv"))
        assert (result.status, result.inserted, result.rejected_rows) == ("imported", 5, 0)
        cur = warehouse.cursor()
        rows = cur.execute("""SELECT ticket_id, source, status, channel, solved_at, full_resolution_minutes,
                                     satisfaction_rating, data_issues, customer_key IS NOT NULL
                              FROM tickets ORDER BY ticket_id""").fetchall()
        assert rows == [
            ("101", "zendesk", "solved", "email", D(2024, 3, 4, 11), 120.0, "good", None, True),
            ("102", "zendesk", "open", "web", None, None, "offered", None, True),
            ("103", "zendesk", "closed", "phone", D(2024, 3, 6, 9, 30), 90.0, "bad", None, True),
            ("104", "zendesk", "solved", "chat", D(2024, 3, 7, 11), None, None, "resolved before created", True),
            ("105", "zendesk", "pending", "other", None, None, None, None, True),
        ]
        # first replies 30, 45, 5 -> median 30; solved or closed: 101, 103, 104
        median, solved = cur.execute("""SELECT median(first_reply_minutes),
                                               count(*) FILTER (WHERE status IN ('solved', 'closed'))
                                        FROM tickets""").fetchone()
        assert (median, solved) == (30.0, 3)
    finally:
        warehouse.close()


# --- the real Freshdesk export ------------------------------------------------------------------------------------
@pytest.mark.skipif(not REAL.is_dir(), reason=f"real exports not present at {REAL}")
def test_freshdesk_real_export_reads_45_tickets_without_rejects() -> None:
    path = REAL / "freshdesk-sample-tickets" / "freshdesk_tickets.csv"
    [plan] = plan_files([(path.name, path.read_bytes())], UTC, LIMITS)
    assert (plan.source, plan.reason, plan.rejected_rows, plan.problems) == ("freshdesk", "", 0, [])
    frame = plan.frames["tickets"]
    assert frame.height == 45 and frame["ticket_id"].n_unique() == 45
    assert emails_in(frame) == []
    assert frame["customer_key"].null_count() == 0
    assert frame["solved_at"].null_count() == 45  # nothing was resolved
    assert set(frame["status"]) <= {"open", "pending"}  # OpenPending and Waiting on Third Party read as open
