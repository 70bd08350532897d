"""The ticket rollup at 1M tickets: each KPI it serves read raw and from the rollup, and what keeping it costs.

    python bench/rollups.py [--rows 1e6] [--repeat 5] [--timezone America/New_York]

The tickets are synthesised with numpy (bench/_synth.py, seeded) and imported through ``data.ingest.import_batch``
into a warehouse file in a temp folder. Then:

1. each served KPI as the Trends page asks for it (weekly over the whole span, with samples), and the same over
   the last 30 days by day for one channel: raw (``rollup=False``) and rollup in turns, median of ``--repeat``;
   ``agree`` compares the two frames (relative 1e-12): ``ok`` or ``DIFFERS``;
2. the import of a day's export (0.1 % of the tickets, new and updated, on the last days), with the rollup kept
   and without (``data.rollups.bump_version`` swapped for a plain version bump), in turns, each undone after;
   beside it a full rebuild of the rollup, and its row count.

Ratios are raw ÷ rollup and with ÷ without, measured in the same run. No number here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def in_turns(actions: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[float, object]]:
    """(median seconds, last result) per action, the actions run in turns: A, B, A, B..."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    results: dict[str, object] = {}
    for _ in range(repeat):
        for name, action in actions.items():
            started = time.perf_counter()
            results[name] = action()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(times[name]), results[name]) for name in actions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=1e6)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timezone", default="America/New_York")
    args = parser.parse_args()
    rows = int(args.rows)
    path = Path(tempfile.mkdtemp(prefix="cspulse-bench-rollups-")) / "bench.duckdb"
    os.environ.update({"CSPULSE_WAREHOUSE_PATH": str(path), "CSPULSE_LOAD_DEMO_WHEN_EMPTY": "false",
                       "CSPULSE_TIMEZONE": args.timezone})
    import polars as pl
    from polars.testing import assert_frame_equal

    from bench import _synth
    from data import clock, rollups
    from data.ingest import Batch, import_batch, undo_import
    from data.warehouse import Warehouse
    from metrics import query as mq
    from metrics.registry import METRICS
    from settings import get_settings

    settings = get_settings()
    log(f"{rows:,} tickets: synthesising and importing")
    frame = _synth.tickets(rows)
    wh = Warehouse(path)
    clock.sync(wh, clock.Clock.of(settings))
    started = time.perf_counter()
    import_batch(wh, Batch("bench.parquet", "bench", "bench", "tickets", {"tickets": frame}))
    log(f"  imported in {time.perf_counter() - started:.1f} s")
    cur = wh.cursor()
    span = mq.data_range(cur, settings)
    assert span is not None and mq.rollup_current(cur, settings)
    whole = mq.Filters(start=span[0], end=span[1])
    month = mq.Filters(start=span[1] - timedelta(days=29), end=span[1], channel=("email",))
    rollup_rows = cur.execute(f"SELECT count(*) FROM {rollups.TABLE}").fetchone()[0]  # type: ignore[index]

    lines = [f"ticket rollup, {rows:,} tickets, {args.timezone}, median of {args.repeat} runs in turns "
             f"(rollup: {rollup_rows:,} rows)", "",
             f"{'KPI':42} {'view':14} {'raw ms':>8} {'rollup ms':>9} {'ratio':>7}  agree"]
    served = [m.name for m in METRICS if mq.served(m)]
    for name in served:
        for label, view, grain in (("weekly, all", whole, "week"), ("daily, 30d email", month, "day")):
            timing = in_turns({
                "raw": partial(mq.query, cur, [name], view, grain, settings=settings, samples=True, rollup=False),
                "rollup": partial(mq.query, cur, [name], view, grain, settings=settings, samples=True),
            }, args.repeat)
            (raw_s, raw), (fast_s, fast) = timing["raw"], timing["rollup"]
            try:
                assert_frame_equal(fast, raw, rel_tol=1e-12, abs_tol=1e-12)  # type: ignore[arg-type]
                agree = "ok"
            except AssertionError:
                agree = "DIFFERS"
            lines.append(f"{name:42} {label:14} {raw_s * 1e3:8.1f} {fast_s * 1e3:9.1f} {raw_s / fast_s:6.1f}x  {agree}")

    log("  import upkeep")
    last = frame.sort("created_at").tail(2 * max(rows // 1000, 100))  # the last day or so of tickets
    day = last.head(last.height // 2).with_columns(pl.col("updated_at") + timedelta(days=1))  # updated
    new = last.tail(last.height // 2).with_columns(pl.col("ticket_id") + "-new")  # and as many new ones
    daily = pl.concat([day, new], how="diagonal_relaxed")
    kept = rollups.bump_version, rollups.note_days
    counter = iter(range(10**6))

    def import_day(keep: bool) -> float:
        """Seconds to import the day's export; undone after, untimed."""
        if not keep:  # a plain version bump, no days noted: the import as it was before the rollup
            rollups.bump_version = lambda cur, everything=False: Warehouse.bump_version(cur)  # type: ignore[assignment]
            rollups.note_days = lambda *args: None  # type: ignore[assignment]
        try:
            started = time.perf_counter()
            result = import_batch(wh, Batch("day.parquet", f"day-{next(counter)}", "bench", "tickets",
                                            {"tickets": daily}))
            took = time.perf_counter() - started
            undo_import(wh, result.import_id)  # type: ignore[arg-type]
        finally:
            rollups.bump_version, rollups.note_days = kept
        rollups.sync(wh)  # after a run without upkeep: current again
        return took

    imports: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeat):
        for keep in (True, False):
            imports[keep].append(import_day(keep))
    with_s, without_s = (statistics.median(imports[keep]) for keep in (True, False))

    def rebuild() -> None:
        cursor = wh.cursor()
        cursor.begin()
        rollups.rebuild(cursor)
        cursor.rollback()

    rebuild_s = in_turns({"rebuild": rebuild}, args.repeat)["rebuild"][0]
    lines += ["", f"import of a day's export ({daily.height:,} tickets): with rollup upkeep {with_s:.3f} s, "
                  f"without {without_s:.3f} s, ratio {with_s / without_s:.2f}",
              f"full rollup rebuild: {rebuild_s:.3f} s"]
    wh.close()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
