"""One command-line import of tickets that only their text places is one write: the import and the placing by text
in one transaction, the rollups worked out once for both (a categorising after the commit worked them out again:
the whole rollup past a slice of tickets). The categories are those an import and a categorise() after it give."""

from __future__ import annotations

from pathlib import Path

import pytest

from data import categorising, rollups
from data.categorising import categorise, current_taxonomy
from data.cli import import_paths, open_on_clock
from data.warehouse import Warehouse
from settings import Settings, load_settings
from tests.conftest import NEW_YORK
from tests.test_categorising_at_import import categories
from tests.test_cli import ZENDESK_HEADER
from tests.test_rollups import _assert_rollup_equals_raw

# tagged tickets (an alias places them at import), and subjects the rules place or leave to the model
TAGS = ["refund", "rma", "", "vip", "", "refund vip", "", "rma"]
SUBJECTS = ["Where is my order?", "Hello there", "I want my money back", "Quick question", "cancel my order please",
            "Package arrived damaged", "Hi", "Follow up"]


def _csv(path: Path, rows: int) -> Path:
    lines = "".join(f"{i},c{i}@example.com,{SUBJECTS[i % len(SUBJECTS)]},solved,Normal,Mail,"
                    f"2024-03-{1 + i % 28:02d} 09:00:00,2024-03-{1 + i % 28:02d} 09:00:00,2024-04-01 10:00:00,1,0,"
                    f"{5 + i % 50},{60 + i},Good,\"{TAGS[(i // 3) % len(TAGS)]}\"\n" for i in range(1, rows + 1))
    path.write_text(ZENDESK_HEADER.replace("\n", ",Tags\n") + lines)
    return path


def _settings(**changes: object) -> Settings:
    return load_settings(_env_file=None, timezone=NEW_YORK, **changes)


def _count_rollup_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every whole build of the ticket rollup and every refresh of noted days, in order."""
    done: list[str] = []
    for name in ("rebuild", "_refresh_noted"):
        original = getattr(rollups, name)

        def counted(*args: object, _original=original, _name=name, **kwargs: object) -> object:
            done.append(_name)
            return _original(*args, **kwargs)
        monkeypatch.setattr(rollups, name, counted)
    return done


@pytest.mark.parametrize("slice_rows", [categorising.CHUNK_ROWS, 50])
def test_a_cli_import_of_tickets_placed_by_their_text_works_out_the_rollups_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_rows: int) -> None:
    """Few tickets (the categorising kept the rollup's days: a refresh after the import's build) or more than a
    slice (it rebuilt the whole rollup): either way once now."""
    monkeypatch.setattr(categorising, "CHUNK_ROWS", slice_rows)
    csv, db, settings = _csv(tmp_path / "tickets.csv", 240), tmp_path / "w.duckdb", _settings()
    open_on_clock(db, settings).close()  # a new file's empty rollup is built when it opens, not by the import
    done = _count_rollup_work(monkeypatch)
    [result] = import_paths([str(csv)], db, settings, taxonomy=current_taxonomy())
    assert result.status == "imported" and result.inserted == 240
    assert done == ["rebuild"]  # the first import of a source changes which sources measure a column: whole

    wh = Warehouse(db)
    assert wh.cursor().execute("SELECT count(*) FROM tickets WHERE category_source IS NULL").fetchone()[0] == 0
    sources = {source for _, source, _ in categories(wh).values()}
    assert {"mapping", "rules"} <= sources  # tags placed some, the text others: the test says something
    _assert_rollup_equals_raw(wh, settings, ["tickets_created", "wismo_tickets"])
    wh.close()


def test_a_cli_import_places_the_tickets_as_an_import_and_a_categorise_after_it(tmp_path: Path) -> None:
    csv, settings = _csv(tmp_path / "tickets.csv", 240), _settings()
    import_paths([str(csv)], tmp_path / "one.duckdb", settings, taxonomy=current_taxonomy())
    import_paths([str(csv)], tmp_path / "two.duckdb", settings)  # no taxonomy: the text ones left pending
    found = {}
    for name in ("one", "two"):
        wh = Warehouse(tmp_path / f"{name}.duckdb")
        if name == "two":
            assert categorise(wh, current_taxonomy()).tickets > 0
        found[name] = categories(wh)
        wh.close()
    assert found["one"] == found["two"]


def test_a_cli_import_into_a_warehouse_with_tickets_refreshes_the_days_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later export of the same source: the import's days worked out again, once, placing by text included."""
    db, settings = tmp_path / "w.duckdb", _settings()
    import_paths([str(_csv(tmp_path / "first.csv", 120))], db, settings, taxonomy=current_taxonomy())
    done = _count_rollup_work(monkeypatch)
    [result] = import_paths([str(_csv(tmp_path / "second.csv", 240))], db, settings, taxonomy=current_taxonomy())
    assert (result.inserted, result.unchanged) == (120, 120)
    assert done == ["_refresh_noted"]
    wh = Warehouse(db)
    _assert_rollup_equals_raw(wh, settings, ["tickets_created", "wismo_tickets"])
    wh.close()


def test_a_cli_import_into_a_new_file_builds_the_rollups_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new file's rollups are not built empty when it opens: its first import builds them whole anyway."""
    settings = _settings()
    done = _count_rollup_work(monkeypatch)
    [result] = import_paths([str(_csv(tmp_path / "tickets.csv", 60))], tmp_path / "new.duckdb", settings,
                            taxonomy=current_taxonomy())
    assert result.status == "imported" and done == ["rebuild"]
    wh = Warehouse(tmp_path / "new.duckdb")
    assert rollups.is_current(wh.cursor())
    _assert_rollup_equals_raw(wh, settings, ["tickets_created", "wismo_tickets"])
    wh.close()

    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,ticket,export\n1,2,3,4\n")
    [rejected] = import_paths([str(bad)], tmp_path / "empty.duckdb", settings, taxonomy=current_taxonomy())
    assert rejected.status == "rejected"
    wh = Warehouse(tmp_path / "empty.duckdb")
    rollups.sync(wh)  # what the next start does, where no write after the rejection built them
    assert rollups.is_current(wh.cursor()) and wh.is_empty()
    wh.close()


def test_a_placing_that_fails_leaves_nothing_of_the_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The placing is part of the import's transaction: all of it or nothing, and the same file again imports."""
    db, csv, settings = tmp_path / "w.duckdb", _csv(tmp_path / "tickets.csv", 60), _settings()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the classifier broke")
    with monkeypatch.context() as patched:
        patched.setattr(categorising, "_place", broken)
        with pytest.raises(RuntimeError, match="classifier broke"):
            import_paths([str(csv)], db, settings, taxonomy=current_taxonomy())
    wh = Warehouse(db)
    assert wh.is_empty() and wh.imports().height == 0
    wh.close()
    [result] = import_paths([str(csv)], db, settings, taxonomy=current_taxonomy())
    assert (result.status, result.inserted) == ("imported", 60)
