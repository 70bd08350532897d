"""Text cells to typed columns: every accepted spelling, every reported problem, values worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime as D
from decimal import Decimal

import polars as pl
import pytest

from data.cast import (
    MAX_PROBLEMS,
    Cast,
    Problem,
    currency_symbol,
    date_order,
    to_bool,
    to_int,
    to_minutes,
    to_money,
    to_number,
    to_rating,
    to_text,
    to_timestamp_utc,
)
from tests.conftest import REAL_DATA


def cells(*values: str | None) -> pl.Series:
    return pl.Series("cells", list(values), dtype=pl.String)


def whys(cast: Cast) -> list[tuple[int, str, str]]:
    return [(p.record, p.value, p.why) for p in cast.problems]


def money(*values: str) -> list[Decimal]:
    return [Decimal(v) for v in values]


SHOPIFY = ["%Y-%m-%d %H:%M:%S %z"]
ISO = ["%Y-%m-%dT%H:%M:%S%z"]
WALL = ["%Y-%m-%d %H:%M"]


# --- text -------------------------------------------------------------------------------------------------------


def test_cast_text_strips_surrounding_whitespace_and_empties_to_null() -> None:
    cast = to_text(cells("  Refund please \t", "", "   ", None, "a  b"))
    assert cast.values.to_list() == ["Refund please", None, None, None, "a  b"]
    assert cast.problems == []


def test_cast_text_keeps_formula_html_sql_byte_identical() -> None:
    risky = ['=HYPERLINK("http://x","y")', "+1+2", "@SUM(A1)", "<script>alert(1)</script>", "&amp; <b>x</b>",
             "'; DROP TABLE tickets; --", "line one\r\nline two"]
    assert to_text(cells(*risky)).values.to_list() == risky


# --- integers ---------------------------------------------------------------------------------------------------


def test_cast_int_reads_thousands_spaces_and_whole_floats() -> None:
    cast = to_int(cells("1,234", " 12 ", "3.0", "-7", "1 000"), "Replies")
    assert cast.values.to_list() == [1234, 12, 3, -7, 1000]
    assert cast.values.dtype == pl.Int64
    assert cast.problems == []


def test_cast_int_strips_leading_apostrophe() -> None:
    assert to_int(cells("'0012", "'10022"), "Billing Zip").values.to_list() == [12, 10022]


def test_cast_int_fraction_is_a_problem() -> None:
    cast = to_int(cells("3", "3.5"), "Reopens")
    assert cast.values.to_list() == [3, None]
    assert whys(cast) == [(2, "3.5", "not a whole number (has a fraction)")]


def test_cast_int_text_and_overflow_are_problems() -> None:
    cast = to_int(cells("two", "99999999999999999999"), "Reopens")
    assert cast.values.to_list() == [None, None]
    assert whys(cast) == [(1, "two", "not a whole number"),
                          (2, "99999999999999999999", "too large for a whole number")]


# --- numbers ----------------------------------------------------------------------------------------------------


def test_cast_number_reads_thousands_commas_exponents_and_a_unicode_minus() -> None:
    cast = to_number(cells("1,234.5", "1e3", "\u22122.25", ".5", "'7"), "Weight")
    assert cast.values.to_list() == [1234.5, 1000.0, -2.25, 0.5, 7.0]
    assert cast.values.dtype == pl.Float64


def test_cast_number_reads_a_decimal_comma_with_dot_or_space_thousands() -> None:
    cast = to_number(cells("1.234,5", "12,75", "1 234,5"), "Gewicht", decimal=",")
    assert cast.values.to_list() == [1234.5, 12.75, 1234.5]


def test_cast_number_decimal_comma_in_point_file_is_a_problem() -> None:
    # "12,50" cannot be twelve thousand-and-fifty: a thousands group has three digits.
    cast = to_number(cells("12,50"), "Weight")
    assert cast.values.to_list() == [None]
    assert whys(cast) == [(1, "12,50", "not a number with a decimal point '.'")]


def test_cast_number_rejects_unknown_decimal_mark() -> None:
    with pytest.raises(ValueError, match="decimal"):
        to_number(cells("1"), "x", decimal=";")


# --- money ------------------------------------------------------------------------------------------------------


def test_cast_money_reads_amounts_with_a_currency_symbol_or_code_either_side() -> None:
    cast = to_money(cells("$1.50", "USD 12", "12 EUR", "€3", "R$ 10.00", "Rs. 5", "US$7", "$12 USD"), "Total")
    assert cast.values.to_list() == money("1.50", "12.00", "12.00", "3.00", "10.00", "5.00", "7.00", "12.00")
    assert cast.problems == []


def test_cast_money_is_decimal_18_2() -> None:
    assert to_money(cells("1"), "Total").values.dtype == pl.Decimal(18, 2)


def test_cast_money_reads_thousand_separators_including_indian_grouping() -> None:
    cast = to_money(cells("$1,234.50", "1,234,567", "1,23,456.00"), "Total")
    assert cast.values.to_list() == money("1234.50", "1234567.00", "123456.00")


def test_cast_money_ignores_surrounding_spaces_and_a_leading_apostrophe() -> None:
    cast = to_money(cells("12.5 ", " 3 ", "'-5.00", "'7"), "N. Revenue (formatted)")
    assert cast.values.to_list() == money("12.50", "3.00", "-5.00", "7.00")


def test_cast_money_reads_parentheses_a_unicode_minus_and_a_sign_anywhere_as_negative() -> None:
    cast = to_money(cells("(5.00)", "\u22125", "-$5", "$-5", "5.00-", "($5.00)"), "Refunded Amount")
    assert cast.values.to_list() == money("-5.00", "-5.00", "-5.00", "-5.00", "-5.00", "-5.00")
    assert cast.problems == []


def test_cast_money_reads_a_decimal_comma_with_symbols_codes_and_thousands() -> None:
    cast = to_money(cells("1 234,50 €", "1.234,50", "12,5 EUR", "-3,00", "7"), "Summe", decimal=",")
    assert cast.values.to_list() == money("1234.50", "1234.50", "12.50", "-3.00", "7.00")
    assert cast.problems == []


def test_cast_money_decimal_comma_in_point_file_is_a_problem() -> None:
    cast = to_money(cells("1 234,50 €"), "Total")
    assert whys(cast) == [(1, "1 234,50 €", "not an amount of money with a decimal point '.'")]


def test_cast_money_rounds_half_even_to_cents() -> None:
    # 2.675 is exactly half a cent above 2.67: half-even goes to the even cent 2.68; 2.665 -> 2.66; 0.015 -> 0.02.
    cast = to_money(cells("2.675", "2.665", "0.015", "0.005", "0.0051", "-2.675"), "Total")
    assert cast.values.to_list() == money("2.68", "2.66", "0.02", "0.00", "0.01", "-2.68")


def test_cast_money_text_is_a_problem() -> None:
    cast = to_money(cells("abc", "12", "N/A", "ABC 5", "(5", "--5"), "Total")
    assert cast.values.to_list() == [None, Decimal("12.00"), None, None, None, None]
    assert [p.record for p in cast.problems] == [1, 3, 4, 5, 6]
    assert {p.why for p in cast.problems} == {"not an amount of money"}


def test_cast_money_too_large_is_a_problem() -> None:
    cast = to_money(cells("12345678901234567.00"), "Total")
    assert whys(cast) == [(1, "12345678901234567.00", "too large an amount (over 16 digits before the decimal mark)")]


def test_cast_currency_symbol_reads_codes_and_unambiguous_symbols() -> None:
    found = currency_symbol(cells("USD 12", "12,50 €", "£3", "R$ 10", "₹1,299", "12 usd", "$12 USD", "CA$5"))
    assert found.to_list() == ["USD", "EUR", "GBP", "BRL", "INR", "USD", "USD", "CAD"]


def test_cast_currency_symbol_shared_symbols_and_plain_numbers_are_null() -> None:
    found = currency_symbol(cells("$12", "¥100", "Rs 5", "12.00", "abc", None))
    assert found.to_list() == [None, None, None, None, None, None]


# --- booleans ---------------------------------------------------------------------------------------------------


def test_cast_bool_reads_true_false_yes_no_1_0_and_y_n_in_any_case() -> None:
    cast = to_bool(cells("TRUE", "FALSE", "true", "yes", "no", "1", "0", "Y", "N", " Yes "), "Accepts Marketing")
    assert cast.values.to_list() == [True, False, True, True, False, True, False, True, False, True]
    assert cast.problems == []


def test_cast_bool_other_word_is_a_problem() -> None:
    cast = to_bool(cells("yes", "maybe"), "Accepts Marketing")
    assert cast.values.to_list() == [True, None]
    assert whys(cast) == [(2, "maybe", "not yes/no or true/false")]


# --- timestamps -------------------------------------------------------------------------------------------------


def test_cast_timestamp_converts_each_row_by_its_own_offset_across_a_dst_change() -> None:
    # US Pacific springs forward 2023-03-12: 23:30 -0800 is 07:30 UTC next day, 03:30 -0700 is 10:30 UTC.
    cast = to_timestamp_utc(cells("2023-03-11 23:30:00 -0800", "2023-03-12 03:30:00 -0700"), "Created at",
                            formats=SHOPIFY, tz="America/Los_Angeles")
    assert cast.values.to_list() == [D(2023, 3, 12, 7, 30), D(2023, 3, 12, 10, 30)]
    assert cast.problems == []


def test_cast_timestamp_offset_in_value_beats_account_zone() -> None:
    cast = to_timestamp_utc(cells("2023-04-09 19:46:45 -0700"), "Created at", formats=SHOPIFY, tz="Europe/Berlin")
    assert cast.values.to_list() == [D(2023, 4, 10, 2, 46, 45)]


def test_cast_timestamp_reads_iso_times_with_z_or_an_offset_with_or_without_colon() -> None:
    cast = to_timestamp_utc(cells("2024-05-01T12:00:00Z", "2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00-0130"),
                            "created_datetime", formats=ISO, tz="UTC")
    assert cast.values.to_list() == [D(2024, 5, 1, 12), D(2024, 5, 1, 10), D(2024, 5, 1, 13, 30)]


def test_cast_timestamp_format_with_literal_z_is_utc() -> None:
    cast = to_timestamp_utc(cells("2024-05-01T12:00:00Z"), "created", formats=["%Y-%m-%dT%H:%M:%SZ"], tz="Asia/Tokyo")
    assert cast.values.to_list() == [D(2024, 5, 1, 12)]


def test_cast_timestamp_reads_a_wall_clock_in_the_account_zone_with_its_summer_time() -> None:
    # Berlin is UTC+1 in January and UTC+2 in July.
    cast = to_timestamp_utc(cells("2024-01-15 12:00", "2024-07-01 12:00"), "Created at", formats=WALL,
                            tz="Europe/Berlin")
    assert cast.values.to_list() == [D(2024, 1, 15, 11), D(2024, 7, 1, 10)]


def test_cast_timestamp_spring_forward_gap_is_a_problem() -> None:
    # Berlin clocks jump 02:00 -> 03:00 on 2024-03-31: 02:30 never happened there.
    cast = to_timestamp_utc(cells("2024-03-31 01:30", "2024-03-31 02:30", "2024-03-31 03:30"), "Created at",
                            formats=WALL, tz="Europe/Berlin")
    assert cast.values.to_list() == [D(2024, 3, 31, 0, 30), None, D(2024, 3, 31, 1, 30)]
    assert whys(cast) == [(2, "2024-03-31 02:30", "does not exist in Europe/Berlin (clocks skip this hour)")]


def test_cast_timestamp_fall_back_hour_takes_the_earlier_instant() -> None:
    # Berlin clocks go 03:00 -> 02:00 on 2024-10-27: 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET).
    cast = to_timestamp_utc(cells("2024-10-27 02:30"), "Created at", formats=WALL, tz="Europe/Berlin")
    assert cast.values.to_list() == [D(2024, 10, 27, 0, 30)]
    assert cast.problems == []


def test_cast_timestamp_placeholder_is_null_without_problem() -> None:
    cast = to_timestamp_utc(cells("1900-01-01", "1900-01-01 00:00", "2024-01-02 03:04"), "Solved at",
                            formats=WALL, tz="UTC")
    assert cast.values.to_list() == [None, None, D(2024, 1, 2, 3, 4)]
    assert cast.problems == []


def test_cast_timestamp_reads_each_cell_by_whichever_listed_format_fits() -> None:
    cast = to_timestamp_utc(cells("2024-01-02 03:04:05 +0100", "31/12/2023 22:36"), "Created at",
                            formats=[*SHOPIFY, "%d/%m/%Y %H:%M"], tz="UTC")
    assert cast.values.to_list() == [D(2024, 1, 2, 2, 4, 5), D(2023, 12, 31, 22, 36)]


def test_cast_timestamp_reads_month_first_dates_with_single_digit_day_and_month() -> None:
    cast = to_timestamp_utc(cells("8/9/2024 11:33"), "Date", formats=["%m/%d/%Y %H:%M"], tz="UTC")
    assert cast.values.to_list() == [D(2024, 8, 9, 11, 33)]


def test_cast_timestamp_unreadable_names_the_expected_form() -> None:
    cast = to_timestamp_utc(cells("31/12/2023 22:36", "2023-12-31", "yesterday"), "Created at",
                            formats=["%d/%m/%Y %H:%M"], tz="UTC")
    assert whys(cast) == [(2, "2023-12-31", "not a date in the form DD/MM/YYYY HH:MM"),
                          (3, "yesterday", "not a date in the form DD/MM/YYYY HH:MM")]


def test_cast_timestamp_gives_microsecond_datetimes_without_a_time_zone() -> None:
    values = to_timestamp_utc(cells("2024-05-01T12:00:00Z"), "t", formats=ISO, tz="UTC").values
    assert values.dtype == pl.Datetime("us")
    assert values.dtype.time_zone is None  # type: ignore[attr-defined]


def test_cast_timestamp_unknown_zone_raises() -> None:
    with pytest.raises(ValueError, match="time zone"):
        to_timestamp_utc(cells("2024-01-01 00:00"), "t", formats=WALL, tz="Mars/Olympus")


# --- date order -------------------------------------------------------------------------------------------------


def test_cast_date_order_is_day_first_when_a_first_number_is_over_12() -> None:
    assert date_order(cells("1/2/2023 10:00", "31/12/2023 22:36", None)) == "DMY"


def test_cast_date_order_is_month_first_when_a_second_number_is_over_12() -> None:
    assert date_order(cells("8/9/2024 11:33", "12/25/2024 09:00")) == "MDY"


def test_cast_date_order_is_ambiguous_when_no_number_is_over_12() -> None:
    assert date_order(cells("8/9/2024 11:33", "01.02.2024")) == "ambiguous"


def test_cast_date_order_is_unknown_when_the_rows_disagree() -> None:
    assert date_order(cells("31/12/2023", "12/31/2023")) == "unknown"


def test_cast_date_order_without_slash_dates_is_unknown() -> None:
    assert date_order(cells("2023-12-31 10:00", None)) == "unknown"


# --- durations --------------------------------------------------------------------------------------------------


def test_cast_minutes_converts_hours_to_minutes() -> None:
    cast = to_minutes(cells("1.5", "0.25", "2"), "Resolution time", "hours")
    assert cast.values.to_list() == [90.0, 15.0, 120.0]


def test_cast_minutes_keeps_minutes_and_converts_seconds() -> None:
    assert to_minutes(cells("42", "1,440"), "First reply time in minutes", "minutes").values.to_list() == [42.0, 1440.0]
    assert to_minutes(cells("90", "30"), "Handle time", "seconds").values.to_list() == [1.5, 0.5]


def test_cast_minutes_reads_clock_times_and_day_counts_as_durations() -> None:
    # 1:30 = 90; 26:15:30 = 1575.5; 1 day 02:03 = 1440 + 123 = 1563; 2 days, 0:00:30 = 2880.5; 3 days = 4320.
    cast = to_minutes(cells("1:30", "26:15:30", "1 day 02:03", "2 days, 0:00:30", "3 days"), "Time tracked", "hours")
    assert cast.values.to_list() == [90.0, 1575.5, 1563.0, 2880.5, 4320.0]


def test_cast_minutes_negative_duration_is_a_problem() -> None:
    cast = to_minutes(cells("5", "-2", "-0:10", "0"), "Resolution time", "hours")
    assert cast.values.to_list() == [300.0, None, None, 0.0]
    assert whys(cast) == [(2, "-2", "negative duration"), (3, "-0:10", "negative duration")]


def test_cast_minutes_unreadable_durations_are_problems() -> None:
    cast = to_minutes(cells("soon", "1:75"), "First reply time in minutes", "minutes")
    assert whys(cast) == [(1, "soon", "not a duration"), (2, "1:75", "not a duration")]


# --- satisfaction -----------------------------------------------------------------------------------------------


def test_cast_rating_reads_zendesk_words_and_not_offered_as_no_rating() -> None:
    rating, score = to_rating(cells("Good", "Bad", "Offered", "Not Offered", "Unoffered"), "Satisfaction Score")
    assert rating.values.to_list() == ["good", "bad", "offered", None, None]
    assert score.values.to_list() == [None] * 5
    assert rating.problems == []


def test_cast_rating_help_scout_words_count_okay_as_not_satisfied() -> None:
    rating, score = to_rating(cells("great", "okay", "not good", "Not  Good"), "Happiness Rating")
    assert rating.values.to_list() == ["good", "bad", "bad", "bad"]
    assert score.values.to_list() == [None] * 4


def test_cast_rating_numbers_keep_their_score_and_four_or_five_is_good() -> None:
    rating, score = to_rating(cells("5", "4", "3.0", "1"), "review_score")
    assert score.values.to_list() == [5, 4, 3, 1]
    assert score.values.dtype == pl.Int16
    assert rating.values.to_list() == ["good", "good", "bad", "bad"]


def test_cast_rating_unreadable_is_reported_once_on_the_rating() -> None:
    rating, score = to_rating(cells("6", "3.5", "meh", "good"), "Satisfaction Score")
    assert rating.values.to_list() == [None, None, None, "good"]
    assert score.values.to_list() == [None] * 4
    assert whys(rating) == [(1, "6", "not a rating from 1 to 5"), (2, "3.5", "not a rating from 1 to 5"),
                            (3, "meh", "not a satisfaction rating")]
    assert score.problems == []


# --- problems ---------------------------------------------------------------------------------------------------


def test_cast_problems_carry_record_number_and_original_cell_text() -> None:
    cast = to_int(cells("1", None, " 3.5 ", "", "x y"), "Replies")
    assert cast.problems == [Problem(3, "Replies", " 3.5 ", "not a whole number (has a fraction)"),
                             Problem(5, "Replies", "x y", "not a whole number")]


def test_cast_problems_of_different_kinds_come_in_record_order() -> None:
    cast = to_timestamp_utc(cells("2024-03-31 02:30", "2024-03-31 01:00", "bad", "2024-03-31 02:59"), "Created at",
                            formats=WALL, tz="Europe/Berlin")
    assert [p.record for p in cast.problems] == [1, 3, 4]


ALL_CASTS: list[Callable[[pl.Series], Cast]] = [
    to_text,
    lambda s: to_int(s, "c"),
    lambda s: to_number(s, "c"),
    lambda s: to_money(s, "c"),
    lambda s: to_bool(s, "c"),
    lambda s: to_timestamp_utc(s, "c", formats=WALL, tz="Europe/Berlin"),
    lambda s: to_minutes(s, "c", "hours"),
    lambda s: to_rating(s, "c")[0],
]


@pytest.mark.parametrize("cast", ALL_CASTS)
@pytest.mark.parametrize("column", [pl.Series("c", [None, None], dtype=pl.String), pl.Series("c", [None, None])])
def test_cast_all_null_column_gives_no_problems(cast: Callable[[pl.Series], Cast], column: pl.Series) -> None:
    result = cast(column)
    assert result.values.to_list() == [None, None]
    assert result.problems == []
    assert result.problem_count == 0


def test_cast_problem_list_is_capped_with_an_honest_count() -> None:
    cast = to_bool(pl.Series("c", ["maybe"] * (MAX_PROBLEMS + 5)), "Accepts Marketing")
    assert len(cast.problems) == MAX_PROBLEMS
    assert cast.problems[-1].record == MAX_PROBLEMS
    assert cast.unlisted == 5
    assert cast.problem_count == MAX_PROBLEMS + 5


def test_cast_keeps_the_series_name() -> None:
    assert to_money(pl.Series("Total", ["1"]), "Total").values.name == "Total"


# --- real exports (skipped where the shared folder is absent) ---------------------------------------------------

SHOPIFY_REAL = REAL_DATA / "shopify-real-store-monfrere-redacted" / "Shopify_orders_export_2.csv"


@pytest.mark.skipif(not SHOPIFY_REAL.exists(), reason="real Shopify export not present")
def test_cast_real_shopify_export_reads_without_problems() -> None:
    frame = pl.read_csv(SHOPIFY_REAL, infer_schema=False)
    created = to_timestamp_utc(frame["Created at"], "Created at", formats=SHOPIFY, tz="America/New_York")
    total = to_money(frame["Total"], "Total")
    quantity = to_int(frame["Lineitem quantity"], "Lineitem quantity")
    assert (created.problem_count, total.problem_count, quantity.problem_count) == (0, 0, 0)
    assert created.values.null_count() == frame["Created at"].null_count()


def test_cast_rating_of_a_long_column_reads_each_distinct_cell_once_with_the_same_result() -> None:
    cells = ["Good", "Bad", None, "meh", "4", "Offered"] * 50  # 300 cells, 6 distinct: the distinct path
    long_rating, long_score = to_rating(pl.Series("Satisfaction", cells), "Satisfaction")
    assert long_rating.values.to_list()[:6] == ["good", "bad", None, None, "good", "offered"]
    assert long_score.values.to_list()[:6] == [None, None, None, None, 4, None]
    assert [p.record for p in long_rating.problems] == list(range(4, 301, 6))
    assert {(p.value, p.why) for p in long_rating.problems} == {("meh", "not a satisfaction rating")}
    assert long_rating.bad is not None and long_rating.bad.sum() == 50
