"""warehouse_meta as readers see it: one snapshot per write (data/warehouse.py ``_Snapshots``), never stale. After
each kind of write that touches it (the data version, the clock, the rollups' marks and settings, the facts, the
store mapping, the remembered zones and category columns, the link mark, the salt, a cleared source), a reader sees
what the file holds, on a cursor taken before the write as on one taken after; a write from another handle on the
file, or queued by the command line in another process and imported by this one's inbox, too."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from data import clock, inbox, plans, rollups
from data.categorising import OWN, StoreMapping, apply_store_mapping, load_store_mapping
from data.classifier import load_taxonomy
from data.cli import job_importer
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.linking import link, link_if_stale
from data.warehouse import Warehouse
from metrics import facts
from settings import Settings
from tests.conftest import NEW_YORK, PROJECT, TICKETS, load_fixture
from tests.test_inbox import _env, _export

NEW_YORK_SETTINGS = Settings(_env_file=None, timezone=NEW_YORK)  # type: ignore[call-arg]


def _in_the_file(wh: Warehouse) -> dict[str, str]:
    """warehouse_meta as a statement reads it now: the connection itself, which is no reader's cursor."""
    return dict(wh._con.execute("SELECT key, value FROM warehouse_meta").fetchall())


def _second_handle_import(wh: Warehouse) -> None:
    other = Warehouse(wh.path)  # DuckDB shares one database between the handles of a process
    import_batch(other, Batch("more.csv", "sha-more", "fixture", "tickets",
                              {"tickets": TICKETS.with_columns(ticket_id=TICKETS["ticket_id"] + "b")}))


def _deferred_import(wh: Warehouse) -> None:
    with rollups.deferred():
        import_batch(wh, Batch("later.csv", "sha-later", "fixture", "tickets",
                               {"tickets": TICKETS.with_columns(ticket_id=TICKETS["ticket_id"] + "L")}))


def _undo_last(wh: Warehouse) -> None:
    undo_import(wh, wh.imports()["import_id"][0])


WRITES: dict[str, Callable[[Warehouse], object]] = {
    "import": lambda wh: import_batch(wh, Batch("t2.csv", "sha-t2", "desk", "tickets", {"tickets": TICKETS})),
    "import through another handle": _second_handle_import,
    "deferred import": _deferred_import,
    "undo": _undo_last,
    "cleared source": lambda wh: clear_source(wh, "fixture"),
    "clock rebuild": lambda wh: clock.sync(wh, clock.Clock.of(NEW_YORK_SETTINGS)),
    "rollups on other settings": lambda wh: rollups.sync(wh, Settings(_env_file=None, csat_good_min_score=5)),  # type: ignore[call-arg]
    "facts": facts.refresh,
    "store mapping": lambda wh: apply_store_mapping(wh, StoreMapping(values={"refund": OWN}), load_taxonomy()),
    "source zone": lambda wh: plans.save_source_zone(wh, "desk", "Europe/Berlin"),
    "category column": lambda wh: plans.save_category_column(wh, ["Id", "Type"], "Type"),
    "link": lambda wh: link(wh, window_days=30),
    "salt": Warehouse.pii_salt,
}


@pytest.fixture
def held(tmp_path: Path) -> Warehouse:
    """A file warehouse with the fixture's tickets and orders, its snapshot read (as any page run reads it)."""
    wh = Warehouse(tmp_path / "w.duckdb")
    load_fixture(wh)
    wh.data_version()
    return wh


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_after_each_kind_of_write_a_reader_sees_warehouse_meta_as_the_file_holds_it(held: Warehouse,
                                                                                   write: str) -> None:
    before = dict(held.meta_snapshot())
    taken_before = held.cursor()
    WRITES[write](held)
    now = _in_the_file(held)
    assert now != before  # the write changed warehouse_meta: a snapshot kept from before would differ
    assert dict(held.meta_snapshot()) == now
    assert Warehouse.meta_values(taken_before, list(now)) == list(now.values())
    assert Warehouse.meta_values(held.cursor(), list(now)) == list(now.values())


def test_a_rolled_back_write_leaves_readers_with_what_the_file_holds(held: Warehouse) -> None:
    before = dict(held.meta_snapshot())
    with pytest.raises(RuntimeError), held.transaction() as cur:
        rollups.bump_version(cur)
        raise RuntimeError("rolled back")
    assert dict(held.meta_snapshot()) == _in_the_file(held) == before


def test_a_writer_reads_its_own_transactions_meta_and_readers_the_committed(held: Warehouse) -> None:
    reader = held.cursor()
    with held.transaction() as cur:
        Warehouse.set_meta(cur, clock.META_KEY, "being rebuilt")
        assert clock.recorded(cur) == "being rebuilt"
        assert clock.recorded(reader) == clock.Clock.of(Settings(_env_file=None)).recorded  # type: ignore[call-arg]
    assert clock.recorded(reader) == "being rebuilt"


def test_meta_written_on_a_readers_own_cursor_is_seen_by_the_next_read(held: Warehouse) -> None:
    """As tests and scripts write it (each statement its own transaction), not only through ``Warehouse.writer``."""
    reader, version = held.cursor(), held.data_version()
    Warehouse.set_meta(reader, clock.META_KEY, "another clock")
    assert clock.recorded(held.cursor()) == "another clock" == _in_the_file(held)[clock.META_KEY]
    Warehouse.bump_version(reader)
    assert held.data_version() == version + 1


def test_a_salt_made_after_the_snapshot_was_read_is_kept(held: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    made = held.pii_salt()
    monkeypatch.setattr(Warehouse, "meta", lambda self, key: None)  # read before another session's import made it
    assert held.pii_salt() == made and _in_the_file(held)["pii_salt"] == made


def test_a_reader_sees_the_rollups_stale_after_deferred_writes_and_current_after_the_sync(held: Warehouse) -> None:
    reader, settings = held.cursor(), Settings(_env_file=None)  # type: ignore[call-arg]
    assert all(rollups.is_current(reader, family) for family in rollups.FAMILIES)
    _deferred_import(held)
    assert not any(rollups.is_current(reader, family) for family in rollups.FAMILIES)
    version = held.data_version()
    assert rollups.sync(held, settings)
    assert all(clock.rollup_holds(reader, family, settings) for family in rollups.FAMILIES)
    assert held.data_version() == version  # the sync moved the marks, not the version


def test_a_reader_sees_the_new_clock_and_the_rollups_on_it_after_a_rebuild(held: Warehouse) -> None:
    reader, utc = held.cursor(), Settings(_env_file=None)  # type: ignore[call-arg]
    assert clock.rollup_holds(reader, rollups.TICKETS, utc)
    assert clock.sync(held, clock.Clock.of(NEW_YORK_SETTINGS))
    assert clock.recorded(reader) == clock.Clock.of(NEW_YORK_SETTINGS).recorded
    assert clock.rollup_holds(reader, rollups.TICKETS, NEW_YORK_SETTINGS)
    assert not clock.rollup_holds(reader, rollups.TICKETS, utc)


def test_a_reader_sees_which_settings_the_rollup_was_built_on(held: Warehouse) -> None:
    reader, default, stricter = held.cursor(), Settings(_env_file=None), Settings(_env_file=None, csat_good_min_score=5)  # type: ignore[call-arg]
    assert rollups.settings_current(reader, default) and not rollups.settings_current(reader, stricter)
    assert rollups.sync(held, stricter)
    assert rollups.settings_current(reader, stricter) and not rollups.settings_current(reader, default)


def test_a_reader_uses_the_facts_only_for_the_version_they_were_worked_out_for(held: Warehouse) -> None:
    reader = held.cursor()
    assert facts.refresh(held)
    before = facts._stored(reader)
    WRITES["import"](held)  # tickets of another source: which sources measure a column moves
    assert facts._stored(reader) is None  # the import moved the version: the subqueries, not stale values
    assert facts.refresh(held)
    worked_out = json.loads(json.dumps(facts._evaluate(held._con, facts.facts()), default=facts._plain))
    assert facts._stored(reader) == worked_out != before


def test_a_reader_sees_the_remembered_mapping_zones_and_columns(held: Warehouse) -> None:
    reader = held.cursor()
    assert load_store_mapping(reader) == StoreMapping() and plans.load_source_zones(held) == {}
    WRITES["store mapping"](held)
    WRITES["source zone"](held)
    WRITES["category column"](held)
    assert load_store_mapping(reader) == StoreMapping(values={"refund": OWN})
    assert plans.load_source_zones(held) == {"desk": "Europe/Berlin"}
    assert plans.load_category_columns(held) == {plans.header_set_key(["Id", "Type"]): "type"}


def test_linking_is_asked_again_after_each_write_and_not_after_it_linked(held: Warehouse) -> None:
    assert link_if_stale(held, 30) is not None and link_if_stale(held, 30) is None
    WRITES["import"](held)
    assert link_if_stale(held, 30) is not None and link_if_stale(held, 30) is None


def test_an_import_the_command_line_queued_from_another_process_is_seen_by_this_ones_readers(
        held: Warehouse, tmp_path: Path) -> None:
    """The dashboard holds the file: ``data.cli`` in another process leaves the file in the inbox, this process's
    watcher imports it (as ui.session runs it), and this process's readers see the new version and marks."""
    reader, version = held.cursor(), held.data_version()
    box = inbox.inbox_of(Path(held.path))
    with subprocess.Popen([sys.executable, "-m", "data.cli", str(_export(tmp_path / "t.csv", range(1, 4))), "--db",
                           held.path, "--json"], cwd=PROJECT, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as command:
        while not inbox.pending(box):
            assert command.poll() is None, command.communicate()
        inbox.run_pending(held, box, job_importer(Settings(_env_file=None), None))  # type: ignore[call-arg]
        out, err = command.communicate(timeout=120)
    assert command.returncode == 0 and json.loads(out)["status"] == "imported", err
    assert held.data_version() == int(_in_the_file(held)["data_version"]) > version
    assert Warehouse.meta_values(reader, ["data_version"]) == [_in_the_file(held)["data_version"]]
    assert dict(held.meta_snapshot()) == _in_the_file(held)
    assert all(rollups.is_current(reader, family) for family in rollups.FAMILIES)
