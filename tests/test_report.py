"""`python -m metrics.report` as a script would call it: a real process on a real warehouse file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data.warehouse import Warehouse
from tests.conftest import PROJECT, load_fixture
from tests.test_metrics import EXPECTED_WEEK


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CSPULSE_TIMEZONE",)}
    return subprocess.run([sys.executable, "-m", "metrics.report", *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "report.duckdb"
    wh = Warehouse(path)
    load_fixture(wh)
    wh.close()
    return path


def test_report_json_has_every_kpi_for_the_given_days(warehouse_file: Path) -> None:
    done = _run("--json", "--db", str(warehouse_file), "--start", "2024-03-04", "--end", "2024-03-10")
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    assert set(values) == {*EXPECTED_WEEK, "categories"}  # categories: tests/test_own_categories.py
    for name, expected in EXPECTED_WEEK.items():
        assert values[name] == (expected if isinstance(expected, dict) else pytest.approx(expected)), name


def test_report_single_currency_average_order_value_is_a_number(warehouse_file: Path) -> None:
    # 2024-03-11: only O4 (USD 1000); no ticket has a first reply that day, so the median is null.
    done = _run("--json", "--db", str(warehouse_file), "--start", "2024-03-11", "--end", "2024-03-11")
    values = json.loads(done.stdout)
    assert values["average_order_value"] == 1000.0
    assert values["first_reply_minutes_median"] is None
    assert values["tickets_created"] == 1


def test_report_without_dates_covers_the_30_days_up_to_the_newest_data(warehouse_file: Path) -> None:
    # Newest data is 2024-03-11, so 02-11..03-11: all seven tickets were created in it.
    done = _run("--json", "--db", str(warehouse_file))
    assert json.loads(done.stdout)["tickets_created"] == 7


def test_report_text_output_shows_kpi_labels_with_their_formatted_values(warehouse_file: Path) -> None:
    done = _run("--db", str(warehouse_file), "--start", "2024-03-04", "--end", "2024-03-10")
    assert "First reply (median)" in done.stdout and "20 min" in done.stdout
    assert "USD 70.00" in done.stdout and "EUR 80.00" in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--start", "2024-03-04"], "both --start and --end"),
        (["--start", "2024-03-10", "--end", "2024-03-04"], "before it starts"),
    ],
)
def test_report_bad_arguments_exit_2_with_one_line(warehouse_file: Path, args: list[str], says: str) -> None:
    done = _run("--json", "--db", str(warehouse_file), *args)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


def test_report_on_a_missing_or_busy_warehouse_exits_2(tmp_path: Path, warehouse_file: Path) -> None:
    missing = _run("--json", "--db", str(tmp_path / "nope.duckdb"))
    assert missing.returncode == 2 and "No warehouse at" in missing.stderr
    holder = Warehouse(warehouse_file)
    busy = _run("--json", "--db", str(warehouse_file))
    holder.close()
    assert busy.returncode == 2 and "in use by another process" in busy.stderr
