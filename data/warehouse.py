"""The DuckDB warehouse: one process owns the file through one connection.

Readers take a cursor of their own (one per Streamlit session run or thread), because a shared connection
serialises every query behind the slowest. Writers go through :meth:`Warehouse.transaction`, which holds a lock
so imports run one at a time, and commits or rolls back as a whole. The SQL stays portable to DuckLake: no
sequences, no primary keys; natural keys are enforced by the import path's ``MERGE``.
"""

from __future__ import annotations

import logging
import secrets
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import duckdb
import polars as pl

from data import line_facts, order_sequence, tags
from data.schema import FACT_TABLES

log = logging.getLogger(__name__)

MEMORY = ":memory:"


def utc_now() -> datetime:
    """Naive UTC, the storage convention for every timestamp."""
    return datetime.now(UTC).replace(tzinfo=None)


class WarehouseError(RuntimeError):
    """A warehouse problem explained in words a user can act on.

    The message (for the command line and the server log) names the file; ``reason`` says the problem without it,
    for a page anyone with the link may read.
    """

    def __init__(self, message: str, reason: str = "it could not be opened") -> None:
        super().__init__(message)
        self.reason = reason


class WarehouseInUse(WarehouseError):
    """Another process holds the warehouse file (DuckDB lets one process open it): the dashboard, or an import."""


def _column_list(columns: list[tuple[str, str]]) -> str:
    return ",\n  ".join(f"{name} {sql_type}" for name, sql_type in columns)


def _fact_tables_at(version: int) -> list[str]:
    """New tables and new columns of the canonical schema at this version, with their replaced-rows twins.

    A ``<table>_replaced`` twin keeps the rows an import overwrote, tagged with that import, so it can be undone.
    """
    statements = []
    for table in FACT_TABLES.values():
        if table.since == version:
            columns = _column_list(table.columns_in(version))
            statements.append(f"CREATE TABLE {table.name} (\n  {columns}\n)")
            statements.append(f"CREATE TABLE {table.name}_replaced (\n  {columns},\n  replaced_by VARCHAR\n)")
        elif table.since < version:
            for name, sql_type in table.added_in(version):
                statements.append(f"ALTER TABLE {table.name} ADD COLUMN {name} {sql_type}")
                statements.append(f"ALTER TABLE {table.name}_replaced ADD COLUMN {name} {sql_type}")
    return statements


# Applied once each, in order, inside one transaction with the version bump. Never edit a shipped version.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        *(f"CREATE TABLE {t.name} ({_column_list(t.columns_in(1))})" for t in FACT_TABLES.values() if t.since == 1),
        """CREATE TABLE imports (
          import_id VARCHAR, file_name VARCHAR, sha256 VARCHAR, source VARCHAR, kind VARCHAR,
          rows_read BIGINT, inserted BIGINT, updated BIGINT, unchanged BIGINT, rejected BIGINT,
          imported_at TIMESTAMP
        )""",
        "CREATE TABLE warehouse_meta (key VARCHAR, value VARCHAR)",
        "INSERT INTO warehouse_meta VALUES ('data_version', '0')",
    ),
    (
        *(f"CREATE TABLE {t.name}_replaced AS SELECT *, NULL::VARCHAR AS replaced_by FROM {t.name} LIMIT 0"
          for t in FACT_TABLES.values() if t.since == 1),
        *_fact_tables_at(2),
        "ALTER TABLE imports ADD COLUMN undone_at TIMESTAMP",
        "ALTER TABLE imports ADD COLUMN notes VARCHAR",
        "CREATE TABLE mappings (name VARCHAR, kind VARCHAR, mapping VARCHAR, saved_at TIMESTAMP)",
    ),
    (
        *_fact_tables_at(3),
        # an analyst's category for a ticket outlives re-imports of it
        "CREATE TABLE category_corrections (source VARCHAR, ticket_id VARCHAR, category VARCHAR, "
        "corrected_at TIMESTAMP)",
    ),
    (*_fact_tables_at(4),),  # tickets linked to orders (data/linking.py), the traffic table
    # Rows merged into another row of the same key in one file. NULL for earlier imports: they merged such rows
    # without counting them, so 0 would claim a file had none.
    (*_fact_tables_at(5), "ALTER TABLE imports ADD COLUMN duplicates BIGINT"),
    # the account's clock worked out once per row (data/clock.py): a warehouse recording no clock yet has its
    # columns worked out by the next import or the next start of the dashboard
    (*_fact_tables_at(6),),
    # the tags split once per row (data/tags.py), the rows kept for an undo too
    (*_fact_tables_at(7), tags.fill_all("tickets"), tags.fill_all("tickets_replaced")),
    # each order's neighbours among its customer's orders (data/order_sequence.py); the rows kept for an undo get
    # theirs when an undo restores them
    (*_fact_tables_at(8), order_sequence.FILL_ALL),
    # what each order line needs of its order (data/line_facts.py); the lines kept for an undo get theirs when an
    # undo restores them
    (*_fact_tables_at(9), line_facts.FILL_ALL),
)
SCHEMA_VERSION = len(MIGRATIONS)


class _Snapshots:
    """Each open warehouse file's ``warehouse_meta`` (the data version, the clock, the rollups' marks and the
    settings they were built on, the stored facts: a few dozen rows), read in one statement after each write instead
    of one statement per question: a cold page asked 30-50 of them, every cached call its data version. Only this
    process writes a file it holds open (DuckDB locks it; ``data.cli`` leaves its files in the inbox, which this
    process imports), and every write commits through ``Warehouse.writer``, which forgets the file's snapshot; a read
    that a write overtook is not kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, Mapping[str, str]] = {}
        self._writes: dict[str, int] = {}

    def get(self, path: str, read: Callable[[], Mapping[str, str]]) -> Mapping[str, str]:
        with self._lock:
            if path in self._known:
                return self._known[path]
            writes = self._writes.get(path, 0)
        snapshot = read()
        with self._lock:
            if self._writes.get(path, 0) == writes:
                self._known[path] = snapshot
        return snapshot

    def forget(self, path: str) -> None:
        with self._lock:
            self._known.pop(path, None)
            self._writes[path] = self._writes.get(path, 0) + 1


_SNAPSHOTS = _Snapshots()
# The cursors ``Warehouse.cursor`` handed out, with their handle: what they read of warehouse_meta comes from the
# file's snapshot. A writer's cursor is not among them: it reads its own transaction's writes.
_READERS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Warehouse] = weakref.WeakKeyDictionary()
_READERS_LOCK = threading.Lock()


class Warehouse:
    """The one connection to a DuckDB file (or memory) with its schema migrated."""

    def __init__(self, path: Path | str = MEMORY, *, read_only: bool = False, memory_mb: int | None = None,
                 fill: Callable[[Warehouse], None] | None = None) -> None:
        """``fill``: called with the migrated handle before it is locked down (the dashboard's demo store on an empty
        file); its commits skip DuckDB's checkpoint, which then comes with the next commit after it (see
        :func:`_checkpoints_held`)."""
        self.path = str(path)
        # what its warehouse_meta snapshot is kept under: every handle on one file shares a database, every
        # in-memory handle is a database of its own
        self._snapshot_key = f"{MEMORY}{id(self)}" if self.path == MEMORY else str(Path(self.path).resolve())
        self.read_only = read_only
        self._write_lock = threading.Lock()
        self.closed = False
        self._con = _connect(self.path, read_only, memory_mb)
        if not read_only:
            self._migrate()
            _SNAPSHOTS.forget(self._snapshot_key)  # what a fill reads (the demo store's), as migrated
        elif (found := self.schema_version()) != SCHEMA_VERSION:
            self._con.close()
            raise WarehouseError(
                f"{self.path} has schema version {found}, this CS Pulse expects {SCHEMA_VERSION}; "
                "open it once with the dashboard (or import into it) to migrate it."
            )
        try:
            if fill is not None and not read_only:
                with _checkpoints_held(self._con):
                    fill(self)
        finally:
            _lock_down(self._con)
        # migrated, or written by another process (or made anew) since this one last held it
        _SNAPSHOTS.forget(self._snapshot_key)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A reader's cursor: its reads of warehouse_meta come from the file's snapshot (:meth:`meta_values`)."""
        cur = self._con.cursor()
        with _READERS_LOCK:
            _READERS[cur] = self
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor in one transaction, one writer at a time; committed whole or rolled back whole."""
        with self.writer() as cur, in_transaction(cur):
            yield cur

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor of the one writer at a time, each statement its own transaction until it begins one
        (:func:`in_transaction`). Its TEMP tables are its own and go with it: a file read in batches is staged in
        one, batch by batch, before the transaction that merges it (data.streaming)."""
        if self.read_only:
            raise WarehouseError(f"{self.path} is open read-only")
        with self._write_lock:
            cur = self._con.cursor()
            try:
                yield cur
            finally:
                _SNAPSHOTS.forget(self._snapshot_key)
                cur.close()

    @staticmethod
    def bump_version(cur: duckdb.DuckDBPyConnection) -> None:
        """Writers that changed data call this inside their transaction, so cached results expire (the version kept
        for the file is forgotten when the transaction ends)."""
        cur.execute("UPDATE warehouse_meta SET value = (value::BIGINT + 1)::VARCHAR WHERE key = 'data_version'")
        _forget_if_reader(cur)

    def data_version(self) -> int:
        """Changes with every committed write: the key that invalidates cached query results."""
        return int(self.meta("data_version") or 0)

    def meta(self, key: str) -> str | None:
        return self.meta_snapshot().get(key)

    def meta_snapshot(self) -> Mapping[str, str]:
        """Every warehouse_meta key and value as the last write in this process left them (see :class:`_Snapshots`)."""
        return _SNAPSHOTS.get(self._snapshot_key, self._read_meta)

    def _read_meta(self) -> Mapping[str, str]:
        # read-only: every reader of the file shares it
        return MappingProxyType(dict(self._con.cursor().execute("SELECT key, value FROM warehouse_meta").fetchall()))

    @staticmethod
    def meta_in(cur: duckdb.DuckDBPyConnection, key: str) -> str | None:
        """``meta`` as the caller's cursor sees it (:meth:`meta_values`)."""
        return Warehouse.meta_values(cur, (key,))[0]

    @staticmethod
    def meta_values(cur: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> list[str | None]:
        """The values of ``keys`` (None where a key is not kept): a reader's cursor (:meth:`cursor`) reads them from
        the file's snapshot, any other (a writer's, in its transaction, or a bare connection's) in one statement."""
        with _READERS_LOCK:
            owner = _READERS.get(cur)
        if owner is not None:
            snapshot = owner.meta_snapshot()
            return [snapshot.get(key) for key in keys]
        found = dict(cur.execute("SELECT key, value FROM warehouse_meta WHERE list_contains($keys, key)",
                                 {"keys": list(keys)}).fetchall())
        return [found.get(key) for key in keys]

    @staticmethod
    def set_meta(cur: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
        cur.execute("DELETE FROM warehouse_meta WHERE key = $key", {"key": key})
        cur.execute("INSERT INTO warehouse_meta VALUES ($key, $value)", {"key": key, "value": value})
        _forget_if_reader(cur)

    def pii_salt(self) -> str:
        """This warehouse's own salt, made once, so hashes join across imports when no salt is configured."""
        salt = self.meta("pii_salt")
        if salt is None:
            with self.transaction() as cur:
                # another session's import may have made it since the snapshot was read: one salt, or hashes split
                salt = self.meta_in(cur, "pii_salt") or secrets.token_hex(16)
                self.set_meta(cur, "pii_salt", salt)
        return salt

    def imports(self) -> pl.DataFrame:
        """The import ledger, newest first."""
        return self.cursor().execute("SELECT * FROM imports ORDER BY imported_at DESC").pl()

    def row_count(self, table: str) -> int:
        if table not in FACT_TABLES:
            raise ValueError(f"unknown table {table!r}")
        return self.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]

    def is_empty(self) -> bool:
        return all(self.row_count(name) == 0 for name in ("tickets", "orders"))

    def schema_version(self) -> int:
        # fetchall, not fetchone: a result left open on the connection holds its transaction open, and while one is
        # open no commit checkpoints (a first start's demo store then waited in the WAL by accident)
        exists = self._con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchall()[0][0]
        if not exists:
            return 0
        return self._con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]

    def close(self) -> None:
        self.closed = True
        self._con.close()
        _SNAPSHOTS.forget(self._snapshot_key)

    def _migrate(self) -> None:
        self._con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMP)")
        for versions in _migration_steps(self.schema_version()):
            with in_transaction(self._con.cursor()) as cur:
                for version in versions:
                    for statement in MIGRATIONS[version - 1]:
                        cur.execute(statement)
                    cur.execute("INSERT INTO schema_version VALUES ($v, $at)", {"v": version, "at": utc_now()})
            log.info("warehouse %s migrated to schema version %d", self.path, versions[-1])


def _forget_if_reader(cur: duckdb.DuckDBPyConnection) -> None:
    """After a write of warehouse_meta on a reader's cursor (each statement its own transaction: a script's or a
    test's, never the app's, whose writes go through ``Warehouse.writer``): the next read sees it."""
    with _READERS_LOCK:
        owner = _READERS.get(cur)
    if owner is not None:
        _SNAPSHOTS.forget(owner._snapshot_key)


def _migration_steps(current: int) -> list[list[int]]:
    """The versions to apply, grouped by transaction. A new file takes them all in one: it holds no rows, and each
    of nine small commits cost a first start 20-40 ms. A file with data takes one version per transaction,
    as before: a version that rewrites every row is committed before the next one starts."""
    pending = list(range(current + 1, SCHEMA_VERSION + 1))
    if current == 0:
        return [pending] if pending else []
    return [[version] for version in pending]


@contextmanager
def in_transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The cursor in one transaction, committed whole or rolled back whole."""
    cur.begin()
    try:
        yield cur
        cur.commit()
    except BaseException:
        cur.rollback()
        raise


def _connect(path: str, read_only: bool, memory_mb: int | None = None) -> duckdb.DuckDBPyConnection:
    if path != MEMORY:
        file = Path(path)
        if read_only and not file.exists():
            raise WarehouseError(f"No warehouse at {file}: start the dashboard once or import data first.")
        file.parent.mkdir(parents=True, exist_ok=True)
    try:
        # a memory limit is set here or never: lock_down freezes the configuration. Beyond it DuckDB spills to the
        # warehouse's temp folder (the staging of a file imported in batches, data.streaming).
        limit = {"memory_limit": f"{memory_mb}MB"} if memory_mb else {}
        return duckdb.connect(path, read_only=read_only, config={"preserve_insertion_order": False, **limit})
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseInUse(
                f"The warehouse {path} is in use by another process (the dashboard, or another import).",
                reason="its file is in use by another process",
            ) from None
        raise WarehouseError(f"Cannot open the warehouse {path}: {exc}") from None


@contextmanager
def _checkpoints_held(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commits in this block go to the WAL alone; the first commit after it checkpoints them into the file. A first
    start's demo store (30-60 MB in the WAL) took half its commit, 0.3-0.6 s before the first page, to compress into
    the file; the next write (its rollups, once that page is drawn) does it now. Before the lock-down only: it
    changes a setting, so not on a database this process already opened and locked (a second handle)."""
    if con.execute("SELECT current_setting('lock_configuration')").fetchall()[0][0]:
        yield
        return
    con.execute(f"SET checkpoint_threshold = '{HELD_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        con.execute("RESET checkpoint_threshold")


HELD_CHECKPOINT_THRESHOLD = "1GB"  # far above what the demo store writes

# lock_configuration comes last: after it no setting changes, these included.
LOCK_DOWN: tuple[str, ...] = (
    "SET autoinstall_known_extensions = false",  # icu, json and parquet are built into the wheel; nothing else
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET allow_persistent_secrets = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


def _lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No SQL through this connection reaches anything but the warehouse: no server file read or written (read_csv,
    read_text, glob, COPY, EXPORT, ATTACH of a file), no extension installed or loaded, no setting changed.

    Every handle is locked, the command line's too: imports reach DuckDB as frames through ``register()``, never as
    paths in SQL, so no caller needs more. Run after the file is attached and migrated.

    ``allowed_directories`` stays as DuckDB sets it: switching external access off allows exactly this database's
    own files (the file, its ``.wal``, ``.wal.checkpoint`` and ``.wal.recovery``) and its temp directory for
    spills (``<file>.tmp/``), which checkpoints and large sorts need. Allowing the warehouse's folder instead would
    widen it: SQL could then read and write any file beside the warehouse.
    """
    if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:  # type: ignore[index]
        return  # a second handle on a database this process already opened and locked down
    for statement in LOCK_DOWN:
        con.execute(statement)
