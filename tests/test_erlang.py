"""Erlang C and workload staffing: published vectors, exact arithmetic at scale, a queue simulation and the CLI."""

from __future__ import annotations

import heapq
import json
import math
import subprocess
import sys
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from metrics.erlang import (
    average_speed_of_answer_seconds,
    erlang_b,
    erlang_c_staffing,
    occupancy,
    service_level,
    staffing,
    wait_probability,
    workload_staffing,
)
from tests.conftest import PROJECT

# KPIS.md / pyworkforce: 100 contacts in 30 min at 3 min each = 10 Erlangs, 80 % within 20 s, occupancy ≤ 85 %,
# 30 % shrinkage.
PUBLISHED = {
    "contacts": 100,
    "interval_seconds": 30 * 60,
    "handle_seconds": 3 * 60,
    "answer_seconds": 20,
    "target_service_level": 0.8,
    "max_occupancy": 0.85,
    "shrinkage": 0.3,
}


# --- Erlang formulas by hand ----------------------------------------------------------------------------------


def test_erlang_b_two_agents_one_erlang_is_one_fifth() -> None:
    # B(1) = 1·1/(1 + 1) = 1/2; B(2) = 1·(1/2)/(2 + 1/2) = 1/5.
    assert erlang_b(2, 1.0) == pytest.approx(0.2, rel=1e-12)


def test_wait_probability_one_agent_equals_the_load() -> None:
    # M/M/1: a contact waits exactly when the single agent is busy, which is the utilisation ρ = A.
    assert wait_probability(1, 0.6) == pytest.approx(0.6, rel=1e-12)


def test_wait_probability_two_agents_one_erlang_is_one_third() -> None:
    # C = N·B / (N − A·(1 − B)) = 2·(1/5) / (2 − 4/5) = 1/3.
    assert wait_probability(2, 1.0) == pytest.approx(1 / 3, rel=1e-12)


def test_service_level_two_agents_one_erlang_at_ln3_handle_times_is_eight_ninths() -> None:
    # SL = 1 − (1/3)·e^(−(2 − 1)·t/AHT); with t = AHT·ln 3 that is 1 − 1/9 = 8/9.
    assert service_level(2, 1.0, answer_seconds=60 * math.log(3), handle_seconds=60) == pytest.approx(8 / 9)


def test_average_speed_of_answer_two_agents_one_erlang_is_a_third_of_handle_time() -> None:
    # ASA = C·AHT/(N − A) = (1/3)·60/1 = 20 s.
    assert average_speed_of_answer_seconds(2, 1.0, handle_seconds=60) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("agents", "load", "handle_seconds", "wait", "level"),
    [(10, 8.0, 240, 0.409, 0.654), (13, 10.0, 180, 0.285, 0.796)],
    ids=["N10_A8_AHT240", "N13_A10_AHT180"],
)
def test_erlang_c_matches_the_published_vectors(
    agents: int, load: float, handle_seconds: int, wait: float, level: float
) -> None:
    # KPIS.md quotes three decimals, so the formula must round to them.
    assert wait_probability(agents, load) == pytest.approx(wait, abs=5e-4)
    assert service_level(agents, load, answer_seconds=20, handle_seconds=handle_seconds) == pytest.approx(
        level, abs=5e-4
    )


@pytest.mark.parametrize("agents", [8, 5, 0])
def test_erlang_c_at_or_below_the_load_everyone_waits_and_nobody_is_answered_in_time(agents: int) -> None:
    assert wait_probability(agents, 8.0) == 1.0
    assert service_level(agents, 8.0, answer_seconds=20, handle_seconds=180) == 0.0
    assert average_speed_of_answer_seconds(agents, 8.0, handle_seconds=180) == math.inf


def test_occupancy_is_load_over_agents_and_capped_at_one() -> None:
    assert occupancy(14, 10.0) == pytest.approx(10 / 14)
    assert occupancy(5, 8.0) == 1.0


# --- Numerical stability against exact rational arithmetic -------------------------------------------------


def _exact_wait_probability(agents: int, load: Fraction) -> Fraction:
    """C(N, A) from its textbook sums, in exact integers: an independent path, not the B recursion.

    C = X / (Σ_{k<N} A^k/k! + X) with X = A^N/N! · N/(N − A). With A = a/q, every term times N!·q^N is the integer
    a^k · q^(N−k) · N!/k!, built from k = N downwards so each step is one exact multiplication and division.
    """
    a, q = load.numerator, load.denominator
    power, falling, below = a**agents, 1, 0  # a^k·q^(N−k) and N!/k! at k = N
    top = power
    for k in range(agents, 0, -1):
        power, falling = power // a * q, falling * k
        below += power * falling
    waiting = Fraction(top) * agents / (agents - load)
    return waiting / (below + waiting)


def test_exact_reference_gives_one_third_for_two_agents_one_erlang() -> None:
    # The reference must itself reproduce the hand value before it can vouch for anything at scale.
    assert _exact_wait_probability(2, Fraction(1)) == Fraction(1, 3)
    assert _exact_wait_probability(1, Fraction(3, 5)) == Fraction(3, 5)


@pytest.mark.parametrize(
    ("agents", "load"),
    [(500, Fraction(480)), (2000, Fraction(3899, 2)), (2000, Fraction(1900))],
    ids=["N500_A480", "N2000_A1949.5", "N2000_A1900"],
)
def test_wait_probability_at_scale_matches_exact_arithmetic(agents: int, load: Fraction) -> None:
    # A^N/N! overflows a float well before 500 agents (480^500 ≈ 1e1340); the recursion must still agree with the
    # exact value to near machine precision.
    assert wait_probability(agents, float(load)) == pytest.approx(float(_exact_wait_probability(agents, load)),
                                                                  rel=1e-9)


def test_wait_probability_at_five_thousand_agents_is_a_probability() -> None:
    wait = wait_probability(5000, 4900.0)
    assert 0 < wait < 1 and math.isfinite(wait)
    # More agents on the same load can only shorten the queue.
    assert wait_probability(5001, 4900.0) < wait < wait_probability(4999, 4900.0)


def test_required_agents_at_two_thousand_erlangs_is_the_smallest_that_reaches_the_target() -> None:
    # 20,000 × 180 s / 1,800 s = 2,000 Erlangs; no occupancy cap, or the 0.85 cap alone would decide (2,353).
    inputs = {**PUBLISHED, "contacts": 20_000, "max_occupancy": 1.0}
    result = erlang_c_staffing(**inputs)
    # Queues pool so well at this size that a few dozen agents above the load reach 80 % in 20 s.
    assert 2000 < result.raw_agents < 2100
    assert service_level(result.raw_agents, 2000.0, answer_seconds=20, handle_seconds=180) >= 0.8
    assert service_level(result.raw_agents - 1, 2000.0, answer_seconds=20, handle_seconds=180) < 0.8


# --- Required agents ------------------------------------------------------------------------------------------


def test_erlang_c_staffing_matches_the_published_vector() -> None:
    result = erlang_c_staffing(**PUBLISHED)
    # 13 agents give SL 0.796 (vector N13_A10_AHT180 above), one short of 0.8, so 14 is the smallest; 14 / 0.7 = 20.
    assert (result.raw_agents, result.agents) == (14, 20)
    assert result.service_level == pytest.approx(0.888, abs=5e-4)
    assert result.occupancy == pytest.approx(0.714, abs=5e-4)
    assert result.wait_probability == pytest.approx(0.174, abs=5e-4)
    # ASA = C·AHT/(N − A) = 0.17413·180/4 ≈ 7.84 s.
    assert result.average_speed_of_answer_seconds == pytest.approx(7.836, abs=1e-3)
    assert result.offered_load_erlangs == pytest.approx(10.0)


def test_erlang_c_staffing_occupancy_cap_can_outweigh_the_service_level() -> None:
    # 100 Erlangs reach 80 % in 20 s with about 107 agents (occupancy ≈ 0.93); a 0.85 cap needs ⌈100/0.85⌉ = 118.
    relaxed = erlang_c_staffing(**{**PUBLISHED, "contacts": 1000, "max_occupancy": 1.0})
    capped = erlang_c_staffing(**{**PUBLISHED, "contacts": 1000})
    assert relaxed.raw_agents < 118
    assert capped.raw_agents == 118 and capped.occupancy == pytest.approx(100 / 118)


def test_erlang_c_staffing_positions_ignore_a_floating_point_overshoot() -> None:
    # 165 contacts = 16.5 Erlangs need 21 agents; 21 / (1 − 0.3) is 30 exactly but 30.000000000000004 in floats,
    # which a bare ceil would turn into 31 positions.
    result = erlang_c_staffing(**{**PUBLISHED, "contacts": 165})
    assert (result.raw_agents, result.agents) == (21, 30)


def test_erlang_c_staffing_accepts_occupancy_exactly_at_the_cap() -> None:
    # 98 contacts × 180 s / 1,800 s = 9.8 Erlangs; on 14 agents occupancy is exactly a 0.7 cap, which is allowed,
    # although 9.8 / 14 computes as 0.7000000000000001. A target of 0.1 is met by any N > A, so only the cap
    # decides: ⌈9.8 / 0.7⌉ = 14.
    result = erlang_c_staffing(**{**PUBLISHED, "contacts": 98, "target_service_level": 0.1, "max_occupancy": 0.7})
    assert result.raw_agents == 14


def test_erlang_c_staffing_without_contacts_needs_nobody() -> None:
    result = erlang_c_staffing(**{**PUBLISHED, "contacts": 0})
    assert (result.raw_agents, result.agents, result.wait_probability) == (0, 0, 0.0)


def test_workload_staffing_matches_the_monthly_email_vector() -> None:
    # KPIS.md: 50,000 emails a month at 15 min → "78 agents, 122 at 35 % shrinkage". Workload = 12,500 hours.
    # 122 needs 12,500 / (paid hours × occupancy) / 0.65 in (121, 122], i.e. paid hours × occupancy in
    # (158.2, 158.9]: 176 paid hours a month (22 days × 8 h) at 90 % occupancy = 158.4 gives 78.9 FTE and
    # 121.4 → 122 positions. The "78" is 78.9 truncated: no rule that rounds up can give 78 and 122 together
    # (78 / 0.65 = 120), so rounded up the agents working email are 79.
    result = workload_staffing(contacts=50_000, interval_seconds=176 * 3600, handle_seconds=15 * 60,
                               max_occupancy=0.9, shrinkage=0.35)
    assert (result.raw_agents, result.agents) == (79, 122)
    assert result.offered_load_erlangs == pytest.approx(12_500 / 176)
    assert (result.service_level, result.wait_probability, result.average_speed_of_answer_seconds) == (None,) * 3


def test_workload_staffing_for_an_interval_by_hand() -> None:
    # 60 emails × 6 min = 360 min of work in a 30-min interval = 12 busy agents; ÷ 0.8 occupancy = 15; ÷ 0.75 = 20.
    result = workload_staffing(contacts=60, interval_seconds=30 * 60, handle_seconds=6 * 60, max_occupancy=0.8,
                               shrinkage=0.25)
    assert (result.raw_agents, result.agents) == (15, 20)
    assert result.occupancy == pytest.approx(0.8)


def test_workload_staffing_rounds_up_once_from_the_unrounded_fte() -> None:
    # 51 × 6 min / 30 min = 10.2 FTE → 11 agents; positions ⌈10.2 / 0.5⌉ = 21, not ⌈11 / 0.5⌉ = 22.
    result = workload_staffing(contacts=51, interval_seconds=30 * 60, handle_seconds=6 * 60, max_occupancy=1.0,
                               shrinkage=0.5)
    assert (result.raw_agents, result.agents) == (11, 21)


def test_workload_staffing_without_contacts_needs_nobody() -> None:
    result = workload_staffing(contacts=0, interval_seconds=1800, handle_seconds=360, max_occupancy=0.8,
                               shrinkage=0.3)
    assert (result.raw_agents, result.agents, result.occupancy) == (0, 0, 0.0)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"contacts": -1}, "contacts must be zero or more"),
        ({"contacts": math.nan}, "contacts must be zero or more"),
        ({"interval_seconds": 0}, "interval length must be more than 0"),
        ({"handle_seconds": 0}, "handle time must be more than 0"),
        ({"answer_seconds": -5}, "answer target must be zero or more"),
        ({"target_service_level": 1.0}, "service level target must be above 0 and below 1"),
        ({"target_service_level": 0}, "service level target must be above 0 and below 1"),
        ({"max_occupancy": 0}, "max occupancy must be above 0 and at most 1"),
        ({"max_occupancy": 1.2}, "max occupancy must be above 0 and at most 1"),
        ({"shrinkage": 1.0}, "shrinkage must be at least 0 and below 1"),
        ({"shrinkage": -0.1}, "shrinkage must be at least 0 and below 1"),
        # 1e8 contacts × 180 s / 1,800 s = 1e7 Erlangs: a typo, and a search that would run for minutes.
        ({"contacts": 1e8}, "need more than 1,000,000 agents"),
    ],
)
def test_erlang_c_staffing_rejects_impossible_inputs(change: dict[str, float], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        erlang_c_staffing(**{**PUBLISHED, **change})


@pytest.mark.parametrize(
    ("change", "says"),
    [({"contacts": -1}, "contacts must be"), ({"shrinkage": 1.0}, "shrinkage must be"),
     ({"max_occupancy": 0}, "max occupancy must be")],
)
def test_workload_staffing_rejects_impossible_inputs(change: dict[str, float], says: str) -> None:
    inputs = {"contacts": 60, "interval_seconds": 1800, "handle_seconds": 360, "max_occupancy": 0.8, "shrinkage": 0.3}
    with pytest.raises(ValueError, match=says):
        workload_staffing(**{**inputs, **change})


def test_staffing_rejects_an_unknown_model() -> None:
    with pytest.raises(ValueError, match="model must be one of erlang_c, workload"):
        staffing("erlang_a", **PUBLISHED)  # type: ignore[arg-type]


# --- A simulated queue agrees with the formula ----------------------------------------------------------------


def _simulated_waits(agents: int, load: float, arrivals: int, seed: int) -> np.ndarray:
    """Waits, in mean handle times, of a first-come-first-served M/M/c queue: Poisson arrivals, exponential handling.

    Each contact goes to the agent who frees up first; it waits only if that is after it arrives.
    """
    rng = np.random.default_rng(seed)
    arrived = np.cumsum(rng.exponential(1 / load, arrivals)).tolist()
    handled = rng.exponential(1.0, arrivals).tolist()
    free_at = [0.0] * agents
    waits = np.empty(arrivals)
    for i, (arrival, handle) in enumerate(zip(arrived, handled, strict=True)):
        start = max(arrival, free_at[0])
        waits[i] = start - arrival
        heapq.heapreplace(free_at, start + handle)
    return waits[arrivals // 50:]  # the queue starts empty: drop the first 2 % as warm-up


def test_simulated_queue_matches_erlang_c() -> None:
    # 13 agents, 10 Erlangs, answer target 20 s of a 180 s handle time: C ≈ 0.285, SL ≈ 0.796, ASA ≈ 17.1 s.
    # Consecutive waits are correlated, so over seeds the error of 1M arrivals has a standard deviation of about
    # 0.0024 (P(wait)), 0.0022 (SL) and 1.7 % (ASA): the tolerances are about four of those. A formula a few
    # points off still fails, e.g. SL without the exponential, 1 − C = 0.715.
    waits = _simulated_waits(agents=13, load=10.0, arrivals=1_000_000, seed=20240304)
    assert np.mean(waits > 0) == pytest.approx(wait_probability(13, 10.0), abs=0.01)
    assert np.mean(waits <= 20 / 180) == pytest.approx(
        service_level(13, 10.0, answer_seconds=20, handle_seconds=180), abs=0.01
    )
    assert np.mean(waits) * 180 == pytest.approx(average_speed_of_answer_seconds(13, 10.0, handle_seconds=180),
                                                 rel=0.07)


# --- Command line ---------------------------------------------------------------------------------------------

EXAMPLE = ["--contacts", "100", "--interval-minutes", "30", "--handle-minutes", "3", "--answer-seconds", "20",
           "--service-level", "0.8", "--max-occupancy", "0.85", "--shrinkage", "0.3"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metrics.erlang", *args], cwd=PROJECT, capture_output=True,
                          text=True, timeout=60)


def _json(*args: str) -> dict[str, Any]:
    done = _run(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_json_gives_the_published_vector() -> None:
    values = _json(*EXAMPLE)
    assert values["model"] == "erlang_c"
    assert (values["raw_agents"], values["agents"]) == (14, 20)
    assert values["service_level"] == pytest.approx(0.888, abs=5e-4)
    assert values["occupancy"] == pytest.approx(0.714, abs=5e-4)
    assert values["wait_probability"] == pytest.approx(0.174, abs=5e-4)
    assert values["inputs"]["handle_seconds"] == 180


def test_cli_workload_model_gives_the_email_vector_with_nulls_for_queue_measures() -> None:
    # 176 paid hours a month = 10,560 minutes (see test_workload_staffing_matches_the_monthly_email_vector).
    values = _json("--model", "workload", "--contacts", "50000", "--interval-minutes", "10560",
                   "--handle-minutes", "15", "--max-occupancy", "0.9", "--shrinkage", "0.35")
    assert (values["model"], values["raw_agents"], values["agents"]) == ("workload", 79, 122)
    assert values["service_level"] is None and values["wait_probability"] is None


def test_cli_text_output_is_a_labelled_table() -> None:
    done = _run(*EXAMPLE)
    assert done.returncode == 0
    lines = dict(line.split("  ", 1) for line in done.stdout.splitlines())
    assert lines["Positions after shrinkage"].strip() == "20"
    assert lines["Service level"].strip() == "88.8%"
    assert lines["P(wait)"].strip() == "17.4%"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--shrinkage", "1"], "shrinkage must be at least 0 and below 1"),
        (["--contacts", "-5"], "contacts must be zero or more"),
        (["--contacts", "nan"], "contacts must be zero or more"),
        (["--contacts", "lots"], "invalid float value: 'lots'"),
        (["--model", "erlang_a"], "invalid choice: 'erlang_a'"),
        (["--service-level", "80"], "service level target must be above 0 and below 1"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(args: list[str], says: str) -> None:
    done = _run(*EXAMPLE, *args, "--json")
    assert done.returncode == 2
    assert says in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_cli_missing_required_arguments_exit_2_naming_them() -> None:
    done = _run("--json")
    assert done.returncode == 2
    assert done.stderr == "metrics.erlang: the following arguments are required: --contacts, --handle-minutes\n"
