"""The complaint rollup (data/complaint_rollup.py) gives the Complaints page's counts and lists exactly what the rows
give (metrics.complaints with ``rollup=False``): tickets per category source, per category and week, the newest
tickets of a category and the least sure of a source, over views with and without filters, after every write that
changes what it counts: an import (categorised by its text and the export), categorising again, a correction, a
write that leaves confidences unknown, a re-import that moves tickets to other days and categories, undo, clearing
a source, a clock change, deferred writes. The lists read fewer days only where the counts prove it exact (worked
out by hand below), and a rollup a writer left behind is not read.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from datetime import datetime as D

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data import clock, complaint_rollup, rollups
from data.categorising import categorise, correct
from data.classifier import load_taxonomy
from data.ingest import Batch, clear_source, import_batch, undo_import
from data.warehouse import Warehouse
from metrics import complaints
from metrics import query as mq
from settings import Settings
from tests.conftest import on_clock

WHOLE = mq.Filters(date(2024, 1, 1), date(2024, 12, 31))
VIEWS = [WHOLE, mq.Filters(date(2024, 3, 10), date(2024, 3, 10)), mq.Filters(date(2024, 2, 12), date(2024, 4, 7)),
         mq.Filters(WHOLE.start, WHOLE.end, channel=("email",)),
         mq.Filters(WHOLE.start, WHOLE.end, channel=("email", "chat"), category=("refund", "shipping_status")),
         mq.Filters(WHOLE.start, WHOLE.end, priority=("high",))]
LISTED = [VIEWS[0], VIEWS[1], VIEWS[4], VIEWS[5]]  # the views the lists are compared over (every view: 2x the time)
SUBJECTS = ["Where is my order?", "I want my money back for this order", "Hello there", "The mug arrived broken",
            "Wrong size, I want to exchange it", None]
EXPORTED = ["shipping_status", "Refund", None, None]  # the helpdesk's own category, where it has one


def _tickets(rng: random.Random, count: int, prefix: str = "t") -> pl.DataFrame:
    """Tickets over Jan-May 2024, many around New York's midnight, of a few subjects (so many share a confidence),
    channels and priorities, some with the export's own category."""
    rows = []
    for n in range(count):
        created = D(2024, 1, 20) + timedelta(days=rng.randrange(110), hours=rng.choice([2, 4, 5, 13, 23]),
                                             minutes=rng.randrange(60))
        rows.append((f"{prefix}{n}", created, rng.choice(SUBJECTS), rng.choice(EXPORTED),
                     rng.choice(["email", "chat", "phone", None]), rng.choice(["normal", "high", None])))
    return pl.DataFrame(rows, orient="row", schema={
        "ticket_id": pl.String, "created_at": pl.Datetime("us"), "subject": pl.String,
        "category_exported": pl.String, "channel": pl.String, "priority": pl.String,
    }).with_columns(source=pl.lit("desk"), updated_at=pl.col("created_at"))


def _import(wh: Warehouse, name: str, source: str, frame: pl.DataFrame) -> str:
    result = import_batch(wh, Batch(f"{name}.csv", f"sha-{name}", source, "tickets", {"tickets": frame}))
    assert result.status == "imported"
    return result.import_id  # type: ignore[return-value]


def _kept_write(wh: Warehouse, sql: str, params: dict[str, object] | None = None) -> None:
    """A change of the tickets as a writer makes it: the days of every ticket noted, the rollups kept."""
    with wh.transaction() as cur:
        rollups.note_days(cur, "SELECT created_local_date, solved_local_date FROM tickets")
        cur.execute(sql, params or {})
        rollups.bump_version(cur)


def assert_served_equals_raw(wh: Warehouse, settings: Settings) -> None:
    cur = wh.cursor()
    assert complaints.complaint_rollup_serves(cur, settings), "else the comparison proves nothing"
    held = cur.execute(f"SELECT * FROM {complaint_rollup.TABLE} ORDER BY ALL").pl()
    assert_frame_equal(held, cur.execute(f"{complaint_rollup._counts('TRUE')} ORDER BY ALL").pl())
    sources = [row[0] for row in cur.execute("SELECT DISTINCT coalesce(category_source, 'pending') FROM tickets")
               .fetchall()]
    categories = [row[0] for row in cur.execute("SELECT DISTINCT coalesce(category, 'uncategorised') FROM tickets")
                  .fetchall()]
    for view in VIEWS:
        assert_frame_equal(complaints.category_sources(cur, view, settings),
                           complaints.category_sources(cur, view, settings, rollup=False))
        assert_frame_equal(complaints.weekly_counts(cur, view, 4, settings),
                           complaints.weekly_counts(cur, view, 4, settings, rollup=False))
        for limit in (2, 40) if view in LISTED else ():
            for category in categories:
                assert_frame_equal(complaints.examples(cur, view, category, limit, settings=settings),
                                   complaints.examples(cur, view, category, limit, settings=settings, rollup=False))
            for source in [*sources, "model"]:
                assert_frame_equal(complaints.placed_by(cur, view, source, limit, settings=settings),
                                   complaints.placed_by(cur, view, source, limit, settings=settings, rollup=False))


def test_rollup_equals_raw_after_every_write(new_york: Settings) -> None:
    rng = random.Random(16)
    wh = on_clock(new_york)
    first = _import(wh, "tickets", "desk", _tickets(rng, 400))
    assert_served_equals_raw(wh, new_york)
    categorise(wh, load_taxonomy())
    assert wh.cursor().execute("SELECT count(DISTINCT category_source) FROM tickets").fetchone()[0] >= 3
    assert_served_equals_raw(wh, new_york)
    correct(wh, "desk", "t1", "refund")
    assert_served_equals_raw(wh, new_york)
    # unknown confidences, which sort first: on some tickets of each source
    _kept_write(wh, "UPDATE tickets SET category_confidence = NULL WHERE hash(ticket_id) % 7 = 0")
    assert_served_equals_raw(wh, new_york)
    categorise(wh, load_taxonomy(), redo_guesses=True)
    assert_served_equals_raw(wh, new_york)
    moved = _tickets(rng, 150).with_columns(updated_at=pl.lit(D(2024, 6, 2)))  # to other days, other subjects
    again = _import(wh, "tickets-again", "desk", pl.concat([moved, _tickets(rng, 50, "new")]))
    assert_served_equals_raw(wh, new_york)
    other = _import(wh, "other", "other", _tickets(rng, 100, "o").with_columns(source=pl.lit("other")))
    assert_served_equals_raw(wh, new_york)
    undo_import(wh, again)
    assert_served_equals_raw(wh, new_york)
    clear_source(wh, "other")
    assert_served_equals_raw(wh, new_york)
    with rollups.deferred():
        _import(wh, "more", "desk", _tickets(rng, 80, "m"))
    assert not complaints.complaint_rollup_serves(wh.cursor(), new_york)
    assert rollups.sync(wh, new_york)  # as the next start builds it
    assert_served_equals_raw(wh, new_york)
    london = Settings(_env_file=None, timezone="Europe/London")  # type: ignore[call-arg]
    clock.sync(wh, clock.Clock.of(london))  # every local day moves
    assert_served_equals_raw(wh, london)
    undo_import(wh, first)
    assert_served_equals_raw(wh, london)
    assert other  # (undone with its source)


@pytest.fixture
def march(new_york: Settings) -> Warehouse:
    """T1-T6, all refunds placed by rules, created 1-5 March (T5 and T6 on the 5th, T5 first). Confidence 0.6 but
    T5's (0.9)."""
    created = [D(2024, 3, 1, 17), D(2024, 3, 2, 17), D(2024, 3, 3, 17), D(2024, 3, 4, 17), D(2024, 3, 5, 15),
               D(2024, 3, 5, 19)]
    frame = pl.DataFrame({"ticket_id": [f"T{n}" for n in range(1, 7)], "created_at": created})
    wh = on_clock(new_york)
    _import(wh, "march", "desk", frame.with_columns(source=pl.lit("desk")))
    _kept_write(wh, "UPDATE tickets SET category = 'refund', category_source = 'rules', category_confidence = "
                    "CASE ticket_id WHEN 'T5' THEN 0.9 ELSE 0.6 END")
    return wh


MARCH = mq.Filters(date(2024, 3, 1), date(2024, 3, 31))


def test_least_sure_tickets_come_from_the_newest_days_holding_enough(march: Warehouse, new_york: Settings) -> None:
    # five share the lowest confidence (0.6); the three newest of them, T6 (5th), T4 (4th), T3 (3rd), lie from the
    # 3rd on: those days are read; T5 (0.9) sorts after every one of them
    cur = march.cursor()
    assert complaints._least_sure_days(cur, MARCH, "rules", 3, new_york).start == date(2024, 3, 3)
    found = complaints.placed_by(cur, MARCH, "rules", 3, settings=new_york)
    assert found["ticket_id"].to_list() == ["T6", "T4", "T3"]
    # six asked, five share it: every day is read, and T5 comes last
    assert complaints._least_sure_days(cur, MARCH, "rules", 6, new_york) == MARCH
    assert complaints.placed_by(cur, MARCH, "rules", 6, settings=new_york)["ticket_id"].to_list() == [
        "T6", "T4", "T3", "T2", "T1", "T5"]


def test_unknown_confidences_come_first_and_narrow_only_when_enough(march: Warehouse, new_york: Settings) -> None:
    _kept_write(march, "UPDATE tickets SET category_confidence = NULL WHERE ticket_id IN ('T1', 'T2')")
    cur = march.cursor()
    # two unknown (T2 2nd, T1 1st), newest first: two asked are found from the 1st on
    assert complaints._least_sure_days(cur, MARCH, "rules", 2, new_york).start == date(2024, 3, 1)
    assert complaints._least_sure_days(cur, MARCH, "rules", 1, new_york).start == date(2024, 3, 2)
    # three asked, two unknown: the third is another confidence's, so every day is read
    assert complaints._least_sure_days(cur, MARCH, "rules", 3, new_york) == MARCH
    assert complaints.placed_by(cur, MARCH, "rules", 3, settings=new_york)["ticket_id"].to_list() == [
        "T2", "T1", "T6"]


def test_examples_come_from_the_newest_days_holding_enough(march: Warehouse, new_york: Settings) -> None:
    cur = march.cursor()
    # the two newest refunds are T6 and T5, both of the 5th; three reach back to the 4th (T4)
    assert complaints.examples(cur, MARCH, "refund", 2, settings=new_york)["ticket_id"].to_list() == ["T6", "T5"]
    assert complaints.examples(cur, MARCH, "refund", 3, settings=new_york)["ticket_id"].to_list() == [
        "T6", "T5", "T4"]
    assert complaints.examples(cur, MARCH, "damaged_item", 3, settings=new_york).is_empty()


def test_a_rollup_a_writer_left_behind_is_not_read(march: Warehouse, new_york: Settings) -> None:
    with march.transaction() as cur:  # a write that does not keep it
        cur.execute("UPDATE tickets SET category_source = 'model' WHERE ticket_id = 'T6'")
        Warehouse.bump_version(cur)
    cur = march.cursor()
    assert not complaints.complaint_rollup_serves(cur, new_york)
    sources = complaints.category_sources(cur, MARCH, new_york)
    assert dict(sources.select("category_source", "tickets").iter_rows()) == {"rules": 5, "model": 1}
    assert complaints.placed_by(cur, MARCH, "model", 3, settings=new_york)["ticket_id"].to_list() == ["T6"]
    assert rollups.sync(march, new_york)  # built whole on the next start
    assert_served_equals_raw(march, new_york)
