"""Properties of the demo data, computed from the frames themselves rather than from the generator's internals."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from data.demo import DEMO_END, DEMO_SOURCE, DEMO_START, generate
from data.privacy import customer_key
from data.schema import FACT_TABLES
from data.taxonomy import CATEGORIES

BLACK_FRIDAYS = (date(2024, 11, 29), date(2025, 11, 28))
PEAK_DAYS = 4  # Black Friday to Cyber Monday
BASELINE_DAYS = 28

SQL_TO_POLARS: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "VARCHAR[]": pl.List(pl.String()),
    "TIMESTAMP": pl.Datetime("us"),
    "DATE": pl.Date(),
    "INTEGER": pl.Int32(),
    "SMALLINT": pl.Int16(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "DECIMAL(18,2)": pl.Decimal(18, 2),
    "UBIGINT": pl.UInt64(),
}


@pytest.fixture(scope="module")
def demo() -> dict[str, pl.DataFrame]:
    return generate()


@pytest.fixture(scope="module")
def tickets(demo: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return demo["tickets"]


@pytest.fixture(scope="module")
def orders(demo: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return demo["orders"]


@pytest.fixture(scope="module")
def lines(demo: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return demo["order_lines"]


def _created_on(start: date, days: int) -> pl.Expr:
    return pl.col("created_at").dt.date().is_between(start, start + timedelta(days=days - 1))


def _peak_and_baseline(frame: pl.DataFrame, black_friday: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    peak = frame.filter(_created_on(black_friday, PEAK_DAYS))
    baseline = frame.filter(_created_on(black_friday - timedelta(days=BASELINE_DAYS), BASELINE_DAYS))
    return peak, baseline


def _good_share(rated: pl.DataFrame) -> float:
    return float((rated["satisfaction_rating"] == "good").mean())


def test_demo_columns_and_dtypes_match_schema(demo: dict[str, pl.DataFrame]) -> None:
    assert set(demo) == {"tickets", "orders", "order_lines"}  # the demo store has no marketplace reviews
    for name in demo:
        expected = [(column, SQL_TO_POLARS[sql_type]) for column, sql_type in FACT_TABLES[name].types.items()]
        assert list(demo[name].schema.items()) == expected, name


def test_demo_source_is_demo_and_import_id_left_null(demo: dict[str, pl.DataFrame]) -> None:
    for frame in demo.values():
        assert frame["source"].unique().to_list() == [DEMO_SOURCE]
        assert frame["import_id"].null_count() == frame.height


def test_demo_required_columns_never_null(demo: dict[str, pl.DataFrame]) -> None:
    for name, table in ((n, FACT_TABLES[n]) for n in demo):
        for column in table.required:
            assert demo[name][column].null_count() == 0, (name, column)
    assert demo["tickets"]["updated_at"].null_count() == 0
    assert demo["orders"]["updated_at"].null_count() == 0


def test_demo_same_arguments_give_identical_frames() -> None:
    first, second = generate(seed=3, scale=0.1), generate(seed=3, scale=0.1)
    for name in first:
        assert first[name].equals(second[name]), name


def test_demo_other_seed_gives_other_data() -> None:
    first, other = generate(seed=3, scale=0.1), generate(seed=4, scale=0.1)
    assert not first["orders"].equals(other["orders"])
    assert not first["tickets"].equals(other["tickets"])


def test_demo_covers_at_least_two_years(orders: pl.DataFrame, tickets: pl.DataFrame) -> None:
    for frame in (orders, tickets):
        first, last = frame["created_at"].min(), frame["created_at"].max()
        assert first.date() <= DEMO_START + timedelta(days=7)
        assert last.date() >= DEMO_END - timedelta(days=2)
        assert (last - first).days >= 730


def test_demo_order_count_is_tens_of_thousands(orders: pl.DataFrame) -> None:
    assert 40_000 <= orders.height <= 90_000


def test_demo_has_8_to_15_tickets_per_100_orders(orders: pl.DataFrame, tickets: pl.DataFrame) -> None:
    assert 8 <= 100 * tickets.height / orders.height <= 15


def test_demo_has_20_to_45_percent_repeat_customers(orders: pl.DataFrame) -> None:
    orders_per_customer = orders.group_by("customer_key").len()
    assert 0.2 <= (orders_per_customer["len"] >= 2).mean() <= 0.45


def test_demo_customer_keys_are_salted_email_hashes(orders: pl.DataFrame, tickets: pl.DataFrame) -> None:
    digest = hashlib.sha256(b"scustomer1@example.com").digest()
    assert customer_key("  Customer1@Example.COM ", "s") == int.from_bytes(digest[:8], "big")
    pool = orders.height + tickets.height
    known = {customer_key(f"customer{n}@example.com", "demo-salt") for n in range(1, pool + 1)}
    used = set(orders["customer_key"]) | set(tickets["customer_key"].drop_nulls())
    assert used <= known


def test_demo_gross_sales_equals_sum_of_lines(orders: pl.DataFrame, lines: pl.DataFrame) -> None:
    line_totals = lines.group_by("order_id").agg((pl.col("price") * pl.col("quantity")).sum().alias("lines_total"))
    joined = orders.join(line_totals, on="order_id", how="left")
    assert joined["lines_total"].null_count() == 0
    assert (joined["gross_sales"] == joined["lines_total"]).all()


def test_demo_order_money_adds_up(orders: pl.DataFrame) -> None:
    """Totals add up; discounts are 9-26 % of gross; refunds never pass the total and touch 4-8 % of orders."""
    expected_total = pl.col("gross_sales") - pl.col("discounts") + pl.col("shipping") + pl.col("taxes")
    assert orders.select((pl.col("total") == expected_total).all()).item()
    discount_share = orders.filter(pl.col("discount_code").is_not_null()).select(
        (pl.col("discounts").cast(pl.Float64) / pl.col("gross_sales").cast(pl.Float64)).alias("share")
    )["share"]
    assert discount_share.min() >= 0.09 and discount_share.max() <= 0.26
    assert orders.select((pl.col("refunded_amount") <= pl.col("total")).all()).item()
    refunded = orders.filter(pl.col("financial_status").is_in(["refunded", "partially_refunded"]))
    assert (refunded["refunded_amount"] > 0).all()
    assert 0.04 <= refunded.height / orders.height <= 0.08


def test_demo_lines_use_their_order_currency(orders: pl.DataFrame, lines: pl.DataFrame) -> None:
    joined = lines.join(orders.select("order_id", pl.col("currency").alias("order_currency")), on="order_id")
    assert joined.height == lines.height
    assert (joined["currency"] == joined["order_currency"]).all()
    assert set(orders["currency"]) == {"USD", "EUR"}


def test_demo_line_numbers_count_from_one_within_each_order(lines: pl.DataFrame) -> None:
    per_order = lines.group_by("order_id").agg(pl.col("line_number").sort().alias("numbers"), pl.len())
    assert (per_order["len"] <= 4).all()
    assert per_order.select(
        (pl.col("numbers") == pl.int_ranges(1, pl.col("len") + 1).cast(pl.List(pl.Int32))).all()
    ).item()


def test_demo_bfcm_days_have_2_5_to_5_times_the_tickets_of_a_normal_day(tickets: pl.DataFrame) -> None:
    for black_friday in BLACK_FRIDAYS:
        peak, baseline = _peak_and_baseline(tickets, black_friday)
        ratio = (peak.height / PEAK_DAYS) / (baseline.height / BASELINE_DAYS)
        assert 2.5 <= ratio <= 5, (black_friday, ratio)


def test_demo_bfcm_days_have_2_5_to_5_times_the_orders_of_a_normal_day(orders: pl.DataFrame) -> None:
    for black_friday in BLACK_FRIDAYS:
        peak, baseline = _peak_and_baseline(orders, black_friday)
        ratio = (peak.height / PEAK_DAYS) / (baseline.height / BASELINE_DAYS)
        assert 2.5 <= ratio <= 5, (black_friday, ratio)


def test_demo_first_reply_slower_during_bfcm(tickets: pl.DataFrame) -> None:
    windows = [_peak_and_baseline(tickets, black_friday) for black_friday in BLACK_FRIDAYS]
    peak = pl.concat([peak for peak, _ in windows])["first_reply_minutes"].median()
    baseline = pl.concat([baseline for _, baseline in windows])["first_reply_minutes"].median()
    assert peak >= 1.5 * baseline


def test_demo_csat_lower_for_slow_first_replies(tickets: pl.DataFrame) -> None:
    replied = pl.col("first_reply_minutes").is_not_null()
    rated = tickets.filter(pl.col("satisfaction_rating").is_in(["good", "bad"]) & replied)
    slow = pl.col("first_reply_minutes") > pl.col("first_reply_minutes").median().over("channel")
    assert _good_share(rated.filter(slow)) < _good_share(rated.filter(~slow)) - 0.05


def test_demo_csat_ratings_match_scores(tickets: pl.DataFrame) -> None:
    """Scores 4-5 read good and 1-3 bad; 20-40 % of offered surveys carry a score; only solved tickets are offered."""
    rated = tickets.filter(pl.col("satisfaction_score").is_not_null())
    assert set(rated["satisfaction_rating"]) <= {"good", "bad"}
    assert (rated.filter(pl.col("satisfaction_rating") == "good")["satisfaction_score"] >= 4).all()
    assert (rated.filter(pl.col("satisfaction_rating") == "bad")["satisfaction_score"] <= 3).all()
    offered = tickets.filter(pl.col("satisfaction_rating").is_not_null())
    assert 0.2 <= rated.height / offered.height <= 0.4
    assert offered["solved_at"].null_count() == 0


def test_demo_has_all_four_channels_with_email_the_largest(tickets: pl.DataFrame) -> None:
    shares = dict(tickets["channel"].value_counts(normalize=True).iter_rows())
    assert set(shares) == {"email", "chat", "phone", "social"}
    assert shares["email"] == max(shares.values())


def test_demo_categories_come_from_the_taxonomy_with_shipping_status_the_commonest(tickets: pl.DataFrame) -> None:
    counts = dict(tickets["category_exported"].drop_nulls().value_counts().iter_rows())
    assert set(counts) <= set(CATEGORIES) - {"uncategorised"}
    assert max(counts, key=counts.__getitem__) == "shipping_status"


def test_demo_leaves_some_tickets_untagged_for_the_classifier(tickets: pl.DataFrame) -> None:
    untagged = tickets["category_exported"].null_count() / tickets.height
    assert 0.27 < untagged < 0.33  # UNTAGGED_SHARE = 0.3
    assert tickets["category"].null_count() == tickets.height  # derived after import, never generated


def test_demo_keys_are_unique(demo: dict[str, pl.DataFrame]) -> None:
    for name, table in ((n, FACT_TABLES[n]) for n in demo):
        assert not demo[name].select(table.key).is_duplicated().any(), name


def test_demo_tickets_name_existing_orders_of_the_same_customer(tickets: pl.DataFrame, orders: pl.DataFrame) -> None:
    linked = tickets.filter(pl.col("order_id").is_not_null())
    joined = linked.join(
        orders.select("order_id", pl.col("customer_key").alias("buyer"), pl.col("created_at").alias("ordered_at")),
        on="order_id",
    )
    assert joined.height == linked.height
    assert (joined["customer_key"] == joined["buyer"]).all()
    assert (joined["created_at"] >= joined["ordered_at"]).all()
    assert 0.5 <= linked.height / tickets.height < 1


def test_demo_solved_at_not_before_created_at(tickets: pl.DataFrame) -> None:
    """A solved ticket is solved after it was created, first solved no later than last, and is solved or closed."""
    solved = tickets.filter(pl.col("solved_at").is_not_null())
    assert (solved["solved_at"] >= solved["created_at"]).all()
    assert (solved["first_solved_at"] <= solved["solved_at"]).all()
    assert set(solved["status"]) <= {"solved", "closed"}


def test_demo_durations_are_ordered_and_match_timestamps(tickets: pl.DataFrame) -> None:
    minutes_between = (pl.col("first_reply_at") - pl.col("created_at")).dt.total_microseconds() / 60e6
    replied = tickets.filter(pl.col("first_reply_minutes").is_not_null())
    assert replied.select(((minutes_between - pl.col("first_reply_minutes")).abs() < 1e-6).all()).item()
    solved = tickets.filter(pl.col("solved_at").is_not_null())
    assert (solved["first_resolution_minutes"] >= solved["first_reply_minutes"].fill_null(0)).all()
    assert (solved["full_resolution_minutes"] >= solved["first_resolution_minutes"]).all()
    assert (solved["requester_wait_minutes"] <= solved["full_resolution_minutes"]).all()
    assert tickets["first_reply_business_minutes"].null_count() == tickets.height
    assert tickets["full_resolution_business_minutes"].null_count() == tickets.height


def test_demo_one_touch_share_is_35_to_50_and_reopen_share_5_to_8_percent(tickets: pl.DataFrame) -> None:
    solved = tickets.filter(pl.col("status").is_in(["solved", "closed"]))
    assert 0.35 <= (solved["agent_replies"] < 2).mean() <= 0.5
    assert 0.05 <= (solved["reopens"] > 0).mean() <= 0.08


def test_demo_recent_tickets_are_partly_unsolved(tickets: pl.DataFrame) -> None:
    last_week = tickets.filter(_created_on(DEMO_END - timedelta(days=6), 7))
    unsolved = last_week.filter(pl.col("solved_at").is_null())
    assert 0 < unsolved.height < last_week.height
    assert set(unsolved["status"]) <= {"new", "open", "pending", "hold"}
    assert unsolved["full_resolution_minutes"].null_count() == unsolved.height


def test_demo_nothing_after_demo_end(demo: dict[str, pl.DataFrame]) -> None:
    after_end = datetime.combine(DEMO_END + timedelta(days=1), datetime.min.time())
    for name, frame in demo.items():
        for column, dtype in frame.schema.items():
            if dtype == pl.Datetime("us"):
                latest = frame[column].max()
                assert latest is None or latest < after_end, (name, column)


def test_demo_new_york_tickets_peak_in_local_working_hours() -> None:
    tickets = generate(scale=0.3, tz="America/New_York")["tickets"]
    assert tickets["created_at"].null_count() == 0
    local = tickets["created_at"].dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York")
    assert local.dt.date().min() >= DEMO_START and local.dt.date().max() <= DEMO_END
    by_hour = local.dt.hour().value_counts().sort("count", descending=True)
    assert 9 <= by_hour["created_at"][0] <= 17
    assert local.dt.hour().is_between(9, 17).mean() > 0.5


def test_demo_nps_answers_come_from_rated_tickets_and_follow_satisfaction(tickets: pl.DataFrame) -> None:
    answered = tickets.filter(pl.col("nps_score").is_not_null())
    assert answered.height > 500
    assert answered["satisfaction_score"].null_count() == 0  # only customers who rated were asked
    assert answered["nps_score"].min() >= 0 and answered["nps_score"].max() <= 10
    satisfied = answered.filter(pl.col("satisfaction_score") >= 4)["nps_score"].mean()
    unsatisfied = answered.filter(pl.col("satisfaction_score") < 4)["nps_score"].mean()
    assert satisfied > unsatisfied + 3
