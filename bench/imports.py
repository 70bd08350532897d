"""A Zendesk CSV through ``python -m data.cli`` against a process running DuckDB's own read_csv of the same file.

    python bench/imports.py [--rows 1e6] [--rows 1e7] [--pairs 3] [--project PATH]... [--text]

Whole processes, each measured from spawn to exit: its wall time, its CPU time (user and system, every thread)
and its peak memory (the child's max RSS), from ``wait4``. On a machine others share, the wall time follows their
load and the CPU time much less: a change's CPU ratio is the steadier figure there, the wall ratio the target's.
The baseline process opens a fresh database file and runs ``CREATE TABLE t AS SELECT * FROM
read_csv(path)``; CS Pulse's process is the command an analyst runs, ``python -m data.cli FILE --db NEW``: start-up,
reading, checking, typing, hashing emails, merging in one transaction, categorising and linking. The two run in
turns (A B A B ...), so a slow spell of a shared machine hits both alike, and each pair gives its own ratio.
``--project`` runs another checkout's ``data.cli`` on the same file; given twice or more (e.g. the main branch and
this one, for a before/after), every checkout runs in each turn after the baseline (A B C A B C ...).
``--floor`` adds, in each turn, a process in which Polars reads the file with its own type inference and DuckDB
stores the frame as one table: no checks, no derived columns, no rollups, no categorising. It is the least an
import can cost while Polars reads the files (issue #16 keeps Polars reading and validating them), so its ratio
says how much of the target is left for everything else an import does.
Target: CS Pulse at most 1.5x the baseline's time at a million rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

PROJECT = Path(__file__).resolve().parents[1]
STATUSES = np.array(["solved", "closed", "open", "pending", "new"])
CHANNELS = np.array(["Mail", "Web form", "Chat", "Phone call", "API"])
SCORES = np.array(["Good", "Bad", "Offered", "Not Offered", "Unoffered"])
BASELINE = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('CREATE TABLE t AS SELECT * FROM read_csv($p)', " \
           "{'p': sys.argv[2]}).close()"
FLOOR = "import duckdb, polars as pl, sys; frame = pl.read_csv(sys.argv[2], try_parse_dates=True); " \
        "duckdb.connect(sys.argv[1]).execute('CREATE TABLE t AS SELECT * FROM frame').close()"
# Settings that could make the command refuse or slow down a large file are set for both checkouts alike: the
# main branch has no command-line limits of its own, so its upload limits are lifted.
UNLIMITED = {"CSPULSE_UPLOAD_MAX_BYTES": str(10**12), "CSPULSE_UPLOAD_MAX_ROWS": str(10**9),
             "CSPULSE_LOAD_DEMO_WHEN_EMPTY": "false"}


def write_zendesk_csv(path: Path, rows: int, seed: int = 1, chunk: int = 1_000_000, text: bool = False) -> None:
    """A Zendesk export of ``rows`` tickets, written a million rows at a time so the writer's memory stays flat.
    ``text``: each ticket its own description and most of them no tag a category answers to, so categorising
    places them by their text (by default a tag places every ticket at import)."""
    with path.open("wb") as out:
        for start in range(0, rows, chunk):
            rng = np.random.default_rng(seed + start)
            frame = _zendesk_rows(start, min(chunk, rows - start), rng, rows)
            if text:
                frame = _with_text(frame, rng)
            frame.write_csv(out, include_header=start == 0)


def _zendesk_rows(first: int, rows: int, rng: np.random.Generator, total: int) -> pl.DataFrame:
    created = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 730 * 86400, rows).astype("timedelta64[s]")
    full = rng.lognormal(7, 1.2, rows).round(0)
    status = STATUSES[rng.choice(5, rows, p=[0.55, 0.3, 0.08, 0.05, 0.02])]
    solved = np.where(np.isin(status, ["solved", "closed"]), (created + (full * 60).astype("timedelta64[s]"))
                      .astype(str), "")
    return pl.DataFrame({
        "Id": np.arange(first + 1, first + rows + 1),
        "Requester email": [f"customer{n}@example.com" for n in rng.integers(0, max(total // 3, 1), rows)],
        "Subject": np.array(["Where is my order?", "Refund please", "Wrong size", "Discount code"])[
            rng.integers(0, 4, rows)],
        "Status": status, "Priority": np.array(["Low", "Normal", "High", "Urgent"])[rng.integers(0, 4, rows)],
        "Via": CHANNELS[rng.integers(0, 5, rows)], "Group": "Support", "Assignee": "Agent Ada",
        "Created at": created.astype(str), "Updated at": created.astype(str), "Solved at": solved,
        "Replies": rng.integers(0, 6, rows), "Reopens": rng.integers(0, 2, rows),
        "First reply time in minutes": rng.lognormal(4, 1, rows).round(0),
        "Full resolution time in minutes": pl.Series(np.where(solved != "", full, np.nan)).fill_nan(None),
        "Satisfaction Score": SCORES[rng.integers(0, 5, rows)],
        "Tags": "shipping vip",
    }).with_columns(pl.col("Created at").str.replace("T", " "), pl.col("Updated at").str.replace("T", " "),
                    pl.col("Solved at").str.replace("T", " "))


# Subjects the rules place, and some they do not (left to the model, learned from the tagged tickets). A Zendesk
# export has no description column: the subject is the text.
SUBJECTS = np.array([
    "Where is my order", "Refund please", "Wrong size", "Discount code", "Package arrived damaged",
    "Cancel my order", "Change shipping address", "Question about the product", "Hello", "Need help",
    "Problem with my purchase", "Urgent", "Follow up", "Order", "Quick question", "Hi there"])
TAGS = np.array(["vip", "", "follow_up", "wismo", "refund", "damaged", "cancel", "promo"])


def _with_text(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Each subject its own (a phrase and an order number), a quarter of the tickets tagged with a category's
    alias."""
    rows = frame.height
    number = pl.Series(rng.integers(10_000, 100_000_000, rows)).cast(pl.String)
    return frame.with_columns(
        Subject=pl.Series(SUBJECTS[rng.integers(0, len(SUBJECTS), rows)]) + pl.lit(" #") + number,
        Tags=pl.Series(TAGS[np.where(rng.random(rows) < 0.25, rng.integers(3, len(TAGS), rows),
                                     rng.integers(0, 3, rows))]))


def write_in_own_process(path: Path, rows: int, text: bool) -> None:
    """The CSV written by a process of its own: Linux starts a child's max RSS at its parent's peak (exec records
    the address space it leaves), so a bench that held the file's frames would lend every child its 1.1 GB."""
    writer = multiprocessing.get_context("spawn").Process(target=write_zendesk_csv, args=(path, rows),
                                                          kwargs={"text": text})
    writer.start()
    writer.join()
    if writer.exitcode != 0:
        raise RuntimeError(f"writing {path} failed (exit {writer.exitcode})")


def own_peak_mb() -> float:
    """This process's peak RSS, below which no child's max RSS is reported."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of one child process, from spawn to exit."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[:4]} failed: {child.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    child.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def compare(csv: Path, folder: Path, pairs: int, projects: list[Path],
            floor: bool = False) -> dict[Path | str, list[dict[str, float]]]:
    """Per checkout (and, with ``floor``, for the floor process under the key "floor"), each turn's baseline and
    its own figures; the baseline runs once a turn, before them all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPULSE_")} | UNLIMITED
    turns: dict[Path | str, list[dict[str, float]]] = {project: [] for project in projects}
    for turn in range(pairs):
        baseline_db = folder / f"baseline{turn}.duckdb"
        duck = run([sys.executable, "-c", BASELINE, str(baseline_db), str(csv)], folder, env)
        _remove(folder, baseline_db)
        if floor:
            floor_db = folder / f"floor{turn}.duckdb"
            least = run([sys.executable, "-c", FLOOR, str(floor_db), str(csv)], folder, env)
            turns.setdefault("floor", []).append(_pair(duck, least))
            _remove(folder, floor_db)
        for number, project in enumerate(projects):
            cspulse_db = folder / f"cspulse{turn}-{number}.duckdb"
            ours = run([sys.executable, "-m", "data.cli", str(csv), "--db", str(cspulse_db), "--json"], project, env)
            turns[project].append(_pair(duck, ours))
            _remove(folder, cspulse_db)
    return turns


def _pair(duck: tuple[float, float, float], ours: tuple[float, float, float]) -> dict[str, float]:
    return {"duckdb_s": duck[0], "duckdb_mb": duck[1], "duckdb_cpu": duck[2],
            "cspulse_s": ours[0], "cspulse_mb": ours[1], "cspulse_cpu": ours[2]}


def _remove(folder: Path, db: Path) -> None:
    """A run's database goes before the next run, so the disk holds one at a time."""
    for path in folder.glob(db.name + "*"):
        path.unlink() if path.is_file() else None


def print_table(rows: int, size_mb: float, turns: list[dict[str, float]], project: Path | str) -> None:
    what = "the floor: Polars reads, DuckDB stores, nothing else" if project == "floor" else f"data.cli of {project}"
    name = "floor" if project == "floor" else "CS Pulse"
    print(f"\n{rows:,}-ticket Zendesk CSV, {size_mb:,.0f} MB; {what}; {len(turns)} pairs in turns")
    print(f"{'pair':<6}{'DuckDB s':>10}{name + ' s':>12}{'ratio':>8}{'DuckDB MB':>11}{name + ' MB':>13}"
          f"{'DuckDB CPU s':>14}{name + ' CPU s':>16}{'CPU ratio':>11}")
    for number, t in enumerate(turns, 1):
        print(f"{number:<6}{t['duckdb_s']:>10.2f}{t['cspulse_s']:>12.2f}{t['cspulse_s'] / t['duckdb_s']:>8.2f}"
              f"{t['duckdb_mb']:>11,.0f}{t['cspulse_mb']:>13,.0f}{t['duckdb_cpu']:>14.2f}{t['cspulse_cpu']:>16.2f}"
              f"{t['cspulse_cpu'] / t['duckdb_cpu']:>11.2f}")
    ratios = [t["cspulse_s"] / t["duckdb_s"] for t in turns]
    cpu_ratios = [t["cspulse_cpu"] / t["duckdb_cpu"] for t in turns]
    print(f"{'median':<6}{statistics.median(t['duckdb_s'] for t in turns):>10.2f}"
          f"{statistics.median(t['cspulse_s'] for t in turns):>12.2f}{statistics.median(ratios):>8.2f}"
          f"{statistics.median(t['duckdb_mb'] for t in turns):>11,.0f}"
          f"{statistics.median(t['cspulse_mb'] for t in turns):>13,.0f}"
          f"{statistics.median(t['duckdb_cpu'] for t in turns):>14.2f}"
          f"{statistics.median(t['cspulse_cpu'] for t in turns):>16.2f}{statistics.median(cpu_ratios):>11.2f}")
    print(f"target: ratio at most 1.5 at a million rows; no MB figure reads below this bench's own peak, "
          f"{own_peak_mb():,.0f} MB, which Linux lends each child")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, action="append", help="rows of each file (1e6, 1e7); repeatable")
    parser.add_argument("--pairs", type=int, default=3, help="DuckDB / CS Pulse pairs run in turns per file")
    parser.add_argument("--project", type=Path, action="append",
                        help="a checkout whose data.cli runs (this one by default); repeatable, for a before/after")
    parser.add_argument("--floor", action="store_true",
                        help="also time Polars reading the file and DuckDB storing the frame, nothing else")
    parser.add_argument("--text", action="store_true",
                        help="each ticket its own subject, most untagged: categorising places them by their text")
    args = parser.parse_args()
    for rows in [int(r) for r in args.rows or [1e6]]:
        with tempfile.TemporaryDirectory(prefix="cspulse-bench-") as name:
            folder = Path(name)
            csv = folder / "zendesk_tickets.csv"
            write_in_own_process(csv, rows, args.text)
            projects = [project.resolve() for project in args.project or [PROJECT]]
            for project, figures in compare(csv, folder, args.pairs, projects, args.floor).items():
                print_table(rows, csv.stat().st_size / 1e6, figures, project)


if __name__ == "__main__":
    main()
