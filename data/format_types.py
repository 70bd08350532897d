"""What an export format is declared with, and the one machine that types any export's columns by its declaration.

A :class:`Format` says how to recognise an export (header names, matched case-insensitively, never by position),
which columns it keeps (its :class:`Field` declarations), their kinds and canonical names, and which time zone its
clock reads in; a :class:`SetFormat` does the same for a set of files. The machinery here is written once: find each
column by name, cast it with a row-level problem report, reject the rows that cannot be read, and hand the typed
columns (a :class:`Typed`) to the format's ``shape`` step, which builds the canonical frames (grouping Shopify's line
items, netting WooCommerce refunds, ...). The vocabularies and helpers the shape steps share live here too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

import polars as pl

from data import cast
from data.basics import in_shared_chunks
from data.cast import Problem
from data.privacy import customer_keys
from data.raw_tables import RawTable, header_lookup
from data.schema import (  # the reasons' own home: the KPIs read them without these readers
    FIRST_REPLY_BEFORE_CREATION,
    ISSUE_SPOILS,
    RESOLVED_BEFORE_CREATED,
    RESOLVED_BEFORE_FIRST_REPLY,
)

Kind = Literal["text", "int", "number", "money", "bool", "timestamp", "minutes", "hours", "seconds", "rating",
               "email", "customer_id"]
# Kinds that become a salted customer key as they are cast: the value itself never reaches a typed frame.
HASHED_KINDS: frozenset[str] = frozenset({"email", "customer_id"})

# One more than the cores: the email hashing holds the GIL part of the time, when a core would otherwise idle.
CAST_THREADS = (os.cpu_count() or 2) + 1

# Durations and ratings in an export are evidence, not identity: an unreadable or negative one is reported and
# left out of the KPIs, the ticket is kept.
FLAGGING_KINDS: frozenset[str] = frozenset({"minutes", "hours", "seconds", "rating"})
# Without fractions first: Polars parses those several times faster, and a column takes the first format that
# reads most of its sample.
ISO_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d",
)
DAY_FIRST: tuple[str, ...] = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y")
MONTH_FIRST: tuple[str, ...] = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y")


@dataclass(frozen=True)
class Field:
    target: str
    headers: tuple[str, ...]
    kind: Kind = "text"
    required: bool = False


@dataclass(frozen=True)
class Context:
    """What reading needs beyond the file: the clock of times without an offset (the account's, or the one
    remembered for the source), the salt for customer keys, the date order, and which column holds the ticket
    category (None: the best of :func:`category_candidates_of`; "": none)."""

    tz: str
    salt: str
    date_order: Literal["DMY", "MDY", "auto"] = "auto"
    category_column: str | None = None


@dataclass
class Typed:
    """The readable rows of one file as typed columns named by their canonical targets."""

    frame: pl.DataFrame  # a ``record`` column (1-based CSV record) plus one column per target found
    problems: list[Problem] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)  # record numbers
    flagged: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    naive_times: bool = False  # some timestamp carried no offset: read on the context's clock

    def has(self, target: str) -> bool:
        return target in self.frame.columns


Shape = Callable[[Typed, Context], dict[str, pl.DataFrame]]


@dataclass(frozen=True)
class Format:
    source: str
    kind: str  # tickets | orders | reviews
    label: str
    signature: tuple[str, ...]  # every one of these headers present = this format
    fields: tuple[Field, ...]
    shape: Shape
    timestamp_formats: tuple[str, ...] = ISO_FORMATS
    tz: str | None = None  # None: wall-clock times in the account time zone
    date_order: Literal["DMY", "MDY"] = "DMY"  # how the source writes slash dates when the values cannot tell
    decimal: str = "."
    placeholders: tuple[str, ...] = ("1900-01-01",)
    # The shape of the tool's own custom-field headers (Zendesk `Contact reason [list]`, Freshdesk `cf_reason`),
    # matched against the normalised header; any such column may hold the store's own ticket categories.
    custom_field: str | None = None

    def matches(self, headers: Mapping[str, str]) -> bool:
        return all(_norm(h) in headers for h in self.signature)


def _norm(header: str) -> str:
    return " ".join(header.lower().split())


def find_headers(fmt: Format, raw: RawTable) -> dict[str, str]:
    """target -> the file's header for each field present (first accepted name wins)."""
    lookup = header_lookup(raw.frame)
    found = {}
    for f in fmt.fields:
        header = next((lookup[_norm(h)] for h in f.headers if _norm(h) in lookup), None)
        if header is not None:
            found[f.target] = header
    return found


def missing_required(fmt: Format, raw: RawTable) -> list[str]:
    found = find_headers(fmt, raw)
    return [f.headers[0] for f in fmt.fields if f.required and f.target not in found]


def type_columns(fmt: Format, raw: RawTable, ctx: Context) -> Typed:
    """Cast every declared column that the file has; rows with an unreadable required-kind cell are rejected."""
    fmt = reading_category_from(fmt, category_column_of(fmt, raw.frame.columns, ctx.category_column))
    headers = find_headers(fmt, raw)
    first = raw.first_record
    typed = Typed(pl.DataFrame({"record": pl.int_range(first, first + raw.frame.height, eager=True)}))
    present = [f for f in fmt.fields if f.target in headers]
    with ThreadPoolExecutor(max_workers=CAST_THREADS) as pool:
        # Columns cast side by side: most casts are one-column Polars work on one core that releases the GIL, and
        # the email hashing (Python) overlaps with them. One after another they took twice as long.
        def submit(f: Field, formats: Sequence[str] = ()) -> Future[dict[str, cast.Cast]]:
            return pool.submit(_cast, f, raw.frame[headers[f.target]], headers[f.target], fmt, ctx, formats)

        # The email hashing is the longest cast: started first, it does not hold up the end.
        futures = {f.target: submit(f) for f in present if f.kind in HASHED_KINDS}
        formats = _timestamp_formats(fmt, raw, headers, ctx, typed.notes)
        futures |= {f.target: submit(f, formats) for f in present if f.target not in futures}
        results = [futures[f.target].result() for f in present]
    columns = {}
    for f, result in zip(present, results, strict=True):
        for target, series in result.items():
            columns[target] = series.values
            typed.naive_times |= series.naive_times
            typed.problems.extend(series.problems if first == 1 else
                                  (replace(p, record=p.record + first - 1) for p in series.problems))
            bucket = typed.flagged if f.kind in FLAGGING_KINDS else typed.rejected
            bucket.update((series.bad_rows() + first).to_list())
    # The casts come back cut as the file was read, or in one piece: cut alike, the shape steps copy nothing.
    typed.frame = in_shared_chunks(typed.frame.with_columns(**columns)) if columns else typed.frame
    typed.flagged -= typed.rejected
    if typed.rejected:
        typed.frame = typed.frame.filter(~pl.col("record").is_in(sorted(typed.rejected)))
    typed.problems.sort(key=lambda p: p.record)
    return typed


# --- which column holds the ticket category -----------------------------------------------------------------------
CATEGORY = "category_exported"  # the target a reader writes the export's own category to
# A header naming one of these is the best guess for the category ("Reason for contact [list]", "Issue type").
CATEGORY_WORDS = re.compile(r"\b(categor\w*|reason|topic|type)\b")


def category_candidates_of(fmt: Format, headers: Sequence[str]) -> list[str]:
    """The file's columns that could hold the store's ticket categories, best guess first.

    A candidate is the format's own category column (Freshdesk `Type`, Zendesk `Ticket Category [list]`), one of the
    tool's custom fields (:attr:`Format.custom_field`), or any column the format does not otherwise read whose name
    says category, reason, topic or type (how Freshdesk labels, Gorgias and Help Scout name their custom fields).
    Columns the format reads as something else (Zendesk's `Ticket type`, Help Scout's `Type` channel) never are.
    A name with one of those words ranks first, a custom field before a built-in column, then the file's order.
    A saved mapping names its category column itself: it has no candidates.
    """
    if fmt.kind != "tickets" or fmt.source.startswith("mapped:"):
        return []
    own = {_norm(h) for f in fmt.fields if f.target == CATEGORY for h in f.headers}
    claimed = {_norm(h) for f in fmt.fields if f.target != CATEGORY for h in f.headers}
    ranked = []
    for index, header in enumerate(headers):
        name = _norm(header)
        named = CATEGORY_WORDS.search(name.replace("_", " ")) is not None  # cf_reason_for_contact
        custom = fmt.custom_field is not None and re.fullmatch(fmt.custom_field, name) is not None
        if name not in claimed and (name in own or custom or named):
            ranked.append(((not named, not custom, index), header))
    return [header for _, header in sorted(ranked)]


def category_column_of(fmt: Format, headers: Sequence[str], chosen: str | None) -> str:
    """The column to read the category from: the chosen one when the file has it ("" for none), else the best
    candidate, else "" (none)."""
    if chosen == "" or (chosen is not None and chosen in headers):
        return chosen
    candidates = category_candidates_of(fmt, headers)
    return candidates[0] if candidates else ""


def reading_category_from(fmt: Format, column: str) -> Format:
    """``fmt`` reading its category from ``column`` alone ("" : from no column)."""
    if fmt.kind != "tickets" or fmt.source.startswith("mapped:"):
        return fmt
    fields = tuple(f for f in fmt.fields if f.target != CATEGORY)
    return replace(fmt, fields=fields + ((Field(CATEGORY, (column,)),) if column else ()))


def _cast(f: Field, text: pl.Series, header: str, fmt: Format, ctx: Context,
          formats: Sequence[str]) -> dict[str, cast.Cast]:
    if f.kind == "rating":
        rating, score = cast.to_rating(text, header)
        return {"satisfaction_rating": rating, "satisfaction_score": score}
    if f.kind == "email":
        # hashed at once: the address itself never reaches a typed frame, a shape step or the warehouse
        return {"customer_key": cast.Cast(customer_keys(text, ctx.salt), [])}
    if f.kind == "customer_id":
        # the shape step uses it where the row has no email (see customer_key_from_id)
        return {CUSTOMER_ID_KEY: cast.Cast(customer_keys(customer_ids(text), ctx.salt), [])}
    casters: dict[str, Callable[[], cast.Cast]] = {
        "text": lambda: cast.to_text(text),
        "int": lambda: cast.to_int(text, header),
        "number": lambda: cast.to_number(text, header, fmt.decimal),
        "money": lambda: cast.to_money(text, header, fmt.decimal),
        "bool": lambda: cast.to_bool(text, header),
        "timestamp": lambda: cast.to_timestamp_utc(text, header, formats=formats, tz=fmt.tz or ctx.tz,
                                                   placeholders=fmt.placeholders),
        "minutes": lambda: cast.to_minutes(text, header, "minutes"),
        "hours": lambda: cast.to_minutes(text, header, "hours"),
        "seconds": lambda: cast.to_minutes(text, header, "seconds"),
    }
    return {f.target: casters[f.kind]()}


CUSTOMER_ID_KEY = "customer_id_key"


def customer_ids(text: pl.Series) -> pl.Series:
    """A customer number as written, without the ".0" a spreadsheet adds to a number (17850.0 is customer 17850)."""
    return text.cast(pl.String).str.strip_chars().str.replace(r"^([0-9]+)\.0+$", "${1}")


def customer_key_from_id(frame: pl.DataFrame) -> pl.DataFrame:
    """The email's key where the row has an email, else the customer number's, hashed with the same salt."""
    if CUSTOMER_ID_KEY not in frame.columns:
        return frame
    keys = [c for c in ("customer_key", CUSTOMER_ID_KEY) if c in frame.columns]
    return frame.with_columns(pl.coalesce(keys).alias("customer_key")).drop(CUSTOMER_ID_KEY)


def _timestamp_formats(fmt: Format, raw: RawTable, headers: Mapping[str, str], ctx: Context,
                       notes: list[str]) -> tuple[str, ...]:
    """ISO first; for slash dates the day/month order the source declares, or what the values prove."""
    order = ctx.date_order
    if order == "auto":
        seen = date_orders_seen(fmt, raw, headers)
        order = "DMY" if "DMY" in seen and "MDY" not in seen else "MDY" if "MDY" in seen and "DMY" not in seen \
            else fmt.date_order
        if seen == {"ambiguous"}:
            notes.append(AMBIGUOUS_DATES.format(order=order))
    extra = DAY_FIRST if order == "DMY" else MONTH_FIRST if order == "MDY" else ()
    return tuple(dict.fromkeys((*fmt.timestamp_formats, *extra)))


AMBIGUOUS_DATES = ("No date tells day from month; read them as {order}, this source's usual order. Choose the "
                   "order explicitly if that is wrong.")


def date_orders_seen(fmt: Format, raw: RawTable, headers: Mapping[str, str]) -> set[str]:
    """What the slash dates of the file's timestamp columns say: DMY, MDY and/or ambiguous (see cast.date_order)."""
    stamps = [raw.frame[headers[f.target]] for f in fmt.fields if f.kind == "timestamp" and f.target in headers]
    return {cast.date_order(s) for s in stamps} - {"unknown"}


@dataclass
class SetReading:
    frames: dict[str, pl.DataFrame]
    rows_read: int
    problems: list[Problem] = field(default_factory=list)
    rejected_rows: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SetFormat:
    """Several files of one export that only make sense together (Olist: orders, items, payments, reviews, ...)."""

    source: str
    kind: str
    label: str
    members: dict[str, tuple[str, ...]]  # role -> signature headers
    required: tuple[str, ...]  # roles that must be present
    read: Callable[[list[RawTable], Context], SetReading]

    def role_of(self, raw: RawTable) -> str | None:
        headers = header_lookup(raw.frame)
        return next((role for role, sig in self.members.items() if all(_norm(h) in headers for h in sig)), None)


# --- shared shaping ------------------------------------------------------------------------------------------------
TICKET_STATUSES: dict[str, str] = {
    "new": "new", "open": "open", "active": "open", "pending": "pending", "on-hold": "hold", "on hold": "hold",
    "hold": "hold", "solved": "solved", "resolved": "solved", "closed": "closed", "snoozed": "closed",
}
CHANNELS: dict[str, str] = {
    "email": "email", "mail": "email", "e-mail": "email", "web form": "web", "web": "web", "portal": "web",
    "web widget": "chat", "chat": "chat", "live chat": "chat", "messaging": "chat", "phone": "phone",
    "phone call": "phone", "voice": "phone", "phone call (inbound)": "phone", "phone call (outbound)": "phone",
    "facebook": "social", "twitter": "social", "instagram": "social", "social": "social", "social media": "social",
    "whatsapp": "social", "sms": "phone", "api": "other", "feedback widget": "web", "outbound email": "email",
}
PRIORITIES: dict[str, str] = {"low": "low", "normal": "normal", "medium": "normal", "high": "high",
                              "urgent": "urgent", "critical": "urgent"}
SOLVED = ("solved", "closed")


def vocabulary(values: pl.Series, mapping: Mapping[str, str], fallback: str, what: str,
               notes: list[str]) -> pl.Series:
    """Map a source's words to canonical ones; unknown words take the fallback and are named in the notes."""
    canonical = vocabulary_of(values, mapping, fallback, what, notes)
    return values.replace_strict(canonical, default=None, return_dtype=pl.String).alias(values.name)


def vocabulary_of(values: pl.Series, mapping: Mapping[str, str], fallback: str, what: str,
                  notes: list[str]) -> dict[str, str]:
    """Each distinct word of the column -> its canonical word (see :func:`vocabulary`).

    A column holds a handful of distinct words: each is normalised once, and the column is mapped in one pass.
    """
    counts = values.drop_nulls().value_counts()
    words = {raw: raw.strip().lower() for raw in counts[values.name or ""].to_list()} if counts.height else {}
    unknown: dict[str, int] = {}
    for raw, n in counts.iter_rows():
        if words[raw] not in mapping:
            unknown[words[raw]] = unknown.get(words[raw], 0) + n
    if unknown:
        notes.append(f"{what} not known to CS Pulse, read as {fallback!r}: "
                     + ", ".join(f"{word!r} ({n})" for word, n in sorted(unknown.items())[:10]))
    return {raw: mapping.get(word, fallback) for raw, word in words.items()}


def minutes_between(start: str, end: str) -> pl.Expr:
    return (pl.col(end) - pl.col(start)).dt.total_seconds() / 60.0


def finish_tickets(frame: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    """Durations from the export where present, else from timestamps; impossible ones flagged and left out."""
    durations = {}
    for minutes, start, end in (("first_reply_minutes", "created_at", "first_reply_at"),
                                ("first_resolution_minutes", "created_at", "first_solved_at"),
                                ("full_resolution_minutes", "created_at", "solved_at")):
        if end in frame.columns:
            recomputed = minutes_between(start, end)
            durations[minutes] = pl.col(minutes).fill_null(recomputed) if minutes in frame.columns else recomputed
    frame = frame.with_columns(value.alias(minutes) for minutes, value in durations.items())  # side by side
    checks = _impossible_checks(set(frame.columns))
    if checks:
        flags = pl.concat_str([pl.when(test).then(pl.lit(why)) for test, why, _ in checks], separator="; ",
                              ignore_nulls=True)
        invalid = {m: pl.any_horizontal([test for test, _, spoiled in checks if m in spoiled])
                   for _, _, spoiled in checks for m in spoiled}
        frame = frame.with_columns(
            pl.when(flags != "").then(flags).alias("data_issues"),
            *(pl.when(test.fill_null(False)).then(None).otherwise(pl.col(m)).alias(m) for m, test in invalid.items()))
        flagged = frame["data_issues"].is_not_null().sum()
        if flagged:
            tickets = "1 ticket has" if flagged == 1 else f"{flagged} tickets have"
            notes.append(f"{tickets} impossible times ({_issue_counts(frame)}); "
                         "those durations are kept out of the KPIs.")
    stamps = [c for c in ("created_at", "first_reply_at", "solved_at", "updated_at") if c in frame.columns]
    return frame.with_columns(pl.max_horizontal(stamps).alias("updated_at"))


def _impossible_checks(columns: set[str]) -> list[tuple[pl.Expr, str, tuple[str, ...]]]:
    """(test, why, the durations it makes untrustworthy) for each check the columns allow. A negative duration on
    either clock is impossible: an export may give only the business-hours one."""
    first_reply, resolution = (tuple(c for c in ISSUE_SPOILS[why] if c in columns)
                               for why in (FIRST_REPLY_BEFORE_CREATION, RESOLVED_BEFORE_CREATED))
    checks = []
    if first_reply:
        checks.append((pl.any_horizontal([pl.col(c) < 0 for c in first_reply]), FIRST_REPLY_BEFORE_CREATION,
                       first_reply))
    if resolution:
        checks.append((pl.any_horizontal([pl.col(c) < 0 for c in resolution]), RESOLVED_BEFORE_CREATED, resolution))
    if {"first_reply_at", "solved_at"} <= columns and resolution:
        checks.append((pl.col("solved_at") < pl.col("first_reply_at"), RESOLVED_BEFORE_FIRST_REPLY, resolution))
    return checks


def _issue_counts(frame: pl.DataFrame) -> str:
    counts = frame["data_issues"].drop_nulls().value_counts(sort=True)
    return ", ".join(f"{row['data_issues']}: {row['count']}" for row in counts.iter_rows(named=True))
