"""Importing a 1,000,000-ticket Zendesk CSV through CS Pulse's import path, against DuckDB's own read_csv.

    python bench/imports.py [--rows 1000000] [--repeat 1]

Each measurement runs in a child process of its own so its peak memory (max RSS) is its own. The baseline is
DuckDB reading the same file into a table of a fresh database file (CREATE TABLE AS SELECT * FROM read_csv);
CS Pulse's path is ``python -m data.cli``'s (data.cli.import_paths): it reads, validates, types, hashes emails and
merges the same file into a fresh warehouse in one transaction. Categorising the tickets follows an import as a step
of its own and is timed on its own line, outside the ratio. Targets: at most 2x DuckDB's time, under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
STATUSES = np.array(["solved", "closed", "open", "pending", "new"])
CHANNELS = np.array(["Mail", "Web form", "Chat", "Phone call", "API"])
SCORES = np.array(["Good", "Bad", "Offered", "Not Offered", "Unoffered"])


def write_zendesk_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    created = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 730 * 86400, rows).astype("timedelta64[s]")
    full = rng.lognormal(7, 1.2, rows).round(0)
    status = STATUSES[rng.choice(5, rows, p=[0.55, 0.3, 0.08, 0.05, 0.02])]
    solved = np.where(np.isin(status, ["solved", "closed"]), (created + (full * 60).astype("timedelta64[s]"))
                      .astype(str), "")
    pl.DataFrame({
        "Id": np.arange(1, rows + 1), "Requester email": [f"customer{n}@example.com" for n in
                                                           rng.integers(0, rows // 3, rows)],
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
                    pl.col("Solved at").str.replace("T", " ")).write_csv(path)


def measure(which: str, csv: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cspulse-bench-") as folder:
        return _measure(which, csv, Path(folder))


def _measure(which: str, csv: Path, folder: Path) -> dict[str, object]:
    stages: dict[str, float] = {}
    started = time.perf_counter()
    if which == "duckdb":
        import duckdb

        con = duckdb.connect(str(folder / "baseline.duckdb"))
        rows = con.execute("CREATE TABLE t AS SELECT * FROM read_csv($path)", {"path": str(csv)}).fetchone()[0]
        con.close()
        seconds, after = time.perf_counter() - started, {}
    else:
        from data.categorising import categorise, current_taxonomy
        from data.cli import import_paths
        from data.warehouse import Warehouse
        from settings import load_settings

        settings = load_settings(_env_file=None)  # the default limits take a 179 MB file
        stages["start-up"] = time.perf_counter() - started
        [result] = import_paths([str(csv)], folder / "cspulse.duckdb", settings)  # python -m data.cli's path
        if result.status != "imported":
            raise RuntimeError(result.reason)
        rows = result.inserted
        seconds = time.perf_counter() - started
        stages["read, check, type, merge, commit"] = seconds - stages["start-up"]
        # What the command line does next, on its own clock: the target is the import.
        warehouse = Warehouse(folder / "cspulse.duckdb")
        categorising = time.perf_counter()
        categorise(warehouse, current_taxonomy())
        after = {"then categorising (not in the ratio)": time.perf_counter() - categorising}
        warehouse.close()
    return {"seconds": seconds, "rows": rows, "stages": stages, "after": after,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], Path(args.child[1]))))
        return
    with tempfile.TemporaryDirectory(prefix="cspulse-bench-") as folder:
        csv = Path(folder) / "zendesk_tickets.csv"
        write_zendesk_csv(csv, args.rows)
        compare(csv, args.rows, args.repeat)


def compare(csv: Path, rows: int, repeat: int) -> None:
    print(f"{rows:,}-ticket Zendesk CSV, {csv.stat().st_size / 1e6:,.0f} MB; median of {repeat} turns")
    # The two run in turns, so a slow spell of a shared machine hits both alike; the ratio is the median of the
    # per-turn ratios.
    runs: dict[str, list[dict]] = {"duckdb": [], "cspulse": []}
    for _ in range(repeat):
        for which in runs:
            child = subprocess.run([sys.executable, __file__, "--child", which, str(csv)], check=True,
                                   stdout=subprocess.PIPE, text=True, cwd=PROJECT)
            runs[which].append(json.loads(child.stdout.splitlines()[-1]))
    results = {which: sorted(r, key=lambda run: run["seconds"])[len(r) // 2] for which, r in runs.items()}
    ratios = sorted(c["seconds"] / d["seconds"] for d, c in zip(runs["duckdb"], runs["cspulse"], strict=True))
    base = results["duckdb"]
    print(f"{'':<34}{'seconds':>10}{'ratio':>8}{'rows':>12}{'peak RSS MB':>14}")
    for which, label in (("duckdb", "DuckDB read_csv -> table"), ("cspulse", "CS Pulse import path")):
        r = results[which]
        print(f"{label:<34}{r['seconds']:>10.2f}{r['seconds'] / base['seconds']:>8.2f}{r['rows']:>12,}"
              f"{r['peak_rss_mb']:>14,.0f}")
    for stage, seconds in results["cspulse"]["stages"].items():
        print(f"  {stage:<32}{seconds:>10.2f}{seconds / base['seconds']:>8.2f}")
    for stage, seconds in results["cspulse"]["after"].items():
        print(f"{stage:<34}{seconds:>10.2f}")
    print(f"ratio of each turn: {', '.join(f'{r:.2f}' for r in ratios)}; median {ratios[len(ratios) // 2]:.2f} "
          "(target: at most 2)")


if __name__ == "__main__":
    main()
