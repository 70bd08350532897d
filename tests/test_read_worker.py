"""An upload read in a child process (data.read_worker) gives the table a read in the server gives, refuses a bomb
with the same words, reports its rows as it goes, and stops when cancelled; received files live in a private temp
folder that goes with its session (data.uploads)."""

from __future__ import annotations

import csv
import gc
import io
import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from data import uploads
from data.raw_tables import FileRejected, Limits, read_table
from data.read_worker import Progress, ReadFailed, Reading
from tests.conftest import PROJECT
from tests.test_bounded import HEADER, ROW, streamed_xlsx
from tests.test_raw_tables import STYLES, TICKET_STRINGS, TICKETS, sheet_xml, xlsx

LIMITS = Limits(max_bytes=10_000_000, max_rows=100_000, max_columns=50, max_unpacked_bytes=100_000_000)
ZENDESK = PROJECT / "tests" / "fixtures" / "tickets" / "zendesk_trimmed.csv"


def xlsx_of_csv(path: Path) -> bytes:
    """The CSV's cells as a workbook of inline strings, as a spreadsheet saving the export would hold them."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    cells = "".join("<row>" + "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in row) + "</row>"
                    for row in rows)
    return xlsx(sheet_xml(cells))


def _read_in_child(tmp_path: Path, content: bytes, name: str, limits: Limits = LIMITS) -> tuple[object, list]:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    reading = Reading(path, name, limits, tmp_path / "table.arrow")
    try:
        events = [event for event in reading.events() if event is not None]
        return reading.table(), events
    finally:
        reading.cancel()


@pytest.mark.parametrize(("name", "content"), [
    ("tickets.xlsx", xlsx(TICKETS, TICKET_STRINGS, STYLES)),
    ("zendesk.xlsx", xlsx_of_csv(ZENDESK)),
    ("zendesk_trimmed.csv", ZENDESK.read_bytes()),
])
def test_read_worker_gives_the_table_a_read_in_the_server_gives(tmp_path: Path, name: str, content: bytes) -> None:
    in_server = read_table(content, name, LIMITS)
    in_child, _ = _read_in_child(tmp_path, content, name)
    assert in_child.frame.equals(in_server.frame, null_equal=True)
    assert replace(in_child, frame=None) == replace(in_server, frame=None)  # hash, encoding, delimiter, notes...


def test_read_worker_refuses_a_bomb_with_the_words_of_a_read_in_the_server(tmp_path: Path) -> None:
    bomb = streamed_xlsx(HEADER, ROW, 2_000_000)
    small = Limits(max_bytes=1_000_000, max_rows=1_000, max_columns=10, max_unpacked_bytes=100_000_000)
    with pytest.raises(FileRejected) as in_server:
        read_table(bomb, "bomb.xlsx", small)
    with pytest.raises(FileRejected) as in_child:
        _read_in_child(tmp_path, bomb, "bomb.xlsx", small)
    assert str(in_child.value) == str(in_server.value) == (
        "bomb.xlsx: its sheet has more than 2,001 rows, more than the limit of 1,000 records and as many blank rows")


def test_read_worker_keeps_a_reason_that_spans_lines_whole(tmp_path: Path) -> None:
    # the reason starts with the file's name, and the child's one line per event must not cut it
    with pytest.raises(FileRejected) as in_server:
        read_table(b"", "two\nlines.csv", LIMITS)
    with pytest.raises(FileRejected) as in_child:
        _read_in_child(tmp_path, b"", "two\nlines.csv")
    assert str(in_child.value) == str(in_server.value) and str(in_server.value).startswith("two\nlines.csv: ")


def test_read_worker_reports_rows_as_a_workbook_is_read(tmp_path: Path) -> None:
    book = streamed_xlsx(HEADER, ROW, 5_000)
    table, events = _read_in_child(tmp_path, book, "many.xlsx")
    assert table.frame.height == 5_000
    assert events == [Progress(2_000, 5_000), Progress(4_000, 5_000)]  # every 2,000 records, of the 5,001 row tags


def test_read_worker_cancel_ends_the_child_at_once(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    path.write_bytes(streamed_xlsx(HEADER, ROW, 1_000_000))
    reading = Reading(path, "big.xlsx", Limits(10**8, 10**7, 10, 10**9), tmp_path / "table.arrow")
    first = next(event for event in reading.events() if event is not None)
    assert first.done == 2_000 and first.most == 1_000_000
    reading.cancel()
    assert reading._child.returncode == -9  # killed, not finished
    assert not (tmp_path / "table.arrow").exists()


def test_read_worker_that_fails_says_so_without_the_files_contents(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(b"Email\nada@example.com\n")
    (tmp_path / "table.arrow").mkdir()  # the table cannot be written there
    reading = Reading(path, "upload.csv", LIMITS, tmp_path / "table.arrow")
    with pytest.raises(ReadFailed) as failed:
        reading.table()
    assert str(failed.value).startswith("the reader exited with 1 (")
    assert "ada@example.com" not in str(failed.value) and "upload.csv" not in str(failed.value)


def test_uploads_are_kept_private_in_the_system_temp_folder_and_go_with_the_session(tmp_path: Path) -> None:
    received = uploads.Received()
    file = received.add("orders.csv", b"id\n1\n")
    assert file.path.read_bytes() == b"id\n1\n" and file.size == 5 and file.name == "orders.csv"
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(received.folder.stat().st_mode) == 0o700
    assert received.folder.is_relative_to(tempfile.gettempdir()) and not received.folder.is_relative_to(PROJECT)
    folder = received.folder
    del received, file
    gc.collect()
    assert not folder.exists()  # the session's state let go of it: its files went


def test_uploads_remove_deletes_the_file_and_its_table() -> None:
    received = uploads.Received()
    keep, drop = received.add("a.csv", b"a\n1\n"), received.add("b.csv", b"b\n2\n")
    drop.table_path.write_bytes(b"table")
    received.remove(drop.file_id)
    assert received.files == [keep] and not drop.path.exists() and not drop.table_path.exists()
    assert keep.path.exists()
    received.close()


def test_uploads_sweep_removes_only_folders_of_servers_no_longer_running(tmp_path: Path) -> None:
    dead = tmp_path / f"{2**22 + 12345}-abc"  # above Linux's default pid_max (4,194,304): no such process
    alive, mine = tmp_path / f"{os.getppid()}-abc", tmp_path / f"{os.getpid()}-abc"
    for folder in (dead, alive, mine):
        folder.mkdir()
        (folder / "x.upload").write_bytes(b"x")
    assert uploads.sweep_stale(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and mine.exists()
