"""The Data page's quality panel under AppTest, on the fixture warehouse of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT, load_fixture, warehouse_file

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.fixture
def data_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    path = tmp_path / "quality.duckdb"
    # imported, not linked: the dashboard links what is pending when it opens the warehouse
    warehouse_file(monkeypatch, path, load_fixture)
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=60).run()
    return app.switch_page("app_pages/data.py").run()


def test_data_page_opens_on_the_first_check_that_finds_rows_with_emails_masked(data_page: AppTest) -> None:
    assert not data_page.exception
    check = data_page.selectbox(key="quality_check")
    # the fixture's 7 tickets name order #1001 or none, and its orders are O1-O4: none links; every order has a
    # customer (customers 1 and 2); nothing else is wrong
    assert check.value == "unlinked_tickets"
    assert check.options == [
        "Tickets linked to no order (7)", "Orders without a customer (0)", "Duplicated line rows (0)",
        "Tickets before the customer's first order (0)", "Impossible order values (0)"]
    rows = data_page.dataframe[1].value
    assert len(rows) == 7
    assert "Reach me at j***@shop.example" in rows["subject"].to_list()
    assert not any("jane.doe" in subject for subject in rows["subject"])


def test_data_page_says_when_a_check_finds_nothing(data_page: AppTest) -> None:
    data_page.selectbox(key="quality_check").set_value("impossible_orders").run()
    assert not data_page.exception
    assert any("Impossible order values: none found." in box.value for box in data_page.success)
    assert data_page.query_params["quality_check"] == "impossible_orders"
