"""The Import page lets go of dropped files once they are imported, and refuses to read several files at once that
together pass the upload limit. (How much memory that returns is measured by bench/upload_memory.py, not here.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.testing.v1 import AppTest

from data.warehouse import Warehouse
from tests.conftest import PROJECT, use_warehouse

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
def released(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file ids the page removes from Streamlit's store of uploaded bytes."""
    ids: list[str] = []
    remove = MemoryUploadedFileManager.remove_file

    def recording(self: MemoryUploadedFileManager, session_id: str, file_id: str) -> None:
        ids.append(file_id)
        remove(self, session_id, file_id)

    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file", recording)
    return ids


def _import_page() -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    return app.switch_page("app_pages/imports.py").run()


def _drop(app: AppTest, *paths: Path) -> AppTest:
    return app.file_uploader(key="uploads").set_value([(p.name, p.read_bytes(), "text/csv") for p in paths]).run()


def _metric(app: AppTest, label: str) -> str:
    return next(metric.value for metric in app.metric if metric.label == label)


def _import_buttons(app: AppTest) -> list[str]:
    return [str(button.key) for button in app.button if str(button.key).startswith("import_")]


def test_import_page_lets_go_of_the_files_and_their_plans_once_imported(empty_warehouse: Path,
                                                                         released: list[str]) -> None:
    app = _drop(_import_page(), TICKETS)
    assert not app.exception
    assert "_plans" in app.session_state  # read, waiting for the button
    [file_id] = [upload.file_id for upload in app.file_uploader(key="uploads").value]
    [button] = _import_buttons(app)

    app.button(key=button).click().run()
    assert not app.exception
    assert "_plans" not in app.session_state
    assert released == [file_id]
    [fresh] = app.file_uploader
    assert fresh.key == "uploads_1" and not fresh.value  # a new, empty uploader
    assert not _import_buttons(app)
    # the result stays in sight, from the warehouse's own count
    assert any("zendesk_trimmed.csv" in text.value for text in app.markdown)
    assert _metric(app, "Inserted") == "4" == str(Warehouse(empty_warehouse).row_count("tickets"))


def test_import_page_keeps_the_files_while_another_waits_for_its_import(empty_warehouse: Path,
                                                                       released: list[str]) -> None:
    app = _drop(_import_page(), TICKETS, ORDERS)
    assert not app.exception
    first, second = _import_buttons(app)

    app.button(key=first).click().run()
    assert not app.exception and not released
    assert app.file_uploader(key="uploads").value  # the other file is still there to import
    assert "_plans" in app.session_state

    app.button(key=second).click().run()
    assert not app.exception
    assert len(released) == 2 and "_plans" not in app.session_state
    assert app.file_uploader[0].key == "uploads_1"
    assert sorted(metric.value for metric in app.metric if metric.label == "Records read") == ["4", "6"]


def test_import_page_refuses_files_that_together_pass_the_upload_limit(empty_warehouse: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert TICKETS.stat().st_size + ORDERS.stat().st_size == 467 + 2_835  # 3,302 bytes together
    monkeypatch.setenv("CSPULSE_UPLOAD_MAX_BYTES", "3301")
    app = _drop(_import_page(), TICKETS, ORDERS)
    assert not app.exception
    assert [e.value for e in app.error] == [
        "These 2 files come to 3,302 bytes together, more than the 3,301 bytes CS Pulse reads at once. Remove some "
        "of them and import them in turns."]
    assert not _import_buttons(app)  # neither was read

    app.file_uploader(key="uploads").set_value([(TICKETS.name, TICKETS.read_bytes(), "text/csv")]).run()
    assert not app.error and len(_import_buttons(app)) == 1  # one of them alone is read
