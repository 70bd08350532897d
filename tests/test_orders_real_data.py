"""Issue 14 on real exports: the orders KPIs, computed through the real import path, equal an independent DuckDB
query written here over the raw files themselves (``read_csv`` of the CSV, never the warehouse). Skips where
``../shared/data/real/`` is absent."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from data.cli import import_paths
from data.warehouse import Warehouse
from metrics import query as mq
from settings import Settings
from tests.conftest import REAL_DATA

SHOPIFY = REAL_DATA / "shopify-real-store-monfrere-redacted" / "Shopify_orders_export_2.csv"
OLIST = REAL_DATA / "olist-sample-4000-consistent"
KPIS = ["orders", "net_sales", "refund_rate", "refund_rate_by_value", "repeat_purchase_rate"]


def _whole_export(paths: list[Path], tmp_path: Path, settings: Settings) -> dict[str, object]:
    """The KPIs over every day of the imported export."""
    results = import_paths([str(p) for p in paths], tmp_path / "real.duckdb", settings)
    assert all(r.status == "imported" for r in results), results
    cur = Warehouse(tmp_path / "real.duckdb").cursor()
    span = mq.data_range(cur, settings)
    assert span is not None
    return mq.totals(cur, KPIS, mq.Filters(*span), settings)


@pytest.mark.skipif(not SHOPIFY.exists(), reason="the real Shopify export is not in ../shared/data/real/")
def test_shopify_real_export_orders_kpis_equal_a_query_over_the_raw_file(tmp_path: Path, settings: Settings) -> None:
    values = _whole_export([SHOPIFY], tmp_path, settings)
    # The raw file: an order's fields are on its first row (continuation rows leave Currency empty); gross sales
    # are Σ line price × quantity over all its rows; a customer is a lower-cased email.
    raw = duckdb.connect().execute("""
        WITH r AS (SELECT * FROM read_csv($path, all_varchar = true)),
        gross AS (SELECT Name, sum(CAST("Lineitem price" AS DECIMAL(18, 2)) * CAST("Lineitem quantity" AS INT)) AS g
                  FROM r GROUP BY Name),
        head AS (SELECT Name, Currency, lower(trim(Email)) AS email,
                        coalesce(CAST("Discount Amount" AS DECIMAL(18, 2)), 0) AS d,
                        coalesce(CAST("Refunded Amount" AS DECIMAL(18, 2)), 0) AS refunded,
                        coalesce(CAST(Total AS DECIMAL(18, 2)), g - d) AS charged
                 FROM r JOIN gross USING (Name) WHERE Currency IS NOT NULL),
        customers AS (SELECT email, count(*) AS n FROM head WHERE email IS NOT NULL GROUP BY email)
        SELECT count(*), count(DISTINCT Currency), any_value(Currency), sum(g - d - refunded)::DOUBLE,
               avg((refunded > 0)::INT), (sum(refunded) / sum(charged))::DOUBLE,
               (SELECT avg((n >= 2)::INT) FROM customers)
        FROM head JOIN gross USING (Name)""", {"path": str(SHOPIFY)}).fetchone()
    orders, currencies, currency, net, refund_rate, by_value, repeat = raw
    assert currencies == 1 and orders == values["orders"] == 4936
    assert values["net_sales"] == {currency: pytest.approx(net)}
    assert values["refund_rate"] == pytest.approx(refund_rate)
    assert values["refund_rate_by_value"] == {currency: pytest.approx(by_value)}
    assert values["repeat_purchase_rate"] == pytest.approx(repeat)


@pytest.mark.skipif(not OLIST.exists(), reason="the Olist sample is not in ../shared/data/real/")
def test_olist_set_repeat_rate_equals_a_query_over_the_raw_files_and_refunds_stay_unknown(
        tmp_path: Path, settings: Settings) -> None:
    values = _whole_export(sorted(OLIST.glob("olist_*.csv")), tmp_path, settings)
    # A customer is customer_unique_id (customer_id is per order); every order of the sample has one.
    orders, repeat = duckdb.connect().execute("""
        SELECT sum(n), avg((n >= 2)::INT) FROM (
            SELECT c.customer_unique_id, count(*) AS n
            FROM read_csv($orders, all_varchar = true) o JOIN read_csv($customers, all_varchar = true) c
              USING (customer_id) GROUP BY ALL)""",
        {"orders": str(OLIST / "olist_orders_dataset.csv"),
         "customers": str(OLIST / "olist_customers_dataset.csv")}).fetchone()
    assert values["orders"] == orders == 4000
    assert values["repeat_purchase_rate"] == pytest.approx(repeat)
    # Olist exports no refunds or returns: refund rates and net sales (which subtract returns) are unknown, not 0
    assert values["refund_rate"] is values["refund_rate_by_value"] is values["net_sales"] is None
