"""Ticket CSVs from disk imported in batches: the command line's path, whose memory follows a batch, not the file.

Each batch is read, checked and typed as a whole file is (:class:`data.raw_tables.CsvBatches`, the format's
declaration, :func:`data.ingest.conform`) and appended to a temporary staging table of the import's cursor, which
the warehouse never sees.
Rows repeating a ticket id, in one batch or across batches, are merged in SQL (the newest kept, the first in the file
on a tie) and listed as the whole-file path lists them; then :func:`data.ingest.import_staged` merges the staged rows
and records the import in one transaction, which commits. A rejection in any batch, or a crash, leaves the warehouse
as it was.

Orders are not read this way: a Shopify order's line items are rows that a batch boundary could split.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import duckdb
import polars as pl

from data import formats
from data.basics import ImportRejected, in_shared_chunks
from data.cast import MAX_PROBLEMS, Problem
from data.classifier import Taxonomy
from data.format_types import (
    AMBIGUOUS_DATES,
    Context,
    Format,
    date_orders_seen,
    find_headers,
    missing_required,
    type_columns,
)
from data.ingest import REPEATED_SCHEMA, Batch, ImportResult, conform, import_staged
from data.plans import MAX_REJECTED_SHARE, Plan, choose_format, header_set_key, repeats_listed, with_category_column
from data.raw_tables import CsvBatches, RawTable
from data.schema import TICKETS, Table
from data.warehouse import Warehouse, in_transaction


def header_table(csv: CsvBatches) -> RawTable:
    """The file's header alone: what recognising its format needs."""
    return RawTable(csv.file_name, pl.DataFrame(schema=dict.fromkeys(csv.names, pl.String)), "", "utf-8",
                    csv.delimiter, ())


def ticket_format(csv: CsvBatches, source: str, mappings: dict[str, dict[str, object]]) -> Format | None:
    """The ticket format the file's header names, or None: the whole-file path reads (or refuses) it."""
    header = header_table(csv)
    if formats.split_sets([header], source)[0]:
        return None
    try:
        fmt = choose_format(header, source, mappings)
    except ImportRejected:
        return None
    return fmt if fmt.kind == "tickets" else None


def import_in_batches(warehouse: Warehouse, csv: CsvBatches, fmt: Format, ctx: Context, *,
                      category_columns: dict[str, str], zones: dict[str, str],
                      on_planned: Callable[[Plan], None] = lambda plan: None,
                      categorise_with: Taxonomy | None = None) -> tuple[Plan, ImportResult]:
    """Import the file in one transaction, batch by batch; ``on_planned`` sees the complete plan (problems and
    repeats) before the merge, and may still stop it by raising; ``categorise_with`` as data.ingest.import_batch
    has it. NotInBatches passes up, nothing written."""
    plan = Plan([csv.file_name], fmt.source, fmt.kind, fmt.label, headers=csv.names)
    if missing := missing_required(fmt, header_table(csv)):
        plan.reason = f"{csv.file_name}: no column {', '.join(repr(m) for m in missing)} for a {fmt.label}"
        return plan, plan.result("rejected")
    if fmt.tz is None and fmt.source in zones:
        ctx = replace(ctx, tz=zones[fmt.source])
    ctx = with_category_column(plan, fmt, ctx, category_columns.get(header_set_key(csv.names)))
    typing = _BatchTyping(plan, fmt, ctx)
    try:
        # Staged batch by batch, each append its own statement into a TEMP table of this cursor: nothing of the
        # warehouse changes, and DuckDB spills the staged rows to disk past its memory limit. Appended inside one
        # transaction, each batch left about 200 bytes a row in memory that no limit bounds (5 GB at 10M tickets).
        with warehouse.writer() as cur:
            _create_staging(cur, TICKETS)
            for raw in csv:
                _append(cur, typing.canonical(raw))
            typing.finish(csv)
            repeated = _newest_per_key(cur, TICKETS)
            headers = find_headers(fmt, header_table(csv))
            plan.repeated = repeats_listed(repeated, plan, TICKETS.name, headers)
            on_planned(plan)
            kept = cur.execute("SELECT count(*) FROM staged").fetchone()[0]
            batch = Batch(csv.file_name, plan.sha256, plan.source, plan.kind, {}, rejected_rows=plan.rejected_rows,
                          records_read=plan.rows_read, notes=tuple(plan.notes), duplicates=plan.duplicates)
            with in_transaction(cur):  # the merge and the ledger row: all of it or nothing
                result = import_staged(cur, warehouse, batch, TICKETS, kept, categorise_with)
    except ImportRejected as error:
        plan.reason = str(error)
        return plan, plan.result("rejected")
    counts = {k: getattr(result, k) for k in ("inserted", "updated", "unchanged", "duplicates")}
    return plan, plan.result(result.status, import_id=result.import_id, per_table=result.per_table, **counts)


@dataclass
class _BatchTyping:
    """Types each batch as :func:`data.plans._plan_single` types a file, and sums what the plan says of the whole."""

    plan: Plan
    fmt: Format
    ctx: Context
    notes: list[list[str]] = field(default_factory=list)
    listed: dict[str, int] = field(default_factory=dict)  # problems listed per column, at most MAX_PROBLEMS each
    naive: bool = False
    date_order_proven: bool = False

    def canonical(self, raw: RawTable) -> pl.DataFrame:
        self._settle_date_order(raw)
        typed = type_columns(self.fmt, raw, self.ctx)
        shaped = self.fmt.shape(typed, self.ctx)["tickets"]
        self.plan.rejected_rows += len(typed.rejected)
        self.plan.problems += self._to_list(typed.problems)
        self.naive |= typed.naive_times and self.fmt.tz is None
        self.notes.append(typed.notes)
        frame = shaped.with_columns(source=pl.lit(self.fmt.source))
        return conform(frame, TICKETS, raw.file_name).with_columns(frame["record"])

    def finish(self, csv: CsvBatches) -> None:
        """The plan of the whole file, once every batch is staged; a file mostly unreadable is rejected."""
        plan = self.plan
        plan.rows_read, plan.sha256 = csv.records, csv.sha256
        plan.notes += csv.notes() + merged_notes(self.notes)
        plan.naive_times, plan.clock = self.naive, self.fmt.tz or self.ctx.tz
        if plan.naive_times:
            plan.notes.append(f"Times in this file carry no offset: read as {plan.clock}.")
        plan.problems.sort(key=lambda p: p.record)
        if plan.rejected_rows / csv.records > MAX_REJECTED_SHARE:
            first = plan.problems[0]
            raise ImportRejected(f"{csv.file_name}: {plan.rejected_rows} of {csv.records} records cannot be read, "
                                 f"e.g. record {first.record}, column {first.column!r}, value {first.value!r}: "
                                 f"{first.why}")

    def _to_list(self, problems: list[Problem]) -> list[Problem]:
        """The first MAX_PROBLEMS of each column, as one cast of the whole file lists them."""
        kept = []
        for problem in problems:
            if self.listed.get(problem.column, 0) < MAX_PROBLEMS:
                self.listed[problem.column] = self.listed.get(problem.column, 0) + 1
                kept.append(problem)
        return kept

    def _settle_date_order(self, raw: RawTable) -> None:
        """The first batch decides how slash dates read, as a whole file's dates would; a later batch proving the
        other order rejects the file (its earlier dates were read wrong), one proving the same order confirms it."""
        if self.ctx.date_order != "auto" and raw.first_record == 1:
            self.date_order_proven = True
        if self.date_order_proven:
            return
        seen = date_orders_seen(self.fmt, raw, find_headers(self.fmt, raw))
        proof = seen & {"DMY", "MDY"}
        if raw.first_record == 1:
            order = proof.pop() if len(proof) == 1 else self.fmt.date_order
            self.ctx = replace(self.ctx, date_order=order)  # type: ignore[arg-type]
            self.date_order_proven = len(seen & {"DMY", "MDY"}) == 1
            if seen == {"ambiguous"}:
                self.notes.append([AMBIGUOUS_DATES.format(order=order)])
            return
        if proof and proof != {self.ctx.date_order}:
            other = sorted(proof - {self.ctx.date_order})[0]
            raise ImportRejected(
                f"{raw.file_name}: no date before record {raw.first_record} tells day from month, so they were read "
                f"as {self.ctx.date_order}, but a date from record {raw.first_record} on is {other}; import it again "
                f"choosing the date order {other} (--date-order {other})")
        if proof:
            self.date_order_proven = True
            ambiguous = AMBIGUOUS_DATES.format(order=self.ctx.date_order)
            self.notes = [[note for note in notes if note != ambiguous] for notes in self.notes]


_NUMBER = re.compile(r"[0-9][0-9,]*")
_QUOTED = re.compile(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def merged_notes(per_batch: Iterable[list[str]]) -> list[str]:
    """The batches' notes as one file's: a note repeated with other counts ("3 tickets have impossible times") once,
    its counts summed; numbers inside quoted words ('tier 2') are words, not counts."""
    merged: dict[str, list[int] | str] = {}
    for notes in per_batch:
        for note in notes:
            template, counts = _template(note)
            earlier = merged.get(template)
            if earlier is None:
                merged[template] = counts if counts else note
            elif isinstance(earlier, list):
                merged[template] = [a + b for a, b in zip(earlier, counts, strict=True)]
    return [_filled(template, value) for template, value in merged.items()]


def _template(note: str) -> tuple[str, list[int]]:
    parts, counts = _QUOTED.split(note), []
    for index in range(0, len(parts), 2):  # outside quotes
        counts += [int(n.replace(",", "")) for n in _NUMBER.findall(parts[index])]
        parts[index] = _NUMBER.sub("{}", parts[index].replace("{", "{{").replace("}", "}}"))
    return "".join(parts), counts


def _filled(template: str, value: list[int] | str) -> str:
    if isinstance(value, str):
        return value
    quoted = _QUOTED.split(template)
    numbers = iter(value)
    for index in range(0, len(quoted), 2):
        quoted[index] = re.sub(r"\{\}", lambda _: f"{next(numbers):,}", quoted[index])
        quoted[index] = quoted[index].replace("{{", "{").replace("}}", "}")
    return "".join(quoted)


# --- the staging table -------------------------------------------------------------------------------------------

def _create_staging(cur: duckdb.DuckDBPyConnection, table: Table) -> None:
    """A temporary table of the connection: never in the warehouse file, gone with the transaction's cursor."""
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in table.types.items())
    cur.execute(f"CREATE TEMP TABLE staging (record BIGINT, {columns})")


def _append(cur: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    cur.register("batch_frame", in_shared_chunks(frame))
    cur.execute("INSERT INTO staging BY NAME SELECT * FROM batch_frame")
    cur.unregister("batch_frame")


def _newest_per_key(cur: duckdb.DuckDBPyConnection, table: Table) -> pl.DataFrame:
    """The view ``staged``: one staged row per key, the latest update time (first in the file where equal), as
    data.ingest.newest_per_key keeps it; returns the rows merged away (record, value, kept_record)."""
    key = ", ".join(table.key)
    columns = ", ".join(table.types)
    repeats = cur.execute(f"SELECT EXISTS (SELECT 1 FROM staging GROUP BY {key} HAVING count(*) > 1)").fetchone()[0]
    if not repeats:
        cur.execute(f"CREATE TEMP VIEW staged AS SELECT {columns} FROM staging")
        return pl.DataFrame(schema=REPEATED_SCHEMA)
    cur.execute(
        f"""CREATE TEMP TABLE ranked AS
            SELECT record, {key}, row_number() OVER (PARTITION BY {key}
                                                     ORDER BY updated_at DESC NULLS LAST, record) AS rank
            FROM staging SEMI JOIN (SELECT {key} FROM staging GROUP BY {key} HAVING count(*) > 1) USING ({key})""")
    value = " || ' · ' || ".join(f"r.{k}::VARCHAR" for k in table.key if k != "source")
    same_key = " AND ".join(f"k.{k} = r.{k}" for k in table.key)
    repeated = cur.execute(
        f"""SELECT r.record, {value} AS value, k.record AS kept_record
            FROM ranked r JOIN ranked k ON k.rank = 1 AND {same_key} WHERE r.rank > 1 ORDER BY r.record""").pl()
    cur.execute(f"""CREATE TEMP VIEW staged AS SELECT {columns} FROM staging
                    ANTI JOIN (SELECT record FROM ranked WHERE rank > 1) USING (record)""")
    return repeated.cast(REPEATED_SCHEMA)
