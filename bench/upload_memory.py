"""The dashboard server's memory around an upload on the Import page: before, at its peak, after, and after the tab
closes, for Zendesk CSVs of about 10, 100 and 200 MB.

    python -m bench.upload_memory [--sizes 10,100,200] [--settle 10] [--project PATH ...]

For each size: a generated Zendesk CSV of about that many MB (unique ticket ids, bench.imports' generator), a fresh
`streamlit run dashboard.py` on 127.0.0.1 over an empty warehouse in a temp folder (no demo store), and Debian's
Chromium, driven by Playwright, that opens the Import page, drops the file and presses Import. One server per size:
what an earlier size left behind would otherwise count in the next one's baseline, and the file would import into
a warehouse that already holds tickets. The server's resident memory (its process and any children, from /proc) is
sampled every 0.2 s: the baseline is taken on the idle Import page before the upload, "read" is the peak until the
Import button shows (the file uploaded and read), "peak" the peak until the end, "after" the memory once the import
has settled for --settle seconds, "closed" --settle seconds after the tab closed. Ratios are against each size's own
baseline. Before the Import page let go of imported files (issue #17 point 4), "after" stayed at 3.6x for 200 MB.
Once a dropped file went to disk at once and files over 20 MB were read in a child (data.read_worker), the peak at
200 MB was 1,489 MB against 1,978 for the branch before it in the same run (1.33x), at 100 MB 886 against 1,212
(1.37x); "after" about the same (401 against 446). The rest of the peak is the import itself (data.ingest).

``--project`` (repeatable) serves another checkout's dashboard.py (e.g. the main branch, for a before/after); with
several, each size is measured for each project in turns (A B, A B ...), so a slow spell of a shared machine hits
both alike, and each row gives its peak and after as ratios against the first project's row of that size too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from tests.test_browser import CHROMIUM_ARGS, free_port, wait_until_answers  # noqa: E402 - the tests' own way to serve and wait

SAMPLE_SECONDS = 0.2
MB = 1_000_000


# --- the file ------------------------------------------------------------------------------------------------------
def write_csv_of_about(path: Path, megabytes: int) -> int:
    """A Zendesk CSV of about ``megabytes`` MB; returns its rows. The bytes per row are measured on a sample."""
    from bench.imports import write_zendesk_csv

    sample_rows = 20_000
    write_zendesk_csv(path, sample_rows)
    rows = max(1, int(megabytes * MB * sample_rows / path.stat().st_size))
    write_zendesk_csv(path, rows)
    return rows


# --- the server's memory -------------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # the field after the parenthesised command name, which may hold spaces
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MB (VmRSS, kB = 1024 bytes)."""
    total_kb, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        pending.extend(_children(current))
    return total_kb * 1024 / MB


@dataclass
class Sampler:
    """RSS of the server every 0.2 s on a thread of its own, with marks for the phases."""

    pid: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_mb(self.pid)))
            self._stop.wait(SAMPLE_SECONDS)

    def now(self) -> float:
        return self.samples[-1][1] if self.samples else rss_mb(self.pid)

    def peak_between(self, start: float, end: float) -> float:
        return max(mb for at, mb in self.samples if start <= at <= end)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- the server and the browser ------------------------------------------------------------------------------------
@contextmanager
def serve(folder: Path, upload_max_bytes: int, project: Path = PROJECT) -> Iterator[tuple[str, int]]:
    """`streamlit run dashboard.py` over an empty warehouse in ``folder``; yields its URL and PID."""
    port = free_port()
    env = {**os.environ, "CSPULSE_WAREHOUSE_PATH": str(folder / "warehouse.duckdb"),
           "CSPULSE_LOAD_DEMO_WHEN_EMPTY": "false", "CSPULSE_UPLOAD_MAX_BYTES": str(upload_max_bytes)}
    log = (folder / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(project / "dashboard.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true",
         "--server.maxUploadSize", str(upload_max_bytes // (1024 * 1024) + 1)],
        cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/_stcore/health", server)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _settled(tab: object, seconds: float = 300) -> None:
    """Wait until the script run ends (Streamlit's running indicator is gone)."""
    tab.wait_for_timeout(500)  # type: ignore[attr-defined]
    tab.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=seconds * 1000)  # type: ignore[attr-defined]


@dataclass
class Row:
    project: str
    size: int
    file_mb: float
    rows: int
    baseline: float
    peak_reading: float
    peak: float
    after_import: float
    tab_closed: float
    import_seconds: float
    outcome: str
    turn: int = 0


def measure(size: int, csv: Path, rows: int, folder: Path, settle: float, upload_max_bytes: int,
            project: Path = PROJECT) -> Row:
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    with serve(folder, upload_max_bytes, project) as (url, pid), sync_playwright() as pw:
        sampler = Sampler(pid)
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(600_000)
            tab.goto(f"{url}/imports")
            tab.get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached")
            _settled(tab)
            tab.wait_for_timeout(settle * 1000)
            baseline = sampler.now()
            started = time.monotonic()
            tab.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))
            import_button = tab.get_by_role("button", name="Import", exact=True)
            import_button.wait_for()  # the file is uploaded and read
            pressed = time.monotonic()
            import_button.click()
            inserted = tab.get_by_test_id("stMetric").filter(has_text="Inserted").get_by_test_id("stMetricValue")
            refused = tab.get_by_text("Nothing was imported")
            expect(inserted.or_(refused).first).to_be_visible(timeout=600_000)
            import_seconds = time.monotonic() - pressed
            outcome = f"{inserted.inner_text()} inserted" if inserted.count() else refused.inner_text()
            _settled(tab)
            tab.wait_for_timeout(settle * 1000)
            after_import = sampler.now()
            tab.close()
            time.sleep(settle)
            tab_closed = sampler.now()
            peak_reading, peak = sampler.peak_between(started, pressed), sampler.peak_between(started, time.monotonic())
        finally:
            browser.close()
            sampler.stop()
    return Row(str(project), size, csv.stat().st_size / MB, rows, baseline, peak_reading, peak, after_import,
               tab_closed, import_seconds, outcome)


def print_table(results: list[Row], settle: float) -> None:
    print(f"Server RSS in MB (process and children); one fresh server per size; settled {settle:g} s after the "
          "import and after the tab closed")
    print("read: peak from the drop until the Import button shows (uploaded and read); peak: until the end")
    print("peak vs / after vs: the row's peak and after against the first project's row of the same size and turn")
    print(f"{'project':<18}{'size':>5}{'file MB':>9}{'rows':>11}{'baseline':>9}{'read':>7}{'peak':>7}{'after':>7}"
          f"{'closed':>7}{'peak/base':>10}{'after/base':>11}{'closed/base':>12}{'peak vs':>8}{'after vs':>9}"
          f"{'import s':>9}  outcome")
    first: dict[tuple[int, int], Row] = {}
    for r in results:
        reference = first.setdefault((r.size, r.turn), r)
        print(f"{r.project[-18:]:<18}{r.size:>5}{r.file_mb:>9.1f}{r.rows:>11,}{r.baseline:>9.0f}{r.peak_reading:>7.0f}"
              f"{r.peak:>7.0f}{r.after_import:>7.0f}{r.tab_closed:>7.0f}{r.peak / r.baseline:>10.2f}"
              f"{r.after_import / r.baseline:>11.2f}{r.tab_closed / r.baseline:>12.2f}"
              f"{r.peak / reference.peak:>8.2f}{r.after_import / reference.after_import:>9.2f}"
              f"{r.import_seconds:>9.1f}  {r.outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,200", help="sizes of the generated CSVs, MB, comma-separated")
    parser.add_argument("--settle", type=float, default=10, help="seconds to wait before each reading")
    parser.add_argument("--project", type=Path, action="append",
                        help="a checkout whose dashboard.py to serve (repeatable; default: this one)")
    parser.add_argument("--turns", type=int, default=1, help="how many times to measure each size and project")
    args = parser.parse_args()
    projects = [path.resolve() for path in args.project or [PROJECT]]
    sizes = [int(size) for size in args.sizes.split(",")]
    # The default limit is 200,000,000 bytes; a file "of 200 MB" may land just over it.
    upload_max_bytes = max(200_000_000, int(max(sizes) * MB * 1.1))
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="cspulse-upload-") as folder:
            csv = Path(folder) / f"zendesk_{size}mb.csv"
            rows = write_csv_of_about(csv, size)
            for turn in range(args.turns):
                for project in projects:
                    with tempfile.TemporaryDirectory(prefix="cspulse-server-") as server_folder:
                        row = measure(size, csv, rows, Path(server_folder), args.settle, upload_max_bytes, project)
                    results.append(replace(row, turn=turn))
                    print(f"  {size} MB, {project}, turn {turn + 1} done", file=sys.stderr)
    print_table(results, args.settle)


if __name__ == "__main__":
    main()
