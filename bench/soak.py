"""Many users at once on every page while an analyst imports a big ticket file: page loads, errors, server memory.

    python -m bench.soak [--users 20] [--minutes 10] [--tickets 100000] [--browsers 1] [--json OUT.json]
    python -m bench.soak --users 3 --minutes 1 --tickets 5000          # a smoke run, about three minutes

Builds the demo store into a warehouse in a temp folder, writes a Zendesk CSV of ``--tickets`` tickets (ids 1..N),
starts ``streamlit run dashboard.py`` on 127.0.0.1 over it and drives Debian's chromium through Playwright:

1. baseline: one user alone, one loop through every page to warm up, then ``--baseline-loops`` timed loops;
2. soak: ``--users`` users, each a browser context with its own filters (a channel and a priority in the link, so
   their cached results differ and the cache limit is reached), loop through every page by the sidebar links for
   ``--minutes``; when the warm-up ends, an analyst's context uploads the CSV on the Import page and presses Import.

A load is timed from the click on a sidebar link until the page's h1 shows and Streamlit's status widget has gone
(and stays gone for a moment). Errors: st.exception blocks, st.error alerts, crashed tabs, timeouts, and tracebacks
in the server log. The server's RSS (with any children) is read from /proc every few seconds. After the server has
stopped, the warehouse is opened read-only: every ticket of the import must be there exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from bench.imports import write_zendesk_csv  # noqa: E402 - after the project is on the path
from tests.test_browser import CHROMIUM_ARGS, free_port, wait_until_answers  # noqa: E402 - as the tests serve and wait

# (URL path, sidebar link and h1) of every page, in the sidebar's order
PAGES = (("", "Overview"), ("trends", "Trends"), ("team", "Team"), ("staffing", "Staffing"),
         ("complaints", "Complaints"), ("orders", "Orders & loyalty"), ("imports", "Import"), ("data", "Data"))
CHANNELS = ("email", "chat", "phone", "social", "web", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
LOAD_TIMEOUT_MS = 120_000
IMPORT_TIMEOUT_MS = 900_000
RAMP_SECONDS = 1.0  # users arrive one a second, not all in the same instant
QUIET_MS = 300  # the status widget can hide for an instant between two runs of a page
SAMPLE_SECONDS = 2.0
MB = 2**20


@dataclass
class Load:
    user: int
    page: str
    started: float  # seconds since the soak began
    seconds: float
    error: str | None = None


@dataclass
class Run:
    """Everything one phase recorded; times in seconds since ``began``."""

    began: float
    loads: list[Load] = field(default_factory=list)
    memory: list[tuple[float, int]] = field(default_factory=list)  # (t, RSS bytes)
    cpu: list[tuple[float, float]] = field(default_factory=list)  # (t, CPU seconds of the server)
    browsers_cpu: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds, chromium and Playwright's driver
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average
    import_report: dict[str, object] = field(default_factory=dict)
    think: float = 0.0  # seconds a user reads a page before the next click (jittered 0.5-1.5x)

    def now(self) -> float:
        return time.monotonic() - self.began


# --- pure helpers ---------------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Linear between the closest ranks, as numpy's default; NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, in value per minute; NaN for fewer than two."""
    if len(samples) < 2:
        return float("nan")
    seconds, values = np.array(samples, dtype=float).T
    if np.ptp(seconds) == 0:
        return float("nan")
    return float(np.polyfit(seconds, values, 1)[0] * 60)


def user_query(user: int) -> str:
    """Each user's own filters, so that 20 users ask 20 different sets of queries; user 0 keeps the defaults."""
    if user == 0:
        return ""
    combination = (user - 1) % (len(CHANNELS) * len(PRIORITIES))
    return f"channel={CHANNELS[combination % len(CHANNELS)]}&priority={PRIORITIES[combination // len(CHANNELS)]}"


# --- the server and its process ------------------------------------------------------------------------------------
def build_warehouse(path: Path) -> None:
    """The demo store, categorised and linked, as the dashboard's first start would leave it."""
    from data import categorising, demo, ingest, linking
    from data.warehouse import Warehouse
    from settings import load_settings

    settings = load_settings(warehouse_path=path)
    warehouse = Warehouse(path)
    ingest.import_batch(warehouse, demo.demo_batch(salt=ingest.pii_salt(warehouse, settings)))
    categorising.categorise(warehouse)
    linking.link_if_stale(warehouse, settings.link_window_days)
    warehouse.close()


def start_server(warehouse: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CSPULSE_WAREHOUSE_PATH": str(warehouse)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT / "dashboard.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true"],
        cwd=PROJECT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/_stcore/health", server, 120)
    except (RuntimeError, TimeoutError):
        server.terminate()
        raise
    return server, url


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of the process and its descendants."""
    total = 0
    for each in (pid, *_descendants(pid)):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # it ended
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def sample_browsers(server: int, run: Run) -> None:
    """CPU of this bench's other descendants (the browsers and Playwright's driver), kept per process, so a tab that
    has closed still counts up to its last sample."""
    serving = {server, *_descendants(server)}
    for pid in _descendants(os.getpid()):
        if pid not in serving:
            run.browsers_cpu[pid] = max(run.browsers_cpu.get(pid, 0.0), cpu_seconds(pid))


async def sample(pid: int, run: Run, stop: asyncio.Event) -> None:
    while not stop.is_set():
        run.memory.append((run.now(), rss_bytes(pid)))
        run.cpu.append((run.now(), cpu_seconds(pid)))
        sample_browsers(pid, run)
        run.load.append(os.getloadavg()[0])
        with contextlib.suppress(TimeoutError):  # the next sample is due
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


# --- the browser side ----------------------------------------------------------------------------------------------
async def settle(page: object, title: str) -> None:
    """Until the page's h1 shows and Streamlit's status widget has gone and stays gone for a moment."""
    await page.locator("h1", has_text=title).first.wait_for(state="visible")  # type: ignore[attr-defined]
    status = page.get_by_test_id("stStatusWidget")  # type: ignore[attr-defined]
    while True:
        await status.wait_for(state="hidden")
        await page.wait_for_timeout(QUIET_MS)  # type: ignore[attr-defined]
        if not await status.is_visible():
            return


async def page_errors(page: object) -> str | None:
    if await page.get_by_test_id("stException").count():  # type: ignore[attr-defined]
        return "st.exception block"
    if await page.locator("[data-testid=stAlertContentError]").count():  # type: ignore[attr-defined]
        return "st.error alert"
    return None


async def open_tab(browser: object, url: str, query: str, opened: list[object] | None = None) -> object:
    """A new browser context on the dashboard; the page goes into ``opened`` first, so a caller can close it when
    loading fails."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = await context.new_page()
    if opened is not None:
        opened.append(page)
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.crashed = False
    page.on("crash", lambda _: setattr(page, "crashed", True))
    # Not until the "load" event: on a starved machine parsing the JS bundle alone can take minutes; the h1 of the
    # first page shows when the dashboard is usable, and settle waits for that.
    await page.goto(f"{url}/?{query}", wait_until="commit")
    await settle(page, "Overview")
    return page


async def visit(page: object, title: str) -> None:
    sidebar = page.get_by_test_id("stSidebarNav")  # type: ignore[attr-defined]
    await sidebar.get_by_role("link", name=title, exact=True).click()
    await settle(page, title)


async def browse(browser: object, url: str, user: int, run: Run, until: float, loops: int | None = None) -> None:
    """One user: every page in turn, from the sidebar, until ``until`` (or for ``loops`` loops). After a timeout or
    a crash the user starts over in a fresh tab on the same link, as a person would."""
    page = await _open(browser, url, user, run, until)
    order = [*PAGES[1:], PAGES[0]]  # it opens on the Overview
    done = 0
    while page is not None and run.now() < until and (loops is None or done < loops):
        for stem, title in order:
            if run.now() >= until:
                break
            started = run.now()
            error = await _error_of(page, _load(page, title))
            run.loads.append(Load(user, stem or "overview", started, run.now() - started, error))
            if error is not None and not error.startswith("st."):
                await _close(page)
                page = await _open(browser, url, user, run, until)
                break
            if run.think:  # a person reads the page before the next click
                await asyncio.sleep(run.think * random.uniform(0.5, 1.5))
        done += 1
    await _close(page)


async def _load(page: object, title: str) -> str | None:
    await visit(page, title)
    return await page_errors(page)


async def _error_of(page: object | None, step: object) -> str | None:
    """What went wrong while awaiting ``step``: the error it returns, or the browser's; None when nothing did."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        found = await step  # type: ignore[misc]
    except PlaywrightTimeout:
        return "timeout"
    except PlaywrightError as problem:
        if page is not None and getattr(page, "crashed", False):
            return "crashed tab"
        return f"browser error: {str(problem).splitlines()[0][:80]}"
    return found if isinstance(found, str) else None


async def _open(browser: object, url: str, user: int, run: Run, until: float) -> object | None:
    """A fresh tab on the user's link, tried again until it opens or the run ends; each failure is an error."""
    while run.now() < until:
        started = run.now()
        opened: list[object] = []
        error = await _error_of(None, open_tab(browser, url, user_query(user), opened))
        if error is None:
            return opened[0]
        run.loads.append(Load(user, "open", started, run.now() - started, f"{error} opening the dashboard"))
        if opened:
            await _close(opened[0])
    return None


async def _close(page: object | None) -> None:
    from playwright.async_api import Error as PlaywrightError

    if page is not None:
        with contextlib.suppress(PlaywrightError):
            await page.context.close()  # type: ignore[attr-defined]


async def analyst(browser: object, url: str, csv: Path, at: float, until: float, run: Run) -> None:
    """At ``at``: open the Import page (again after a timeout, as a person would), upload the CSV, press Import,
    read the report. Failures to open are errors of their own; the import is given until ``until``."""
    from playwright.async_api import Error as PlaywrightError

    await asyncio.sleep(max(0.0, at - run.now()))
    report = run.import_report
    opening = run.now()
    page = None
    while page is None and run.now() < until:
        opened: list[object] = []
        error = await _error_of(None, _import_page(browser, url, opened))
        if error is None:
            page = opened[0]
        else:
            run.loads.append(Load(-1, "open", opening, run.now() - opening, f"{error} opening the Import page"))
            await _close(opened[0] if opened else None)
    if page is None:
        report["error"] = "analyst: the Import page never opened"
        return
    report["started"] = run.now()
    report["open_seconds"] = report["started"] - opening
    try:
        page.set_default_timeout(IMPORT_TIMEOUT_MS)  # type: ignore[attr-defined]
        await page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))  # type: ignore[attr-defined]
        button = page.get_by_role("button", name="Import", exact=True)  # type: ignore[attr-defined]
        await button.wait_for()
        report["read_seconds"] = run.now() - report["started"]
        clicked = run.now()
        await button.click()
        inserted = page.get_by_test_id("stMetric").filter(  # type: ignore[attr-defined]
            has_text="Inserted").get_by_test_id("stMetricValue")
        await inserted.or_(page.get_by_text("Nothing was imported")).first.wait_for()  # type: ignore[attr-defined]
        report["import_seconds"] = run.now() - clicked
        report["ended"] = run.now()
        report["shown_inserted"] = await inserted.inner_text() if await inserted.count() else None
        report["error"] = await page_errors(page)
    except PlaywrightError as problem:
        report["error"] = f"analyst: {str(problem).splitlines()[0][:120]}"
        report.setdefault("ended", run.now())
    await _close(page)


async def _import_page(browser: object, url: str, opened: list[object]) -> None:
    page = await open_tab(browser, url, "", opened)
    await visit(page, "Import")


async def _after(seconds: float, step: object) -> None:
    await asyncio.sleep(seconds)
    await step  # type: ignore[misc]


async def drive(url: str, pid: int, csv: Path, args: argparse.Namespace) -> tuple[Run, Run]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browsers = [await pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
                    for _ in range(args.browsers)]
        baseline = Run(time.monotonic())
        await browse(browsers[0], url, 0, baseline, until=float("inf"), loops=1)  # warms the cache up
        baseline.loads.clear()
        await browse(browsers[0], url, 0, baseline, until=float("inf"), loops=args.baseline_loops)

        soak = Run(time.monotonic(), think=args.think)
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample(pid, soak, stop))
        until = args.minutes * 60
        tasks = [_after(user * RAMP_SECONDS, browse(browsers[user % len(browsers)], url, user, soak, until))
                 for user in range(args.users)]
        tasks.append(analyst(browsers[-1], url, csv, args.warmup_minutes * 60, until, soak))
        for failed in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(failed, BaseException):  # a bug of the bench, not of the dashboard: say so, keep the rest
                soak.loads.append(Load(-1, "bench", soak.now(), 0.0, f"bench failed: {failed!r}"[:120]))
        stop.set()
        await sampler
        for browser in browsers:
            await browser.close()
    return baseline, soak


# --- the check and the table ---------------------------------------------------------------------------------------
def count_import(warehouse: Path, file_name: str, tickets: int) -> dict[str, int]:
    """The import's tickets in the warehouse, opened read-only after the server stopped."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        ids = con.execute(
            "SELECT import_id FROM imports WHERE file_name = $name AND undone_at IS NULL", {"name": file_name}
        ).fetchall()
        rows, distinct, in_file = con.execute(
            "SELECT count(*), count(DISTINCT ticket_id), count(*) FILTER (WHERE TRY_CAST(ticket_id AS BIGINT) "
            "BETWEEN 1 AND $n) FROM tickets WHERE import_id IN (SELECT import_id FROM imports WHERE file_name = "
            "$name)", {"name": file_name, "n": tickets}).fetchone()
        duplicated = con.execute(
            "SELECT count(*) FROM (SELECT source, ticket_id FROM tickets GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
    finally:
        con.close()
    return {"imports": len(ids), "rows": rows, "distinct_ids": distinct, "ids_of_the_file": in_file,
            "duplicated_ids": duplicated}


def print_report(args: argparse.Namespace, baseline: Run, soak: Run, check: dict[str, int], csv_mb: float,
                 log_tracebacks: int) -> None:
    warm = args.warmup_minutes * 60
    after = [load for load in soak.loads if load.started >= warm]
    print(f"\nCS Pulse soak: {args.users} users (think time {args.think:g} s) for {args.minutes:g} min "
          f"({args.warmup_minutes:g} min warm-up) "
          f"in {args.browsers} chromium process(es), an import of {args.tickets:,} tickets at the warm-up's end; "
          f"{os.cpu_count()} CPUs shared by server and browsers")
    print(f"\nPage loads after the warm-up, seconds (click -> h1 shown and idle); baseline: 1 user alone, "
          f"{args.baseline_loops} loop(s)")
    print(f"{'page':<12}{'loads':>7}{'p50':>8}{'p95':>8}{'max':>8}{'1 user p50':>12}{'p50 ratio':>11}")
    for stem, _ in PAGES:
        name = stem or "overview"
        seconds = [load.seconds for load in after if load.page == name and not load.error]
        alone = [load.seconds for load in baseline.loads if load.page == name and not load.error]
        ratio = percentile(seconds, 50) / percentile(alone, 50) if alone and seconds else float("nan")
        print(f"{name:<12}{len(seconds):>7}{percentile(seconds, 50):>8.2f}{percentile(seconds, 95):>8.2f}"
              f"{max(seconds, default=float('nan')):>8.2f}{percentile(alone, 50):>12.2f}{ratio:>11.1f}")
    every = [load.seconds for load in after if not load.error]
    alone = [load.seconds for load in baseline.loads if not load.error]
    print(f"{'all pages':<12}{len(every):>7}{percentile(every, 50):>8.2f}{percentile(every, 95):>8.2f}"
          f"{max(every, default=float('nan')):>8.2f}{percentile(alone, 50):>12.2f}"
          f"{percentile(every, 50) / percentile(alone, 50):>11.1f}")
    report = soak.import_report
    if "ended" in report:
        during = [load.seconds for load in soak.loads
                  if report["started"] <= load.started <= report["ended"] and not load.error]
        print(f"{'  while the import ran':<24}{len(during):>7}{percentile(during, 50):>8.2f}"
              f"{percentile(during, 95):>8.2f}{max(during, default=float('nan')):>8.2f}")

    errors = Counter(load.error for load in soak.loads + baseline.loads if load.error)
    if log_tracebacks:
        errors["traceback in the server log"] = log_tracebacks
    if report.get("error"):
        errors[str(report["error"])] += 1
    print(f"\nErrors (target: none), of {len(soak.loads) + len(baseline.loads)} loads in all: "
          + (", ".join(f"{kind} {count}" for kind, count in errors.most_common()) or "none"))

    expected = args.tickets
    ok = (check["imports"] == 1 and check["rows"] == check["distinct_ids"] == check["ids_of_the_file"] == expected
          and check["duplicated_ids"] == 0)
    print(f"\nImport of {expected:,} tickets ({csv_mb:.0f} MB Zendesk CSV) at {report.get('started', 0):.0f} s: "
          f"(the analyst's tab took {report.get('open_seconds', float('nan')):.0f} s to open the Import page): "
          f"upload to preview {report.get('read_seconds', float('nan')):.1f} s, Import pressed to report "
          f"{report.get('import_seconds', float('nan')):.1f} s, the page says {report.get('shown_inserted')} "
          "inserted")
    print(f"  in the warehouse: {check['rows']:,} rows, {check['distinct_ids']:,} distinct ids, "
          f"{check['ids_of_the_file']:,} of the file's ids 1..{expected:,}, {check['duplicated_ids']} ids held twice "
          f"-> {'OK: every ticket exactly once' if ok else 'FAILED'}")

    memory = [(t, rss / MB) for t, rss in soak.memory]
    at_warm = next((mb for t, mb in memory if t >= warm), float("nan"))
    ended = report.get("ended", warm)
    settled = float(ended) + 30
    print(f"\nServer memory (RSS MB, every {SAMPLE_SECONDS:g} s, {len(memory)} samples): at the start "
          f"{memory[0][1]:.0f}, warm-up end {at_warm:.0f}, peak {max(mb for _, mb in memory):.0f}, end "
          f"{memory[-1][1]:.0f}")
    print(f"  slope after the warm-up {slope_per_minute([s for s in memory if s[0] >= warm]):+.1f} MB/min; "
          f"from 30 s after the import to the end {slope_per_minute([s for s in memory if s[0] >= settled]):+.1f} "
          f"MB/min (target: flat)")
    print(f"  cache limits CSPULSE_CACHE_MAX_ENTRIES={os.environ.get('CSPULSE_CACHE_MAX_ENTRIES', '1024 (default)')}"
          f", CSPULSE_CACHE_MAX_MB={os.environ.get('CSPULSE_CACHE_MAX_MB', '512 (default)')}")
    cpu, wall = soak.cpu, soak.cpu[-1][0] - soak.cpu[0][0]
    print(f"\nCPU over {wall:.0f} s on {os.cpu_count()} CPUs: server {cpu[-1][1] - cpu[0][1]:.0f} s, the browsers and "
          f"Playwright {sum(soak.browsers_cpu.values()):.0f} s (since they started); the machine's load average "
          f"{np.mean(soak.load):.1f} (mean), {max(soak.load):.1f} (max), other processes included")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--warmup-minutes", type=float, help="default: a fifth of --minutes")
    parser.add_argument("--baseline-loops", type=int, default=3)
    parser.add_argument("--browsers", type=int, default=1, help="chromium processes the users are spread over")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds each user reads a page before the next click (0: click on at once)")
    parser.add_argument("--json", type=Path, help="also write every load and memory sample here")
    args = parser.parse_args()
    args.warmup_minutes = args.minutes / 5 if args.warmup_minutes is None else args.warmup_minutes
    if shutil.which("chromium") is None:
        sys.exit("Debian's chromium is needed (apt-get install chromium)")

    with tempfile.TemporaryDirectory(prefix="cspulse-soak-") as folder:
        warehouse, log = Path(folder) / "soak.duckdb", Path(folder) / "streamlit.log"
        csv = Path(folder) / f"zendesk-{args.tickets}.csv"
        started = time.monotonic()
        build_warehouse(warehouse)
        write_zendesk_csv(csv, args.tickets)
        print(f"demo warehouse and CSV ready in {time.monotonic() - started:.0f} s", flush=True)
        server, url = start_server(warehouse, log)
        try:
            baseline, soak = asyncio.run(drive(url, server.pid, csv, args))
        finally:
            stop_server(server)
        tracebacks = log.read_text(errors="replace").count("Traceback")
        if args.json:
            shutil.copy(log, args.json.with_suffix(".log"))
        if tracebacks:
            print(f"server log tail:\n{log.read_text(errors='replace')[-3000:]}")
        check = count_import(warehouse, csv.name, args.tickets)
        print_report(args, baseline, soak, check, csv.stat().st_size / 1e6, tracebacks)
        if args.json:
            args.json.write_text(json.dumps({"baseline": [asdict(x) for x in baseline.loads],
                                             "soak": [asdict(x) for x in soak.loads], "memory": soak.memory,
                                             "cpu": soak.cpu, "import": soak.import_report, "check": check}))


if __name__ == "__main__":
    main()
