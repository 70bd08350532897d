"""The emailable report: the pure builder, `python -m metrics.report --html` on a real warehouse file, and the
page's download button under AppTest. Its offline opening in Chromium is tests/test_browser_report.py."""

from __future__ import annotations

from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs
from streamlit.testing.v1 import AppTest

import html_report
from metrics.query import Filters
from metrics.registry import BY_NAME
from metrics.tiles import Tile, tiles
from tests.conftest import PROJECT, load_fixture, warehouse_file
from tests.test_report import _run

HOSTILE = '</script><img src=x onerror="alert(1)">'
BUNDLE = get_plotlyjs()
VOID = {"meta", "img", "br", "hr", "input", "link"}  # elements without an end tag


class _Document(HTMLParser):
    """What a browser would make of the document: its elements, their attributes, the text of each tile part."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.classed: dict[str, list[str]] = {}
        self._open: list[str | None] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self._open.append(dict(attrs).get("class"))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        inside = next((name for name in reversed(self._open) if name), None)  # the nearest element with a class
        if inside and data.strip():
            self.classed.setdefault(inside, []).append(data)


def _tile(label: str, value: str, delta: str | None, name: str, definition: str = "Its definition.") -> Tile:
    return Tile(label, value, delta, BY_NAME[name], definition)


def _figure(label: str = "email") -> go.Figure:
    return go.Figure(go.Bar(x=[3], y=[label], orientation="h"))


def _header() -> list[str]:
    filters = Filters(start=date(2024, 3, 4), end=date(2024, 3, 10), channel=("email", "chat"), category=("refund",))
    return html_report.header_lines(filters, {"refund": "Refund request"}.get, "Europe/Berlin", date(2024, 3, 11),
                                    datetime(2024, 3, 12, 8, 30))


# --- the builder ----------------------------------------------------------------------------------------------------
def test_builder_writes_each_tile_with_its_value_change_and_definition_in_order() -> None:
    row = [_tile("Tickets created", "4", "+3 (+300%)", "tickets_created", "Tickets created in the period."),
           _tile("First reply (median)", "20 min", "-1.7 h", "first_reply_minutes_median")]
    found = _Document(html_report.build("Overview", [], [row]))
    assert found.classed["label"] == ["Tickets created", "First reply (median)"]
    assert found.classed["value"] == ["4", "20 min"]
    assert found.classed["definition"][0] == "Tickets created in the period."
    # a count of tickets is neither good nor bad; a first reply 1.7 h faster is good, as the page colours them
    assert found.classed["delta flat"] == ["+3 (+300%)"] and found.classed["delta good"] == ["-1.7 h"]


def test_builder_colours_a_rise_of_a_lower_is_better_kpi_as_bad() -> None:
    found = _Document(html_report.build("Overview", [], [[_tile("Backlog", "3", "+1 (+50%)", "backlog")]]))
    assert found.classed["delta bad"] == ["+1 (+50%)"]


def test_builder_escapes_labels_header_lines_and_chart_titles_from_the_data() -> None:
    document = html_report.build(HOSTILE, [HOSTILE], [[_tile(HOSTILE, HOSTILE, HOSTILE, "csat", HOSTILE)],
                                                      html_report.Chart(HOSTILE, _figure(HOSTILE))])
    found = _Document(document)
    assert not [tag for tag, _ in found.tags if tag == "img"]
    assert found.classed["label"] == [HOSTILE]  # shown as text, not run
    # the bundle, the figure's own script, nothing else: the agent name stays inside the figure's JSON
    assert len(found.scripts) == 2 and "\\u003c\\u002fscript\\u003e" in found.scripts[1]


def test_builder_header_says_the_dates_each_filter_the_data_date_and_when_it_was_made() -> None:
    assert _header() == [
        "04 Mar 2024 – 10 Mar 2024 (7 days), compared with the 7 days before. Times in Europe/Berlin.",
        "Channels: email, chat", "Categories: Refund request", "Priorities: all", "Data up to 11 Mar 2024",
        "Generated 12 Mar 2024 08:30 (Europe/Berlin)"]
    found = _Document(html_report.build("Trends", _header(), []))
    assert "Channels: email, chat" in found.classed["header"]


def test_builder_inlines_plotly_js_once_for_several_charts() -> None:
    document = html_report.build("Orders", [], [html_report.Chart("A", _figure()), html_report.Chart("B", _figure())])
    found = _Document(document)
    assert document.count(BUNDLE) == 1 and found.scripts[0] == BUNDLE
    assert sum("Plotly.newPlot" in script for script in found.scripts) == 2
    assert not [attrs for tag, attrs in found.tags if tag == "script" and "src" in attrs]


def test_builder_document_names_no_address_outside_the_plotly_bundle() -> None:
    """The bundle's own code mentions URLs (map styles, licences) that only map charts would fetch; it is told apart
    by being exactly get_plotlyjs(), and everything else must name no address at all."""
    document = html_report.build("Overview", _header(), [[_tile("Orders", "3", None, "orders")],
                                                         html_report.Chart("Tickets by channel", _figure())])
    rest = document.replace(BUNDLE, "", 1)
    assert BUNDLE not in rest
    for word in ("http:", "https:", "//cdn", "@import", "url("):
        assert word not in rest, word
    linking = {"src", "href", "action", "srcset", "poster", "data"}
    assert [(tag, attrs) for tag, attrs in _Document(rest).tags if linking & set(attrs)] == []
    assert "default-src 'none'" in document  # and the browser is told to refuse any request anyway


def test_builder_draws_a_figure_made_in_the_app_on_plotlys_own_template() -> None:
    """Streamlit's template (the default once streamlit is imported) holds placeholder colours its frontend swaps."""
    import streamlit  # noqa: F401  # sets pio.templates.default = "streamlit", as in the app

    made_in_the_app = go.Figure(go.Bar(x=[1], y=[2]), layout={"template": "streamlit"})
    assert "#000001" in made_in_the_app.to_json()
    document = html_report.build("Trends", [], [html_report.Chart("A", made_in_the_app)])
    figure = _Document(document).scripts[1]
    assert "#000001" not in figure and "#636efa" in figure  # Plotly's first colour
    assert made_in_the_app.layout.template.layout.colorway[0] == "#000001"  # the page's figure is left alone


def test_builder_says_so_when_a_page_drew_nothing_to_report() -> None:
    assert "This page drew no KPI tiles or charts." in html_report.build("Import", [], [])


# --- the tiles, worked out once ------------------------------------------------------------------------------------
def test_tiles_mark_a_small_sample_and_give_one_tile_per_currency() -> None:
    compared = {"csat": (2 / 3, 0.5), "average_order_value": ({"USD": 70.0, "EUR": 80.0}, {"USD": 50.0})}
    found = tiles(["csat", "average_order_value"], compared, {"csat_n": 3}, min_sample=20)
    assert [(t.label, t.value, t.delta) for t in found] == [
        ("CSAT · n=3", "66.7%", "+16.7 pp"), ("Average order value (EUR)", "EUR 80.00", None),
        ("Average order value (USD)", "USD 70.00", "+USD 20.00 (+40%)")]
    assert found[0].definition.endswith("Based on 3 tickets. Fewer than 20: an indication, not a result.")


# --- python -m metrics.report --html ------------------------------------------------------------------------------
@pytest.fixture
def fixture_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return warehouse_file(monkeypatch, tmp_path / "report.duckdb", load_fixture)


def test_report_html_holds_the_overviews_tiles_for_the_given_week(fixture_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "overview.html"
    done = _run("--html", str(out), "--db", str(fixture_db), "--start", "2024-03-04", "--end", "2024-03-10")
    assert done.returncode == 0, done.stderr
    found = _Document(out.read_text(encoding="utf-8"))
    # Worked out by hand in tests/conftest.py for the week 03-04..03-10; every rate rests on fewer than 20 tickets.
    # Contacts per 100 orders: 4 tickets / 3 orders x 100 = 133.3. Resolution median 1440 min = 24.0 h.
    assert dict(zip(found.classed["label"], found.classed["value"], strict=True)) == {
        "Tickets created": "4", "Tickets solved": "3", "Backlog": "3", "First reply (median) · n=4": "20 min",
        "First reply (p90) · n=4": "51 min", "Resolution (median) · n=3": "24.0 h", "Resolution rate · n=4": "75.0%",
        "One-touch rate · n=3": "33.3%", "Reopen rate · n=3": "33.3%", "CSAT · n=3": "66.7%", "Orders": "3",
        "Average order value (EUR)": "EUR 80.00", "Average order value (USD)": "USD 70.00",
        "Contacts per 100 orders": "133.3"}
    assert found.classed["header"][0].startswith("04 Mar 2024 – 10 Mar 2024 (7 days)")
    assert "Data up to 11 Mar 2024" in found.classed["header"]
    text = out.read_text(encoding="utf-8")
    assert "<h2>Tickets and first reply time</h2>" in text and "<h2>Tickets by channel</h2>" in text
    assert text.count(BUNDLE) == 1


def test_report_html_into_a_missing_folder_exits_2_with_one_line(fixture_db: Path, tmp_path: Path) -> None:
    done = _run("--html", str(tmp_path / "nope" / "out.html"), "--db", str(fixture_db))
    assert done.returncode == 2 and "cannot write" in done.stderr and "Traceback" not in done.stderr


# --- the button in the app ------------------------------------------------------------------------------------------
PAGES = sorted(f"app_pages/{path.name}" for path in (PROJECT / "app_pages").glob("*.py"))
BUTTON = "Download this view (HTML)"


@pytest.mark.usefixtures("fresh_streamlit_caches")
def test_every_page_has_one_report_button_also_a_page_that_stops_early(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse_file(monkeypatch, tmp_path / "pages.duckdb", load_fixture)
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60).run()
    for page in PAGES:
        app.switch_page(page).run()
        assert [button.label for button in app.sidebar.get("download_button")].count(BUTTON) == 1, page
    # the fixture has no peak to plan for: the Staffing page stops after its picker, and still offers the report
    assert "app_pages/staffing.py" in PAGES and not app.switch_page("app_pages/staffing.py").run().get("plotly_chart")


@pytest.mark.usefixtures("fresh_streamlit_caches")
def test_overview_report_records_exactly_the_tiles_and_charts_the_page_drew(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse_file(monkeypatch, tmp_path / "pages.duckdb", load_fixture)
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60).run()
    app.run()  # a second run must not add to the first run's record
    blocks = app.session_state["_report_blocks"]
    recorded = [tile for block in blocks if not isinstance(block, html_report.Chart) for tile in block]
    assert [(tile.label, tile.value) for tile in recorded] == [(m.label, m.value) for m in app.metric]
    assert [block.title for block in blocks if isinstance(block, html_report.Chart)] == [
        "Tickets and first reply time", "Tickets by channel"]
    assert len(app.get("plotly_chart")) == 2
