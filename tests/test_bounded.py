"""Bounded work per request: hostile workbooks stop at the limits while they are read, and hostile links (a century
long event, dates at the ends of the calendar, 100 KB values) are ignored with the same toast as any bad value."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data import raw_tables
from data.raw_tables import FileRejected, Limits, read_table
from tests.conftest import PROJECT, load_fixture, warehouse_file
from tests.test_raw_tables import MAIN, STYLES, TICKET_STRINGS, TICKETS, sheet_xml, xlsx

DASHBOARD = str(PROJECT / "dashboard.py")
PAGES = sorted(f"app_pages/{path.name}" for path in (PROJECT / "app_pages").glob("*.py"))
TIMEOUT = 60
SMALL = Limits(max_bytes=1_000_000, max_rows=1_000, max_columns=10, max_unpacked_bytes=10_000_000)


def rejected(content: bytes, limits: Limits, name: str = "bomb.xlsx") -> str:
    with pytest.raises(FileRejected) as caught:
        read_table(content, name, limits)
    return str(caught.value)


def streamed_xlsx(header: bytes, row: bytes, count: int, dimension: bytes = b"") -> bytes:
    """A workbook whose one sheet is ``header`` then ``row`` repeated ``count`` times, deflated as it is written."""
    buffer = io.BytesIO()
    with (zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
          archive.open("xl/worksheets/sheet1.xml", "w") as sheet):
        sheet.write(f'<worksheet xmlns="{MAIN}">'.encode() + dimension + b"<sheetData>" + header)
        for start in range(0, count, 10_000):
            sheet.write(row * min(10_000, count - start))
        sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


HEADER = b'<row><c t="inlineStr"><is><t>Ticket ID</t></is></c></row>'
ROW = b"<row><c><v>1</v></c></row>"


@pytest.fixture(scope="module")
def million_rows() -> bytes:
    """2,000,000 identical rows and no declared range: 54 MB of XML in about 130 KB (deflate's ratio tops out near
    1,000:1, so more rows would make a bigger file, not a harder one)."""
    return streamed_xlsx(HEADER, ROW, 2_000_000)


@pytest.fixture
def rows_read(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many sheet rows the reader turned into cells."""
    calls = [0]
    real = raw_tables._row_cells

    def counting(*args: object) -> dict[int, str]:
        calls[0] += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(raw_tables, "_row_cells", counting)
    return lambda: calls[0]


# --- XLSX ---------------------------------------------------------------------------------------------------------


def test_bounded_xlsx_bomb_is_refused_by_counting_its_rows_before_parsing_any(million_rows: bytes,
                                                                              rows_read: Callable[[], int]) -> None:
    assert len(million_rows) < 150_000
    message = rejected(million_rows, replace(SMALL, max_unpacked_bytes=100_000_000))  # the rows, not the bytes
    # 1,000 records and as many blank rows, and the header: 2,001 rows at most
    assert message == ("bomb.xlsx: its sheet has more than 2,001 rows, more than the limit of 1,000 records and as "
                       "many blank rows")
    assert rows_read() == 0


def test_bounded_xlsx_bomb_with_excels_most_rows_is_refused_before_parsing_any(rows_read: Callable[[], int]) -> None:
    # with the header, two rows more than a spreadsheet holds (the count lets one <rowBreaks> tag pass)
    bomb = streamed_xlsx(HEADER, ROW, 1_048_577)
    message = rejected(bomb, Limits(100_000_000, 5_000_000, 10, 100_000_000))
    assert message == "bomb.xlsx: its sheet has more than 1,048,576 rows, more than a spreadsheet holds"
    assert rows_read() == 0


def test_bounded_xlsx_records_over_the_limit_stop_the_parse_at_the_first_one(rows_read: Callable[[], int]) -> None:
    book = streamed_xlsx(HEADER, ROW, 1_500)  # few enough rows to pass the count, too many records
    assert rejected(book, SMALL) == "bomb.xlsx: at least 1,001 records, more than the limit of 1,000"
    assert rows_read() == 1 + 1_001  # the header and one record over the limit, not 1,500


def test_bounded_xlsx_bomb_declaring_its_range_is_refused_before_its_rows(rows_read: Callable[[], int]) -> None:
    bomb = streamed_xlsx(HEADER, ROW, 1_500, dimension=b'<dimension ref="A1:A2740001"/>')
    message = rejected(bomb, SMALL)
    assert message == ("bomb.xlsx: its sheet declares rows 1 to 2,740,001 (A1:A2740001), more than the limit of "
                       "1,000 records")
    assert rows_read() == 0


def test_bounded_xlsx_rows_beyond_what_a_spreadsheet_holds_are_refused(rows_read: Callable[[], int]) -> None:
    beyond = xlsx(sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row><row r="1048577"><c r="A1048577"><v>2</v></c>'
                            "</row>"))
    limits = Limits(1_000_000, 5_000_000, 10)
    assert "sheet row 1,048,577 has more rows above it or cells in it than a spreadsheet holds" in rejected(
        beyond, limits)
    assert rows_read() == 1


def test_bounded_xlsx_row_with_more_cells_than_a_spreadsheet_holds_is_refused() -> None:
    wide = xlsx(sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row><row r="2">' + "<c/>" * 16_385 + "</row>"))
    assert "sheet row 2 has more rows above it or cells in it than a spreadsheet holds" in rejected(wide, SMALL)


def test_bounded_xlsx_budget_counts_every_part_as_it_is_unpacked() -> None:
    # Each part alone is within the budget of 1 MB; together they are not: the sheet stops part way.
    strings = tuple(f"text {i:06}" for i in range(40_000))  # ~1.1 MB of <si> before the sheet's 0.6 MB
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>{r}</v></c></row>' for r in range(1, 15_000))
    book = xlsx(sheet_xml(rows), shared=strings[:25_000])
    limits = Limits(1_000_000, 100_000, 10, max_unpacked_bytes=1_000_000)
    assert rejected(book, limits) == ("bomb.xlsx: unpacks to more than 1,000,000 bytes, the limit for a workbook's "
                                      "contents (zip bomb?)")


def test_bounded_xlsx_reads_the_same_cells_when_rows_move_to_polars_in_small_chunks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    whole = read_table(xlsx(TICKETS, TICKET_STRINGS, STYLES), "t.xlsx", SMALL)
    monkeypatch.setattr(raw_tables, "_FLUSH_CELLS", 6)  # one row per chunk: the sheet is six columns wide
    chunked = read_table(xlsx(TICKETS, TICKET_STRINGS, STYLES), "t.xlsx", SMALL)
    assert chunked.frame.rows() == whole.frame.rows() and chunked.frame.height == 3
    assert chunked.frame.columns == whole.frame.columns


# --- links --------------------------------------------------------------------------------------------------------


@pytest.fixture
def fixture_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_streamlit_caches: None) -> Iterator[None]:
    warehouse_file(monkeypatch, tmp_path / "bounded.duckdb", load_fixture)
    yield


def _app(page: str | None = None, **query: str | list[str]) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    if page:
        app.switch_page(page).run()
    _no_error(app, page or "first run")
    return app


def _no_error(app: AppTest, where: str) -> None:
    assert not app.exception, where
    assert not app.error, (where, [e.value for e in app.error])


def _toasts(app: AppTest) -> list[str]:
    return [toast.value for toast in app.toast]


# The fixture's tickets and orders are created 2024-02-20 .. 2024-03-11, so a link may ask for a year (366 days)
# either side: 2023-02-19 .. 2025-03-12. The default view is the 30 days up to the newest day, 2024-02-11 .. 03-11.
BOUNDS = "expected YYYY-MM-DD from 2023-02-19 to 2025-03-12 (the data's dates and a year either side)"


@pytest.mark.parametrize("key, text", [("start", "0001-01-01"), ("end", "9999-12-31"), ("start", "9999-12-31"),
                                       ("end", "1900-01-01"), ("start", "2023-02-18"), ("end", "2025-03-13")])
def test_bounded_link_date_beyond_the_data_is_ignored_on_every_page(fixture_app: None, key: str, text: str) -> None:
    app = _app(**{key: text})
    assert _toasts(app) == [f"Ignored the link's {key} date {text!r}: {BOUNDS}."]
    assert app.date_input(key="start").value.isoformat() == "2024-02-11"
    assert app.date_input(key="end").value.isoformat() == "2024-03-11"
    for page in PAGES:
        app.switch_page(page).run()
        _no_error(app, page)


def test_bounded_link_dates_at_the_bounds_are_kept(fixture_app: None) -> None:
    app = _app(start="2023-02-19", end="2025-03-12")
    assert not _toasts(app)
    assert (app.date_input(key="start").value.isoformat(), app.date_input(key="end").value.isoformat()) == (
        "2023-02-19", "2025-03-12")


@pytest.mark.parametrize("event, why", [
    ("Century|1925-01-01|2025-12-31", "its dates must lie from 2023-02-19 to 2025-03-12"),
    ("Far|9999-01-01|9999-12-31", "its dates must lie from 2023-02-19 to 2025-03-12"),
    ("Early|0001-01-01|0001-01-31", "its dates must lie from 2023-02-19 to 2025-03-12"),
    # 2023-03-01 .. 2024-03-01 is 366 days (29 Feb 2024 between), .. 2025-03-01 365 more, both ends counted: 732
    ("Two years|2023-03-01|2025-03-01", "it spans 732 days, and an event spans at most 366"),
])
def test_bounded_staffing_event_too_long_or_beyond_the_data_is_ignored(fixture_app: None, event: str,
                                                                      why: str) -> None:
    app = _app("app_pages/staffing.py", event=event)
    assert any(toast.startswith(f"Ignored the link's event {event!r}: {why}") for toast in _toasts(app)), _toasts(app)
    peaks = app.selectbox(key="peak").options if "peak" in [box.key for box in app.selectbox] else []
    assert not any("custom" in option for option in peaks)


def test_bounded_staffing_event_of_a_year_is_kept(fixture_app: None) -> None:
    # 2023-03-12 .. 2024-03-12 is 366 days (29 Feb 2024 between), so to 03-11 with both ends counted is 366 days
    app = _app("app_pages/staffing.py", event="Year|2023-03-12|2024-03-11")
    assert not _toasts(app)
    assert app.selectbox(key="peak").value == "custom-2023-03-12-2024-03-11-year"


@pytest.mark.parametrize("key, named", [("start", "start date"), ("kpi", "'kpi'"), ("event", "'event'"),
                                        ("sl", "'sl'"), ("channel", "'channel'")])
def test_bounded_link_value_of_100_kb_is_ignored_at_once(fixture_app: None, key: str, named: str) -> None:
    text = "9" * 100_000  # digits: int() of more than 4,300 digits raises, so a number slider is covered too
    app = _app(**{key: text})
    assert _toasts(app) == [f"Ignored the link's {named}: 100,000 characters, more than 200."]
    assert key not in app.query_params
    for page in ("app_pages/trends.py", "app_pages/staffing.py"):
        app.switch_page(page).run()
        _no_error(app, page)


def test_bounded_link_parameter_repeated_too_often_is_ignored(fixture_app: None) -> None:
    app = _app(channel=["email"] * 1_000)
    assert _toasts(app) == ["Ignored the link's 'channel': 1,000 values, more than 50."]
    assert app.multiselect(key="channel").value == []
