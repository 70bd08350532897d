"""The soak bench's pure helpers: the memory slope, percentiles, each user's own filters, the CSV's unique ids."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from bench.soak import percentile, slope_per_minute, user_query, write_zendesk_csv


def test_soak_slope_is_the_least_squares_growth_per_minute() -> None:
    # 100 MB, then 110 and 120 a minute apart: 10 MB/min
    assert slope_per_minute([(0, 100), (60, 110), (120, 120)]) == pytest.approx(10.0)
    # around t = 45, y = 100: sum dt*dy = -15*4 + 15*-4 = -120, sum dt^2 = 2*45^2 + 2*15^2 = 4500
    # -> -120 / 4500 MB/s = -1.6 MB/min
    assert slope_per_minute([(0, 100), (30, 104), (60, 96), (90, 100)]) == pytest.approx(-1.6)
    assert math.isnan(slope_per_minute([(0, 100)]))


def test_soak_percentiles_interpolate_between_ranks() -> None:
    # 1..5: p50 = 3, p95 = 4 + 0.8 * (5 - 4) = 4.8
    assert percentile([5, 1, 4, 2, 3], 50) == 3
    assert percentile([5, 1, 4, 2, 3], 95) == pytest.approx(4.8)
    assert math.isnan(percentile([], 50))


def test_soak_users_after_the_first_ask_for_distinct_filters() -> None:
    queries = [user_query(user) for user in range(25)]
    assert queries[0] == "" and queries[1] == "channel=email&priority=low"
    assert len(set(queries[1:])) == 24  # 6 channels x 4 priorities before the first repeats


def test_soak_csv_holds_every_id_once(tmp_path: Path) -> None:
    csv = tmp_path / "zendesk.csv"
    write_zendesk_csv(csv, 100_000)
    ids = pl.read_csv(csv, columns=["Id"])["Id"]
    assert ids.len() == ids.n_unique() == 100_000
    assert (ids.min(), ids.max()) == (1, 100_000)
