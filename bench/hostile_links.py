"""A hostile link's cost to another visitor: `streamlit run` on the demo store, a victim Chromium timing the Overview,
alone and while a second Chromium opens the worst links in a loop.

    python bench/hostile_links.py [--loads 8]

Prints two tables: each hostile link alone (server CPU seconds it cost, wall seconds, the toasts it got), and the
victim's page time alone, beside an ordinary second visitor and beside a hostile one (p50, p95 and their ratios,
measured in this run, in turns), with how many loads each second visitor made meanwhile.

The target (a hostile link costs another visitor under 10 %) is read against the ordinary visitor, who opens the
same pages with plain links in the same loop: on a small machine any second visitor's browser and page runs slow
the victim down, and that part is not the link's doing. Needs Debian's chromium and the playwright package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from tests.test_browser import CHROMIUM_ARGS, free_port, wait_until_answers  # noqa: E402

LOAD_TIMEOUT_MS = 180_000


def hostile_links() -> dict[str, str]:
    """The worst links before this change, and the worst each cap still lets through (a year-long event, every day
    a link may ask for, by day)."""
    from data.demo import DEMO_END, DEMO_START

    year = timedelta(days=366)
    first, last = DEMO_START - year, DEMO_END + year
    event_start = DEMO_END - timedelta(days=365)
    big = "9" * 100_000
    return {
        "century event": "/staffing?event=Century|1925-01-01|2025-12-31",
        "year 9999 event": "/staffing?event=Far|9999-01-01|9999-12-31",
        "366-day event (allowed)": f"/staffing?event=Year|{event_start}|{DEMO_END}"
                                   f"&peak=custom-{event_start}-{DEMO_END}-year&interval=30",
        "start=0001-01-01": "/trends?start=0001-01-01&grain=day",
        "end=9999-12-31": "/?end=9999-12-31",
        "every allowed day, by day": f"/trends?start={first}&end={last}&grain=day",
        "100 KB kpi": f"/trends?kpi={big}",
        "100 KB event": f"/staffing?event={big}",
    }


def ordinary_links() -> dict[str, str]:
    """The same pages as ``hostile_links``, as a visitor opens them from the sidebar."""
    return {"staffing": "/staffing", "trends by day": "/trends?grain=day", "overview": "/"}


def load(page: object, url: str) -> float:
    """Seconds from navigation until the page's title is drawn and its script has stopped running: the status
    widget is absent and stays absent for a second (that second is not counted)."""
    started = time.perf_counter()
    page.goto(url, timeout=LOAD_TIMEOUT_MS)  # type: ignore[attr-defined]
    page.get_by_test_id("stHeading").first.wait_for(timeout=LOAD_TIMEOUT_MS)  # type: ignore[attr-defined]
    status, idle_since = page.get_by_test_id("stStatusWidget"), None  # type: ignore[attr-defined]
    while time.perf_counter() - started < LOAD_TIMEOUT_MS / 1000:
        if status.count():
            idle_since = None
        elif idle_since is None:
            idle_since = time.perf_counter()
        elif time.perf_counter() - idle_since >= 1:
            return idle_since - started
        page.wait_for_timeout(100)  # type: ignore[attr-defined]
    raise TimeoutError(f"{url[:80]} still running after {LOAD_TIMEOUT_MS / 1000:.0f} s")


def victim_load(browser: object, url: str) -> float:
    """A fresh visitor (its own session) opening the Overview until its tiles are drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    started = time.perf_counter()
    try:
        load(page, url)
        page.get_by_test_id("stMetric").first.wait_for(timeout=LOAD_TIMEOUT_MS)
        return time.perf_counter() - started
    finally:
        context.close()


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of the server process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def hammer(url: str, kind: str) -> None:
    """The second visitor (a child process): opens every hostile (or ordinary) link in turn, forever, counting
    loads."""
    from playwright.sync_api import sync_playwright

    links = list((hostile_links() if kind == "hostile" else ordinary_links()).values())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        count = 0
        while True:
            page = browser.new_page()
            try:
                load(page, url + links[count % len(links)])
            except Exception as error:  # a link refused by the server or a timeout: go on hammering
                print(f"{kind} load failed: {type(error).__name__}", file=sys.stderr, flush=True)
            page.close()
            count += 1
            print(count, flush=True)


def build_demo(folder: Path) -> Path:
    from data import demo, ingest
    from data.warehouse import Warehouse

    path = folder / "demo.duckdb"
    os.environ["CSPULSE_WAREHOUSE_PATH"] = str(path)
    wh = Warehouse(path)
    ingest.import_batch(wh, demo.demo_batch(salt="bench"))
    wh.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=8, help="victim page loads per phase and turn")
    parser.add_argument("--turns", type=int, default=2, help="rounds of alone, ordinary, hostile")
    parser.add_argument("--second", nargs=2, help=argparse.SUPPRESS)  # the child's kind and server URL
    args = parser.parse_args()
    if args.second:
        hammer(args.second[1], args.second[0])
        return
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="cspulse-hostile-"))
    path = build_demo(folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT / "dashboard.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true"],
        cwd=PROJECT, env={**os.environ, "CSPULSE_WAREHOUSE_PATH": str(path)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_answers(f"{url}/_stcore/health", server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            victim_load(browser, url)  # warm the caches, as a running dashboard has them
            print_links(browser, url, server.pid)
            times: dict[str, list[float]] = {"alone": [], "ordinary": [], "hostile": []}
            loads = {"ordinary": 0, "hostile": 0}
            for _ in range(args.turns):  # in turns, so a drift of the machine touches every phase alike
                times["alone"] += [victim_load(browser, url) for _ in range(args.loads)]
                for kind in ("ordinary", "hostile"):
                    second_times, second_loads = beside_second(browser, url, kind, args.loads)
                    times[kind] += second_times
                    loads[kind] += second_loads
            browser.close()
        print_victim(times, loads)
        print(f"\nserver log: {folder / 'streamlit.log'}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def beside_second(browser: object, url: str, kind: str, count: int) -> tuple[list[float], int]:
    """The victim's page times while a second visitor of ``kind`` opens its links in a loop, and its load count."""
    second = subprocess.Popen([sys.executable, __file__, "--second", kind, url], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(5)  # the second browser is up and its first link running
        times = [victim_load(browser, url) for _ in range(count)]
    finally:
        second.terminate()
        out, _ = second.communicate(timeout=60)
    return times, len(out.split())


def print_links(browser: object, url: str, pid: int) -> None:
    print(f"{'hostile link (alone)':<28} {'server CPU s':>12} {'wall s':>8}  toasts")
    for name, link in hostile_links().items():
        context = browser.new_context()  # type: ignore[attr-defined]
        page = context.new_page()
        before = server_cpu(pid)
        try:
            wall = f"{load(page, url + link):8.1f}"
        except Exception as error:
            wall = f"{type(error).__name__:>8}"
        toasts = " | ".join(t[:70] for t in page.get_by_text("Ignored the link").all_inner_texts())
        print(f"{name:<28} {server_cpu(pid) - before:12.1f} {wall}  {toasts or '-'}")
        context.close()


def print_victim(times: dict[str, list[float]], loads: dict[str, int]) -> None:
    print(f"\n{'victim: Overview':<22} {'p50 s':>7} {'p95 s':>7} {'p50 vs alone':>13} {'p50 vs ordinary':>16} "
          f"{'p95 vs ordinary':>16}  second visitor's loads")
    ordinary50, ordinary95 = statistics.median(times["ordinary"]), percentile(times["ordinary"], 0.95)
    labels = {"alone": "alone", "ordinary": "beside an ordinary one", "hostile": "beside a hostile one"}
    for name, label in labels.items():
        p50, p95 = statistics.median(times[name]), percentile(times[name], 0.95)
        print(f"{label:<22} {p50:7.2f} {p95:7.2f} {p50 / statistics.median(times['alone']):13.2f} "
              f"{p50 / ordinary50:16.2f} {p95 / ordinary95:16.2f}  {loads.get(name, '-')}")
    print("target: the hostile visitor's p50 under 1.10 x the ordinary visitor's")


if __name__ == "__main__":
    main()
