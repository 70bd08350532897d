"""Ticket CSVs from the command line imported in batches (data.streaming): batch boundaries must not show.

Every file here is several batches long (3 lines a batch), so each behaviour crosses a boundary.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from data import ingest
from data.cli import import_paths
from data.format_types import Context
from data.plans import plan_files, run_plan
from data.raw_tables import Limits
from data.streaming import merged_notes
from data.warehouse import Warehouse
from settings import Settings, load_settings
from tests.test_cli import ZENDESK_HEADER, zendesk_rows

BATCH = 3


@pytest.fixture
def small_batches() -> Settings:
    return load_settings(_env_file=None, cli_batch_rows=BATCH, cli_batches_above_mb=0)


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def tickets(db: Path) -> list[tuple]:
    wh = Warehouse(db)
    try:
        return wh.cursor().execute("SELECT * EXCLUDE (import_id) FROM tickets ORDER BY ticket_id").fetchall()
    finally:
        wh.close()


def test_streaming_bad_cell_in_a_later_batch_is_named_with_its_record_in_the_file(
        tmp_path: Path, small_batches: Settings) -> None:
    rows = zendesk_rows(range(1, 11)).splitlines(keepends=True)
    rows[7] = rows[7].replace("2024-03-04 09:00:00", "next tuesday", 1)  # record 8: the third batch
    file = tmp_path / "tickets.csv"
    file.write_text(ZENDESK_HEADER + "".join(rows))
    out = tmp_path / "left-out.csv"
    [result] = import_paths([str(file)], tmp_path / "w.duckdb", small_batches, rejects_to=out)
    assert (result.status, result.rows_read, result.inserted, result.rejected_rows) == ("imported", 10, 9, 1)
    [reason] = read_rejects(out)
    assert (reason["record"], reason["column"], reason["value"]) == ("8", "Created at", "next tuesday")
    wh = Warehouse(tmp_path / "w.duckdb")
    ids = [row[0] for row in wh.cursor().execute("SELECT ticket_id::INT FROM tickets ORDER BY 1").fetchall()]
    wh.close()
    assert ids == [1, 2, 3, 4, 5, 6, 7, 9, 10]


def test_streaming_repeats_across_batches_keep_the_newest_and_list_the_rest(
        tmp_path: Path, small_batches: Settings) -> None:
    # ids 1-5, then 2 again, updated later (record 6, second batch), then 4 again at the same time (record 7)
    body = zendesk_rows(range(1, 6)) + zendesk_rows([2], updated="2024-03-09 10:00:00", subject="Refund") \
        + zendesk_rows([4], subject="Later copy")
    file = tmp_path / "tickets.csv"
    file.write_text(ZENDESK_HEADER + body)
    out = tmp_path / "left-out.csv"
    [result] = import_paths([str(file)], tmp_path / "w.duckdb", small_batches, rejects_to=out)
    assert (result.rows_read, result.inserted, result.duplicates) == (7, 5, 2)
    wh = Warehouse(tmp_path / "w.duckdb")
    kept = dict(wh.cursor().execute("SELECT ticket_id, subject FROM tickets").fetchall())
    wh.close()
    assert len(kept) == 5
    assert (kept["2"], kept["4"]) == ("Refund", "Where is my order?")  # newer wins; equal times: the first
    repeats = [(r["record"], r["value"], r["why"].split("which")[0]) for r in read_rejects(out)]
    assert [(record, value) for record, value, _ in repeats] == [("2", "2"), ("7", "4")]
    assert "record 6" in read_rejects(out)[0]["why"] and "record 4" in read_rejects(out)[1]["why"]


def test_streaming_gives_the_warehouse_the_whole_file_path_gives(tmp_path: Path, small_batches: Settings) -> None:
    body = zendesk_rows(range(1, 8)) + zendesk_rows([3], updated="2024-03-09 10:00:00", subject="Refund") \
        + zendesk_rows([5], subject="Later copy")
    file = tmp_path / "tickets.csv"
    file.write_text(ZENDESK_HEADER + body)
    [streamed] = import_paths([str(file)], tmp_path / "batches.duckdb", small_batches)
    streamed_wh = Warehouse(tmp_path / "batches.duckdb")
    ctx = Context(tz="UTC", salt=streamed_wh.pii_salt())  # the same salt, so customer keys compare
    streamed_wh.close()
    [plan] = plan_files([(file.name, file.read_bytes())], ctx, Limits.from_settings(small_batches))
    whole = Warehouse(tmp_path / "whole.duckdb")
    result = run_plan(whole, plan)
    whole.close()
    assert (streamed.inserted, streamed.duplicates) == (result.inserted, result.duplicates) == (7, 2)
    assert tickets(tmp_path / "batches.duckdb") == tickets(tmp_path / "whole.duckdb")


def test_streaming_rejection_in_the_last_batch_leaves_the_warehouse_as_it_was(
        tmp_path: Path, small_batches: Settings) -> None:
    db = tmp_path / "w.duckdb"
    first = tmp_path / "march.csv"
    first.write_text(ZENDESK_HEADER + zendesk_rows(range(1, 4)))
    import_paths([str(first)], db, small_batches)
    before = tickets(db)
    rows = zendesk_rows(range(3, 11), updated="2024-03-09 10:00:00", subject="Refund").splitlines(keepends=True)
    rows[-1] = "," + rows[-1].split(",", 1)[1]  # record 8, the last batch: no ticket id
    later = tmp_path / "march-later.csv"
    later.write_text(ZENDESK_HEADER + "".join(rows))
    [result] = import_paths([str(later)], db, small_batches)
    assert result.status == "rejected"
    assert "record 8, column 'ticket_id': a value is required" in result.reason
    assert tickets(db) == before
    wh = Warehouse(db)
    assert wh.cursor().execute("SELECT count(*) FROM imports").fetchone()[0] == 1
    wh.close()


def test_streaming_same_file_again_changes_nothing(tmp_path: Path, small_batches: Settings) -> None:
    file, db = tmp_path / "tickets.csv", tmp_path / "w.duckdb"
    file.write_text(ZENDESK_HEADER + zendesk_rows(range(1, 8)))
    import_paths([str(file)], db, small_batches)
    before = tickets(db)
    [again] = import_paths([str(file)], db, small_batches)
    assert (again.status, again.inserted, again.unchanged) == ("already_imported", 0, 7)
    assert tickets(db) == before


def test_streaming_command_line_has_its_own_row_limit(tmp_path: Path) -> None:
    file = tmp_path / "tickets.csv"
    file.write_text(ZENDESK_HEADER + zendesk_rows(range(1, 11)))
    tight = load_settings(_env_file=None, cli_batch_rows=BATCH, cli_batches_above_mb=0, cli_max_rows=7,
                          upload_max_rows=2)
    [result] = import_paths([str(file)], tmp_path / "w.duckdb", tight)
    assert result.status == "rejected"
    assert "more than the limit of 7" in result.reason  # the command's limit, not the upload's 2
    roomy = load_settings(_env_file=None, cli_batch_rows=BATCH, cli_batches_above_mb=0, upload_max_rows=2)
    [result] = import_paths([str(file)], tmp_path / "w.duckdb", roomy)
    assert (result.status, result.inserted) == ("imported", 10)


def test_streaming_notes_of_batches_sum_their_counts_and_keep_quoted_words() -> None:
    notes = merged_notes([["Channels not known to CS Pulse, read as 'other': 'tier 2' (3)", "skipped 2 blank lines"],
                          ["Channels not known to CS Pulse, read as 'other': 'tier 2' (1,200)"]])
    assert notes == ["Channels not known to CS Pulse, read as 'other': 'tier 2' (1,203)", "skipped 2 blank lines"]


def test_streaming_a_crash_after_the_merge_leaves_the_warehouse_as_it_was_and_nothing_staged(
        tmp_path: Path, small_batches: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batches are staged outside the import's transaction; the merge and the ledger row are one transaction."""
    db = tmp_path / "w.duckdb"
    first = tmp_path / "march.csv"
    first.write_text(ZENDESK_HEADER + zendesk_rows(range(1, 4)))
    import_paths([str(first)], db, small_batches)
    before = tickets(db)
    later = tmp_path / "march-later.csv"
    later.write_text(ZENDESK_HEADER + zendesk_rows(range(3, 11), updated="2024-03-09 10:00:00", subject="Refund"))

    def crash(*args: object) -> None:
        raise MemoryError("the machine ran out of memory while recording the import")

    monkeypatch.setattr(ingest.Warehouse, "bump_version", staticmethod(crash))  # after the merge wrote its rows
    with pytest.raises(MemoryError):
        import_paths([str(later)], db, small_batches)
    monkeypatch.undo()
    assert tickets(db) == before
    wh = Warehouse(db)
    try:
        assert wh.cursor().execute("SELECT count(*) FROM imports").fetchone()[0] == 1
        assert wh.cursor().execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'staging'").fetchone()[0] \
            == 0
    finally:
        wh.close()
    [again] = import_paths([str(later)], db, small_batches)
    assert (again.status, again.inserted, again.updated) == ("imported", 7, 1)
