"""How many agents a contact volume needs: Erlang C for live channels, the workload formula for async ones.

    python -m metrics.erlang --contacts 100 --interval-minutes 30 --handle-minutes 3 --answer-seconds 20 \\
        --service-level 0.8 --max-occupancy 0.85 --shrinkage 0.3 [--model erlang_c|workload] [--json]

Erlang C (phone, chat): offered load A = contacts × handle time ÷ interval, in Erlangs; the answer is the smallest
N > A agents whose service level (share answered within the answer target) reaches the target while occupancy
A/N stays within the cap. It ignores abandonment, so it errs towards over-staffing. Workload (email, tickets):
agents = contacts × handle time ÷ interval ÷ max occupancy, where the interval is the time one agent is paid for
in the period (30 minutes for an interval, ~176 hours for a month). Both then divide by (1 − shrinkage) for the
positions to schedule. Probabilities and occupancy are fractions, times are seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Literal, NoReturn

Model = Literal["erlang_c", "workload"]
MODELS: tuple[Model, ...] = ("erlang_c", "workload")

# A quotient such as 21 / (1 - 0.3) lands on 30.000000000000004 in binary floating point: rounding up must not
# turn that into 31, nor may 9.8 Erlangs on 14 agents (0.7000000000000001) fail a 0.7 occupancy cap.
_FLOAT_SLACK = 1e-9

# The search walks agent counts one by one; far beyond any contact centre it would only look frozen.
MAX_AGENTS = 1_000_000


@dataclass(frozen=True)
class Staffing:
    """Agents one interval needs. `raw_agents` work the contacts; `agents` is the head count after shrinkage."""

    model: Model
    offered_load_erlangs: float
    raw_agents: int
    agents: int
    occupancy: float
    service_level: float | None
    wait_probability: float | None
    average_speed_of_answer_seconds: float | None


# --- Erlang formulas ------------------------------------------------------------------------------------------


def offered_load(contacts: float, interval_seconds: float, handle_seconds: float) -> float:
    """Erlangs: the number of agents the contacts would keep busy if the work arrived perfectly evenly."""
    return contacts * handle_seconds / interval_seconds


def _erlang_b_by_agents(load: float) -> Iterator[tuple[int, float]]:
    """(n, Erlang B blocking for n agents) for n = 0, 1, 2, ...

    The recursion B(n) = A·B(n−1) / (n + A·B(n−1)) keeps every value in [0, 1], so unlike A^N / N! it neither
    overflows at thousands of agents nor loses precision; a search walks it once instead of restarting per N.
    """
    blocking, agents = 1.0, 0
    while True:
        yield agents, blocking
        agents += 1
        blocking = load * blocking / (agents + load * blocking)


def _erlang_c_from_b(agents: int, load: float, blocking: float) -> float:
    if agents <= load:
        return 1.0  # the queue grows without bound: everyone waits
    return agents * blocking / (agents - load * (1.0 - blocking))


def erlang_b(agents: int, load: float) -> float:
    """Probability that a contact finds all `agents` busy when there is no queue (blocked contacts are lost)."""
    _check_agents_and_load(agents, load)
    for n, blocking in _erlang_b_by_agents(load):
        if n == agents:
            return blocking
    raise AssertionError("unreachable: the generator never ends")


def wait_probability(agents: int, load: float) -> float:
    """Erlang C: probability that a contact has to queue, C(N, A); 1 when N ≤ A."""
    return _erlang_c_from_b(agents, load, erlang_b(agents, load))


def _service_level_from_c(agents: int, load: float, wait: float, answer_seconds: float, handle_seconds: float) -> float:
    if agents <= load:
        return 0.0
    return 1.0 - wait * math.exp(-(agents - load) * answer_seconds / handle_seconds)


def service_level(agents: int, load: float, answer_seconds: float, handle_seconds: float) -> float:
    """Share of contacts answered within `answer_seconds`: 1 − C·e^(−(N−A)·t/AHT); 0 when N ≤ A."""
    _check_answer(answer_seconds)
    _check_handle(handle_seconds)
    return _service_level_from_c(agents, load, wait_probability(agents, load), answer_seconds, handle_seconds)


def average_speed_of_answer_seconds(agents: int, load: float, handle_seconds: float) -> float:
    """Mean wait over all contacts, C·AHT/(N−A); infinite when N ≤ A."""
    _check_handle(handle_seconds)
    if agents <= load:
        return math.inf
    return wait_probability(agents, load) * handle_seconds / (agents - load)


def occupancy(agents: int, load: float) -> float:
    """Share of logged-in time agents spend on contacts, A/N, capped at 1: an overloaded team is simply always busy."""
    _check_agents_and_load(agents, load)
    return 0.0 if agents == 0 else min(load / agents, 1.0)


# --- Required agents ------------------------------------------------------------------------------------------


def erlang_c_staffing(
    *,
    contacts: float,
    interval_seconds: float,
    handle_seconds: float,
    answer_seconds: float,
    target_service_level: float,
    max_occupancy: float,
    shrinkage: float,
) -> Staffing:
    """Smallest N > A with service level ≥ target and occupancy ≤ cap, then positions = ⌈N ÷ (1 − shrinkage)⌉."""
    _check_volume(contacts, interval_seconds, handle_seconds, max_occupancy, shrinkage)
    _check_answer(answer_seconds)
    if not 0 < target_service_level < 1:
        raise ValueError(f"service level target must be above 0 and below 1, got {target_service_level}")
    load = offered_load(contacts, interval_seconds, handle_seconds)
    if load == 0:
        return Staffing("erlang_c", 0.0, 0, 0, 0.0, 1.0, 0.0, 0.0)
    if load / max_occupancy > MAX_AGENTS:
        raise ValueError(f"{contacts} contacts need more than {MAX_AGENTS:,} agents: check the inputs")
    for agents, blocking in _erlang_b_by_agents(load):
        if agents <= load or load / agents > max_occupancy + _FLOAT_SLACK:
            continue
        wait = _erlang_c_from_b(agents, load, blocking)
        reached = _service_level_from_c(agents, load, wait, answer_seconds, handle_seconds)
        if reached >= target_service_level:
            asa = wait * handle_seconds / (agents - load)
            return Staffing("erlang_c", load, agents, _positions(agents, shrinkage), load / agents, reached, wait, asa)
    raise AssertionError("unreachable: service level tends to 1 and occupancy to 0 as agents grow")


def workload_staffing(
    *, contacts: float, interval_seconds: float, handle_seconds: float, max_occupancy: float, shrinkage: float
) -> Staffing:
    """Async work: ⌈contacts × handle time ÷ interval ÷ max occupancy⌉ agents, then ⌈… ÷ (1 − shrinkage)⌉ positions.

    `interval_seconds` is the time one agent is paid for in the period; no queue is modelled, so service level,
    wait probability and speed of answer are None.
    """
    _check_volume(contacts, interval_seconds, handle_seconds, max_occupancy, shrinkage)
    load = offered_load(contacts, interval_seconds, handle_seconds)
    fte = load / max_occupancy
    # Positions come from the unrounded FTE, so rounding up happens once, as the formula in KPIS.md has it.
    raw, agents = _round_up(fte), _round_up(fte / (1 - shrinkage))
    return Staffing("workload", load, raw, agents, load / raw if raw else 0.0, None, None, None)


def staffing(
    model: Model,
    *,
    contacts: float,
    interval_seconds: float,
    handle_seconds: float,
    answer_seconds: float,
    target_service_level: float,
    max_occupancy: float,
    shrinkage: float,
) -> Staffing:
    """One entry point for both models; the workload model ignores the answer target and service level."""
    if model == "workload":
        return workload_staffing(contacts=contacts, interval_seconds=interval_seconds, handle_seconds=handle_seconds,
                                 max_occupancy=max_occupancy, shrinkage=shrinkage)
    if model == "erlang_c":
        return erlang_c_staffing(contacts=contacts, interval_seconds=interval_seconds, handle_seconds=handle_seconds,
                                 answer_seconds=answer_seconds, target_service_level=target_service_level,
                                 max_occupancy=max_occupancy, shrinkage=shrinkage)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")


def _positions(raw_agents: int, shrinkage: float) -> int:
    return _round_up(raw_agents / (1 - shrinkage))


def _round_up(value: float) -> int:
    return max(math.ceil(value - _FLOAT_SLACK), 0)


# --- Validation -----------------------------------------------------------------------------------------------


def _check_volume(
    contacts: float, interval_seconds: float, handle_seconds: float, max_occupancy: float, shrinkage: float
) -> None:
    if not (math.isfinite(contacts) and contacts >= 0):
        raise ValueError(f"contacts must be zero or more, got {contacts}")
    if not (math.isfinite(interval_seconds) and interval_seconds > 0):
        raise ValueError(f"interval length must be more than 0, got {interval_seconds}")
    _check_handle(handle_seconds)
    if not 0 < max_occupancy <= 1:
        raise ValueError(f"max occupancy must be above 0 and at most 1, got {max_occupancy}")
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage must be at least 0 and below 1, got {shrinkage}")


def _check_handle(handle_seconds: float) -> None:
    if not (math.isfinite(handle_seconds) and handle_seconds > 0):
        raise ValueError(f"handle time must be more than 0, got {handle_seconds}")


def _check_answer(answer_seconds: float) -> None:
    if not (math.isfinite(answer_seconds) and answer_seconds >= 0):
        raise ValueError(f"answer target must be zero or more seconds, got {answer_seconds}")


def _check_agents_and_load(agents: int, load: float) -> None:
    if agents < 0:
        raise ValueError(f"agents must be zero or more, got {agents}")
    if not (math.isfinite(load) and load >= 0):
        raise ValueError(f"offered load must be zero or more Erlangs, got {load}")


# --- Command line ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    inputs = {
        "contacts": args.contacts,
        "interval_seconds": args.interval_minutes * 60,
        "handle_seconds": args.handle_minutes * 60,
        "answer_seconds": args.answer_seconds,
        "target_service_level": args.service_level,
        "max_occupancy": args.max_occupancy,
        "shrinkage": args.shrinkage,
    }
    try:
        result = staffing(args.model, **inputs)
    except ValueError as error:
        print(f"metrics.erlang: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**asdict(result), "inputs": inputs}, indent=2))
    else:
        print(_table(result))
    return 0


def _table(result: Staffing) -> str:
    rows = [
        ("Model", result.model),
        ("Offered load", f"{result.offered_load_erlangs:.2f} Erlangs"),
        ("Agents working contacts", str(result.raw_agents)),
        ("Positions after shrinkage", str(result.agents)),
        ("Occupancy", f"{result.occupancy:.1%}"),
    ]
    if result.service_level is not None and result.wait_probability is not None:
        rows += [("Service level", f"{result.service_level:.1%}"), ("P(wait)", f"{result.wait_probability:.1%}")]
    if result.average_speed_of_answer_seconds is not None:
        rows.append(("Average speed of answer", f"{result.average_speed_of_answer_seconds:.1f} s"))
    return "\n".join(f"{label:<26} {value}" for label, value in rows)


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints the whole usage block on a bad argument; a script reading stderr wants one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"metrics.erlang: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m metrics.erlang", description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=float, required=True, help="contacts arriving in the interval")
    parser.add_argument("--handle-minutes", type=float, required=True, help="average handle time per contact")
    parser.add_argument("--interval-minutes", type=float, default=30.0,
                        help="interval length; for --model workload the paid time per agent in it (default 30)")
    parser.add_argument("--answer-seconds", type=float, default=20.0, help="answer target (default 20)")
    parser.add_argument("--service-level", type=float, default=0.8,
                        help="share to answer within the target, 0-1 (default 0.8)")
    parser.add_argument("--max-occupancy", type=float, default=0.85, help="occupancy cap, 0-1 (default 0.85)")
    parser.add_argument("--shrinkage", type=float, default=0.3,
                        help="share of paid time off contacts, 0-1 (default 0.3)")
    parser.add_argument("--model", choices=MODELS, default="erlang_c", help="erlang_c (live) or workload (async)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    return parser


if __name__ == "__main__":
    sys.exit(main())
