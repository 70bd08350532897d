"""The warehouse and the import path under it: schema, merge by natural key, all-or-nothing, crash safety."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime as D
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data import demo, ingest
from data.basics import ImportRejected
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.schema import FACT_TABLES
from data.warehouse import MIGRATIONS, SCHEMA_VERSION, Warehouse, WarehouseError
from tests.conftest import ORDERS, PROJECT, TICKETS


def _tickets(ids: list[str], updated: D, channel: str = "email") -> pl.DataFrame:
    return pl.DataFrame({"source": "s", "ticket_id": ids, "created_at": D(2024, 1, 1), "updated_at": updated,
                         "channel": channel})


def _count(wh: Warehouse, table: str = "tickets") -> int:
    return wh.row_count(table)


def test_warehouse_creates_the_canonical_tables_with_their_declared_columns() -> None:
    wh = Warehouse()
    for table in FACT_TABLES.values():
        columns = wh.cursor().execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
            {"t": table.name},
        ).fetchall()
        assert [c for (c,) in columns] == table.column_names
    assert wh.schema_version() == SCHEMA_VERSION
    assert wh.imports().columns[:3] == ["import_id", "file_name", "sha256"]


def test_warehouse_reopening_a_file_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    first = Warehouse(path)
    import_batch(first, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1"], D(2024, 1, 1))}))
    first.close()
    again = Warehouse(path)
    assert _count(again) == 1
    assert again.cursor().execute("SELECT count(*) FROM schema_version").fetchone() == (SCHEMA_VERSION,)


def test_warehouse_refuses_sql_access_to_server_files() -> None:
    wh = Warehouse()
    with pytest.raises(duckdb.Error):
        wh.cursor().execute("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(duckdb.Error):
        wh.cursor().execute("SET enable_external_access = true")


def test_warehouse_in_use_by_another_process_gives_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    holder = Warehouse(path)
    code = f"from data.warehouse import Warehouse; Warehouse({str(path)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    holder.close()
    assert done.returncode != 0
    assert "in use by another process" in done.stderr


def test_import_counts_inserted_then_already_imported_by_sha256() -> None:
    wh = Warehouse()
    batch = Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1", "2"], D(2024, 1, 1))})
    first, second = import_batch(wh, batch), import_batch(wh, batch)
    assert (first.status, first.inserted, first.rows_read) == ("imported", 2, 2)
    assert (second.status, second.inserted, second.unchanged) == ("already_imported", 0, 2)
    assert _count(wh) == 2 and wh.imports().height == 1


def test_import_newer_export_updates_by_natural_key_and_older_changes_nothing() -> None:
    wh = Warehouse()
    import_batch(wh, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1", "2"], D(2024, 1, 5))}))
    newer = import_batch(wh, Batch("b.csv", "sha-b", "s", "tickets",
                                   {"tickets": _tickets(["2", "3"], D(2024, 1, 9), channel="chat")}))
    older = import_batch(wh, Batch("c.csv", "sha-c", "s", "tickets",
                                   {"tickets": _tickets(["1"], D(2024, 1, 2), channel="phone")}))
    assert (newer.inserted, newer.updated, newer.unchanged) == (1, 1, 0)
    assert (older.inserted, older.updated, older.unchanged) == (0, 0, 1)
    rows = wh.cursor().execute("SELECT ticket_id, channel FROM tickets ORDER BY 1").fetchall()
    assert rows == [("1", "email"), ("2", "chat"), ("3", "chat")]


def test_import_same_key_in_two_sources_are_two_tickets() -> None:
    wh = Warehouse()
    a = _tickets(["1"], D(2024, 1, 1))
    import_batch(wh, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": a}))
    import_batch(wh, Batch("b.csv", "sha-b", "t", "tickets", {"tickets": a.with_columns(source=pl.lit("t"))}))
    assert _count(wh) == 2


def test_import_duplicate_keys_in_one_file_keep_the_newest_row() -> None:
    wh = Warehouse()
    frame = pl.concat([_tickets(["1"], D(2024, 1, 1), "email"), _tickets(["1"], D(2024, 1, 3), "chat")])
    result = import_batch(wh, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": frame}))
    assert result.inserted == 1
    assert wh.cursor().execute("SELECT channel FROM tickets").fetchall() == [("chat",)]


def test_import_missing_required_value_rejects_the_whole_batch_naming_record_and_column() -> None:
    wh = Warehouse()
    frame = _tickets(["1", "2", "3"], D(2024, 1, 1)).with_columns(
        created_at=pl.when(pl.col("ticket_id") == "3").then(None).otherwise(pl.col("created_at")))
    with pytest.raises(ImportRejected, match=r"bad\.csv: record 3, column 'created_at'"):
        import_batch(wh, Batch("bad.csv", "sha-bad", "s", "tickets", {"tickets": frame}))
    assert _count(wh) == 0 and wh.imports().height == 0


def test_import_failure_midway_rolls_back_every_table_and_leaves_the_warehouse_usable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wh = Warehouse()
    orders = ORDERS.with_columns(updated_at=pl.col("created_at"))
    lines = pl.DataFrame({"source": "fixture", "order_id": ["O1"], "line_number": [1]})
    batch = Batch("o.csv", "sha-o", "fixture", "orders", {"orders": orders, "order_lines": lines})

    def fail_after_orders_merged(*args: object) -> None:
        assert wh.cursor().execute("SELECT count(*) FROM orders").fetchone() == (0,)  # others see nothing yet
        raise OSError("disk full")

    monkeypatch.setattr(ingest, "_replace_children", fail_after_orders_merged)
    with pytest.raises(OSError, match="disk full"):
        import_batch(wh, batch)
    assert _count(wh, "orders") == 0 and wh.imports().height == 0
    monkeypatch.undo()
    assert import_batch(wh, batch).inserted == 4


def test_import_order_lines_are_replaced_with_their_updated_order() -> None:
    wh = Warehouse()
    order = pl.DataFrame({"source": "s", "order_id": ["1"], "created_at": D(2024, 1, 1), "currency": "USD",
                          "updated_at": D(2024, 1, 1)})
    two_lines = pl.DataFrame({"source": "s", "order_id": ["1", "1"], "line_number": [1, 2], "sku": ["A", "B"]})
    import_batch(wh, Batch("a.csv", "sha-a", "s", "orders", {"orders": order, "order_lines": two_lines}))
    one_line = two_lines.head(1).with_columns(sku=pl.lit("C"))
    later = order.with_columns(updated_at=pl.lit(D(2024, 2, 1)))
    result = import_batch(wh, Batch("b.csv", "sha-b", "s", "orders", {"orders": later, "order_lines": one_line}))
    assert result.per_table["orders"]["updated"] == 1
    assert wh.cursor().execute("SELECT line_number, sku FROM order_lines").fetchall() == [(1, "C")]


def test_imports_run_one_at_a_time_and_leave_every_ticket_once() -> None:
    wh = Warehouse()
    ids = [str(i) for i in range(2000)]
    batches = [Batch(f"{n}.csv", f"sha-{n}", "s", "tickets", {"tickets": _tickets(ids, D(2024, 1, 1))})
               for n in range(4)]
    threads = [threading.Thread(target=import_batch, args=(wh, batch)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wh.cursor().execute("SELECT count(*), count(DISTINCT ticket_id) FROM tickets").fetchone() == (2000, 2000)


def test_warehouse_killed_mid_import_keeps_the_previous_data(tmp_path: Path) -> None:
    path = tmp_path / "crash.duckdb"
    wh = Warehouse(path)
    import_batch(wh, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1"], D(2024, 1, 1))}))
    wh.close()
    # The child writes a second ticket inside the import transaction, then kills itself before the commit.
    code = f"""
import os, signal, polars as pl, datetime as dt
from data.warehouse import Warehouse
wh = Warehouse({str(path)!r})
with wh.transaction() as cur:
    cur.execute("INSERT INTO tickets (source, ticket_id, created_at) VALUES ('s', '2', TIMESTAMP '2024-01-02')")
    os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, timeout=60)
    assert done.returncode == -9
    after = Warehouse(path)
    assert after.cursor().execute("SELECT ticket_id FROM tickets").fetchall() == [("1",)]


def test_clear_source_removes_its_rows_and_ledger_only(warehouse: Warehouse) -> None:
    import_batch(warehouse, Batch("x.csv", "sha-x", "s", "tickets", {"tickets": _tickets(["9"], D(2024, 1, 1))}))
    before = warehouse.data_version()
    removed = clear_source(warehouse, "fixture")
    assert removed == TICKETS.height + ORDERS.height
    assert warehouse.cursor().execute("SELECT DISTINCT source FROM tickets").fetchall() == [("s",)]
    assert warehouse.imports()["source"].to_list() == ["s"]
    assert warehouse.meta("cleared:fixture") == "true"
    assert warehouse.data_version() == before + 1


def test_data_version_changes_on_import_and_not_on_a_repeat() -> None:
    wh = Warehouse()
    batch = Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1"], D(2024, 1, 1))})
    start = wh.data_version()
    import_batch(wh, batch)
    after_first = wh.data_version()
    import_batch(wh, batch)
    assert after_first == start + 1 and wh.data_version() == after_first


def test_warehouse_makes_and_keeps_its_own_salt(tmp_path: Path) -> None:
    path = tmp_path / "salt.duckdb"
    first = Warehouse(path)
    salt = first.pii_salt()
    first.close()
    assert len(salt) == 32 and Warehouse(path).pii_salt() == salt


def test_read_only_open_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="No warehouse at"):
        Warehouse(tmp_path / "absent.duckdb", read_only=True)


def _version_1_file(path: Path, *statements: str) -> Path:
    """A warehouse file as schema version 1 left it, then ``statements`` run in it."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    for statement in (*MIGRATIONS[0], "INSERT INTO schema_version VALUES (1, TIMESTAMP '2026-01-01')", *statements):
        con.execute(statement)
    con.close()
    return path


def test_warehouse_migrates_a_version_1_file_in_place_keeping_its_rows(tmp_path: Path) -> None:
    path = _version_1_file(tmp_path / "v1.duckdb", "INSERT INTO tickets (source, ticket_id, created_at) "
                                                   "VALUES ('s', '1', TIMESTAMP '2024-01-01')")
    wh = Warehouse(path)
    assert wh.schema_version() == SCHEMA_VERSION == 9
    assert wh.cursor().execute("SELECT ticket_id, tags, data_issues, nps_score, category_source, order_link "
                               "FROM tickets"
                               ).fetchall() == [("1", None, None, None, None, None)]
    assert wh.row_count("reviews") == 0
    twin = wh.cursor().execute("SELECT * FROM tickets_replaced").pl()
    assert set(twin.columns) == {*FACT_TABLES["tickets"].column_names, "replaced_by"}


def _break_migration(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    """MIGRATIONS with ``version``'s statements replaced by one DuckDB refuses."""
    broken = (*MIGRATIONS[:version - 1], ("CREATE TABLE tickets_broken (",), *MIGRATIONS[version:])
    monkeypatch.setattr("data.warehouse.MIGRATIONS", broken)


def _versions_and_tables(path: Path) -> tuple[list[int], set[str]]:
    con = duckdb.connect(str(path))
    try:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return versions, tables
    finally:
        con.close()


def test_a_new_warehouse_whose_migration_fails_half_way_holds_nothing_of_the_versions_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new file takes every version in one transaction (a first start paid a commit per version): a failure in
    version 5 leaves no table of versions 1-4 behind, and a retry starts from an empty file."""
    _break_migration(monkeypatch, 5)
    with pytest.raises(duckdb.Error):
        Warehouse(tmp_path / "new.duckdb")
    assert _versions_and_tables(tmp_path / "new.duckdb") == ([], {"schema_version"})


def test_a_warehouse_with_data_migrates_one_version_per_transaction(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that holds rows keeps each version it reached: versions 2 and 3 stay when version 4 fails."""
    path = _version_1_file(tmp_path / "v1.duckdb")
    _break_migration(monkeypatch, 4)
    with pytest.raises(duckdb.Error):
        Warehouse(path)
    versions, tables = _versions_and_tables(path)
    assert versions == [1, 2, 3]
    assert "category_corrections" in tables and "tickets_broken" not in tables  # version 3's table, not 4's


def test_undo_import_removes_its_rows_and_restores_what_it_replaced() -> None:
    wh = Warehouse()
    import_batch(wh, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1", "2"], D(2024, 1, 5))}))
    newer = import_batch(wh, Batch("b.csv", "sha-b", "s", "tickets",
                                   {"tickets": _tickets(["2", "3"], D(2024, 1, 9), channel="chat")}))
    assert newer.import_id is not None
    assert undo_import(wh, newer.import_id) == {"removed": 2, "restored": 1}
    rows = wh.cursor().execute("SELECT ticket_id, channel FROM tickets ORDER BY 1").fetchall()
    assert rows == [("1", "email"), ("2", "email")]
    assert wh.imports().filter(pl.col("undone_at").is_not_null())["file_name"].to_list() == ["b.csv"]
    again = import_batch(wh, Batch("b.csv", "sha-b", "s", "tickets",
                                   {"tickets": _tickets(["2", "3"], D(2024, 1, 9), channel="chat")}))
    assert (again.status, again.inserted, again.updated) == ("imported", 1, 1)


def test_undo_import_restores_replaced_order_lines() -> None:
    wh = Warehouse()
    order = pl.DataFrame({"source": "s", "order_id": ["1"], "created_at": D(2024, 1, 1), "currency": "USD",
                          "updated_at": D(2024, 1, 1)})
    lines = pl.DataFrame({"source": "s", "order_id": ["1", "1"], "line_number": [1, 2], "sku": ["A", "B"]})
    import_batch(wh, Batch("a.csv", "sha-a", "s", "orders", {"orders": order, "order_lines": lines}))
    later = import_batch(wh, Batch("b.csv", "sha-b", "s", "orders", {
        "orders": order.with_columns(updated_at=pl.lit(D(2024, 2, 1))),
        "order_lines": lines.head(1).with_columns(sku=pl.lit("C"))}))
    assert later.import_id is not None
    undo_import(wh, later.import_id)
    assert wh.cursor().execute("SELECT line_number, sku FROM order_lines ORDER BY 1").fetchall() == [(1, "A"),
                                                                                                     (2, "B")]


def test_undo_import_keeps_rows_a_later_import_changed_and_refuses_twice() -> None:
    wh = Warehouse()
    first = import_batch(wh, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1"], D(2024, 1, 5))}))
    import_batch(wh, Batch("b.csv", "sha-b", "s", "tickets", {"tickets": _tickets(["1"], D(2024, 1, 9), "chat")}))
    assert first.import_id is not None
    assert undo_import(wh, first.import_id) == {"removed": 0, "restored": 0}
    assert wh.cursor().execute("SELECT channel FROM tickets").fetchall() == [("chat",)]
    with pytest.raises(ImportRejected, match="already undone"):
        undo_import(wh, first.import_id)
    with pytest.raises(ImportRejected, match="no import"):
        undo_import(wh, "nope")


def test_frames_are_cut_at_chunk_boundaries_every_column_shares() -> None:
    from data.basics import in_shared_chunks

    read = pl.concat([pl.DataFrame({"id": [1, 2, 3]}), pl.DataFrame({"id": [4, 5]})], rechunk=False)
    frame = read.with_columns(pl.Series("key", ["a", "b", "c", "d", "e"]))  # one piece beside two
    cut = in_shared_chunks(frame)
    assert cut.equals(frame)
    assert [cut[c].chunk_lengths() for c in cut.columns] == [[3, 2], [3, 2]]

    whole = pl.DataFrame({"n": range(300_000)})
    assert in_shared_chunks(whole)["n"].chunk_lengths() == [122_880, 122_880, 54_240]
    assert in_shared_chunks(whole).equals(whole)


def test_a_read_only_open_of_an_older_warehouse_says_how_to_migrate_it(tmp_path: Path) -> None:
    """The report opens read-only: on a file from an older CS Pulse it names both versions instead of crashing."""
    path = tmp_path / "old.duckdb"
    wh = Warehouse(path)
    wh.cursor().execute("DELETE FROM schema_version WHERE version = $v", {"v": SCHEMA_VERSION})
    wh.close()
    with pytest.raises(WarehouseError, match=f"schema version {SCHEMA_VERSION - 1}, this CS Pulse expects "
                                             f"{SCHEMA_VERSION}; open it once with the dashboard"):
        Warehouse(path, read_only=True)


def test_a_file_warehouse_reads_its_meta_once_per_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """warehouse_meta is kept between writes, whatever a reader asks of it on whichever cursor, and every write
    through any handle on the file in this process makes the next read see the new values."""
    first = Warehouse(tmp_path / "w.duckdb")
    second = Warehouse(tmp_path / "w.duckdb")  # DuckDB shares one database between handles of a process
    start = first.data_version()
    reads = []
    real_read = Warehouse._read_meta
    monkeypatch.setattr(Warehouse, "_read_meta", lambda self: reads.append(self) or real_read(self))
    try:
        asked = [(first.data_version(), first.meta("pii_salt"), Warehouse.meta_in(first.cursor(), "data_version"),
                  Warehouse.meta_values(second.cursor(), ("data_version", "clock"))) for _ in range(5)]
        assert asked == [(start, None, str(start), [str(start), None])] * 5 and reads == []  # kept, not read again
        with second.transaction() as cur:
            second.bump_version(cur)
            Warehouse.set_meta(cur, "clock", "a clock")
        assert first.data_version() == start + 1 and Warehouse.meta_in(first.cursor(), "clock") == "a clock"
        assert len(reads) == 1
    finally:
        first.close()
        second.close()


def test_a_meta_read_that_a_write_overtook_is_not_kept() -> None:
    from data.warehouse import _Snapshots

    snapshots = _Snapshots()

    def read_then_overtaken() -> dict[str, str]:
        snapshots.forget("f.duckdb")  # a write commits while this read is under way
        return {"data_version": "1"}

    assert snapshots.get("f.duckdb", read_then_overtaken) == {"data_version": "1"}
    assert snapshots.get("f.duckdb", lambda: {"data_version": "2"}) == {"data_version": "2"}  # not kept before
    assert snapshots.get("f.duckdb", lambda: {"data_version": "3"}) == {"data_version": "2"}  # this one was


def test_data_version_is_read_from_the_file_once_per_transaction() -> None:
    """Every cached read asks for the version: it is kept until the next transaction ends, committed or not, and
    only a transaction may change it (a write outside one, as here, goes unseen until then)."""
    wh = Warehouse()
    assert wh.data_version() == 0
    wh.cursor().execute("UPDATE warehouse_meta SET value = '41' WHERE key = 'data_version'")
    assert wh.data_version() == 0
    with wh.transaction() as cur:
        wh.bump_version(cur)
    assert wh.data_version() == 42
    with pytest.raises(RuntimeError), wh.transaction() as cur:
        wh.bump_version(cur)
        raise RuntimeError("rolled back")
    assert wh.data_version() == 42


def test_a_write_through_another_handle_on_the_same_file_changes_the_version(tmp_path: Path) -> None:
    reader, writer = Warehouse(tmp_path / "w.duckdb"), Warehouse(tmp_path / "w.duckdb")
    before = reader.data_version()
    import_batch(writer, Batch("a.csv", "sha-a", "s", "tickets", {"tickets": _tickets(["1"], D(2024, 1, 1))}))
    assert reader.data_version() == before + 1


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}.wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_fill_commits_to_the_wal_alone_and_the_next_write_checkpoints_it(tmp_path: Path) -> None:
    """What a fill commits (the demo store on a first start) stays in the WAL, far above the size at which DuckDB
    checkpoints a commit into the file; the first write after it does, with the setting back at its default."""
    path = tmp_path / "warehouse.duckdb"
    wh = Warehouse(path, fill=lambda wh: import_batch(wh, demo.demo_batch(salt="fill")))
    assert _wal_bytes(path) > 16 * 2**20  # DuckDB's checkpoint_threshold, which a commit would have checkpointed
    assert wh.cursor().execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0] == "16.0 MiB"
    tickets = wh.row_count("tickets")
    with wh.transaction() as cur:
        Warehouse.set_meta(cur, "after_the_fill", "1")
    assert _wal_bytes(path) == 0
    wh.close()
    assert Warehouse(path, read_only=True).row_count("tickets") == tickets > 0


def test_a_handle_whose_fill_fails_is_locked_down_all_the_same(tmp_path: Path) -> None:
    handles = []

    def fails_half_way(wh: Warehouse) -> None:
        handles.append(wh)
        import_batch(wh, Batch("t.csv", "sha-t", "s", "tickets", {"tickets": _tickets(["A"], D(2024, 1, 1))}))
        raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        Warehouse(tmp_path / "warehouse.duckdb", fill=fails_half_way)
    settings = handles[0].cursor().execute(
        "SELECT current_setting('lock_configuration'), current_setting('enable_external_access'), "
        "current_setting('checkpoint_threshold')").fetchone()
    assert settings == (True, False, "16.0 MiB")
