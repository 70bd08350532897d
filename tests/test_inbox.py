"""Imports beside a live dashboard: a command that finds the warehouse held queues its files in the warehouse's
inbox, the holder imports them, and two commands at once queue instead of failing. Real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from data import inbox
from data.cli import import_paths, job_importer
from data.warehouse import Warehouse
from settings import load_settings
from tests.conftest import PROJECT
from tests.test_cli import ZENDESK_HEADER, ingest, zendesk_rows

# A stand-in for the dashboard's process: it holds the warehouse and runs the same watcher ui.session starts.
HOLDER = """
import sys, time
from pathlib import Path
from data import cli, inbox
from data.categorising import current_taxonomy
from data.warehouse import Warehouse
from settings import get_settings
db = Path(sys.argv[1])
wh = Warehouse(db)
inbox.watch(wh, inbox.inbox_of(db), cli.job_importer(get_settings(), current_taxonomy()), every_seconds=0.2)
print("holding", flush=True)
time.sleep(120)
"""


def _export(path: Path, ids: range) -> Path:
    path.write_text(ZENDESK_HEADER + zendesk_rows(ids))
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CSPULSE_")}


def _counts(db: Path) -> tuple[int, int]:
    """(tickets, tickets still waiting for a category)."""
    wh = Warehouse(db)
    try:
        return wh.cursor().execute(
            "SELECT count(*), count(*) FILTER (WHERE category_source IS NULL) FROM tickets").fetchone()  # type: ignore[return-value]
    finally:
        wh.close()


def test_the_inbox_sits_beside_its_warehouse() -> None:
    assert inbox.inbox_of(Path("/srv/data/warehouse.duckdb")) == Path("/srv/data/warehouse-inbox")


def test_a_command_beside_a_running_dashboard_is_imported_by_the_dashboard(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=PROJECT, env=_env(), stdout=subprocess.PIPE,
                          text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            done = ingest(_export(tmp_path / "t.csv", range(1, 4)), "--db", db, "--json")
        finally:
            holder.kill()
    assert done.returncode == 0, done.stderr
    assert "wait in its inbox" in done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["inserted"]) == ("imported", 3)
    assert _counts(db) == (3, 0)  # imported and categorised by the holder
    assert inbox.pending(inbox.inbox_of(db)) == []


def test_two_commands_at_once_queue_and_both_import(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    first, second = _export(tmp_path / "a.csv", range(1, 4)), _export(tmp_path / "b.csv", range(10, 15))
    holder = Warehouse(db)  # a third party holds the file while both start
    commands = [subprocess.Popen([sys.executable, "-m", "data.cli", str(path), "--db", str(db), "--json"],
                                 cwd=PROJECT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for path in (first, second)]
    box = inbox.inbox_of(db)
    while len(inbox.pending(box)) < 2:  # both queued: neither was refused
        assert all(command.poll() is None for command in commands)
    holder.close()
    outputs = [command.communicate(timeout=120) for command in commands]
    assert [command.returncode for command in commands] == [0, 0], outputs
    assert sorted(json.loads(out)["inserted"] for out, _ in outputs) == [3, 5]
    assert _counts(db) == (8, 0)


def test_a_rerun_after_a_crash_before_categorising_finishes_it(tmp_path: Path) -> None:
    """The import committed, then the process died before categorising: the rerun finds the file already imported
    and still categorises what is pending."""
    db, path = tmp_path / "w.duckdb", _export(tmp_path / "t.csv", range(1, 6))
    import_paths([str(path)], db, load_settings(), taxonomy=None)  # stops where the crash did
    assert _counts(db) == (5, 5)
    done = ingest(path, "--db", db, "--json")
    assert json.loads(done.stdout)["status"] == "already_imported"
    assert _counts(db) == (5, 0)


def test_jobs_run_oldest_first_and_a_failing_one_does_not_stop_the_rest(tmp_path: Path) -> None:
    box = tmp_path / "w-inbox"
    ids = [inbox.submit(box, [_export(tmp_path / f"{n}.csv", range(n, n + 1))]) for n in (1, 2, 3)]
    (box / ".half-written").mkdir()  # a job still being copied in is not ready
    seen: list[str] = []

    def importer(warehouse: object, paths: list[Path], source: str, date_order: str) -> list[dict[str, object]]:
        seen.append(paths[0].name)
        if paths[0].name == "2.csv":
            raise RuntimeError("disk full")
        return [{"file": paths[0].name, "status": "imported"}]

    assert inbox.run_pending(None, box, importer) == ids  # type: ignore[arg-type]
    assert seen == ["1.csv", "2.csv", "3.csv"]
    assert inbox.result(box, ids[1]) == [{"file": "2.csv", "status": "rejected",
                                          "reason": "the import failed: disk full"}]
    assert inbox.pending(box) == []


def test_a_queued_job_imports_like_the_command(tmp_path: Path) -> None:
    db, path = tmp_path / "w.duckdb", _export(tmp_path / "t.csv", range(1, 3))
    wh = Warehouse(db)
    try:
        [report] = job_importer(load_settings(), None)(wh, [path], "auto", "auto")
    finally:
        wh.close()
    assert (report["status"], report["source"], report["kind"], report["inserted"]) == \
        ("imported", "zendesk", "tickets", 2)
