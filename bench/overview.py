"""Demo store at 1x, 10x and 100x: build time, each KPI query, the Overview page under AppTest, peak memory.

    python bench/overview.py [--scales 1 10 100] [--repeat 3]

Each size runs in a child process of its own, so its peak memory (max RSS) is its own; every ratio is against
the first size of the same run. Prints one table per measure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))


def measure(scale: float, repeat: int) -> dict[str, object]:
    """Runs inside the child: everything for one size."""
    from data import demo, ingest
    from data.warehouse import Warehouse
    from metrics import query as mq
    from metrics.registry import METRICS
    from settings import get_settings

    folder = Path(tempfile.mkdtemp(prefix="cspulse-bench-"))
    path = folder / "bench.duckdb"
    os.environ["CSPULSE_WAREHOUSE_PATH"] = str(path)
    started = time.perf_counter()
    batch = demo.demo_batch(salt="bench", scale=scale)
    generated = time.perf_counter()
    wh = Warehouse(path)
    ingest.import_batch(wh, batch)
    imported = time.perf_counter()
    del batch
    cur, settings = wh.cursor(), get_settings()  # read after CSPULSE_WAREHOUSE_PATH is set above
    filters = mq.default_filters(cur, settings=settings)
    timings = {m.name: _best(lambda m=m: mq.totals(cur, [m.name], filters, settings), repeat) for m in METRICS}
    timings["all KPIs, one statement"] = _best(lambda: mq.totals(cur, [m.name for m in METRICS], filters, settings),
                                               repeat)
    whole = mq.Filters(start=demo.DEMO_START, end=demo.DEMO_END)
    timings["weekly trend, 2 years"] = _best(
        lambda: mq.query(cur, ["tickets_created", "first_reply_minutes_median", "backlog"], whole, "week",
                         settings=settings), repeat)
    rows = {"tickets": wh.row_count("tickets"), "orders": wh.row_count("orders")}
    wh.close()
    page = _best(lambda: _overview_run(), repeat)
    return {
        "scale": scale, "rows": rows, "generate_s": generated - started, "import_s": imported - generated,
        "queries_s": timings, "overview_apptest_s": page,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "file_mb": path.stat().st_size / 1e6,
    }


def _overview_run() -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()  # a cold page: every query runs, only the warehouse handle is reused
    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=600).run()
    if app.exception:
        raise RuntimeError(app.exception[0].value)


def _best(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _table(title: str, rows: list[tuple[str, list[float]]], scales: list[float], unit: str) -> None:
    print(f"\n{title}")
    header = f"{'':<34}" + "".join(f"{f'{s:g}x':>12}{'ratio':>8}" for s in scales)
    print(header)
    for name, values in rows:
        number = "{:>12,.0f}" if unit == "rows" else "{:>12.3f}"
        cells = "".join(number.format(v) + f"{v / values[0] if values[0] else float('nan'):>8.1f}" for v in values)
        print(f"{name + ' (' + unit + ')':<34}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.repeat)))
        return
    results = []
    for scale in args.scales:
        done = subprocess.run([sys.executable, __file__, "--child", str(scale), "--repeat", str(args.repeat)],
                              stdout=subprocess.PIPE, text=True, check=True, cwd=PROJECT)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"measured {scale:g}x: {results[-1]['rows']}", file=sys.stderr)
    scales = [r["scale"] for r in results]
    print("CS Pulse demo store benchmark (median of", args.repeat, "runs; ratio = against the first size)")
    _table("Size", [(k, [r["rows"][k] for r in results]) for k in ("tickets", "orders")], scales, "rows")
    _table("Build", [("generate", [r["generate_s"] for r in results]),
                     ("import (one transaction)", [r["import_s"] for r in results])], scales, "s")
    names = list(results[0]["queries_s"])
    _table("KPI queries, default 30-day period", [(n, [r["queries_s"][n] * 1000 for r in results]) for n in names],
           scales, "ms")
    _table("Overview page, cold caches, under AppTest", [("run", [r["overview_apptest_s"] for r in results])],
           scales, "s")
    _table("Memory and disk", [("peak RSS", [r["peak_rss_mb"] for r in results]),
                               ("warehouse file", [r["file_mb"] for r in results])], scales, "MB")


if __name__ == "__main__":
    main()
