"""Every row of an import accounted for: rows_read = inserted + updated + unchanged + duplicates + rejected, in the
command line's JSON, the ledger and the Import page; the rows merged as repeats and the rows rejected listed with
their record numbers (``python -m data.cli --rejects``, the page's downloads)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data import inbox
from data.warehouse import MIGRATIONS, Warehouse
from tests.conftest import PROJECT, REAL_DATA, load_fixture, warehouse_file
from tests.test_cli import ingest as cli
from tests.test_cli import one_json
from tests.test_inbox import HOLDER
from ui import imports

HEADER = "Id,Requester email,Subject,Status,Via,Created at,Updated at,Solved at\n"
IDS = 100
BAD_IDS = (101, 102, 103)


def ticket(ticket_id: int, subject: str, updated: str = "2024-03-05 10:00:00",
           created: str = "2024-03-04 09:00:00") -> str:
    return f"{ticket_id},buyer{ticket_id}@example.com,{subject},solved,Mail,{created},{updated},2024-03-04 11:00:00\n"


def every_id_twice() -> str:
    """Records 1-100: tickets 1-100 ("first"); records 101-200: the same ids again ("second"), updated later for even
    ids and at the same time for odd ones; records 201-203: tickets 101-103 whose creation time is no date.

    Worked out by hand: 203 read; 3 rejected (records 201-203); 100 repeats merged: of an even id the second row is
    newer and kept (record i is the repeat, 100 + i kept), of an odd id the times are equal and the first in the file
    is kept (record 100 + i is the repeat, i kept); 100 tickets inserted. 100 + 100 + 3 = 203."""
    first = [ticket(i, "first") for i in range(1, IDS + 1)]
    second = [ticket(i, "second", updated="2024-03-09 10:00:00" if i % 2 == 0 else "2024-03-05 10:00:00")
              for i in range(1, IDS + 1)]
    bad = [ticket(i, "bad", created="not a date") for i in BAD_IDS]
    return HEADER + "".join(first + second + bad)


def expected_repeats() -> list[tuple[int, str, int]]:
    """(record, id, kept record), by record."""
    rows = [(i, str(i), IDS + i) if i % 2 == 0 else (IDS + i, str(i), i) for i in range(1, IDS + 1)]
    return sorted(rows)


def accounted(counts: dict[str, object]) -> int:
    return sum(int(counts[k]) for k in ("inserted", "updated", "unchanged", "duplicates", "rejected_rows"))  # type: ignore[call-overload]


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.fixture
def twice(tmp_path: Path) -> Path:
    path = tmp_path / "twice.csv"
    path.write_text(every_id_twice())
    return path


def test_accounting_cli_json_and_ledger_add_up_with_every_id_twice(twice: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    done = cli(twice, "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    report = one_json(done)
    assert {k: report[k] for k in ("rows_read", "inserted", "updated", "unchanged", "duplicates", "rejected_rows")} \
        == {"rows_read": 203, "inserted": 100, "updated": 0, "unchanged": 0, "duplicates": 100, "rejected_rows": 3}
    assert report["rows_read"] == accounted(report)
    wh = Warehouse(db)
    ledger = wh.cursor().execute("SELECT rows_read, inserted, updated, unchanged, duplicates, rejected "
                                 "FROM imports").fetchall()
    assert ledger == [(203, 100, 0, 0, 100, 3)]
    subjects = dict(wh.cursor().execute("SELECT ticket_id, subject FROM tickets").fetchall())
    assert len(subjects) == IDS
    assert {subjects[str(i)] for i in range(2, IDS + 1, 2)} == {"second"}  # updated later: the newer row kept
    assert {subjects[str(i)] for i in range(1, IDS + 1, 2)} == {"first"}  # same time: the first in the file kept


@pytest.mark.usefixtures("fresh_streamlit_caches")
def test_accounting_past_imports_on_the_data_and_import_pages_show_the_repeats(
        twice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "w.duckdb"
    assert cli(twice, "--db", db).returncode == 0
    monkeypatch.setenv("CSPULSE_WAREHOUSE_PATH", str(db))
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60).run()
    for page in ("app_pages/data.py", "app_pages/imports.py"):
        ledger = app.switch_page(page).run().dataframe[0].value
        counts = ledger.iloc[0][["rows_read", "inserted", "updated", "unchanged", "duplicates", "rejected"]].tolist()
        assert counts == [203, 100, 0, 0, 100, 3], page  # each row of the file in one column, as worked out above


def test_accounting_cli_rejects_file_lists_each_row_left_out_with_its_record_and_reason(
        twice: Path, tmp_path: Path) -> None:
    out = tmp_path / "left-out.csv"
    assert cli(twice, "--db", tmp_path / "w.duckdb", "--rejects", out).returncode == 0
    rows = read_csv(out)
    assert list(rows[0]) == ["file", "record", "column", "value", "why"]
    repeats = [(int(r["record"]), r["value"], r["why"]) for r in rows if r["why"].startswith("repeats")]
    assert [(record, value) for record, value, _ in repeats] == [(r, v) for r, v, _ in expected_repeats()]
    kept = [int(why.split("record ")[1].split(",")[0]) for _, _, why in repeats]
    assert kept == [k for _, _, k in expected_repeats()]
    assert {r["column"] for r in rows if r["why"].startswith("repeats")} == {"Id"}
    unreadable = [(int(r["record"]), r["column"], r["value"]) for r in rows if not r["why"].startswith("repeats")]
    assert unreadable == [(201, "Created at", "not a date"), (202, "Created at", "not a date"),
                          (203, "Created at", "not a date")]
    assert {r["file"] for r in rows} == {"twice.csv"}


def test_accounting_cli_queued_beside_a_running_dashboard_still_writes_its_rejects(
        twice: Path, tmp_path: Path) -> None:
    db, out = tmp_path / "w.duckdb", tmp_path / "left-out.csv"
    Warehouse(db).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPULSE_")}
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                          text=True) as holder:  # the dashboard's process: it holds the warehouse and imports the inbox
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            done = cli(twice, "--db", db, "--json", "--rejects", out)
        finally:
            holder.kill()
    assert done.returncode == 0 and "wait in its inbox" in done.stderr, done.stderr
    report = one_json(done)
    assert (report["inserted"], report["duplicates"], report["rejected_rows"]) == (100, 100, 3)
    assert [int(r["record"]) for r in read_csv(out)] == sorted([r for r, _, _ in expected_repeats()] + [201, 202, 203])
    assert [p.name for p in (inbox.inbox_of(db) / inbox.DONE).iterdir() if p.suffix == ".csv"] == []  # taken


def test_accounting_reimport_of_the_same_file_changes_nothing_and_still_adds_up(twice: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    cli(twice, "--db", db)
    before = Warehouse(db).cursor().execute("SELECT * FROM tickets ORDER BY ticket_id").fetchall()
    again = one_json(cli(twice, "--db", db, "--json"))
    assert (again["status"], again["inserted"], again["updated"], again["unchanged"], again["duplicates"],
            again["rejected_rows"]) == ("already_imported", 0, 0, 100, 100, 3)
    assert again["rows_read"] == accounted(again)
    after = Warehouse(db)
    assert after.cursor().execute("SELECT * FROM tickets ORDER BY ticket_id").fetchall() == before
    assert after.imports().height == 1


def test_accounting_cli_rejects_file_is_a_header_alone_when_nothing_is_left_out(tmp_path: Path) -> None:
    clean, out = tmp_path / "clean.csv", tmp_path / "left-out.csv"
    clean.write_text(HEADER + ticket(1, "only") + ticket(2, "only"))
    report = one_json(cli(clean, "--db", tmp_path / "w.duckdb", "--json", "--rejects", out))
    assert (report["inserted"], report["duplicates"], report["rejected_rows"]) == (2, 0, 0)
    assert out.read_text(encoding="utf-8-sig").splitlines() == ["file,record,column,value,why"]


def test_accounting_cli_unwritable_rejects_file_says_so_and_imports_nothing(twice: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    done = cli(twice, "--db", db, "--rejects", tmp_path / "no-such-folder" / "left-out.csv")
    assert done.returncode == 2
    assert "cannot write the rejects file" in done.stderr and "Traceback" not in done.stderr
    assert Warehouse(db).row_count("tickets") == 0


def test_accounting_cli_shopify_line_items_are_no_duplicates(tmp_path: Path) -> None:
    # six line items of three orders: rows of one order, grouped by the reader, never "repeats"
    fixture = PROJECT / "tests" / "fixtures" / "orders" / "shopify_three_orders.csv"
    out = tmp_path / "left-out.csv"
    report = one_json(cli(fixture, "--db", tmp_path / "w.duckdb", "--json", "--rejects", out))
    assert (report["rows_read"], report["inserted"], report["duplicates"]) == (6, 3, 0)
    assert read_csv(out) == []


def test_accounting_ledger_migration_keeps_earlier_imports_with_duplicates_unknown(tmp_path: Path) -> None:
    path = tmp_path / "v4.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    for version, statements in enumerate(MIGRATIONS[:4], start=1):
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES ($v, TIMESTAMP '2026-01-01')", {"v": version})
    con.execute("INSERT INTO imports (import_id, file_name, rows_read, inserted, updated, unchanged, rejected) "
                "VALUES ('old', 'old.csv', 200, 100, 0, 0, 0)")
    con.close()
    ledger = Warehouse(path).cursor().execute(
        "SELECT import_id, rows_read, inserted, duplicates FROM imports").fetchall()
    assert ledger == [("old", 200, 100, None)]  # merged then without being counted: unknown, not 0


# --- the Import page ---------------------------------------------------------------------------------------------
def _import_on_the_page(monkeypatch: pytest.MonkeyPatch, path: Path, app_db: Path) -> tuple[AppTest, list[bytes]]:
    """The page's own path from an upload of ``path`` to its report; returns the app and every CSV it offered."""
    warehouse_file(monkeypatch, app_db, load_fixture)
    offered: list[bytes] = []
    real_csv = imports.safe_csv

    def recording(frame: pl.DataFrame) -> bytes:
        offered.append(real_csv(frame))
        return offered[-1]

    monkeypatch.setattr(imports, "safe_csv", recording)
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=120).run()
    app = app.switch_page("app_pages/imports.py").run()
    app.file_uploader(key="uploads").set_value((path.name, path.read_bytes(), "text/csv")).run()
    offered.clear()
    app.button(key=next(b.key for b in app.button if b.key and b.key.startswith("import_"))).click().run()
    assert not app.exception
    return app, offered


@pytest.mark.usefixtures("fresh_streamlit_caches")
def test_accounting_import_page_reports_the_repeats_with_their_list(
        twice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, offered = _import_on_the_page(monkeypatch, twice, tmp_path / "page.duckdb")
    metrics = {m.label: m.value for m in app.metric}
    assert {k: metrics[k] for k in ("Records read", "Inserted", "Duplicates merged", "Rejected")} == {
        "Records read": "203", "Inserted": "100", "Duplicates merged": "100", "Rejected": "3"}
    note = [i.value for i in app.info if "repeat" in i.value]
    assert note and note[0].startswith("100 rows repeat the Id of another row; the newest kept")
    assert "Download the repeated rows (CSV)" in [b.label for b in app.get("download_button")]
    listed = [pl.read_csv(content) for content in offered if content.startswith(b"\xef\xbb\xbffile,record,column,value,"
                                                                                b"kept_record")]
    assert len(listed) == 1
    assert listed[0].select("record", pl.col("value").cast(pl.String), "kept_record").rows() == expected_repeats()


@pytest.mark.usefixtures("fresh_streamlit_caches")
def test_accounting_import_page_real_shopify_export_shows_no_duplicate_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = REAL_DATA / "shopify-real-store-monfrere-redacted" / "Shopify_orders_export_2.csv"
    if not export.exists():
        pytest.skip(f"{export} is absent")
    app, _ = _import_on_the_page(monkeypatch, export, tmp_path / "page.duckdb")
    metrics = {m.label: m.value for m in app.metric}
    # 7,921 line items of 4,936 orders (a query over the file: count(DISTINCT "Name")): none of them a repeat
    assert (metrics["Records read"], metrics["Inserted"], metrics["Duplicates merged"]) == ("7,921", "4,936", "0")
    assert not [i.value for i in app.info if "repeat" in i.value]
    assert "Download the repeated rows (CSV)" not in [b.label for b in app.get("download_button")]
