"""Import plans: from files to a :class:`Plan` (detect the format, read, type, shape) before anything is written,
then :func:`run_plan` through the one transactional import path; and the column mappings a person saved.

The Import page calls :func:`plan_files`; ``python -m data.cli`` calls its two halves, :func:`read_files` and
:func:`plan_tables`, so that it can read while the warehouse opens. Both show or print the plans, then run them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from zoneinfo import available_timezones

import polars as pl

from data import cast, formats
from data.basics import ImportRejected, sha256_bytes
from data.cast import Problem
from data.classifier import Taxonomy
from data.format_types import (
    Context,
    Format,
    category_candidates_of,
    category_column_of,
    find_headers,
    missing_required,
    type_columns,
)
from data.ingest import PARENT_OF, Batch, ImportResult, import_batch, newest_per_key
from data.privacy import mask_pii
from data.raw_tables import Limits, RawTable, header_lookup, read_table
from data.schema import FACT_TABLES
from data.warehouse import Warehouse, utc_now

log = logging.getLogger(__name__)

# warehouse_meta key prefix of a source's remembered time zone, e.g. "timezone:zendesk"
ZONE_KEY = "timezone:"
# More unreadable rows than this share means the wrong format or date order, not a few bad rows.
MAX_REJECTED_SHARE = 0.5
# A record left out, or a cell kept out of the KPIs, and why: the Import page's and `data.cli --rejects`'s table.
REASON_COLUMNS = {"file": pl.String, "record": pl.Int64, "column": pl.String, "value": pl.String, "why": pl.String}
# A row merged into another of the same key: where, the key's header and value (masked), the row kept instead.
REPEATED_COLUMNS = {"file": pl.String, "record": pl.Int64, "column": pl.String, "value": pl.String,
                    "kept_record": pl.Int64}


@dataclass
class Plan:
    files: list[str]
    source: str
    kind: str
    label: str
    rows_read: int = 0
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rejected_rows: int = 0
    notes: list[str] = field(default_factory=list)
    sha256: str = ""
    reason: str = ""  # set when the plan cannot be imported
    headers: list[str] = field(default_factory=list)  # the file's own headers, for a column mapping
    recognised: bool = True
    category_candidates: list[str] = field(default_factory=list)  # columns that could hold the category, best first
    category_column: str | None = None  # the one read as the category; None: none
    naive_times: bool = False  # some timestamps carried no offset and were read on ``clock``, a zone one may choose
    clock: str = ""  # the IANA zone those timestamps were read on
    date_order_seen: str = "unknown"  # of a file not recognised: DMY or MDY when a date like 31/12 or 12/31 says so
    # rows repeating another row's key, merged into the newest (data.ingest.newest_per_key)
    repeated: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REPEATED_COLUMNS))

    @property
    def ok(self) -> bool:
        return not self.reason

    @property
    def duplicates(self) -> int:
        return self.repeated.height

    def preview(self, rows: int = 20) -> pl.DataFrame:
        """The first canonical rows, personal data masked, for a person to check before importing."""
        if not self.frames:
            return pl.DataFrame()
        frame = next(iter(self.frames.values())).head(rows)
        hidden = [c for c in ("customer_key", "import_id") if c in frame.columns]
        frame = frame.drop(hidden)
        text = [c for c, t in frame.schema.items() if t == pl.String]
        return frame.with_columns(mask_pii(frame[c]).alias(c) for c in text)

    def rejects(self) -> pl.DataFrame:
        """One row per unreadable cell: record, column, value (masked), why."""
        frame = pl.DataFrame(
            {"file": [self.files[0]] * len(self.problems), "record": [p.record for p in self.problems],
             "column": [p.column for p in self.problems], "value": [p.value for p in self.problems],
             "why": [p.why for p in self.problems]},
            schema=REASON_COLUMNS,
        )
        return frame.with_columns(mask_pii(frame["value"]).alias("value"))

    def reasons(self) -> pl.DataFrame:
        """Every record left out and why: :meth:`rejects` and the rows merged into a newer one of the same key."""
        kept = pl.lit("record ") + pl.col("kept_record").cast(pl.String)
        merged = self.repeated.select(
            "file", "record", "column", "value",
            pl.format("repeats the {} of {}, which was kept (the latest update time; where equal, the first in the "
                      "file)", "column", kept.fill_null(pl.lit("another row"))).alias("why"))
        return pl.concat([self.rejects(), merged]).sort("file", "record", maintain_order=True)

    def result(self, status: str, **counts: object) -> ImportResult:
        given = {"duplicates": self.duplicates, "repeated": self.repeated, **counts}
        return ImportResult(file=", ".join(self.files), status=status, source=self.source, kind=self.kind,
                            rows_read=self.rows_read, rejected_rows=self.rejected_rows, reason=self.reason,
                            **given)  # type: ignore[arg-type]


def plan_files(files: Sequence[tuple[str, bytes]], ctx: Context, limits: Limits, source: str = "auto",
               mappings: dict[str, dict[str, object]] | None = None,
               category_columns: dict[str, str] | None = None, zones: dict[str, str] | None = None) -> list[Plan]:
    """Read every file and decide what it is. Files that belong to one set (Olist) make one plan.

    ``category_columns`` are the analyst's remembered answers to "which column holds the category?"
    (:func:`load_category_columns`); ``ctx.category_column``, when set, goes before them. ``zones`` are the clocks
    remembered per source (:func:`load_source_zones`)."""
    raws, unreadable = read_files(files, limits, source)
    return unreadable + plan_tables(raws, ctx, source, mappings, category_columns=category_columns, zones=zones)


def read_files(files: Sequence[tuple[str, bytes]], limits: Limits,
               source: str = "auto") -> tuple[list[RawTable], list[Plan]]:
    """Each file as a table of text cells, or a rejected plan saying why it cannot be read. Needs no warehouse."""
    raws, plans = [], []
    for name, content in files:
        try:
            raws.append(read_table(content, name, limits))
        except ImportRejected as error:
            plans.append(Plan([name], source, "unknown", "unreadable", reason=str(error)))
    return raws, plans


def plan_tables(raws: list[RawTable], ctx: Context, source: str = "auto",
                mappings: dict[str, dict[str, object]] | None = None,
                category_columns: dict[str, str] | None = None, zones: dict[str, str] | None = None) -> list[Plan]:
    """Decide what each table is, type and shape it.

    ``zones`` (source -> IANA zone, see :func:`load_source_zones`) is the clock a source's times without an offset
    are read on; a source not in it is read on the account's, ``ctx.tz``.
    """
    plans = []
    sets, singles = formats.split_sets(raws, source)
    plans += [_plan_set(set_format, members, ctx) for set_format, members in sets]
    plans += [_plan_single(raw, ctx, source, mappings or {}, category_columns or {}, zones or {}) for raw in singles]
    return plans


def _plan_single(raw: RawTable, ctx: Context, source: str, mappings: dict[str, dict[str, object]],
                 category_columns: dict[str, str], zones: dict[str, str]) -> Plan:
    try:
        fmt = choose_format(raw, source, mappings)
    except ImportRejected as error:
        return Plan([raw.file_name], source, "unknown", "not recognised", rows_read=raw.frame.height,
                    reason=str(error), notes=list(raw.notes), headers=raw.frame.columns, recognised=False,
                    date_order_seen=date_order_seen(raw))
    plan = Plan([raw.file_name], fmt.source, fmt.kind, fmt.label, rows_read=raw.frame.height,
                notes=list(raw.notes), sha256=raw.sha256, headers=raw.frame.columns)
    missing = missing_required(fmt, raw)
    if missing:
        plan.reason = f"{raw.file_name}: no column {', '.join(repr(m) for m in missing)} for a {fmt.label}"
        return plan
    if fmt.tz is None and fmt.source in zones:  # a format that declares its own zone (Olist) keeps it
        ctx = replace(ctx, tz=zones[fmt.source])
    ctx = with_category_column(plan, fmt, ctx, category_columns.get(header_set_key(raw.frame.columns)))
    typed = type_columns(fmt, raw, ctx)
    shaped = fmt.shape(typed, ctx)  # may reject more rows (a bad line item rejects its whole order)
    plan.problems, plan.rejected_rows = typed.problems, len(typed.rejected)
    plan.notes += typed.notes
    plan.naive_times, plan.clock = typed.naive_times and fmt.tz is None, fmt.tz or ctx.tz
    if plan.naive_times:
        plan.notes.append(f"Times in this file carry no offset: read as {plan.clock}.")
    if raw.frame.height and plan.rejected_rows / raw.frame.height > MAX_REJECTED_SHARE:
        first = typed.problems[0]
        plan.reason = (f"{raw.file_name}: {plan.rejected_rows} of {raw.frame.height} records cannot be read, e.g. "
                       f"record {first.record}, column {first.column!r}, value {first.value!r}: {first.why}")
        return plan
    plan.frames = {table: frame.with_columns(source=pl.lit(fmt.source)) for table, frame in shaped.items()}
    _merge_repeats(plan, find_headers(fmt, raw))
    return plan


def _plan_set(set_format: formats.SetFormat, members: list[RawTable], ctx: Context) -> Plan:
    names = [raw.file_name for raw in members]
    plan = Plan(names, set_format.source, set_format.kind, set_format.label,
                sha256=sha256_bytes("".join(sorted(raw.sha256 for raw in members)).encode()))
    try:
        reading = set_format.read(members, ctx)
    except ImportRejected as error:
        plan.reason = str(error)
        return plan
    plan.frames = {table: frame.with_columns(source=pl.lit(set_format.source))
                   for table, frame in reading.frames.items()}
    plan.problems, plan.notes = reading.problems, [note for raw in members for note in raw.notes] + reading.notes
    plan.rows_read, plan.rejected_rows = reading.rows_read, reading.rejected_rows
    _merge_repeats(plan, {})
    return plan


def _merge_repeats(plan: Plan, headers: dict[str, str]) -> None:
    """Rows repeating a key merged into the newest, as the import would, and listed on the plan, so that a person
    sees which rows were left out for it (``headers``: target -> the file's header, to name the key as the file
    does). An order's line items are rows of one order, grouped by the reader before this: never repeats."""
    listed = []
    for name, frame in plan.frames.items():
        table = FACT_TABLES[name]
        plan.frames[name], repeated = newest_per_key(frame, table)
        if "record" not in frame.columns:  # a set's tables are built from several files: no one record number
            repeated = repeated.with_columns(record=pl.lit(None, pl.Int64), kept_record=pl.lit(None, pl.Int64))
        if name not in PARENT_OF and repeated.height:
            listed.append(repeats_listed(repeated, plan, name, headers))
    if listed:
        plan.repeated = pl.concat(listed)


def repeats_listed(repeated: pl.DataFrame, plan: Plan, table: str, headers: dict[str, str]) -> pl.DataFrame:
    """Rows merged into another (data.ingest.REPEATED_SCHEMA) as the plan lists them: file, the key's header, the
    value masked."""
    column = ", ".join(headers.get(k, k) for k in FACT_TABLES[table].key if k != "source")
    return repeated.with_columns(mask_pii(repeated["value"]).alias("value"), file=pl.lit(", ".join(plan.files)),
                                 column=pl.lit(column)).select(list(REPEATED_COLUMNS))


def with_category_column(plan: Plan, fmt: Format, ctx: Context, remembered: str | None) -> Context:
    """The category column for this file: the one asked for, else the analyst's remembered answer for these headers,
    else the best guess; recorded on the plan with the other candidates, so the Import page can ask."""
    plan.category_candidates = category_candidates_of(fmt, plan.headers)
    if ctx.category_column is None and remembered is not None:
        # remembered by the header set, which ignores case and spacing: this file's spelling of the column
        same = [c for c in plan.category_candidates if column_key(c) == remembered]
        if remembered == "" or same:
            ctx = replace(ctx, category_column=same[0] if same else "")
    column = category_column_of(fmt, plan.headers, ctx.category_column)
    plan.category_column = column or None
    if column and len(plan.category_candidates) == 1:
        plan.notes.append(f"The ticket category is read from the column {column!r}.")
    return replace(ctx, category_column=column)


def date_order_seen(raw: RawTable) -> str:
    """DMY or MDY when some slash date of the file proves it (a day over 12) and none proves the other, else
    "unknown": what a column mapping should start on."""
    seen = {cast.date_order(raw.frame[column]) for column in raw.frame.columns}
    proven = seen & {"DMY", "MDY"}
    return proven.pop() if len(proven) == 1 else "unknown"


def choose_format(raw: RawTable, source: str, mappings: dict[str, dict[str, object]]) -> Format:
    headers = header_lookup(raw.frame)
    if source.startswith("mapped:"):
        name = source.removeprefix("mapped:")
        if name not in mappings:
            raise ImportRejected(f"{raw.file_name}: there is no saved mapping named {name!r}")
        return formats.mapped_format(name, mappings[name])
    saved = [formats.mapped_format(name, mapping) for name, mapping in mappings.items()] if source == "auto" else []
    candidates = [f for f in (*formats.FORMATS, *saved) if source in ("auto", f.source) and f.matches(headers)]
    if not candidates:
        known = "a known export" if source == "auto" else f"a {source} export"
        raise ImportRejected(f"{raw.file_name}: the headers do not look like {known}; "
                             "map its columns once on the Import page (or use --source mapped:NAME)")
    return max(candidates, key=lambda f: len(f.signature))


def run_plan(warehouse: Warehouse, plan: Plan, *, categorise_with: Taxonomy | None = None) -> ImportResult:
    """The plan imported (data.ingest.import_batch, ``categorise_with`` as there), or its rejection."""
    if not plan.ok:
        return plan.result("rejected")
    batch = Batch(", ".join(plan.files), plan.sha256, plan.source, plan.kind, plan.frames,
                  rejected_rows=plan.rejected_rows, notes=tuple(plan.notes), records_read=plan.rows_read,
                  duplicates=plan.duplicates)
    try:
        result = import_batch(warehouse, batch, categorise_with=categorise_with)
    except ImportRejected as error:
        return replace(plan, reason=str(error)).result("rejected")
    counts = {k: getattr(result, k) for k in ("inserted", "updated", "unchanged", "duplicates")}
    return plan.result(result.status, import_id=result.import_id, per_table=result.per_table, **counts)


def save_mapping(warehouse: Warehouse, name: str, mapping: dict[str, object]) -> None:
    if not name.strip():
        raise ImportRejected("give the source a name: files with these headers are recognised by it next time")
    formats.mapped_format(name, mapping)  # refuse a mapping that cannot read anything
    with warehouse.transaction() as cur:
        cur.execute("DELETE FROM mappings WHERE name = $name", {"name": name})
        cur.execute("INSERT INTO mappings VALUES ($name, $kind, $mapping, $at)",
                    {"name": name, "kind": mapping.get("kind"), "mapping": json.dumps(mapping), "at": utc_now()})


# --- the analyst's answer to "which column holds the category?", per set of headers ----------------------------------
# + header_set_key(headers); the value is the column's column_key, "" for none
CATEGORY_COLUMN_META = "category_column:"


def header_set_key(headers: Sequence[str]) -> str:
    """The same for every file with these headers, whatever their order, case or spacing."""
    names = sorted({column_key(h) for h in headers})
    return sha256_bytes("\n".join(names).encode())[:16]


def column_key(header: str) -> str:
    """A header as headers are matched: lower-cased, spaces collapsed."""
    return " ".join(header.lower().split())


def save_category_column(warehouse: Warehouse, headers: Sequence[str], column: str | None) -> None:
    """Remember which column of files with these headers holds the ticket category (None or "": none)."""
    if column and column not in headers:
        raise ValueError(f"{column!r} is not one of the file's columns")
    with warehouse.transaction() as cur:
        warehouse.set_meta(cur, CATEGORY_COLUMN_META + header_set_key(headers), column_key(column or ""))


def load_category_columns(warehouse: Warehouse) -> dict[str, str]:
    """Every remembered category column: header-set key -> column ("" for none)."""
    return _meta_starting(warehouse, CATEGORY_COLUMN_META)


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones an export's clock can be: areas and cities ("Europe/Berlin", "Etc/GMT-2") and UTC, without the
    old aliases ("CET", "GB") and the system's own entries ("localtime", "Factory")."""
    return tuple(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))


def save_source_zone(warehouse: Warehouse, source: str, zone: str) -> None:
    """Remember the clock of a source's exports (times without an offset): the next file of it is read on it."""
    if zone not in time_zones():
        raise ImportRejected(f"{zone!r} is not a time zone; use an IANA name such as 'Europe/Berlin'")
    with warehouse.transaction() as cur:
        warehouse.set_meta(cur, ZONE_KEY + source, zone)


def load_source_zones(warehouse: Warehouse) -> dict[str, str]:
    """source -> the time zone remembered for its exports."""
    return _meta_starting(warehouse, ZONE_KEY)


def _meta_starting(warehouse: Warehouse, prefix: str) -> dict[str, str]:
    """The warehouse_meta values whose keys start with ``prefix``, by the rest of their keys."""
    return {key.removeprefix(prefix): value for key, value in warehouse.meta_snapshot().items()
            if key.startswith(prefix)}


def load_mappings(warehouse: Warehouse) -> dict[str, dict[str, object]]:
    rows = warehouse.cursor().execute("SELECT name, mapping FROM mappings ORDER BY name").fetchall()
    return {name: json.loads(text) for name, text in rows}

