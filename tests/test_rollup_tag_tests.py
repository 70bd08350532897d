"""The rollups work a ticket's tag tests (escalated, automated) out in a cheaper form than the KPIs' own
``list_has_any``; it must give the same answer for every tag list and setting, NULLs and empty lists included.

The independent path is DuckDB's ``list_has_any`` itself, on the same lists.
"""

from __future__ import annotations

import duckdb
import pytest

from data import rollups, slot_rollup

TAG_LISTS = ["NULL", "[]", "['vip']", "['escalated']", "['vip', 'tier2']", "[NULL]", "['vip', NULL]",
             "['escalated', NULL]", "['Escalated']", "['bot', 'bot']"]
SETTINGS = [[], ["escalated"], ["escalated", "tier2", "tier_2"], ["bot", None], [None]]


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_cheaper_tag_test_answers_as_list_has_any(setting: list[str | None]) -> None:
    cheaper = rollups._evaluated("count(*) FILTER (WHERE list_has_any(tag_list, $escalation_tags))")
    test = cheaper.removeprefix("count(*) FILTER (WHERE ").removesuffix(")")
    assert "list_has_any" not in test
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT tag_list, list_has_any(tag_list, $escalation_tags) AS expected, {test} AS got FROM "
        f"(SELECT unnest([{', '.join(f'{t}::VARCHAR[]' for t in TAG_LISTS)}]) AS tag_list)",
        {"escalation_tags": setting}).fetchall()
    assert len(rows) == len(TAG_LISTS)
    assert [(tags, got) for tags, _, got in rows] == [(tags, expected) for tags, expected, _ in rows]


def test_every_tag_test_the_rollups_read_is_rewritten_and_nothing_else() -> None:
    tagged = [sql for sql in rollups.PARTS.values() if "list_has_any" in sql]
    assert len(tagged) >= 4  # escalated and automated, each a sum and a count
    for sql in rollups.PARTS.values():
        evaluated = rollups._evaluated(sql)
        assert "list_has_any" not in evaluated
        if sql not in tagged:
            assert evaluated == rollups._bound(sql)
    assert "list_has_any" not in slot_rollup._agents("TRUE", rollups._evaluated)
