"""A traffic export (sessions, carts, checkouts, orders per day) imports like any other file and gives conversion
and cart abandonment; without one both are unknown and say which export gives them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from data.format_types import Context
from data.ingest import undo_import
from data.plans import plan_files, run_plan
from data.raw_tables import Limits
from data.warehouse import Warehouse
from metrics import query as mq
from metrics.availability import unavailable
from metrics.registry import TRAFFIC_HINT
from settings import Settings
from tests.conftest import PROJECT

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traffic"
SHOPIFY = FIXTURES / "shopify_sessions_over_time.csv"
PLAIN = FIXTURES / "plain_sessions_orders.csv"
LIMITS = Limits(10_000_000, 10_000, 300)
TRAFFIC_KPIS = ["conversion_rate", "cart_abandonment_rate"]


def imported(*files: Path, tz: str = "UTC") -> Warehouse:
    wh = Warehouse()
    plans = plan_files([(f.name, f.read_bytes()) for f in files], Context(tz=tz, salt="s"), LIMITS)
    for plan in plans:
        assert run_plan(wh, plan).status == "imported", plan.reason
    return wh


def test_shopify_sessions_report_is_recognised_as_traffic_and_keeps_the_days_it_names() -> None:
    [plan] = plan_files([(SHOPIFY.name, SHOPIFY.read_bytes())], Context(tz="Europe/Berlin", salt="s"), LIMITS)
    assert (plan.source, plan.kind) == ("traffic", "traffic")
    assert any("1 days have no sessions count" in note for note in plan.notes)
    wh = Warehouse()
    assert run_plan(wh, plan).inserted == 3
    rows = wh.cursor().execute("SELECT date, sessions, carts, checkouts, orders FROM traffic ORDER BY date").fetchall()
    # read on Berlin's clock, the days stay the days the shop exported (not the UTC day before)
    assert rows == [(date(2024, 3, 4), 1000, 80, 40, 20), (date(2024, 3, 5), 500, 50, 30, 10),
                    (date(2024, 3, 7), 200, 20, 10, 5)]


def test_conversion_and_cart_abandonment_are_recomputed_from_the_counts(settings: Settings) -> None:
    wh = imported(SHOPIFY)
    two_days = mq.totals(wh.cursor(), TRAFFIC_KPIS, mq.Filters(date(2024, 3, 4), date(2024, 3, 5)), settings)
    # 03-04 and 03-05: orders 20 + 10 = 30 of sessions 1500 -> 0.02; 1 - 30 orders / 130 carts = 100/130
    assert two_days["conversion_rate"] == pytest.approx(30 / 1500)
    assert two_days["cart_abandonment_rate"] == pytest.approx(1 - 30 / 130)
    week = mq.totals(wh.cursor(), TRAFFIC_KPIS, mq.Filters(date(2024, 3, 4), date(2024, 3, 10)), settings)
    # the day without sessions is left out: 35 / 1700, and 1 - 35 / 150 (never an average of daily rates)
    assert week["conversion_rate"] == pytest.approx(35 / 1700)
    assert week["cart_abandonment_rate"] == pytest.approx(1 - 35 / 150)


def test_traffic_days_fall_in_periods_by_the_exported_day_on_any_account_clock() -> None:
    wh = imported(SHOPIFY, tz="America/New_York")
    settings = Settings(_env_file=None, timezone="America/New_York")  # type: ignore[call-arg]
    frame = mq.query(wh.cursor(), ["conversion_rate"], mq.Filters(date(2024, 3, 4), date(2024, 3, 7)), "day",
                     settings=settings, samples=True)
    # 20/1000, 10/500, no data on 03-06, 5/200; the sample is the sessions each rests on
    assert frame["conversion_rate"].to_list() == pytest.approx([0.02, 0.02, None, 0.025], nan_ok=True)
    assert frame["conversion_rate_n"].to_list() == [1000, 500, 0, 200]


def test_an_export_without_carts_gives_conversion_and_leaves_abandonment_unknown(settings: Settings) -> None:
    wh = imported(PLAIN)
    values = mq.totals(wh.cursor(), TRAFFIC_KPIS, mq.Filters(date(2024, 3, 4), date(2024, 3, 5)), settings)
    assert values == {"conversion_rate": pytest.approx(12 / 1000), "cart_abandonment_rate": None}
    assert unavailable(wh.cursor(), TRAFFIC_KPIS) == {"cart_abandonment_rate": TRAFFIC_HINT}


def test_without_a_traffic_export_both_rates_are_unknown_and_name_the_export(settings: Settings) -> None:
    wh = Warehouse()
    values = mq.totals(wh.cursor(), TRAFFIC_KPIS, mq.Filters(date(2024, 3, 4), date(2024, 3, 5)), settings)
    assert values == {"conversion_rate": None, "cart_abandonment_rate": None}
    assert unavailable(wh.cursor(), TRAFFIC_KPIS) == {name: TRAFFIC_HINT for name in TRAFFIC_KPIS}
    assert "Sessions over time" in TRAFFIC_HINT


def test_a_newer_export_of_the_same_days_replaces_their_numbers(settings: Settings, tmp_path: Path) -> None:
    newer = tmp_path / "newer.csv"
    newer.write_text("date,sessions,orders\n2024-03-04,400,10\n")
    wh = imported(PLAIN, newer)
    assert wh.row_count("traffic") == 2
    values = mq.totals(wh.cursor(), ["conversion_rate"], mq.Filters(date(2024, 3, 4), date(2024, 3, 5)), settings)
    assert values["conversion_rate"] == pytest.approx((10 + 4) / 1000)


def test_cli_imports_a_traffic_export(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    done = subprocess.run([sys.executable, "-m", "data.cli", str(SHOPIFY), "--db", str(db), "--json"],
                          cwd=PROJECT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[0])
    assert (result["source"], result["kind"], result["inserted"]) == ("traffic", "traffic", 3)
    assert Warehouse(db).row_count("traffic") == 3


def test_ga4_and_shopify_admin_headers_read_the_same_counts(settings: Settings, tmp_path: Path) -> None:
    ga4 = tmp_path / "ga4.csv"
    ga4.write_text("Date,Sessions,Add to carts,Checkouts,Purchases\n2024-03-04,1000,80,40,20\n")
    admin = tmp_path / "admin.csv"
    admin.write_text("Day,Sessions,Added to cart,Reached checkout,Sessions converted,Online store conversion rate\n"
                     "2024-03-04,1000,80,40,20,2%\n")
    for file in (ga4, admin):
        wh = imported(file)
        assert wh.cursor().execute("SELECT sessions, carts, checkouts, orders FROM traffic").fetchall() == [
            (1000, 80, 40, 20)], file.name


def test_undoing_a_traffic_import_takes_its_days_out_again(settings: Settings) -> None:
    wh = imported(SHOPIFY)
    [import_id] = wh.imports()["import_id"].to_list()
    undo_import(wh, import_id)
    assert wh.row_count("traffic") == 0
    values = mq.totals(wh.cursor(), TRAFFIC_KPIS, mq.Filters(date(2024, 3, 4), date(2024, 3, 5)), settings)
    assert values == {"conversion_rate": None, "cart_abandonment_rate": None}
