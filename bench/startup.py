"""How long `streamlit run dashboard.py` takes to show the Overview: on an empty warehouse (the first start, which
builds the demo store) and again on the same warehouse with a new server (a later start), against a one-metric
Streamlit app started the same way (Streamlit's own floor).

    python bench/startup.py [--repeat 3] [--top 15] [--against ../other-checkout]

Each start is a new `streamlit run` on a free port of 127.0.0.1 from the project folder (its .streamlit/config.toml),
as tests/test_browser.py serves it, over a warehouse file in a fresh temp folder: what `streamlit run dashboard.py`
finds in a new checkout. Timed: from the process's start until /_stcore/health answers ("health"), then from there
until Debian's chromium, driven by Playwright and launched beforehand, shows the Overview's KPI tiles with numbers
("drawn"), and the server's CPU seconds from its start until then (on a machine shared with other work, wall time
says as much about the neighbours as about the dashboard; CPU time much less). Medians of --repeat rounds; each
round is first start, later start, baseline, in turn, so a busy moment of the machine falls on all three alike.
Ratios are against the baseline's figure of the same column. With --against, each round also starts the
dashboard of another checkout (first and later start, in turn with this one's), and a last table gives this
checkout's medians over that one's: a before and after measured on the same machine state. A last table says where a
start's wait goes: when the server logged each step (the browser's first run began, which ends the share of the
browser and of Streamlit itself; the demo store merged and committed, its tickets categorised and linked, the
warehouse ready; "warehouse opening" is when the script began to open it), in seconds after the health check,
beside when the tiles were drawn and when the server was idle again (its CPU still for half a second): each server
is stopped only then, as a user's runs on, so that what a first start does after its page (the demo store's rollups)
is done before the later start.

Then one more first and later start under `python -X importtime`, untimed (the flag slows imports), gives what each
top-level package cost to import in the server's whole life until the Overview was drawn (self times summed).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, wait_until_answers  # noqa: E402 - as the tests serve

DRAWN_TIMEOUT_MS = 180_000
BASELINE_APP = 'import streamlit as st\n\nst.metric("Tickets created", 1234)\n'
OVERVIEW_TILES = ("Tickets created", "Orders")  # the first tile of each row the Overview draws


@dataclass(frozen=True)
class Start:
    health: float  # seconds from the process's start until /_stcore/health answers
    drawn: float  # seconds from then until the tiles show numbers
    cpu: float  # CPU seconds the server used from its start until then: less at the mercy of a busy machine
    moments: dict[str, float] = field(default_factory=dict)  # seconds after the health check, from the server log


# What the server logs on its way to the Overview (message -> the moment's name), in the order it happens; the log
# lines' times say when, as the user waits. "warehouse ready in X s" also gives when the script began to open it.
RUN_BEGAN = "first run began"
LOGGED_MOMENTS = (
    ("cspulse: first run began", RUN_BEGAN),
    ("merged demo store", "demo store merged"),
    ("demo store loaded", "demo store committed"),
    ("cspulse: categorised", "demo tickets categorised"),
    ("linked tickets to orders", "tickets linked to orders"),
    ("warehouse ready in", "warehouse ready"),
)
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ (.*)$")
WAREHOUSE_READY = re.compile(r"warehouse ready in ([\d.]+) s")


@contextmanager
def started(script: Path, warehouse: Path, log: Path, python_flags: tuple[str, ...] = (),
            project: Path = PROJECT) -> Iterator[tuple[str, float, int]]:
    """A `streamlit run` of ``script`` as tests.test_browser.serve starts one; yields its URL, the seconds until
    it answered its health check and its PID. Stopped by its PID when the block ends."""
    port = free_port()
    env = {**os.environ, "CSPULSE_WAREHOUSE_PATH": str(warehouse)}
    # as a user's server: it writes the modules' bytecode on its first start and reads it on later ones (a shell that
    # sets this compiled every project module from source on every start, 0.05 s for metrics.query alone)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with log.open("wb") as out:
        began = time.monotonic()
        server = subprocess.Popen(
            [sys.executable, *python_flags, "-m", "streamlit", "run", str(script), "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true"],
            cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_answers(f"{url}/_stcore/health", server, seconds=180)
            yield url, time.monotonic() - began, server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


# True once every tile named in the argument shows a digit in its value. Checked on every animation frame: Playwright's
# expect() polls at 0.1, 0.25, 0.5 then every 1 s, which added up to a second to a start, more to a slower one.
TILES_DRAWN_JS = """labels => labels.every(label => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
    tile => tile.innerText.includes(label)
        && /\\d/.test(tile.querySelector('[data-testid="stMetricValue"]')?.innerText ?? '')))"""


def seconds_until_drawn(browser: object, url: str, labels: tuple[str, ...]) -> float:
    """Seconds from now until a new tab of ``url`` shows every tile in ``labels`` with a digit in its value."""
    began = time.monotonic()
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    try:
        tab.goto(url)
        tab.wait_for_function(TILES_DRAWN_JS, arg=list(labels), polling="raf", timeout=DRAWN_TIMEOUT_MS)
        return time.monotonic() - began
    finally:
        tab.close()


def timed_start(browser: object, script: Path, warehouse: Path, log: Path, labels: tuple[str, ...],
                project: Path = PROJECT) -> Start:
    began = time.time()  # wall clock, as the server log's lines carry it
    with started(script, warehouse, log, project=project) as (url, health, pid):
        drawn = seconds_until_drawn(browser, url, labels)
        cpu = cpu_seconds(pid)
        # stopped once idle, as a user's server runs on: what a start leaves for after the page (the demo store's
        # rollups) is done, and the later start finds the warehouse a real first start leaves
        settled = seconds_until_idle(pid) + drawn
        wait_for_checkpoint(warehouse)
    moments = logged_moments(log.read_text(encoding="utf-8", errors="replace"), began + health)
    return Start(health, drawn, cpu, moments | {"server idle": settled})


IDLE_SECONDS = 0.5  # without a CPU tick this long, the server has finished its run


def wait_for_checkpoint(warehouse: Path, timeout: float = 120.0) -> None:
    """Until the warehouse's write-ahead log is empty: a first start's demo store waits there until its rollups
    are committed after the page, which checkpoints both into the file. On a busy machine that commit could wait on
    the disk longer than IDLE_SECONDS without a CPU tick, and a server stopped then left the later start to build
    every rollup again, seconds counted as its own."""
    wal = warehouse.with_name(warehouse.name + ".wal")
    began = time.monotonic()
    while wal.exists() and wal.stat().st_size > 0 and time.monotonic() - began < timeout:
        time.sleep(0.1)


def seconds_until_idle(pid: int, timeout: float = 120.0) -> float:
    """Seconds from now until the process has used no CPU for IDLE_SECONDS."""
    began = last_change = time.monotonic()
    used = cpu_seconds(pid)
    while time.monotonic() - last_change < IDLE_SECONDS and time.monotonic() - began < timeout:
        time.sleep(0.05)
        if (now := cpu_seconds(pid)) != used:
            used, last_change = now, time.monotonic()
    return last_change - began


def logged_moments(log: str, health_at: float) -> dict[str, float]:
    """Seconds after the health check of each moment in LOGGED_MOMENTS the server logged (its first line each), and
    of "warehouse opening" (when the script began to open it: "warehouse ready in X s" less X)."""
    moments: dict[str, float] = {}
    for line in log.splitlines():
        if not (found := LOG_LINE.match(line)):
            continue
        at = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp() - health_at
        for message, name in LOGGED_MOMENTS:
            if message in found[2] and name not in moments:
                moments[name] = at
                if ready := WAREHOUSE_READY.search(found[2]):
                    moments["warehouse opening"] = at - float(ready[1])
    return moments


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after the command name
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(browser: object, folder: Path, against: Path | None = None, number: int = 0) -> dict[str, Start]:
    """This checkout's first and later start (with --against, the other's too: first in every second round, so
    neither always follows the other), then the baseline."""
    baseline = folder / "baseline.py"
    baseline.write_text(BASELINE_APP, encoding="utf-8")
    checkouts = [(PROJECT, "")] + ([(against, AGAINST)] if against is not None else [])
    starts: dict[str, Start] = {}
    for project, suffix in checkouts[::-1] if number % 2 else checkouts:
        starts |= dashboard_starts(browser, folder, project, suffix)
    return starts | {"baseline": timed_start(browser, baseline, folder / "unused.duckdb", folder / "baseline.log",
                                             ("Tickets created",))}


AGAINST = " (against)"  # the row names of the other checkout's starts


def dashboard_starts(browser: object, folder: Path, project: Path, suffix: str) -> dict[str, Start]:
    """A first and a later start of ``project``'s dashboard, over a warehouse of their own."""
    tag = suffix.strip(" ()")
    warehouse, dashboard = folder / f"warehouse{tag}.duckdb", project / "dashboard.py"
    return {f"{name} start{suffix}": timed_start(browser, dashboard, warehouse, folder / f"{name}{tag}.log",
                                                 OVERVIEW_TILES, project)
            for name in ("first", "later")}


def import_logs(browser: object, folder: Path) -> dict[str, str]:
    """The ``-X importtime`` log of a first and a later start's server, until the Overview was drawn."""
    warehouse = folder / "importtime.duckdb"
    logs = {}
    for name in ("first start", "later start"):
        log = folder / f"importtime-{name.split()[0]}.log"
        with started(PROJECT / "dashboard.py", warehouse, log, ("-X", "importtime")) as (url, _, _):
            seconds_until_drawn(browser, url, OVERVIEW_TILES)
        logs[name] = log.read_text(encoding="utf-8", errors="replace")
    return logs


def imported(log: str) -> dict[str, float]:
    """Module -> seconds of its own import, from ``-X importtime`` lines ("import time: self | cumulative | name",
    in microseconds)."""
    found = {}
    for line in log.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _, name = line.removeprefix("import time:").split("|")
            # Python prints a negative self time when a thread imported inside the module's own import
            found[name.strip()] = max(int(self_us), 0) / 1e6
    return found


def by_package(modules: dict[str, float]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for name, seconds in modules.items():
        total[name.split(".")[0]] += seconds
    return dict(total)


def print_table(rounds: list[dict[str, Start]]) -> None:
    medians = {name: Start(*(statistics.median(getattr(r[name], column) for r in rounds)
                             for column in ("health", "drawn", "cpu"))) for name in rounds[0]}
    floor = medians["baseline"]
    print(f"Median of {len(rounds)} rounds; seconds; ratio = this row / baseline, same column; server CPU: its CPU "
          f"seconds from its start until drawn. Load average at the end: {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs.")
    print(f"{'start':<23}{'to health':>10}{'ratio':>7}{'health to drawn':>17}{'ratio':>7}{'server CPU':>12}{'ratio':>7}"
          "   each round's health to drawn")
    for name, start in medians.items():
        each = " ".join(f"{r[name].drawn:.2f}" for r in rounds)
        print(f"{name:<23}{start.health:>10.2f}{start.health / floor.health:>7.2f}{start.drawn:>17.2f}"
              f"{start.drawn / floor.drawn:>7.2f}{start.cpu:>12.2f}{start.cpu / floor.cpu:>7.2f}   {each}")
    if any(name.endswith(AGAINST) for name in medians):
        print_against(medians)
    print_moments(rounds)


def print_moments(rounds: list[dict[str, Start]]) -> None:
    """Where a start's wait goes, as the user sees it: the medians of when each logged moment came, in seconds
    after the health check, up to the tiles drawn."""
    names = [name for name in rounds[0] if name != "baseline"]
    order = [RUN_BEGAN, "warehouse opening", *(name for _, name in LOGGED_MOMENTS if name != RUN_BEGAN), "server idle"]
    print("\nWhen each step was done, seconds after the health check (medians; from the server log's times)")
    print(f"{'step':<28}" + "".join(f"{name:>24}" for name in names))
    for moment in order:
        cells = [statistics.median(found) if (found := [r[name].moments[moment] for r in rounds
                                                         if moment in r[name].moments]) else None
                 for name in names]
        if any(cell is not None for cell in cells):
            print(f"{moment:<28}" + "".join(f"{'' if c is None else f'{c:.2f}':>24}" for c in cells))
    print(f"{'tiles drawn':<28}" + "".join(f"{statistics.median(r[n].drawn for r in rounds):>24.2f}" for n in names))
    print("(server idle: its last CPU tick after the tiles were drawn; the server is stopped then)")


def print_against(medians: dict[str, Start]) -> None:
    print("\nThis checkout over the other (against), medians of the same rounds; below 1 is faster here")
    print(f"{'start':<13}{'to health':>10}{'health to drawn':>17}{'server CPU':>12}")
    for name in ("first start", "later start"):
        this, other = medians[name], medians[name + AGAINST]
        print(f"{name:<13}{this.health / other.health:>10.2f}{this.drawn / other.drawn:>17.2f}"
              f"{this.cpu / other.cpu:>12.2f}")


HEAVY = ("sklearn", "scipy", "holidays", "data.demo", "data.classifier", "html_report", "plotly", "pandas")


def print_imports(logs: dict[str, str], top: int) -> None:
    modules = {name: imported(log) for name, log in logs.items()}
    first, later = (by_package(modules[name]) for name in ("first start", "later start"))
    print(f"\nImport time by top-level package, self times summed (python -X importtime, one start each, untimed); "
          f"total first {sum(first.values()):.2f} s, later {sum(later.values()):.2f} s")
    print(f"{'package':<24}{'first start':>12}{'later start':>12}")
    for package in sorted(first.keys() | later.keys(), key=lambda p: -max(first.get(p, 0), later.get(p, 0)))[:top]:
        print(f"{package:<24}{first.get(package, 0):>12.3f}{later.get(package, 0):>12.3f}")
    for name, found in modules.items():
        print(f"{name} imported: " + ", ".join(m for m in HEAVY if m in found) + "; not: "
              + ", ".join(m for m in HEAVY if m not in found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of first, later and baseline start")
    parser.add_argument("--top", type=int, default=15, help="packages in the import table")
    parser.add_argument("--against", type=Path, help="another checkout whose dashboard starts in turn with this one's")
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="cspulse-startup-") as temp:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        rounds = []
        for number in range(args.repeat):
            folder = Path(temp) / f"round{number}"
            folder.mkdir()
            rounds.append(one_round(browser, folder, args.against and args.against.resolve(), number))
            print(f"  round {number + 1}: " + ", ".join(f"{name} {s.health:.2f}+{s.drawn:.2f} s ({s.cpu:.2f} CPU)"
                                                      for name, s in rounds[-1].items()), file=sys.stderr)
        logs = import_logs(browser, Path(temp))
        browser.close()
    print_table(rounds)
    print_imports(logs, args.top)


if __name__ == "__main__":
    main()
