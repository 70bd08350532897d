"""The import command line, ``python -m data.cli PATH... [options]``: the same plan and import as the Import page.

Exit code 0 when every file was imported or already was, 2 when one was rejected or the run could not start.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from data.categorising import categorise, current_taxonomy
from data.classifier import Taxonomy, TaxonomyError
from data.export import safe_csv
from data.format_types import Context
from data.ingest import ImportResult, pii_salt
from data.linking import link
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
from data.raw_tables import Limits, RawTable
from data.warehouse import Warehouse, WarehouseError
from settings import Settings, SettingsError, get_settings

log = logging.getLogger(__name__)
SOURCES = ("auto", "zendesk", "freshdesk", "gorgias", "helpscout", "shopify", "woocommerce", "olist", "roster",
           "traffic")


class RejectsFileError(RuntimeError):
    """The --rejects file cannot be written."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
        taxonomy = current_taxonomy()  # a bad taxonomy file stops the run before anything is written
        results = import_paths(args.paths, Path(args.db) if args.db else settings.warehouse_file, settings,
                               args.source, args.date_order, taxonomy,
                               rejects_to=Path(args.rejects) if args.rejects else None)
    except (WarehouseError, SettingsError, TaxonomyError, RejectsFileError) as error:
        print(f"data.cli: {error}", file=sys.stderr)
        return 2
    for result in results:
        print(json.dumps(_public(result)) if args.json else _line(result))
    return 2 if any(r.status == "rejected" for r in results) else 0


def import_paths(paths: Sequence[str], db: Path, settings: Settings, source: str = "auto", date_order: str = "auto",
                 taxonomy: Taxonomy | None = None, rejects_to: Path | None = None) -> list[ImportResult]:
    """Import the files into the warehouse at ``db``, each plan in its own transaction; then categorise and link
    tickets to orders. ``rejects_to``: a CSV of every record left out and why, written before anything is imported.

    The files are read while the warehouse opens: opening is mostly DuckDB starting up and importing pandas (on
    the first bound parameter), reading is mostly Polars and numpy, which run outside the GIL.
    """
    limits = Limits.from_settings(settings)
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(_read, paths, limits, source)
        warehouse = Warehouse(db)
    try:
        raws, rejected = reading.result()
        ctx = Context(tz=settings.timezone, salt=pii_salt(warehouse, settings), date_order=date_order)  # type: ignore[arg-type]
        plans = plan_tables(raws, ctx, source, load_mappings(warehouse),
                            category_columns=load_category_columns(warehouse), zones=load_source_zones(warehouse))
        del raws  # typed now: the text cells need not stay in memory through the merge
        if rejects_to is not None:
            write_rejects(rejects_to, plans)
        # run_plan reports a rejection as a result, so one bad file never stops the others
        results = rejected + [run_plan(warehouse, plan) for plan in plans]
        if taxonomy is not None and any(r.status == "imported" for r in results):
            categorise(warehouse, taxonomy)
        if any(r.status == "imported" for r in results):
            link(warehouse, settings.link_window_days)  # an orders file links tickets imported before it
    finally:
        warehouse.close()
    return results


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


def _line(result: ImportResult) -> str:
    if result.status == "rejected":
        return f"rejected: {result.reason}"
    repeats = f"{result.duplicates} repeats merged (newest kept), " if result.duplicates else ""
    return (f"{result.status}: {result.file} as {result.source} {result.kind}: {result.rows_read} records read, "
            f"{result.inserted} inserted, {result.updated} updated, {result.unchanged} unchanged, {repeats}"
            f"{result.rejected_rows} rejected")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data.cli", description="Import helpdesk or order exports.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="CSV or XLSX files; an Olist set goes together")
    parser.add_argument("--source", default="auto",
                        help=f"{'|'.join(SOURCES)}|mapped:NAME (a mapping saved on the Import page)")
    parser.add_argument("--db", help="warehouse file (default: CSPULSE_WAREHOUSE_PATH)")
    parser.add_argument("--date-order", choices=("auto", "DMY", "MDY"), default="auto",
                        help="how to read slash dates such as 03/04/2024 (default: decide per source)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("--rejects", metavar="OUT.csv",
                        help="write every record left out and why (unreadable cells, rows repeating an id) to this "
                             "CSV; a header alone when none was")
    return parser


if __name__ == "__main__":
    sys.exit(main())
