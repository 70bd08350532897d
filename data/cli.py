"""The import command line, ``python -m data.cli PATH... [options]``: the same plan and import as the Import page.

Exit code 0 when every file was imported or already was, 2 when one was rejected or the run could not start.

While the dashboard (or another import) holds the warehouse, the files wait in the warehouse's inbox
(``data.inbox``): the holder imports them within seconds, and this command waits for the result and prints it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl

from data import clock, inbox, rollups
from data.basics import ImportRejected
from data.categorising import categorise, current_taxonomy
from data.classifier import Taxonomy, TaxonomyError
from data.export import safe_csv
from data.format_types import Context, Format
from data.ingest import ImportResult, pii_salt
from data.linking import link_if_stale
from data.plans import (
    REASON_COLUMNS,
    Plan,
    load_category_columns,
    load_mappings,
    load_source_zones,
    plan_tables,
    read_files,
    run_plan,
)
from data.raw_tables import CsvBatches, Limits, NotInBatches, RawTable
from data.streaming import import_in_batches, ticket_format
from data.warehouse import Warehouse, WarehouseError, WarehouseInUse
from settings import Settings, SettingsError, get_settings

log = logging.getLogger(__name__)
OUT_OF_MEMORY = ("the import needed more memory than DuckDB may use here ({mb} MB, CSPULSE_CLI_MEMORY_MB); the file it "
                 "was importing is not in the warehouse (an import is all or nothing), those before it are. Set "
                 "CSPULSE_CLI_MEMORY_MB higher and run the command again.")
SOURCES = ("auto", "zendesk", "freshdesk", "gorgias", "helpscout", "shopify", "woocommerce", "olist", "roster",
           "traffic")


class RejectsFileError(RuntimeError):
    """The --rejects file cannot be written."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rejects_to = Path(args.rejects) if args.rejects else None
    try:
        settings = get_settings()
        taxonomy = current_taxonomy()  # a bad taxonomy file stops the run before anything is written
        db = Path(args.db) if args.db else settings.warehouse_file
        if rejects_to is not None:  # a path that cannot be written stops the run before anything is imported
            write_rejects(rejects_to, [])
        try:
            results = [_public(r) for r in import_paths(args.paths, db, settings, args.source, args.date_order,
                                                        taxonomy, rejects_to=rejects_to)]
        except WarehouseInUse as error:
            results = queue_and_wait(args.paths, db, settings, args.source, args.date_order, taxonomy, args.wait,
                                     why=str(error), rejects_to=rejects_to)
    except (WarehouseError, SettingsError, TaxonomyError, RejectsFileError) as error:
        print(f"data.cli: {error}", file=sys.stderr)
        return 2
    except duckdb.OutOfMemoryException:
        log.debug("out of memory", exc_info=True)
        print(f"data.cli: {OUT_OF_MEMORY.format(mb=get_settings().cli_memory_mb)}", file=sys.stderr)
        return 2
    for result in results:
        print(json.dumps(result) if args.json else _line(result))
    return 2 if any(r["status"] == "rejected" for r in results) else 0


def import_paths(paths: Sequence[str], db: Path, settings: Settings, source: str = "auto", date_order: str = "auto",
                 taxonomy: Taxonomy | None = None, rejects_to: Path | None = None) -> list[ImportResult]:
    """Import the files into the warehouse at ``db``, each plan in its own transaction, which places its tickets
    by their text too (one write keeping the rollups once, not two); then categorise what is left and link
    tickets to orders. ``rejects_to``: a CSV of every record left out and why, written before anything is imported.

    The files are read while the warehouse opens: opening is mostly DuckDB starting up and importing pandas (on
    the first bound parameter), reading is mostly Polars and numpy, which run outside the GIL.
    """
    limits = Limits.for_command_line(settings)
    in_batches, whole = _in_batches_or_whole(paths, limits, settings)
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(_read, whole, limits, source)
        warehouse = open_on_clock(db, settings)
    try:
        results = _import_read(warehouse, reading.result(), settings, source, date_order, rejects_to, in_batches,
                               taxonomy=taxonomy)
        _derive(warehouse, settings, taxonomy)
        # jobs other imports queued while this one held the warehouse
        inbox.run_pending(warehouse, inbox.inbox_of(db), job_importer(settings, taxonomy))
    finally:
        warehouse.close()
    return results


def open_on_clock(db: Path, settings: Settings) -> Warehouse:
    """The warehouse, its local dates and business minutes rebuilt first if the time zone or business hours in the
    settings changed since they were worked out (as the dashboard does when it opens it)."""
    warehouse = Warehouse(db, memory_mb=settings.cli_memory_mb)
    try:
        if warehouse.is_empty():
            _record_clock_of_empty(warehouse, settings)
            return warehouse
        if clock.sync(warehouse, clock.Clock.of(settings)):
            print(f"data.cli: the clock settings changed; local dates and business minutes were worked out again "
                  f"for {clock.Clock.of(settings).describe()}", file=sys.stderr)
        rollups.sync(warehouse)
    except BaseException:
        warehouse.close()
        raise
    return warehouse


def _record_clock_of_empty(warehouse: Warehouse, settings: Settings) -> None:
    """An empty warehouse (a new file) records the clock with its rollups left stale, not built empty: the import
    that follows finds them so and builds them whole, once, as its first import would anyway (it changes which
    sources measure a column). A reader meanwhile reads the raw rows, none; a run that imports nothing leaves them
    to the next start's sync."""
    with rollups.deferred():
        clock.sync(warehouse, clock.Clock.of(settings))


def _import_read(warehouse: Warehouse, read: tuple[list[RawTable], list[ImportResult]], settings: Settings,
                 source: str, date_order: str, rejects_to: Path | None = None,
                 in_batches: Sequence[CsvBatches] = (), *, taxonomy: Taxonomy | None = None) -> list[ImportResult]:
    """The files read whole first (an Olist set goes together), then the ticket CSVs read in batches, each file in
    its own transaction (with its tickets placed by ``taxonomy``, see data.ingest.import_batch). The rejects file is
    written again as each plan is complete, before that plan is merged."""
    raws, rejected = read
    ctx = Context(tz=settings.timezone, salt=pii_salt(warehouse, settings), date_order=date_order)  # type: ignore[arg-type]
    mappings, category_columns = load_mappings(warehouse), load_category_columns(warehouse)
    zones = load_source_zones(warehouse)
    streamed = [(csv, fmt) for csv in in_batches if (fmt := ticket_format(csv, source, mappings)) is not None]
    if len(streamed) < len(in_batches):  # read whole beside the others: the members of a set go together
        others = [str(csv.path) for csv in in_batches if all(csv is not done for done, _ in streamed)]
        more_raws, more_rejected = _read(others, Limits.for_command_line(settings), source)
        raws, rejected = raws + more_raws, rejected + more_rejected
    plans = plan_tables(raws, ctx, source, mappings, category_columns=category_columns, zones=zones)
    del raws  # typed now: the text cells need not stay in memory through the merge
    if rejects_to is not None:
        write_rejects(rejects_to, plans)
    # run_plan reports a rejection as a result, so one bad file never stops the others
    results = rejected + [run_plan(warehouse, plan, categorise_with=taxonomy) for plan in plans]
    return results + _import_in_batches(warehouse, streamed, ctx, settings, source, plans, rejects_to, taxonomy)


def _import_in_batches(warehouse: Warehouse, streamed: Sequence[tuple[CsvBatches, Format]], ctx: Context,
                       settings: Settings, source: str, planned: list[Plan],
                       rejects_to: Path | None, taxonomy: Taxonomy | None = None) -> list[ImportResult]:
    """Each ticket CSV in batches; one that turns out to need the careful reader is read whole after all."""
    mappings, category_columns = load_mappings(warehouse), load_category_columns(warehouse)
    zones, results = load_source_zones(warehouse), []

    def before_merge(plan: Plan) -> None:
        if rejects_to is not None:
            write_rejects(rejects_to, [*planned, plan])

    for csv, fmt in streamed:
        try:
            plan, result = import_in_batches(warehouse, csv, fmt, ctx, category_columns=category_columns,
                                             zones=zones, on_planned=before_merge, categorise_with=taxonomy)
            planned.append(plan)
            results.append(result)
            continue
        except NotInBatches:
            log.info("%s: read whole, its encoding or quoting needs the careful reader", csv.file_name)
        raws, unreadable = _read([str(csv.path)], Limits.for_command_line(settings), source)
        whole = plan_tables(raws, ctx, source, mappings, category_columns=category_columns, zones=zones)
        planned += whole
        if rejects_to is not None:
            write_rejects(rejects_to, planned)
        results += unreadable + [run_plan(warehouse, plan, categorise_with=taxonomy) for plan in whole]
    return results


def _in_batches_or_whole(paths: Sequence[str], limits: Limits,
                         settings: Settings) -> tuple[list[CsvBatches], list[str]]:
    """Plain UTF-8 CSVs beyond ``cli_batches_above_mb`` go in batches (if their header names a ticket export, see
    data.streaming); the rest whole, which is faster where the file fits in memory: staging writes every row twice."""
    in_batches, whole = [], []
    for name in paths:
        if not Path(name).is_file() or Path(name).stat().st_size <= settings.cli_batches_above_mb * 2**20:
            whole.append(name)
            continue
        try:
            in_batches.append(CsvBatches(Path(name), limits, settings.cli_batch_rows))
        except (NotInBatches, ImportRejected):  # the whole-file reader says what is wrong, as it always did
            whole.append(name)
    return in_batches, whole


def _derive(warehouse: Warehouse, settings: Settings, taxonomy: Taxonomy | None) -> None:
    """Categorise every pending ticket and link tickets to orders if the data changed: also what an earlier run
    left undone when it stopped between its import and these steps."""
    if taxonomy is not None:
        categorise(warehouse, taxonomy)
    link_if_stale(warehouse, settings.link_window_days)  # an orders file links tickets imported before it


def job_importer(settings: Settings, taxonomy: Taxonomy | None) -> inbox.ImportFn:
    """How a queued job is imported, by this command or by the dashboard's inbox watcher."""
    def import_job(warehouse: Warehouse, paths: Sequence[Path], source: str, date_order: str) -> list[dict]:
        # the reasons beside the job's report, for a waiting command with --rejects to take
        job = paths[0].parent if paths else None
        reasons = _reasons_of_job(job) if job is not None and (job / inbox.JOB_FILE).exists() else None
        limits = Limits.for_command_line(settings)  # queued by the command line: its limits, in batches too
        in_batches, whole = _in_batches_or_whole([str(p) for p in paths], limits, settings)
        results = _import_read(warehouse, _read(whole, limits, source), settings, source, date_order, reasons,
                               in_batches, taxonomy=taxonomy)
        _derive(warehouse, settings, taxonomy)
        return [_public(result) for result in results]
    return import_job


def _reasons_of_job(job: Path) -> Path:
    """Where a queued job's reasons table goes: beside its report in the inbox's done folder."""
    done = job.parent / inbox.DONE
    done.mkdir(exist_ok=True)
    return done / f"{job.name}.reasons.csv"


def queue_and_wait(paths: Sequence[str], db: Path, settings: Settings, source: str, date_order: str,
                   taxonomy: Taxonomy | None, wait_seconds: float, why: str,
                   rejects_to: Path | None = None) -> list[dict[str, object]]:
    """Leave the files in the warehouse's inbox and wait for whoever holds the warehouse to import them; take the
    warehouse and import the queue itself if the holder lets go first (another import finishing)."""
    box = inbox.inbox_of(db)
    job = inbox.submit(box, [Path(path) for path in paths], source, date_order)
    print(f"data.cli: {why} The files wait in its inbox ({box.name}/{job}); waiting up to {wait_seconds:.0f} s "
          "for them to be imported…", file=sys.stderr)
    deadline = time.monotonic() + wait_seconds
    while (done := inbox.result(box, job)) is None:
        if time.monotonic() > deadline:
            raise WarehouseError(f"Still queued after {wait_seconds:.0f} s. The files stay in {box}: the dashboard "
                                 "imports them within seconds of its next start, as does the next import.")
        try:
            warehouse = open_on_clock(db, settings)
        except WarehouseInUse:
            time.sleep(0.5)
            continue
        try:
            inbox.run_pending(warehouse, box, job_importer(settings, taxonomy))
        finally:
            warehouse.close()
    reasons = _reasons_of_job(box / job)
    if rejects_to is not None and reasons.exists():
        rejects_to.write_bytes(reasons.read_bytes())
    reasons.unlink(missing_ok=True)
    return done


def write_rejects(path: Path, plans: Sequence[Plan]) -> None:
    """The Import page's "Download the reasons" table of every plan, with the rows merged as repeats, in one CSV;
    a header alone when nothing was left out, so that a scheduled job can always read it."""
    table = pl.concat([plan.reasons() for plan in plans]) if plans else pl.DataFrame(schema=REASON_COLUMNS)
    try:
        path.write_bytes(safe_csv(table))
    except OSError as error:
        raise RejectsFileError(f"cannot write the rejects file {path} ({error.strerror}); nothing was imported") \
            from None


def _read(paths: Sequence[str], limits: Limits, source: str) -> tuple[list[RawTable], list[ImportResult]]:
    raws, rejected = [], []
    for name in paths:
        path = Path(name)
        try:
            content = path.read_bytes()
        except OSError as error:
            rejected.append(ImportResult(path.name, "rejected", source, "unknown",
                                         reason=f"{path.name}: cannot read the file ({error.strerror})"))
            continue
        tables, unreadable = read_files([(path.name, content)], limits, source)
        raws += tables
        rejected += [plan.result("rejected") for plan in unreadable]
    return raws, rejected


def _public(result: ImportResult) -> dict[str, object]:
    keys = ("file", "status", "source", "kind", "rows_read", "inserted", "updated", "unchanged", "duplicates",
            "rejected_rows", "reason", "import_id")
    return {key: getattr(result, key) for key in keys}


def _line(result: dict[str, object]) -> str:
    if result["status"] == "rejected":
        return f"rejected: {result['reason']}"
    repeats = f"{result['duplicates']} repeats merged (newest kept), " if result.get("duplicates") else ""
    return (f"{result['status']}: {result['file']} as {result['source']} {result['kind']}: {result['rows_read']} "
            f"records read, {result['inserted']} inserted, {result['updated']} updated, {result['unchanged']} "
            f"unchanged, {repeats}{result['rejected_rows']} rejected")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data.cli", description="Import helpdesk or order exports.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="CSV or XLSX files; an Olist set goes together")
    parser.add_argument("--source", default="auto",
                        help=f"{'|'.join(SOURCES)}|mapped:NAME (a mapping saved on the Import page)")
    parser.add_argument("--db", help="warehouse file (default: CSPULSE_WAREHOUSE_PATH)")
    parser.add_argument("--date-order", choices=("auto", "DMY", "MDY"), default="auto",
                        help="how to read slash dates such as 03/04/2024 (default: decide per source)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("--wait", type=float, default=600, metavar="SECONDS",
                        help="while the dashboard or another import holds the warehouse, how long to wait for the "
                             "queued files to be imported (default: 600)")
    parser.add_argument("--rejects", metavar="OUT.csv",
                        help="write every record left out and why (unreadable cells, rows repeating an id) to this "
                             "CSV; a header alone when none was")
    return parser


if __name__ == "__main__":
    sys.exit(main())
