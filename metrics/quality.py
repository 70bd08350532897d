"""Data quality across tickets and orders: each check is a count and the rows behind it, over the whole warehouse
(what an export got wrong does not depend on the dates a page shows).

Ticket rows carry their subject as stored: the caller masks it. Customers appear only as whether they match, never
by their key.
"""

from __future__ import annotations

import duckdb
import polars as pl

from metrics import facts
from metrics.checks import BY_NAME, CHECKS, count_of
from metrics.query import shown_local
from settings import Settings


def quality_counts(cur: duckdb.DuckDBPyConnection, settings: Settings) -> pl.DataFrame:
    """Every check with the number of rows it finds (``check``, ``label``, ``why``, ``rows``), in the order above."""
    counts = [count_of(check) for check in CHECKS]
    found = facts.values(cur, counts)
    return pl.DataFrame({"check": [c.name for c in CHECKS], "label": [c.label for c in CHECKS],
                         "why": [c.why for c in CHECKS], "rows": [found[count] for count in counts]})


def quality_rows(cur: duckdb.DuckDBPyConnection, check: str, limit: int = 200, *, settings: Settings) -> pl.DataFrame:
    """The rows behind one check, newest first, at most ``limit``."""
    chosen = BY_NAME[check]
    sql = shown_local(f"{chosen.rows} LIMIT {int(limit)}", chosen.local)
    return cur.execute(sql, _params(sql, settings)).pl()


def _params(sql: str, settings: Settings) -> dict[str, object]:
    return {"tz": settings.timezone} if "$tz" in sql else {}
