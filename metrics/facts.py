"""Facts about the whole warehouse that KPI statements ask again and again: which sources measure a column, whether
solve times or refunds are known at all, the newest time stamp in the data, which values a filter offers.

They are the same for every view of one version of the data, but each is a scan of the whole table: at ten million
tickets 0.1-0.4 s apiece, and a page's statements asked a dozen of them on every filter change. So they are worked
out once per data version (``refresh``, after each import, undo or correction), stored in ``warehouse_meta`` with the
version they hold for, and bound into statements as parameters in place of the subquery (``bind``). A stored value
is used only while its version is the warehouse's current one: a warehouse written by anyone who did not refresh
(a test's own rows, a command-line import) gets the subqueries as written, which give the same values, just slower.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

import duckdb

from data.ticket_flags import SOURCES_SUBQUERY
from data.warehouse import Warehouse
from metrics import checks, registry
from metrics.registry import DIMENSIONS

Kind = Literal["boolean", "values", "timestamp", "count", "span"]
META_KEY = "facts"
SPAN_TABLES: tuple[str, ...] = ("tickets", "orders")  # the tables whose exports span dates


@dataclass(frozen=True)
class Fact:
    sql: str  # a scalar SQL expression over the whole warehouse, without parameters
    kind: Kind

    def bound(self, param: str) -> str:
        """What stands in the statement in place of ``sql``: the stored value as a bound parameter."""
        return {"boolean": f"(${param}::BOOLEAN)", "values": f"(${param}::VARCHAR[])",
                "timestamp": f"(${param}::TIMESTAMP)", "count": f"(${param}::BIGINT)",
                "span": f"(${param}::TIMESTAMP[])"}[self.kind]


def column_present(column: str, table: str = "tickets") -> str:
    """SQL: some row of ``table`` gives ``column``."""
    return f"EXISTS (SELECT 1 FROM {table} WHERE {column} IS NOT NULL)"


def export_span(table: str) -> str:
    """SQL: the first and the last ``created_at`` of ``table``'s rows, a list of two: the dates its export spans."""
    if table not in SPAN_TABLES:
        raise ValueError(f"table must be one of {SPAN_TABLES}, not {table!r}")
    return f"(SELECT [min(created_at), max(created_at)] FROM {table})"


def dimension_choices(dimension: str) -> str:
    """SQL: the distinct non-empty values of a ticket dimension, sorted."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    return (f"(SELECT coalesce(list({dimension} ORDER BY {dimension}), []) FROM "
            f"(SELECT DISTINCT {dimension} FROM tickets WHERE {dimension} IS NOT NULL))")


@cache
def facts() -> tuple[Fact, ...]:
    """Every fact the registry's statements and the filter choices ask, found in the declarations themselves, so a new
    KPI's whole-warehouse condition is a fact without being listed here."""
    found: dict[str, Kind] = {registry.DATA_AS_OF: "timestamp"}
    for metric in registry.METRICS:
        for text in (metric.sql, metric.sample):
            found.update({match.group(0): "values" for match in SOURCES_SUBQUERY.finditer(text)})
            found.update({registry.REFUND_SOURCES: "values"} if registry.REFUND_SOURCES in text else {})
        if metric.known:
            found[metric.known] = "boolean"
        found.update({column_present(column): "boolean" for column in metric.needs})
    found.update({dimension_choices(dimension): "values" for dimension in DIMENSIONS})
    # Every count's cover asks both spans, twice each (metrics.query.export_cover): as subqueries, planning the
    # joins they add was half of a KPI statement's time on the demo store (35 of 70 ms), before any row was read.
    found.update({export_span(table): "span" for table in SPAN_TABLES})
    found.update({checks.count_of(check): "count" for check in checks.CHECKS})
    # a statement asking for a setting ($...) is not a fact of the data alone
    return tuple(Fact(sql, kind) for sql, kind in found.items() if "$" not in sql)


def _by_sql() -> dict[str, Fact]:
    return {fact.sql: fact for fact in facts()}


def refresh(warehouse: Warehouse) -> bool:
    """Work every fact out again if the data changed since they were stored; True if it did. A read-only warehouse
    keeps asking the subqueries."""
    if warehouse.read_only or _stored(warehouse.cursor()) is not None:
        return False
    with warehouse.transaction() as cur:  # one snapshot: the values and the version they hold for
        if _stored(cur) is not None:  # another session's run stored them meanwhile
            return False
        version = _data_version(cur)
        values = _evaluate(cur, facts())
        warehouse.set_meta(cur, META_KEY, json.dumps({"version": version, "values": values}, default=_plain))
    return True


def _evaluate(cur: duckdb.DuckDBPyConnection, wanted: tuple[Fact, ...] | list[Fact]) -> dict[str, object]:
    row = cur.execute("SELECT " + ", ".join(fact.sql for fact in wanted)).fetchone() or ()
    return {fact.sql: value for fact, value in zip(wanted, row, strict=True)}


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"a fact of type {type(value).__name__} cannot be stored")


def _data_version(cur: duckdb.DuckDBPyConnection) -> str:
    return Warehouse.meta_in(cur, "data_version") or ""


def _stored(cur: duckdb.DuckDBPyConnection) -> dict[str, object] | None:
    """The stored facts if they hold for the data as it is now, else None."""
    try:
        version, text = Warehouse.meta_values(cur, ("data_version", META_KEY))
    except duckdb.CatalogException:  # a bare connection without the warehouse's tables
        return None
    if text is None:
        return None
    stored = json.loads(text)
    # stored by code that knew fewer facts (a new KPI's): worked out again, as for new data
    whole = all(fact.sql in stored["values"] for fact in facts())
    return stored["values"] if stored["version"] == version and whole else None


def values(cur: duckdb.DuckDBPyConnection, expressions: list[str]) -> dict[str, object]:
    """Each scalar expression's value: stored where it is a current fact, else worked out now."""
    stored, known = _stored(cur) or {}, _by_sql()
    missing = [known.get(sql, Fact(sql, "boolean")) for sql in dict.fromkeys(expressions) if sql not in stored]
    found = {sql: stored[sql] for sql in expressions if sql in stored}
    return {**found, **(_evaluate(cur, missing) if missing else {})}


def bind(cur: duckdb.DuckDBPyConnection, sql: str) -> tuple[str, dict[str, object]]:
    """``sql`` with every whole-warehouse subquery it holds replaced by its stored value, and those values as
    parameters; unchanged where no current facts are stored."""
    stored = _stored(cur)
    if not stored:
        return sql, {}
    known = _by_sql()
    params: dict[str, object] = {}
    for number, text in enumerate(sorted((s for s in stored if s in known), key=len, reverse=True)):
        if text in sql:  # the longest first: a condition that holds a smaller fact is replaced whole
            sql = sql.replace(text, known[text].bound(f"fact_{number}"))
            params[f"fact_{number}"] = stored[text]
    return sql, params
