"""The tags as a list (tickets.tag_list, data/tags.py): split once at import, kept in step by re-imports and undos,
worked out for the rows of a warehouse of the previous schema when it migrates, and what the escalation and
automation rates read."""

from __future__ import annotations

from datetime import date
from datetime import datetime as D
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data.ingest import Batch, import_batch, undo_import
from data.warehouse import MIGRATIONS, SCHEMA_VERSION, Warehouse
from metrics import query as mq
from settings import Settings

WEEK = mq.Filters(date(2024, 3, 4), date(2024, 3, 10))
ODD = {  # as exported -> the list stored
    "  VIP,,Escalated;;bot\tTier2 \n": ["vip", "escalated", "bot", "tier2"],
    "auto-closed": ["auto-closed"],
    "not_escalated, escalatedly": ["not_escalated", "escalatedly"],  # whole words only
    " , ; ": [],
    "": [],
}


def _import(wh: Warehouse, tags: list[str | None], sha: str = "sha-1", replies: int | None = 1) -> str:
    frame = pl.DataFrame({"ticket_id": [f"T{i}" for i in range(1, len(tags) + 1)], "tags": tags,
                          "created_at": [D(2024, 3, 5, 10)] * len(tags), "updated_at": [D(2024, 3, 5, 10)] * len(tags),
                          "solved_at": [D(2024, 3, 6, 10)] * len(tags), "status": ["solved"] * len(tags),
                          "agent_replies": [replies] * len(tags)},
                         schema_overrides={"tags": pl.String, "agent_replies": pl.Int32})
    return import_batch(wh, Batch("t.csv", sha, "t", "tickets", {"tickets": frame.with_columns(source=pl.lit("t"))}))\
        .import_id


def _lists(cur: duckdb.DuckDBPyConnection, table: str = "tickets") -> dict[str, list[str] | None]:
    return dict(cur.execute(f"SELECT ticket_id, tag_list FROM {table} ORDER BY ticket_id").fetchall())


def test_import_splits_tags_at_any_run_of_spaces_commas_and_semicolons_in_lower_case() -> None:
    wh = Warehouse()
    _import(wh, [*ODD, None])
    stored = _lists(wh.cursor())
    assert list(stored.values()) == [*ODD.values(), None]  # no tags exported: NULL, not an empty list


def test_rates_read_whole_tags_in_any_case_and_leave_ticket_without_tags_unmeasured(settings: Settings) -> None:
    wh = Warehouse()
    _import(wh, list(ODD), replies=None)
    values = mq.totals(wh.cursor(), ["escalation_rate", "automation_rate"], WEEK, settings)
    # escalated: the first (Escalated, Tier2) of five; automated: the first (bot) and the second (auto-closed)
    assert values == pytest.approx({"escalation_rate": 1 / 5, "automation_rate": 2 / 5})


def test_a_reimport_with_other_tags_replaces_the_list_and_its_undo_restores_it() -> None:
    wh = Warehouse()
    _import(wh, ["a b", "c"])
    later = pl.DataFrame({"ticket_id": ["T1"], "tags": ["Escalated;X"], "created_at": [D(2024, 3, 5, 10)],
                          "updated_at": [D(2024, 3, 7, 10)]}).with_columns(source=pl.lit("t"))
    second = import_batch(wh, Batch("u.csv", "sha-2", "t", "tickets", {"tickets": later})).import_id
    assert _lists(wh.cursor()) == {"T1": ["escalated", "x"], "T2": ["c"]}
    assert _lists(wh.cursor(), "tickets_replaced") == {"T1": ["a", "b"]}
    undo_import(wh, second)
    assert _lists(wh.cursor()) == {"T1": ["a", "b"], "T2": ["c"]}


def test_a_warehouse_of_the_previous_schema_gets_the_lists_of_its_rows_when_it_migrates(tmp_path: Path,
                                                                                         settings: Settings) -> None:
    path = tmp_path / "previous.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMP)")
    for version, statements in enumerate(MIGRATIONS[:6], start=1):  # version 7 brought the tag lists
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES ($v, TIMESTAMP '2026-01-01')", {"v": version})
    for table in ("tickets", "tickets_replaced"):
        con.execute(f"INSERT INTO {table} (source, ticket_id, created_at, created_local_date, tags) VALUES "
                    "('s', '1', TIMESTAMP '2024-03-05 10:00', DATE '2024-03-05', 'Tier2;follow_up'), "
                    "('s', '2', TIMESTAMP '2024-03-05 11:00', DATE '2024-03-05', 'follow_up'), "
                    "('s', '3', TIMESTAMP '2024-03-05 12:00', DATE '2024-03-05', NULL)")
    con.close()
    wh = Warehouse(path)
    assert wh.schema_version() == SCHEMA_VERSION
    expected = {"1": ["tier2", "follow_up"], "2": ["follow_up"], "3": None}
    assert _lists(wh.cursor()) == _lists(wh.cursor(), "tickets_replaced") == expected
    # the rate over the migrated rows: one of three, the source giving tags (so the untagged third is not escalated)
    assert mq.totals(wh.cursor(), ["escalation_rate"], WEEK, settings)["escalation_rate"] == pytest.approx(1 / 3)
