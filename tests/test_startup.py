"""What a start of the dashboard must not pay for: a model trained for the demo store, heavy modules the Overview
does not use. (How long a start takes is measured by bench/startup.py, not here.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from data import demo
from data.categorising import categorise
from data.classifier import RulesClassifier, TicketModel, load_taxonomy
from data.ingest import import_batch
from data.warehouse import Warehouse
from settings import DEFAULT_COUNTRY, SettingsError, load_settings
from tests.conftest import PROJECT


def _every_demo_text() -> pl.DataFrame:
    """Each template of each category with each product, naming an order and not."""
    rows = [(slug, subject.format(ref=ref, product=product), description.format(ref=ref, product=product))
            for slug, templates in demo.TEMPLATES.items() for subject, description in templates
            for product in (item[1] for item in demo.CATALOG) for ref in (" #1042", "")]
    return pl.DataFrame(rows, schema=["written_for", "subject", "description"], orient="row")


def test_demo_texts_are_each_placed_by_the_rules_in_the_category_they_were_written_for() -> None:
    texts = _every_demo_text()
    placed = RulesClassifier(load_taxonomy()).predict(texts)["category"]
    assert texts.height == 17 * 3 * 30 * 2
    assert (placed == texts["written_for"]).all(), texts.filter(placed != texts["written_for"]).head()


def test_categorising_the_demo_store_trains_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agents left 30 % of the demo tickets untagged; the rules place them all, so nothing waits for a model
    (training one took 10 of the 12 seconds of a first start)."""
    def no_training(*args: object, **kwargs: object) -> TicketModel:
        raise AssertionError("a model was trained")

    monkeypatch.setattr(TicketModel, "train", no_training)
    wh = Warehouse()
    import_batch(wh, demo.demo_batch(salt="startup"))
    result = categorise(wh, load_taxonomy())
    untagged = wh.cursor().execute("SELECT count(*) FROM tickets WHERE category_exported IS NULL").fetchone()[0]
    assert result.by_source.get("rules") == untagged > 0
    assert set(result.by_source) == {"rules"}  # the import placed the tagged ones as it wrote them


def test_default_country_has_a_holiday_calendar() -> None:
    """Settings take the default without looking it up in holidays; this is the look-up they skip."""
    import holidays

    assert DEFAULT_COUNTRY in holidays.list_supported_countries()
    assert load_settings().country == DEFAULT_COUNTRY


def test_a_country_without_a_holiday_calendar_is_still_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPULSE_COUNTRY", "XX")
    with pytest.raises(SettingsError, match="CSPULSE_COUNTRY"):
        load_settings()
    monkeypatch.setenv("CSPULSE_COUNTRY", "de")
    assert load_settings().country == "DE"


# Run in a fresh interpreter: this test process has imported them all already.
_FIRST_START = f"""
import gc, json, sys, tomllib
from streamlit import config
from streamlit.testing.v1 import AppTest
from data import rollups
from ui import widgets
built = []  # every build or refresh of the ticket rollup over tickets (the clock's of an empty file costs nothing)
events = []  # in order: each row of KPI tiles drawn, each build or refresh of the ticket rollup
def counted(real):
    def run(cur, *args, **kwargs):
        if cur.execute("SELECT count(*) FROM tickets").fetchone()[0]:
            built.append(real.__name__)
            events.append(real.__name__)
        return real(cur, *args, **kwargs)
    return run
rollups.rebuild, rollups._refresh = counted(rollups.rebuild), counted(rollups._refresh)
def drawn(real):
    def draw(*args, **kwargs):
        events.append("tiles")
        return real(*args, **kwargs)
    return draw
widgets.kpi_row = drawn(widgets.kpi_row)
# the project's config.toml, as conftest gives every AppTest (on every interface, the page would stop at the gate)
options = tomllib.loads(open({str(PROJECT / ".streamlit" / "config.toml")!r}, encoding="utf-8").read())
for section, values in options.items():
    for key, value in values.items():
        config.set_option(f"{{section}}.{{key}}", value, "project config.toml")
from data.warehouse import Warehouse
opening = []  # set once the run begins to open the warehouse
def opened(real):
    def open_(*args, **kwargs):
        opening.append(True)
        return real(*args, **kwargs)
    return open_
Warehouse.__init__ = opened(Warehouse.__init__)
collections = []  # each automatic collection once the warehouse began to open: whether before the freeze
def collecting(phase, info):
    if phase == "start" and opening:
        collections.append(gc.get_freeze_count() == 0)
gc.callbacks.append(collecting)
app = AppTest.from_file({str(PROJECT / "dashboard.py")!r}, default_timeout=300).run()
gc.callbacks.remove(collecting)
tiles = {{metric.label: metric.value for metric in app.metric}}
heavy = ("sklearn", "scipy", "holidays", "data.cli", "data.plans", "data.demo", "data.format_types",
         "data.raw_tables")
print(json.dumps({{"exception": bool(app.exception), "errors": [e.value for e in app.error],
                  "tickets": tiles.get("Tickets created"), "tiles": tiles, "rollup_builds": built, "events": events,
                  "loaded": [name for name in heavy if name in sys.modules], "frozen": gc.get_freeze_count(),
                  "collected_before_freeze": collections.count(True), "collected_after": collections.count(False),
                  "collecting": gc.isenabled()}}))
"""


def _start(folder: Path) -> dict[str, object]:
    """What a new dashboard process drew and imported on its first run, over the warehouse in ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}  # the warehouse: conftest's file in tmp_path
    done = subprocess.run([sys.executable, "-c", _FIRST_START], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_first_start_draws_the_demo_overview_without_the_heavy_modules(tmp_path: Path) -> None:
    """On an empty warehouse: the demo store is built, categorised and linked, the Overview drawn, and neither
    scikit-learn (with scipy), holidays, the readers of data.cli nor the file readers behind the import page were
    imported for it; the demo generator was, to build the store."""
    outcome = _start(tmp_path)
    assert outcome["exception"] is False and outcome["errors"] == []
    assert int(outcome["tickets"].replace(",", "")) > 100
    assert outcome["loaded"] == ["data.demo"]
    # built once, after the import, categorising and linking (each kept it, working out every day: three times)
    assert outcome["rollup_builds"] == ["rebuild"]


def test_a_first_start_draws_the_tiles_from_raw_rows_and_builds_the_rollups_after_the_page(tmp_path: Path) -> None:
    """The demo store's rollups wait until the first page is drawn: every row of tiles comes before the one build,
    read from raw rows, and a later start, which reads the rollups the first one built, draws the same values."""
    first, later = _start(tmp_path), _start(tmp_path)
    assert first["events"].count("tiles") >= 2 and first["events"][-1] == "rebuild"
    assert first["events"].count("rebuild") == 1
    assert later["events"] == ["tiles"] * first["events"].count("tiles")  # nothing built: the first start kept them
    assert later["tiles"] == first["tiles"] and len(first["tiles"]) > 10


def test_a_later_start_does_not_import_the_demo_generator(tmp_path: Path) -> None:
    """On the warehouse a first start filled, the next start draws the same Overview without the generator."""
    first, later = _start(tmp_path), _start(tmp_path)
    assert later["exception"] is False and later["errors"] == []
    assert later["tickets"] == first["tickets"]
    assert later["loaded"] == []
    assert later["rollup_builds"] == []  # the first start left it current


def test_a_start_leaves_the_imported_modules_out_of_the_collections_after_each_run(tmp_path: Path) -> None:
    """The server collects garbage after every script run; the objects a start made to stay (the modules, pandas
    among them) are frozen out of it once the warehouse is open: tens of thousands, not a few."""
    first, later = _start(tmp_path), _start(tmp_path)
    assert first["frozen"] > 50_000 and later["frozen"] > 50_000


def test_a_start_opens_the_warehouse_without_garbage_collections_and_collects_again_after(tmp_path: Path) -> None:
    """While a start opens the warehouse (and builds the demo store on a first start) no automatic collection walks
    the objects the start is making; they come back once it is open, for the page and every later run."""
    first, later = _start(tmp_path), _start(tmp_path)
    for start in (first, later):
        assert start["collected_before_freeze"] == 0
        assert start["collecting"] is True
        assert start["collected_after"] > 0  # the page, once the warehouse was open, was collected as usual


# The moment bench/startup.py reads as the end of the browser's and Streamlit's share of a start.
_RUN_BEGAN = f"""
import json, logging, sys
from streamlit.testing.v1 import AppTest
began = []  # per "first run began" logged: whether the project's modules were loaded by then
class Began(logging.Handler):
    def emit(self, record):
        if record.getMessage() == "first run began":
            began.append([name for name in ("ui.session", "data.warehouse", "polars") if name in sys.modules])
logging.getLogger("cspulse").addHandler(Began())
app = AppTest.from_file({str(PROJECT / "dashboard.py")!r}, default_timeout=300)
app.run()
app.run()
print(json.dumps(began))
"""


def test_a_process_logs_that_its_first_run_began_once_before_it_loads_the_project(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", _RUN_BEGAN], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[]]  # two runs, one line, nothing loaded yet
