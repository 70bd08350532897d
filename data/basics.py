"""What every stage of an import shares: the rejection error, file digests, the Polars type of each SQL type of the
schema, and frames cut into chunks every column shares.

A leaf: it imports nothing else of ``data``, so reading, typing, shaping and the transactional import can all use it
without importing each other.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "VARCHAR[]": pl.List(pl.String()),
    "TIMESTAMP": pl.Datetime("us"),
    "DATE": pl.Date(),
    "INTEGER": pl.Int32(),
    "SMALLINT": pl.Int16(),
    "UBIGINT": pl.UInt64(),
    "BIGINT": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "DECIMAL(18,2)": pl.Decimal(18, 2),
}


def mapped(values: pl.Series, to_text: Callable[[Any], str]) -> pl.Series:
    """``to_text`` of each value, as text. Computed here, in the calling thread, never as ``map_elements`` inside a
    Polars expression: Polars runs such a Python function on its thread pool, where it waits for the GIL, while
    another session's thread may hold the GIL waiting for that same pool (``to_pandas`` in ``st.dataframe``): the
    whole server then hangs for every visitor (seen with 20 users at once; tests/test_no_python_in_polars.py)."""
    return pl.Series(values.name, [to_text(value) for value in values.to_list()], dtype=pl.String)


class ImportRejected(ValueError):
    """The batch cannot be imported; the message names the file, row and column."""


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


_MOST_CHUNKS = 1024


def in_shared_chunks(frame: pl.DataFrame, rows: int = 122_880) -> pl.DataFrame:
    """The frame cut into chunks every column shares: at the boundaries of its most-cut column (a million rows
    from the CSV reader come in about 80 pieces, columns computed from several come in one), or, for a frame in
    one piece, into DuckDB row groups. Slicing copies nothing.

    Polars copies every column into one piece before working across columns cut differently (0.1 s and 100 MB
    of page faults on a million tickets), and DuckDB scans an Arrow chunk per thread: a frame in one chunk was
    written by one core (3.4 s instead of 2.0 s).
    """
    pieces = max((column.chunk_lengths() for column in frame.get_columns()), key=len, default=[])
    if len(pieces) > _MOST_CHUNKS:  # crumbs, not pieces: one copy and row groups cost less than a slice each
        frame, pieces = frame.rechunk(), []
    if len(pieces) <= 1:
        pieces = [min(rows, frame.height - start) for start in range(0, frame.height, rows)]
    if len(pieces) <= 1:
        return frame
    starts = itertools.accumulate(pieces[:-1], initial=0)
    return pl.concat([frame.slice(start, length) for start, length in zip(starts, pieces, strict=True)],
                     rechunk=False)


def named_in(sql: str, params: Mapping[str, object]) -> dict[str, object]:
    """The parameters ``sql`` names (``$name``), from ``params``: DuckDB refuses a statement given one it does not
    use, and a module that builds statements from parts keeps one set of values for all of them."""
    return {name: params[name] for name in set(re.findall(r"\$(\w+)", sql))}
