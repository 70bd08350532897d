"""Imports queued beside a live dashboard. DuckDB lets one process open the warehouse; while the dashboard runs, that
process is the dashboard. So an import that finds the warehouse in use leaves its files in the warehouse's inbox
folder, and whichever process holds the warehouse imports what waits there, oldest first: the dashboard's watcher
every few seconds, or an import command that gets the warehouse. Two commands at once queue the same way.

The inbox sits beside the warehouse file (``data/warehouse.duckdb`` -> ``data/warehouse-inbox/``)::

    <job id>/files...    a job's files, copied in; the job is ready once job.json is written (last)
    done/<job id>.json   its results, as the command prints them with --json, once imported or rejected

A job whose import committed but whose folder was not yet moved (a crash in between) is imported again on the next
pass: the import finds it already imported, and categorising and linking finish what they find pending.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from data.warehouse import Warehouse

log = logging.getLogger(__name__)
JOB_FILE = "job.json"
DONE = "done"

# (warehouse, file paths, source, date order) -> one result dict per file, as the command line prints them
ImportFn = Callable[[Warehouse, Sequence[Path], str, str], list[dict[str, object]]]


def inbox_of(warehouse_file: Path) -> Path:
    return warehouse_file.with_name(f"{warehouse_file.stem}-inbox")


def submit(inbox: Path, paths: Sequence[Path], source: str = "auto", date_order: str = "auto") -> str:
    """Queue ``paths`` as one job (an Olist set stays together); returns the job's id. Files are copied, so the
    scheduler may delete or overwrite its own at once."""
    job_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"  # sorts oldest first
    staging = inbox / f".{job_id}"  # hidden until whole: a pass never sees half a job
    staging.mkdir(parents=True)
    for path in paths:
        shutil.copyfile(path, staging / path.name)
    (staging / JOB_FILE).write_text(json.dumps({"source": source, "date_order": date_order,
                                                "files": [path.name for path in paths]}), encoding="utf-8")
    staging.rename(inbox / job_id)
    return job_id


def pending(inbox: Path) -> list[Path]:
    """Ready jobs, oldest first."""
    if not inbox.is_dir():
        return []
    return sorted(job for job in inbox.iterdir()
                  if job.is_dir() and not job.name.startswith(".") and job.name != DONE and (job / JOB_FILE).exists())


def run_pending(warehouse: Warehouse, inbox: Path, import_files: ImportFn) -> list[str]:
    """Import every ready job into ``warehouse`` (held by this process), oldest first; returns their ids."""
    ran = []
    for job in pending(inbox):
        spec = json.loads((job / JOB_FILE).read_text(encoding="utf-8"))
        try:
            results = import_files(warehouse, [job / name for name in spec["files"]], spec["source"],
                                   spec["date_order"])
        except Exception as error:  # one job's failure must not stop the queue behind it
            log.exception("inbox job %s failed", job.name)
            results = [{"file": name, "status": "rejected", "reason": f"the import failed: {error}"}
                       for name in spec["files"]]
        _finish(inbox, job, results)
        ran.append(job.name)
    return ran


def _finish(inbox: Path, job: Path, results: list[dict[str, object]]) -> None:
    done = inbox / DONE
    done.mkdir(exist_ok=True)
    report = done / f"{job.name}.json"
    staging = report.with_suffix(".tmp")
    staging.write_text(json.dumps(results), encoding="utf-8")
    staging.replace(report)  # a waiting command sees the whole report or none
    shutil.rmtree(job)


def result(inbox: Path, job_id: str) -> list[dict[str, object]] | None:
    report = inbox / DONE / f"{job_id}.json"
    return json.loads(report.read_text(encoding="utf-8")) if report.exists() else None


def watch(warehouse: Warehouse, inbox: Path, import_files: ImportFn, every_seconds: float = 2.0) -> threading.Thread:
    """Import the inbox's jobs every ``every_seconds`` for as long as ``warehouse`` lives (the dashboard's)."""
    ref = weakref.ref(warehouse)  # the watcher must not keep a dropped warehouse, and its file, open

    def loop() -> None:
        while (held := ref()) is not None and not held.closed:
            try:
                if pending(inbox):
                    ids = run_pending(held, inbox, import_files)
                    log.info("imported %d queued job(s) from the inbox", len(ids))
            except Exception:
                log.exception("the inbox watcher failed; it tries again")
            del held
            time.sleep(every_seconds)

    thread = threading.Thread(target=loop, name=f"inbox-watcher:{inbox.name}", daemon=True)
    thread.start()
    return thread
