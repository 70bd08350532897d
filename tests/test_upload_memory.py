"""The Import page moves a dropped file's bytes to a private temp file at once and lets go of Streamlit's copy; it
reads the file again from there, deletes it once imported or removed, reads workbooks in a child process, and refuses
to keep several files at once that together pass the upload limit. (How much memory that returns is measured by
bench/upload_memory.py, not here.)"""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import pytest
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit.testing.v1 import AppTest

from data.uploads import ReceivedFile
from data.warehouse import Warehouse
from tests.conftest import PROJECT, use_warehouse
from tests.test_bounded import HEADER, ROW, streamed_xlsx
from tests.test_read_worker import xlsx_of_csv
from ui import imports

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
DASHBOARD = str(PROJECT / "dashboard.py")
TICKETS = PROJECT / "tests" / "fixtures" / "tickets" / "zendesk_trimmed.csv"  # tickets 201-204
# orders #1001-#1003 on 6 records (line items), one of them over two lines (a quoted note)
ORDERS = PROJECT / "tests" / "fixtures" / "orders" / "shopify_three_orders.csv"


@pytest.fixture
def empty_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CSPULSE_LOAD_DEMO_WHEN_EMPTY", "false")
    path = tmp_path / "empty.duckdb"
    use_warehouse(monkeypatch, path)
    return path


@pytest.fixture
def released(monkeypatch: pytest.MonkeyPatch) -> list[tuple[MemoryUploadedFileManager, str]]:
    """The file ids the page removes from Streamlit's store of uploaded bytes, with the store."""
    ids: list[tuple[MemoryUploadedFileManager, str]] = []
    remove = MemoryUploadedFileManager.remove_file

    def recording(self: MemoryUploadedFileManager, session_id: str, file_id: str) -> None:
        ids.append((self, file_id))
        remove(self, session_id, file_id)

    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file", recording)
    return ids


def _import_page() -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    return app.switch_page("app_pages/imports.py").run()


def _drop(app: AppTest, *files: Path | tuple[str, bytes]) -> AppTest:
    named = [(f.name, f.read_bytes()) if isinstance(f, Path) else f for f in files]
    return app.file_uploader[0].set_value([(name, content, "text/csv") for name, content in named]).run()


def _metric(app: AppTest, label: str) -> str:
    return next(metric.value for metric in app.metric if metric.label == label)


def _import_buttons(app: AppTest) -> list[str]:
    return [str(button.key) for button in app.button if str(button.key).startswith("import_")]


def _received(app: AppTest) -> list[ReceivedFile]:
    return list(app.session_state["_received"].files)


def test_import_page_moves_a_dropped_file_to_a_private_temp_file_and_lets_go_of_its_bytes(
        empty_warehouse: Path, released: list[tuple[MemoryUploadedFileManager, str]]) -> None:
    app = _drop(_import_page(), TICKETS)
    assert not app.exception
    [(store, _)] = released
    assert not any(store.file_storage.values())  # Streamlit holds none of the bytes
    [fresh] = app.file_uploader
    assert fresh.key == "uploads_1" and not fresh.value  # a new, empty uploader
    [file] = _received(app)
    assert (file.name, file.size) == ("zendesk_trimmed.csv", 467)
    assert file.path.read_bytes() == TICKETS.read_bytes()
    assert file.path.stat().st_mode & 0o777 == 0o600 and file.path.is_relative_to(tempfile.gettempdir())
    assert any(text.value == "📄 zendesk_trimmed.csv" for text in app.markdown)  # listed on the page
    assert len(_import_buttons(app)) == 1  # read from the temp file


def test_import_page_holds_no_uploaded_file_object_while_it_reads(empty_warehouse: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[int] = []
    real = imports._raw_table

    def counting(*args: object) -> object:
        gc.collect()
        # Streamlit's file objects (BytesIO over the upload's bytes), which the widget's stored value keeps
        held.append(sum(isinstance(found, UploadedFile) for found in gc.get_objects()))
        return real(*args)

    monkeypatch.setattr(imports, "_raw_table", counting)
    app = _drop(_import_page(), TICKETS)
    assert held == [0] and len(_import_buttons(app)) == 1


def test_import_page_reads_the_temp_file_again_when_the_source_changes(empty_warehouse: Path) -> None:
    app = _drop(_import_page(), TICKETS)
    app.selectbox(key="import_source").set_value("freshdesk").run()
    assert not app.exception and not _import_buttons(app)
    assert any("do not look like" in warning.value for warning in app.warning)  # read as a Freshdesk export
    app.selectbox(key="import_source").set_value("zendesk").run()
    [button] = _import_buttons(app)
    app.button(key=button).click().run()
    assert _metric(app, "Inserted") == "4" == str(Warehouse(empty_warehouse).row_count("tickets"))


def test_import_page_deletes_the_temp_file_once_imported(empty_warehouse: Path) -> None:
    app = _drop(_import_page(), TICKETS)
    [file] = _received(app)
    [button] = _import_buttons(app)

    app.button(key=button).click().run()
    assert not app.exception
    assert "_plans" not in app.session_state and not _received(app) and not file.path.exists()
    assert not _import_buttons(app)
    # the result stays in sight, from the warehouse's own count
    assert any("zendesk_trimmed.csv" in text.value for text in app.markdown)
    assert _metric(app, "Inserted") == "4" == str(Warehouse(empty_warehouse).row_count("tickets"))


def test_import_page_remove_deletes_the_temp_file_and_its_plan(empty_warehouse: Path) -> None:
    app = _drop(_import_page(), TICKETS, ORDERS)
    tickets, orders = _received(app)
    app.button(key=f"remove_{tickets.file_id}").click().run()
    assert not app.exception
    assert _received(app) == [orders] and not tickets.path.exists() and orders.path.exists()
    assert len(_import_buttons(app)) == 1  # the orders' card alone
    assert not any("zendesk_trimmed.csv" in text.value for text in app.markdown)


def test_import_page_keeps_the_files_while_another_waits_for_its_import(empty_warehouse: Path) -> None:
    app = _drop(_import_page(), TICKETS, ORDERS)
    assert not app.exception
    first, second = _import_buttons(app)

    app.button(key=first).click().run()
    assert not app.exception
    assert len(_received(app)) == 2  # the other file is still there to import
    assert "_plans" in app.session_state

    app.button(key=second).click().run()
    assert not app.exception
    assert not _received(app) and "_plans" not in app.session_state
    assert sorted(metric.value for metric in app.metric if metric.label == "Records read") == ["4", "6"]


def test_import_page_reads_a_workbook_in_a_child_as_it_reads_the_csv(empty_warehouse: Path) -> None:
    app = _drop(_import_page(), ("zendesk.xlsx", xlsx_of_csv(TICKETS)))
    assert not app.exception
    [status] = app.status
    assert status.label == "zendesk.xlsx: 4 records read"  # the child's progress box, completed
    [file] = _received(app)
    assert file.table_path.exists()  # read once: a change of choices reads its table, not the workbook
    [button] = _import_buttons(app)
    app.button(key=button).click().run()
    ids = Warehouse(empty_warehouse).cursor().execute("SELECT ticket_id FROM tickets ORDER BY 1").fetchall()
    assert _metric(app, "Inserted") == "4" and [i for (i,) in ids] == ["201", "202", "203", "204"]


def test_import_page_refuses_a_workbook_bomb_read_in_a_child_with_the_reason(empty_warehouse: Path) -> None:
    app = _drop(_import_page(), ("bomb.xlsx", streamed_xlsx(HEADER, ROW, 1_048_577)))
    assert not app.exception
    assert [e.value for e in app.error] == [
        "bomb.xlsx: its sheet has more than 1,048,576 rows, more than a spreadsheet holds"]
    assert not _import_buttons(app)


def test_import_page_refuses_files_that_together_pass_the_upload_limit(empty_warehouse: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert TICKETS.stat().st_size + ORDERS.stat().st_size == 467 + 2_835  # 3,302 bytes together
    monkeypatch.setenv("CSPULSE_UPLOAD_MAX_BYTES", "3301")
    app = _drop(_import_page(), TICKETS, ORDERS)
    assert not app.exception
    assert [e.value for e in app.error] == [
        "These 2 files come to 3,302 bytes together, more than the 3,301 bytes CS Pulse reads at once; not kept: "
        "zendesk_trimmed.csv, shopify_three_orders.csv. Import the files in turns."]
    assert not _import_buttons(app) and not _received(app)  # neither was kept

    app = _drop(app, TICKETS)
    assert not app.error and len(_import_buttons(app)) == 1  # one of them alone is read
    app = _drop(app, ORDERS)  # and with it waiting, the other is not kept
    assert len(app.error) == 1 and len(_received(app)) == 1
