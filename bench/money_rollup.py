"""What keeping the money rollup (data/money_rollup.py) costs on a warehouse file, and the tables' sizes.

    python bench/money_rollup.py WAREHOUSE.duckdb [--repeat 2]

Builds the rollup and marks it current where it is not (the only change it leaves in the file), then in turns, each
in a transaction rolled back: the whole build, and the refresh a write of the last three days' tickets and orders
does (their days noted as the writers note them). No number here is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data import kept, money_rollup, rollups

_LAST_DAYS = ("CREATE OR REPLACE TEMP TABLE {days} AS SELECT DISTINCT created_local_date AS day FROM {table} "
              "WHERE created_at >= (SELECT max(created_at) FROM {table}) - INTERVAL 3 DAY")


def _timed(con: duckdb.DuckDBPyConnection, step: object) -> float:
    con.execute("BEGIN")
    start = time.perf_counter()
    step(con)  # type: ignore[operator]
    spent = time.perf_counter() - start
    con.execute("ROLLBACK")
    return spent


def _refresh_last_days(con: duckdb.DuckDBPyConnection) -> None:
    ticket_days, order_days = rollups.MONEY.noted
    con.execute(_LAST_DAYS.format(days=ticket_days, table="tickets"))
    con.execute(_LAST_DAYS.format(days=order_days, table="orders"))
    rollups.MONEY.refresh_noted(con)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    con = duckdb.connect(args.warehouse)
    if not kept.is_current(con, rollups.MONEY):
        con.execute("BEGIN")
        money_rollup.rebuild(con)
        kept.mark(con, rollups.MONEY)
        con.execute("COMMIT")
    for _ in range(args.repeat):
        print(f"build {_timed(con, money_rollup.rebuild):.2f} s, "
              f"refresh of the last 3 days' tickets and orders {_timed(con, _refresh_last_days):.2f} s", flush=True)
    for table in (money_rollup.LINKS_TABLE, money_rollup.PARTS_TABLE, money_rollup.WAITING_TABLE,
                  money_rollup.OPEN_TABLE):
        print(table, con.execute(f"SELECT count(*) FROM {table}").fetchone()[0], "rows")  # type: ignore[index]


if __name__ == "__main__":
    main()
