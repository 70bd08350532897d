"""Whole-warehouse facts (metrics/facts.py): worked out once per data version and bound into statements, they give
exactly what the subqueries they stand for give, and a stale one is never used."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data.ingest import Batch, import_batch
from data.warehouse import Warehouse
from metrics import availability, checks, facts, quality
from metrics import query as mq
from metrics.registry import METRICS, REFUND_SOURCES
from settings import Settings
from tests.conftest import load_fixture

WHOLE = mq.Filters(start=date(2020, 1, 1), end=date(2030, 12, 31))


def _every_kpi(wh: Warehouse, settings: Settings, **how: object) -> pl.DataFrame:
    names = [m.name for m in METRICS if m.table == "tickets" or not how.get("by")]  # a breakdown is of tickets
    return mq.query(wh.cursor(), names, WHOLE, samples=True, settings=settings, **how)  # type: ignore[arg-type]


@pytest.mark.parametrize("how", [{}, {"grain": "week"}, {"grain": "day"}, {"by": "channel"}, {"by": "assignee"}])
def test_every_kpi_is_the_same_with_facts_bound_as_with_the_subqueries(
        warehouse: Warehouse, settings: Settings, how: dict[str, object]) -> None:
    raw = _every_kpi(warehouse, settings, **how)
    assert facts.refresh(warehouse)
    sql, params = facts.bind(warehouse.cursor(), mq.build_sql([m.name for m in METRICS], "week"))
    assert params and "SELECT list(DISTINCT source) FROM tickets" not in sql  # the facts did stand in
    assert REFUND_SOURCES not in sql
    assert not any(facts.export_span(table) in sql for table in facts.SPAN_TABLES)  # bound: no joins to plan
    assert_frame_equal(_every_kpi(warehouse, settings, **how), raw)


def test_a_fact_is_used_only_for_the_data_version_it_was_worked_out_for(warehouse: Warehouse) -> None:
    statement = mq.build_sql(["escalation_rate", "backlog"], "week")
    assert facts.refresh(warehouse)
    assert not facts.refresh(warehouse)  # current: nothing to do
    assert facts.bind(warehouse.cursor(), statement)[1]
    with warehouse.transaction() as cur:
        cur.execute("UPDATE tickets SET tags = NULL")
        warehouse.bump_version(cur)
    assert facts.bind(warehouse.cursor(), statement) == (statement, {})  # stale: the subqueries as written
    assert facts.refresh(warehouse)


def test_which_sources_measure_a_column_is_worked_out_per_source(settings: Settings) -> None:
    """Two helpdesks: one exports tags, one does not. A ticket from the second without an escalation tag is not
    measured (out of the rate), one from the first is a non-escalation: 1 escalated of 2 measured, 0.5."""
    wh = Warehouse()
    rows = {"ticket_id": ["1", "2"], "created_at": ["2025-03-03 10:00", "2025-03-03 11:00"],
            "tags": ["vip escalated", None], "channel": ["email", "email"]}
    tagged = pl.DataFrame(rows).with_columns(pl.col("created_at").str.to_datetime())
    untagged = tagged.with_columns(tags=pl.lit(None, pl.String), ticket_id=pl.Series(["3", "4"]),
                                   source=pl.lit("untagged"))
    tagged = tagged.with_columns(source=pl.lit("tagged"))
    import_batch(wh, Batch("a.csv", "sha-a", "tagged", "tickets", {"tickets": tagged}))
    import_batch(wh, Batch("b.csv", "sha-b", "untagged", "tickets", {"tickets": untagged}))
    settings = settings.model_copy(update={"escalation_tags": ("escalated",), "escalation_groups": ()})
    view = mq.Filters(start=date(2025, 3, 1), end=date(2025, 3, 31))
    before = mq.totals(wh.cursor(), ["escalation_rate"], view, settings)
    assert facts.refresh(wh)
    tagged_sources = "(SELECT list(DISTINCT source) FROM tickets WHERE tags IS NOT NULL)"
    assert facts.values(wh.cursor(), [tagged_sources]) == {tagged_sources: ["tagged"]}
    assert mq.totals(wh.cursor(), ["escalation_rate"], view, settings) == before == {"escalation_rate": 0.5}


def test_a_count_outside_its_exports_span_stays_unknown_with_the_spans_bound(settings: Settings) -> None:
    """Tickets on 3 and 4 March 2025 and no orders at all. Per day from 2 to 5 March: tickets created unknown on the 2nd
    (before the export begins) and the 5th (after it ends), 1 on each day between; orders unknown every day, as no
    export of orders was loaded (its span is [NULL, NULL]). The same with the stored spans as with the subqueries."""
    wh = Warehouse()
    rows = pl.DataFrame({"ticket_id": ["1", "2"], "created_at": ["2025-03-03 10:00", "2025-03-04 11:00"],
                         "channel": ["email", "email"], "source": ["desk", "desk"]})
    tickets = rows.with_columns(pl.col("created_at").str.to_datetime())
    import_batch(wh, Batch("a.csv", "sha-a", "desk", "tickets", {"tickets": tickets}))
    view = mq.Filters(start=date(2025, 3, 2), end=date(2025, 3, 5))

    def per_day() -> pl.DataFrame:
        return mq.query(wh.cursor(), ["tickets_created", "orders"], view, "day", settings=settings)

    raw = per_day()
    assert facts.refresh(wh)
    assert facts.values(wh.cursor(), [facts.export_span("orders")]) == {facts.export_span("orders"): [None, None]}
    assert_frame_equal(per_day(), raw)
    assert raw["tickets_created"].to_list() == [None, 1, 1, None]
    assert raw["orders"].to_list() == [None] * 4


def test_filter_choices_missing_kpis_and_quality_counts_read_the_facts(warehouse: Warehouse,
                                                                      settings: Settings) -> None:
    names = [m.name for m in METRICS]

    def read() -> tuple[object, ...]:
        cur = warehouse.cursor()
        return ({d: mq.dimension_values(cur, d) for d in mq.DIMENSIONS}, availability.unavailable(cur, names),
                quality.quality_counts(cur, settings)["rows"].to_list())

    before = read()
    assert facts.refresh(warehouse)
    stored = facts.values(warehouse.cursor(), [checks.count_of(check) for check in checks.CHECKS])
    assert list(stored.values()) == before[2] and sum(before[2]) > 0  # the fixture has unlinked tickets
    after = read()
    assert after == before
    assert before[0]["channel"] == sorted(set(before[0]["channel"]))  # sorted, distinct
    with pytest.raises(ValueError, match="unknown dimension"):
        mq.dimension_values(warehouse.cursor(), "assignee")


def test_an_empty_warehouse_has_facts_too(settings: Settings) -> None:
    wh = Warehouse()
    assert facts.refresh(wh)
    assert mq.dimension_values(wh.cursor(), "channel") == []
    assert availability.unavailable(wh.cursor(), ["backlog"]) == {"backlog": "an export with solve times for its "
                                                                  "solved tickets (Zendesk 'Solved at', Freshdesk "
                                                                  "'Resolved time')"}
    load_fixture(wh)
    assert mq.dimension_values(wh.cursor(), "channel")  # stale facts are not read: the fixture's channels show


def test_facts_stored_by_code_that_knew_fewer_are_worked_out_again(warehouse: Warehouse) -> None:
    assert facts.refresh(warehouse)
    with warehouse.transaction() as cur:  # as code from before the refund sources were a fact stored them
        stored = json.loads(Warehouse.meta_in(cur, facts.META_KEY) or "{}")
        del stored["values"][REFUND_SOURCES]
        Warehouse.set_meta(cur, facts.META_KEY, json.dumps(stored))
    statement = mq.build_sql(["refund_rate", "escalation_rate"])
    assert facts.bind(warehouse.cursor(), statement) == (statement, {})  # the subqueries as written, until...
    assert facts.refresh(warehouse)  # ...the next start works them all out
    sql, params = facts.bind(warehouse.cursor(), statement)
    assert REFUND_SOURCES in statement and REFUND_SOURCES not in sql and params
