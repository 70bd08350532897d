"""One way to keep the tables writers keep current (the ticket, order and contact rollups): a declared :class:`Family`.

Every writer calls data.rollups ``bump_version`` in its transaction; for each family it asks, before the data
version moves, whether the family held the data as it was (:func:`is_current`), then works out again only the days
the writer noted where it did, or builds it whole where it did not (or the write changed everything it reads);
then the version moves and each family is marked current for it (``warehouse_meta`` key ``family.meta_key``:
"data_version:signature", with a hash of each meta value its rows depend on, such as the clock its local days were
worked out on). A reader uses a family only while its mark is the warehouse's state now, so a write that moves the
version without keeping it leaves the family unused (slower, never wrong), by one or by many versions alike, until
the next kept write or start builds it whole. A family's noted days live in a temp table of the transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from data.warehouse import Warehouse

log = logging.getLogger(__name__)

Step = Callable[[duckdb.DuckDBPyConnection], None]


@dataclass(frozen=True)
class Family:
    name: str
    meta_key: str  # where its mark is recorded
    signature: str  # a hash of its definition: a change in the code builds it again
    noted: tuple[str, ...]  # the temp tables of the days a transaction's writes touched (``day DATE``)
    rebuild: Step  # every table of it from every row
    refresh_noted: Step  # the noted days' rows worked out again (nothing noted: nothing to do)
    depends_on: tuple[str, ...] = ()  # meta keys whose values its rows read (the clock): a change leaves it stale
    rebuilt_by_everything: bool = True  # whether a write that says it changed everything builds it whole
    # Rows it reads that no writer notes by day (the orders' values, for tickets of any day that name them): a
    # value of them worked out at every write (``fingerprint``, recorded at ``fingerprint_key``); where it moved,
    # the family is built whole. Readers do not ask it: a write either keeps the family or leaves it stale.
    fingerprint: Callable[[duckdb.DuckDBPyConnection], str] | None = None
    fingerprint_key: str = ""


def is_current(cur: duckdb.DuckDBPyConnection, family: Family) -> bool:
    """Whether ``family`` holds the warehouse's data as it is now, as this code defines it (every reader asks it: a
    reader's cursor answers from the warehouse_meta snapshot, a writer's in one statement)."""
    marked, *values = Warehouse.meta_values(cur, (family.meta_key, "data_version", *family.depends_on))
    return marked is not None and marked == _state(family, values)


def keep(cur: duckdb.DuckDBPyConnection, families: tuple[Family, ...], *, everything: bool) -> None:
    """Bump the data version with every family kept current, in the caller's transaction (see the module)."""
    current = [is_current(cur, family) for family in families]  # before the version moves
    prints = {family.name: family.fingerprint(cur) for family in families if family.fingerprint}
    for family, was_current in zip(families, current, strict=True):
        moved = family.name in prints and Warehouse.meta_in(cur, family.fingerprint_key) != prints[family.name]
        if not was_current or moved or (everything and family.rebuilt_by_everything):
            family.rebuild(cur)
        else:
            family.refresh_noted(cur)
    for family in families:  # after every family: two may read the same noted days
        forget_noted(cur, family)
    Warehouse.bump_version(cur)
    for family in families:
        mark(cur, family, prints.get(family.name))


def leave_stale(cur: duckdb.DuckDBPyConnection, families: tuple[Family, ...]) -> None:
    """Bump the data version and keep no family: every mark then differs from the version (read raw rows)."""
    for family in families:
        forget_noted(cur, family)
    Warehouse.bump_version(cur)


def forget_noted(cur: duckdb.DuckDBPyConnection, family: Family) -> None:
    for table in family.noted:
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def mark(cur: duckdb.DuckDBPyConnection, family: Family, fingerprint: str | None = None) -> None:
    """Record ``family`` current for the data version and the meta values it depends on as they are now (and its
    ``fingerprint`` as it is now, worked out here unless given)."""
    Warehouse.set_meta(cur, family.meta_key, _state(family, Warehouse.meta_values(cur, ("data_version",
                                                                                       *family.depends_on))))
    if family.fingerprint:
        Warehouse.set_meta(cur, family.fingerprint_key, fingerprint or family.fingerprint(cur))


def noted_days(cur: duckdb.DuckDBPyConnection, noted: tuple[str, ...]) -> tuple[object, object]:
    """The first and last day in a family's ``noted`` tables (None, None: none), made where no write noted any."""
    for table in noted:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (day DATE)")
    days = " UNION ALL ".join(f"SELECT day FROM {table}" for table in noted)
    return cur.execute(f"SELECT min(day), max(day) FROM ({days})").fetchone()  # type: ignore[return-value]


def noted_rows(cur: duckdb.DuckDBPyConnection, noted: tuple[str, ...]) -> tuple[str, dict[str, object]] | None:
    """SQL picking the rows of the days in the ``noted`` tables (``{day}`` stands for the day column) and the bounds
    it binds; None where no write noted a day. The bounds are constants, so that DuckDB skips the row groups whose
    days lie outside them (rows arrive in about the order of their days); the list of days then picks the rows."""
    first, last = noted_days(cur, noted)
    if first is None:
        return None
    days = " UNION ALL ".join(f"SELECT day FROM {table}" for table in noted)
    return f"{{day}} BETWEEN $first AND $last AND {{day}} IN ({days})", {"first": first, "last": last}


def per_ticket_day(table: str, rows: Callable[[str], str], order_by: str, noted: str) -> tuple[Step, Step]:
    """The rebuild and the refresh of a family of one table whose rows are worked out per ticket creation day:
    ``rows(where)`` is the SQL of its rows for the tickets whose ``created_local_date`` meets ``where``, kept in the
    table as ``day``; ``noted`` is the temp table of the days the ticket writers note."""
    def rebuild(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} AS {rows('TRUE')} ORDER BY {order_by}")
        log.info("%s rebuilt", table)

    def refresh(cur: duckdb.DuckDBPyConnection) -> None:
        picked = noted_rows(cur, (noted,))
        if picked is None:
            return  # no ticket changed
        where, params = picked
        cur.execute(f"DELETE FROM {table} WHERE {where.format(day='day')}", params)
        cur.execute(f"INSERT INTO {table} {rows(where.format(day='created_local_date'))}", params)

    return rebuild, refresh


def _state(family: Family, values: list[str | None]) -> str:
    """What the mark holds for the data version ``values[0]`` and the depended-on meta values after it."""
    version, *depended = values
    hashed = "".join(f":{hashlib.sha256((value or '').encode()).hexdigest()[:16]}" for value in depended)
    return f"{int(version or 0)}:{family.signature}{hashed}"
