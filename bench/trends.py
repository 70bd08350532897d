"""Every ticket KPI and every page at 1M and 10M tickets (with half as many orders): each query and each page run
timed, the queries beside the same numbers computed with pandas on the same data in the same run, and checked
against them.

    python bench/trends.py [--sizes 1e6,1e7] [--quick] [--repeat 3] [--timezone America/New_York]
                           [--keep DIR] [--no-pages] [--kpis NAME,NAME]

``--keep DIR`` keeps each size's warehouse as DIR/trends-<rows>.duckdb and, where it is there already, opens it
instead of synthesising and importing again (its rollup and facts brought up to date as the dashboard does on
opening, untimed); ``--no-pages`` leaves out the page runs; ``--kpis`` times and compares only those ticket KPIs
(and leaves out the Team statement and the Trends extras).

Each size runs in a child process of its own, so its peak memory (max RSS) is its own. The tickets are
synthesised with numpy (bench/_synth.py, seeded), with half as many orders and their line items, and imported
through ``data.ingest.import_batch`` into a warehouse file in a temp folder. Per size:

1. each ticket KPI as the Trends page asks for it: weekly over the whole two years, with samples; median of
   ``--repeat`` runs. Beside it pandas computes the same weekly series (value and sample) from the raw columns
   (loaded once, load time reported apart), written from the KPI definitions, not from the SQL: a groupby on the
   local week of the KPI's time column, quantiles with linear interpolation, rates as means of 0/1 flags, the
   business clock in numpy, SLA targets from the settings, the backlog by sorted search at each week's end.
   ``agree`` compares every period's value (relative 1e-9) and sample size (exactly): ``ok`` or ``DIFFERS``.
2. the Team page's one statement (6 KPIs by assignee) against a pandas groupby on the assignee;
3. the Trends page's extras: arrivals by weekday and hour, and the duration buckets;
4. every page under Streamlit's AppTest, in a process of their own, opened straight on the page with the URL's
   start/end set to the last 30 days and to the whole data: cold (every cached result cleared, as after a filter
   change; the process keeps its warehouse handle), warm (a rerun, every result cached), and the floor: the same page
   drawn from constant data (every cached result from a plain dict, a constant data version); cold the median of
   three runs, warm and floor of five each, taken in turns;
5. peak RSS and the warehouse file size.

The ratio is pandas ÷ DuckDB: how many times longer the in-process pandas baseline takes. Progress goes to
stderr. No number here is asserted; a disagreement is printed, never hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from metrics.distributions import BUCKETS  # noqa: E402
from settings import WEEKDAYS, Settings  # noqa: E402

TEAM = ["tickets_created", "first_reply_minutes_median", "full_resolution_minutes_median", "one_touch_rate",
        "reopen_rate", "csat"]  # as app_pages/team.py asks for them
PANDAS_COLUMNS = ("created_at", "updated_at", "first_reply_at", "first_solved_at", "solved_at", "channel",
                  "priority", "group_name", "assignee", "agent_replies", "reopens", "first_reply_minutes",
                  "first_resolution_minutes", "full_resolution_minutes", "first_reply_business_minutes",
                  "full_resolution_business_minutes", "requester_wait_minutes", "satisfaction_rating",
                  "satisfaction_score", "tags", "nps_score", "order_id", "linked_order_id")
REL_TOL = 1e-9
ONE_RUN_S = 10.0  # a query slower than this runs once, so that ten million tickets finish within the hour
NONE = "(none)"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_peak_rss_mb() -> float:
    """This process's own peak: Linux carries ru_maxrss over fork and exec, so a process started by the size's
    process would report that one's peak; the high-water mark of its address space (VmHWM) starts afresh."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return rss_mb()


def timed(action: Callable[[], object], repeat: int) -> tuple[float, object, int]:
    """(median seconds, the last result, runs); only one run when the first takes over ``ONE_RUN_S``."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
        if times[0] > ONE_RUN_S:
            break
    return statistics.median(times), result, len(times)


# --- pandas: the same KPIs from their definitions ------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """A KPI for pandas: the column that places a ticket in a period, the per-ticket value (NaN = outside the
    sample; None = count rows), the statistic, and, where it differs from 'value present', the sample."""

    time: str
    value: Callable[[], np.ndarray] | None
    stat: str  # count | mean | median | p90
    sample: Callable[[], np.ndarray] | None = None
    scale: float = 1.0
    only: Callable[[], np.ndarray] | None = None  # the rows it counts, where not all of the view's


class PandasKPIs:
    """Every ticket KPI, computed with pandas and numpy from the stored columns (naive UTC timestamps)."""

    def __init__(self, df: pd.DataFrame, settings: Settings, start: date, end: date,
                 order_span: tuple[datetime, datetime] | None = None) -> None:
        self.df, self.settings, self.start, self.end = df, settings, start, end
        self.order_span = order_span  # the first and last order's time (naive UTC): the days both exports cover
        self.tz = settings.timezone
        self.lo, self.hi = self._utc(start), self._utc(end + timedelta(days=1))
        first_monday = start - timedelta(days=start.weekday())
        self.weeks = pd.date_range(first_monday, end, freq="7D").to_numpy().astype("datetime64[D]")
        self.specs = self._specs()

    # - helpers -
    def _utc(self, day: date) -> np.datetime64:
        """A local midnight as a naive UTC instant."""
        return pd.Timestamp(day).tz_localize(self.tz).tz_convert("UTC").tz_localize(None).to_datetime64()

    def _local(self, stamps: np.ndarray) -> np.ndarray:
        """Naive UTC -> naive wall clock in the account time zone (NaT stays NaT)."""
        return pd.DatetimeIndex(stamps).tz_localize("UTC").tz_convert(self.tz).tz_localize(None).to_numpy()

    def col(self, name: str) -> np.ndarray:
        series = self.df[name]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series.to_numpy()
        return series.to_numpy(dtype=float, na_value=np.nan)

    def _lut(self, name: str, mapping: Callable[[str], float], missing: float) -> np.ndarray:
        """A per-row value from a categorical column through a per-category function; NULL rows get ``missing``."""
        series = self.df[name]
        table = np.array([mapping(c) for c in series.cat.categories] + [missing], dtype=float)
        return table[series.cat.codes.to_numpy()]  # code -1 (NULL) picks the last entry

    def _in_view(self, column: str) -> np.ndarray:
        stamps = self.col(column)
        return (stamps >= self.lo) & (stamps < self.hi)  # NaT compares False

    def _mondays(self, stamps: np.ndarray) -> np.ndarray:
        days = self._local(stamps).astype("datetime64[D]")
        return days - (days.astype(np.int64) - 4) % 7  # 1970-01-05 was a Monday

    # - the business clock -
    def _business_count(self, stamps: np.ndarray) -> np.ndarray:
        """Business minutes from Monday 1970-01-05 (local) to each instant."""
        s = self.settings
        open_at = s.business_hours_start.hour * 60 + s.business_hours_start.minute
        span = s.business_hours_end.hour * 60 + s.business_hours_end.minute - open_at
        works = np.array([day in s.business_days for day in WEEKDAYS], dtype=float)
        before = np.concatenate([[0.0], np.cumsum(works)])  # business days among the first k weekdays
        local = self._local(stamps)
        missing = np.isnat(local)
        day = local.astype("datetime64[D]")
        days = np.where(missing, 0, (day - np.datetime64("1970-01-05")).astype(np.int64))
        weekday = days % 7
        minute = (local - day) / np.timedelta64(1, "m")
        whole_days = (days // 7) * before[7] + before[weekday]
        return np.where(missing, np.nan, whole_days * span + works[weekday] * np.clip(minute - open_at, 0, span))

    def business(self, end_column: str) -> np.ndarray:
        return self._business_count(self.col(end_column)) - self._business_count(self.col("created_at"))

    # - per-ticket values -
    def duration(self, stem: str, business: bool) -> np.ndarray:
        calendar = self.col(f"{stem}_minutes")
        if not business:
            return calendar
        end = {"first_reply": "first_reply_at", "first_resolution": "first_solved_at",
               "full_resolution": "solved_at"}[stem]
        value = self.business(end)
        exported = f"{stem}_business_minutes"
        if exported in self.df.columns:  # the helpdesk's own figure wins where it has one
            own = self.col(exported)
            value = np.where(np.isnan(own), value, own)
        return np.where(np.isnan(calendar), np.nan, value)

    @staticmethod
    def flag(condition: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
        value = condition.astype(float)
        return value if known is None else np.where(known, value, np.nan)

    def one_touch(self) -> np.ndarray:
        replies = self.col("agent_replies")
        return self.flag(replies < 2, ~np.isnan(replies))

    def reopened(self) -> np.ndarray:
        reopens = self.col("reopens")
        return self.flag(reopens > 0, ~np.isnan(reopens))

    def sla(self, minutes_column: str, kind: str) -> np.ndarray:
        s = self.settings
        by_channel = getattr(s, f"{kind}_minutes")
        by_priority = getattr(s, f"{kind}_minutes_by_priority")
        other = by_channel.get("other", np.nan)
        channel = self._lut("channel", lambda c: by_channel.get(c, other), other)
        priority = self._lut("priority", lambda p: by_priority.get(p, np.nan), np.nan)
        target = np.fmin(channel, priority)  # the stricter; a missing one does not count
        minutes = self.col(minutes_column)
        created, solved = self.col("created_at"), self.col("solved_at")
        if kind == "sla_first_reply":
            still_open = np.isnat(self.col("first_reply_at")) & np.isnat(solved)
        else:
            still_open = np.isnat(solved)
        as_of = pd.Series(self.col("updated_at")).fillna(pd.Series(solved)).fillna(pd.Series(created)).max()
        deadline = created + np.round(np.nan_to_num(target) * 60_000_000).astype(np.int64).astype("timedelta64[us]")
        late = deadline < as_of.to_datetime64()
        out = np.full(len(minutes), np.nan)
        answered = ~np.isnan(minutes)
        out[answered] = minutes[answered] <= target[answered]
        out[~answered & still_open & late] = 0.0
        return np.where(np.isnan(target), np.nan, out)

    def _rating(self, value: str) -> np.ndarray:
        return (self.df["satisfaction_rating"] == value).to_numpy(dtype=bool, na_value=False)

    def csat(self) -> np.ndarray:
        score = self.col("satisfaction_score")
        good, bad = self._rating("good"), self._rating("bad")
        scored = ~np.isnan(score)
        out = np.where(good, 1.0, np.where(bad, 0.0, np.nan))
        return np.where(scored, (score >= self.settings.csat_good_min_score).astype(float), out)

    def csat_rated(self) -> np.ndarray:
        return ~np.isnan(self.col("satisfaction_score")) | self._rating("good") | self._rating("bad")

    def csat_offered(self) -> np.ndarray:
        return ~np.isnan(self.col("satisfaction_score")) | self.df["satisfaction_rating"].notna().to_numpy()

    def csat_response(self) -> np.ndarray:
        return np.where(self.csat_offered(), self.csat_rated().astype(float), np.nan)

    def nps_valid(self) -> np.ndarray:
        score = self.col("nps_score")
        return (score >= 0) & (score <= 10)

    def nps(self) -> np.ndarray:
        score = self.col("nps_score")
        return np.where(self.nps_valid(), (score >= 9).astype(float) - (score <= 6), np.nan)

    def _tagged(self, wanted: tuple[str, ...]) -> np.ndarray:
        words = set(wanted)
        return self._lut("tags", lambda text: bool(words & set(re.split(r"[\s,;]+", text.lower()))), 0.0) > 0

    def on_shared_days(self) -> np.ndarray:
        """Created on a local day from the later of the two exports' first days to the earlier of their last."""
        days = self._local(self.col("created_at")).astype("datetime64[D]")
        if self.order_span is None:
            return np.zeros(len(days), dtype=bool)
        orders = self._local(np.array(self.order_span, dtype="datetime64[us]")).astype("datetime64[D]")
        first, last = max(days.min(), orders[0]), min(days.max(), orders[1])
        return (days >= first) & (days <= last)

    def about_an_order(self) -> np.ndarray:
        """Named an order in the export's column, or linked to one (data/linking.py)."""
        return self.flag(self.df["order_id"].notna().to_numpy() | self.df["linked_order_id"].notna().to_numpy())

    def escalated(self) -> np.ndarray:
        groups = set(self.settings.escalation_groups)
        in_group = self._lut("group_name", lambda g: g.lower() in groups, 0.0) > 0
        return self.flag(self._tagged(self.settings.escalation_tags) | in_group)

    def automated(self) -> np.ndarray:
        replies = self.col("agent_replies")
        return np.where(self._tagged(self.settings.automation_tags), 1.0,
                        np.where(np.isnan(replies), np.nan, (replies == 0).astype(float)))

    def _specs(self) -> dict[str, Spec]:
        specs = {"tickets_created": Spec("created_at", None, "count"),
                 "tickets_solved": Spec("solved_at", None, "count")}
        placed = {"first_reply": "created_at", "first_resolution": "solved_at", "full_resolution": "solved_at"}
        for stem, column in placed.items():
            for business in (False, True):
                for stat in ("median", "mean", "p90"):
                    specs[f"{stem}{'_business' if business else ''}_minutes_{stat}"] = Spec(
                        column, lambda stem=stem, business=business: self.duration(stem, business), stat)
        for stat in ("median", "mean", "p90"):
            specs[f"requester_wait_minutes_{stat}"] = Spec("solved_at", lambda: self.col("requester_wait_minutes"),
                                                           stat)
        specs |= {
            "resolution_rate": Spec("created_at", lambda: self.flag(~np.isnat(self.col("solved_at"))), "mean"),
            "one_touch_rate": Spec("solved_at", self.one_touch, "mean"),
            "reopen_rate": Spec("solved_at", self.reopened, "mean"),
            "sla_first_reply_attainment": Spec(
                "created_at", lambda: self.sla("first_reply_minutes", "sla_first_reply"), "mean"),
            "sla_resolution_attainment": Spec(
                "created_at", lambda: self.sla("full_resolution_minutes", "sla_resolution"), "mean"),
            "csat": Spec("solved_at", self.csat, "mean", self.csat_rated),
            "csat_response_rate": Spec("solved_at", self.csat_response, "mean", self.csat_offered),
            "nps": Spec("solved_at", self.nps, "mean", self.nps_valid, scale=100.0),
            "escalation_rate": Spec("created_at", self.escalated, "mean"),
            "automation_rate": Spec("solved_at", self.automated, "mean"),
            "tickets_linked_share": Spec("created_at", self.about_an_order, "mean"),
            "tickets_created_shared_days": Spec("created_at", None, "count", only=self.on_shared_days),
        }
        return specs

    # - aggregation -
    def weekly(self, name: str) -> pd.DataFrame:
        """The KPI and its sample per local week of the view, every week present (counts 0, others NaN)."""
        if name == "backlog":
            return self.backlog()
        spec = self.specs[name]
        rows = self._rows(spec)
        keys = self._mondays(self.col(spec.time)[rows])
        return self._aggregate(name, spec, rows, keys, pd.Index(self.weeks, name="period"))

    def by(self, names: list[str], column: str) -> pd.DataFrame:
        """The KPIs over the whole view per value of ``column`` (NULL as '(none)'), every value in the data."""
        series = self.df[column]
        labels = np.array([*series.cat.categories, NONE], dtype=object)  # code -1 (NULL) is the last
        codes = series.cat.codes.to_numpy()
        spine = pd.Index(np.unique(codes), name="by_value")
        frames = []
        for name in names:
            spec = self.specs[name]
            rows = self._rows(spec)
            frames.append(self._aggregate(name, spec, rows, codes[rows], spine).set_index("by_value"))
        out = pd.concat(frames, axis=1).reset_index()
        return out.assign(by_value=labels[out["by_value"].to_numpy()])

    def _rows(self, spec: Spec) -> np.ndarray:
        rows = self._in_view(spec.time)
        return rows if spec.only is None else rows & spec.only()

    def _aggregate(self, name: str, spec: Spec, rows: np.ndarray, keys: np.ndarray, spine: pd.Index) -> pd.DataFrame:
        if spec.value is None:
            value = pd.Series(keys).groupby(keys).size().reindex(spine, fill_value=0)
            sample = value
        else:
            values = spec.value()[rows]
            known = ~np.isnan(values)
            groups = pd.Series(values[known]).groupby(keys[known])
            value = {"mean": groups.mean, "median": groups.median,
                     "p90": lambda: groups.quantile(0.9, interpolation="linear")}[spec.stat]() * spec.scale
            value = value.reindex(spine)
            counted = known if spec.sample is None else spec.sample()[rows]
            sample = pd.Series(counted.astype(np.int64)).groupby(keys).sum().reindex(spine, fill_value=0)
        return pd.DataFrame({spine.name: spine, name: value.to_numpy(), f"{name}_n": sample.to_numpy()})

    def backlog(self) -> pd.DataFrame:
        """Tickets created before each week's end and not solved by then: those created before it, less those
        whose creation and solve both fall before it."""
        ends = np.minimum(self.weeks + np.timedelta64(7, "D"), np.datetime64(self.end + timedelta(days=1)))
        as_of = self._local_midnights_to_utc(ends)
        created, solved = self.col("created_at"), self.col("solved_at")
        done = ~np.isnat(solved)
        both = np.sort(np.maximum(created[done], solved[done]))
        open_ = np.searchsorted(np.sort(created), as_of) - np.searchsorted(both, as_of)
        return pd.DataFrame({"period": self.weeks, "backlog": open_, "backlog_n": open_})

    def _local_midnights_to_utc(self, days: np.ndarray) -> np.ndarray:
        local = pd.DatetimeIndex(days.astype("datetime64[ns]")).tz_localize(self.tz)
        return local.tz_convert("UTC").tz_localize(None).to_numpy()

    # - the Trends page's other shapes -
    def arrivals(self) -> pd.DataFrame:
        created = self.col("created_at")
        local = pd.DatetimeIndex(created[self._in_view("created_at")]).tz_localize("UTC").tz_convert(self.tz)
        counts = pd.Series(1, index=local).groupby([local.day_of_week, local.hour]).size()
        cells = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
        return counts.reindex(cells, fill_value=0).rename("tickets").reset_index()

    def buckets(self, stem: str, business: bool) -> pd.DataFrame:
        placed = {"first_reply": "created_at", "first_resolution": "solved_at", "full_resolution": "solved_at"}
        values = self.duration(stem, business)
        rows = self._in_view(placed[stem]) & ~np.isnan(values)
        bounds = [bound for _, bound in BUCKETS[:-1]]
        bucket = np.digitize(values[rows], bounds)  # bounds[i-1] <= v < bounds[i] -> i
        counts = pd.Series(bucket).value_counts().reindex(range(len(BUCKETS)), fill_value=0)
        return pd.DataFrame({"bucket": range(len(BUCKETS)), "tickets": counts.to_numpy()})


# --- agreement ------------------------------------------------------------------------------------------------------
def agreement(duck: pd.DataFrame, mine: pd.DataFrame, keys: list[str], columns: list[str]) -> dict[str, object]:
    """Largest absolute and relative difference over every row and column; rows or NULLs on one side only and
    any sample (``_n``) or count difference make a disagreement."""
    for frame in (duck, mine):
        for key in keys:
            frame[key] = frame[key].astype(str).str.slice(0, 10) if key == "period" else frame[key].astype(str)
    merged = duck[keys + columns].merge(mine[keys + columns], on=keys, how="outer", suffixes=("_d", "_p"),
                                        indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    worst_abs = worst_rel = 0.0
    bad_rows = np.zeros(len(merged), dtype=bool)
    for column in columns:
        a = pd.to_numeric(merged[f"{column}_d"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        b = pd.to_numeric(merged[f"{column}_p"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        one_null = np.isnan(a) ^ np.isnan(b)
        diff = np.where(np.isnan(a) | np.isnan(b), 0.0, np.abs(a - b))
        scale = np.maximum(np.abs(np.nan_to_num(a)), np.abs(np.nan_to_num(b)))
        rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        exact = column.endswith("_n") or column in ("tickets", "tickets_created", "tickets_solved", "backlog",
                                                    "tickets_created_shared_days")
        bad = one_null | ((diff > 0) if exact else (rel > REL_TOL) & (diff > 1e-12))
        bad_rows |= bad
        if len(diff):
            worst_abs, worst_rel = max(worst_abs, float(diff.max())), max(worst_rel, float(rel.max()))
    bad = int(bad_rows.sum()) + unmatched
    example = ""
    if bad:
        row = merged[bad_rows | (merged["_merge"] != "both")].iloc[0]
        example = ", ".join(f"{k}={row[k]}" for k in keys) + ": " + ", ".join(
            f"{c} duckdb={row[f'{c}_d']} pandas={row[f'{c}_p']}" for c in columns)
    return {"rows": len(merged), "bad": bad, "max_abs": worst_abs, "max_rel": worst_rel, "example": example}


# --- one size, in its own process ----------------------------------------------------------------------------------
def measure(rows: int, repeat: int, tz: str, keep: str | None = None, pages: bool = True,
            kpis: list[str] | None = None) -> dict[str, object]:
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="cspulse-bench-trends-"))
    path = folder / (f"trends-{rows}.duckdb" if keep else "bench.duckdb")
    os.environ.update({"CSPULSE_WAREHOUSE_PATH": str(path), "CSPULSE_LOAD_DEMO_WHEN_EMPTY": "false",
                       "CSPULSE_TIMEZONE": tz})
    from data import rollups
    from data.warehouse import Warehouse
    from metrics import distributions, facts
    from metrics import query as mq
    from metrics.registry import METRICS
    from settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    result: dict[str, object] = {"rows": rows, "timezone": tz, "rss_mb": {}}
    rss = result["rss_mb"]
    assert isinstance(rss, dict)

    reused = path.exists()
    wh = Warehouse(path)
    if reused:
        log(f"{rows:,} tickets: reusing {path}")
        result.update(synth_s=None, import_s=None, import_path=f"reused {path}")
        _add_links(wh, settings)
    else:
        _build(wh, rows, settings, result)
    rollups.sync(wh, settings)  # as the dashboard does on opening (a warehouse kept from another checkout's code)
    facts.refresh(wh)
    wh.cursor().execute("CHECKPOINT")
    result["file_mb"] = path.stat().st_size / 1e6
    rss["after import"] = rss_mb()

    cur = wh.cursor()
    span = mq.data_range(cur, settings)
    assert span is not None
    whole = mq.Filters(start=span[0], end=span[1])
    result["period"] = f"{whole.start} .. {whole.end}"
    # The pages in a process of their own, first: it imports the app's modules at once, so a long run cannot mix
    # versions of files that other work is changing meanwhile; the warehouse is closed for it (one writer per file).
    result["pages"], result["pages_rss_mb"] = [], None
    if pages:
        log("  page runs")
        wh.close()
        done = subprocess.run([sys.executable, __file__, "--pages", str(path), str(whole.start), str(whole.end)],
                              stdout=subprocess.PIPE, text=True, check=True, cwd=PROJECT)
        runs = json.loads(done.stdout.strip().splitlines()[-1])
        result["pages"], result["pages_rss_mb"] = runs["runs"], runs["peak_rss_mb"]
        wh = Warehouse(path)
        cur = wh.cursor()

    names = [m.name for m in METRICS if m.table == "tickets" and (kpis is None or m.name in kpis)]
    duck: dict[str, tuple[float, int, pd.DataFrame]] = {}  # name -> (seconds, runs, result)

    def run_duck(name: str, action: Callable[[], object]) -> None:
        seconds, out, runs = timed(action, repeat)
        duck[name] = (seconds, runs, out.to_pandas())  # type: ignore[attr-defined]
        log(f"  duckdb {name}: {seconds * 1000:.0f} ms")

    for name in names:
        run_duck(name, lambda name=name: mq.query(cur, [name], whole, "week", settings=settings, samples=True))
    everything = kpis is None
    if everything:
        run_duck("team", lambda: mq.query(cur, TEAM, whole, by="assignee", settings=settings, samples=True))
        run_duck("arrivals_by_hour", lambda: distributions.arrivals_by_hour(cur, whole, settings))
        for stem in ("first_reply", "full_resolution"):
            for business in (False, True):
                run_duck(_bucket_name(stem, business), lambda s=stem, b=business: distributions.duration_buckets(
                    cur, whole, s, b, settings=settings))
    rss["after duckdb queries"] = rss_mb()

    log("  loading the pandas frame")
    started = time.perf_counter()
    df = load_pandas(cur)
    result["pandas_load_s"] = time.perf_counter() - started
    result["pandas_frame_mb"] = df.memory_usage(deep=True).sum() / 1e6
    rss["after pandas load"] = rss_mb()
    log(f"  pandas frame {result['pandas_frame_mb']:.0f} MB in {result['pandas_load_s']:.1f} s")
    order_span = cur.execute("SELECT min(created_at), max(created_at) FROM orders").fetchone()  # type: ignore[attr-defined]
    pd_kpis = PandasKPIs(df, settings, whole.start, whole.end, None if order_span[0] is None else order_span)

    def compared(name: str, action: Callable[[], object], keys: list[str], columns: list[str]) -> dict[str, object]:
        seconds, mine, runs = timed(action, repeat)
        d_seconds, d_runs, frame = duck[name]
        checks = [agreement(frame.copy(), mine.copy(), keys, [c, f"{c}_n"] if c != "tickets" else [c])  # type: ignore[attr-defined]
                  for c in columns]
        log(f"  pandas {name}: {seconds * 1000:.0f} ms, {'DIFFERS' if any(c['bad'] for c in checks) else 'ok'}")
        return {"kpi": name, "duckdb_s": d_seconds, "duckdb_runs": d_runs, "pandas_s": seconds, "pandas_runs": runs,
                **checks[0], "checks": [{"kpi": c, **check} for c, check in zip(columns, checks, strict=True)]}

    # a KPI newer than its pandas twin is left out of the comparison (and said so), not a crash after minutes of work
    twinned = [name for name in names if name == "backlog" or name in pd_kpis.specs]
    result["no_pandas_twin"] = [name for name in names if name not in twinned]
    result["kpis"] = [compared(name, lambda name=name: pd_kpis.weekly(name), ["period"], [name]) for name in twinned]
    result["team"], result["extras"] = None, []
    if everything:
        result["team"] = compared("team", lambda: pd_kpis.by(TEAM, "assignee"), ["by_value"], TEAM)
        result["team"]["agents"] = len(duck["team"][2])  # type: ignore[index]
        extras = [compared("arrivals_by_hour", pd_kpis.arrivals, ["weekday", "hour"], ["tickets"])]
        for stem in ("first_reply", "full_resolution"):
            for business in (False, True):
                extras.append(compared(_bucket_name(stem, business),
                                       lambda s=stem, b=business: pd_kpis.buckets(s, b), ["bucket"], ["tickets"]))
        result["extras"] = extras
    rss["after pandas queries"] = rss_mb()
    result["peak_rss_mb"] = rss_mb()
    wh.close()
    if not keep:
        shutil.rmtree(folder)  # the ten-million warehouse alone is most of a gigabyte
    return result


def _build(wh: object, rows: int, settings: object, result: dict[str, object]) -> None:
    """Synthesise ``rows`` tickets and half as many orders and import them through data.ingest.import_batch."""
    from bench import _synth
    from data import clock
    from data.ingest import Batch, import_batch

    log(f"{rows:,} tickets: synthesising")
    started = time.perf_counter()
    shop = _synth.orders(rows // 2)  # the scale: ten million tickets beside five million orders
    frame = _synth.tickets(rows)
    frame = frame.with_columns(_synth.about_orders(frame["created_at"].to_numpy(), shop["orders"]))
    result["synth_s"] = time.perf_counter() - started
    log(f"  synthesised in {result['synth_s']:.1f} s; importing through data.ingest.import_batch")
    started = time.perf_counter()
    clock.sync(wh, clock.Clock.of(settings))  # type: ignore[arg-type]  # as the dashboard does, before importing
    import_batch(wh, Batch("bench.parquet", f"bench-{rows}", "bench", "tickets", {"tickets": frame}))  # type: ignore[arg-type]
    del frame
    import_batch(wh, Batch("shop.parquet", f"shop-{rows // 2}", "bench-shop", "orders", shop))  # type: ignore[arg-type]
    del shop
    result["import_s"] = time.perf_counter() - started
    result["import_path"] = "data.ingest.import_batch"
    log(f"  imported in {result['import_s']:.1f} s")
    _link(wh, settings)


def _link(wh: object, settings: object) -> None:
    """Tickets linked to their orders as ``python -m data.cli`` does after an import (data/linking.py)."""
    from data import linking

    started = time.perf_counter()
    linked = linking.link(wh, settings.link_window_days)  # type: ignore[arg-type, attr-defined]
    log(f"  linked in {time.perf_counter() - started:.1f} s: {linked.by_method}")


def _add_links(wh: object, settings: object) -> None:
    """A kept warehouse made before the tickets named orders gets the columns _synth.about_orders gives (the same
    function of the same rows), then is linked, instead of synthesising and importing it again: minutes at ten
    million tickets. The columns are written straight, as a bench's own data, not through an import."""
    from bench import _synth

    cur = wh.cursor()  # type: ignore[attr-defined]
    if cur.execute("SELECT count(customer_key) FROM tickets").fetchone()[0]:
        return
    log("  the kept warehouse names no order: adding the links bench/_synth.py makes")
    tickets = cur.execute("SELECT ticket_id, created_at FROM tickets ORDER BY ticket_id").pl()
    shop = cur.execute("SELECT order_id, created_at, customer_key FROM orders ORDER BY created_at, "
                       "order_id::BIGINT").pl()  # as _synth.orders made them: ids in order of time
    about = _synth.about_orders(tickets["created_at"].to_numpy(), shop).with_columns(tickets["ticket_id"])
    with wh.transaction() as write:  # type: ignore[attr-defined]
        write.register("about", about.to_arrow())
        write.execute("UPDATE tickets t SET order_id = a.order_id, customer_key = a.customer_key FROM about a "
                      "WHERE t.ticket_id = a.ticket_id")
        write.unregister("about")
    _link(wh, settings)


def _bucket_name(stem: str, business: bool) -> str:
    return f"duration_buckets({stem}{', business' if business else ''})"


def load_pandas(cur: object) -> pd.DataFrame:
    """Only the columns the KPIs read; text as categoricals (a few distinct values each), so ten million
    tickets fit in about 1.5 GB."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = cur.execute(f"SELECT {', '.join(PANDAS_COLUMNS)} FROM tickets").fetch_arrow_table()  # type: ignore[attr-defined]
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(i, field.name, pc.dictionary_encode(table.column(i)))
    return table.to_pandas(self_destruct=True, split_blocks=True)


WARM_TURNS = 5
PAGE_TITLES = {"overview": "Overview", "trends": "Trends", "team": "Team", "staffing": "Staffing",
               "complaints": "Complaints", "orders": "Orders & loyalty", "imports": "Import", "data": "Data"}


def page_runs(start: date, end: date) -> dict[str, object]:
    """Each page opened straight from a link, cold then warm, over the last 30 days, over all the data and over all
    of it with one channel chosen in the sidebar (a filter is a click too), and beside it the same page drawn from
    constant data (Streamlit's floor); runs in its own process, the warehouse and time zone given by the CSPULSE_
    variables."""
    import streamlit as st
    from streamlit import config

    config.set_option("client.showErrorDetails", "full")  # a page's exception in words, not redacted
    windows = {"last 30 days": (end - timedelta(days=29), end, {}), "whole data": (start, end, {}),
               "whole, email": (start, end, {"channel": ["email"]})}
    _timed_run(_open("data", start, end))  # untimed: the app's modules, and what opening a warehouse does once
    runs = []
    for page in PAGE_TITLES:
        for window, (first, last, chosen) in windows.items():
            colds = []
            for _ in range(3):
                # a filter change misses every cached result; the process's warehouse handle stays open
                st.cache_data.clear()
                app = _open(page, first, last, chosen)
                colds.append(_timed_run(app))
            cold = statistics.median(colds)
            problem = _page_problem(app, page)
            warm, floor = _warm_and_floor(app, page, first, last, chosen)
            problem = problem or _page_problem(app, page)
            runs.append({"page": page, "window": window, "cold_s": cold, "warm_s": warm, "floor_s": floor,
                         "problem": problem})
            each = ", ".join(f"{run:.2f}" for run in colds)  # the first may carry a module's first use in the process
            log(f"  page {page}, {window}: cold {cold:.2f} s ({each}), warm {warm:.3f} s, floor {floor:.3f} s "
                f"{problem}")
    return {"runs": runs, "peak_rss_mb": own_peak_rss_mb()}


def _open(page: str, first: date, last: date, chosen: dict[str, list[str]] | None = None) -> object:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT / "dashboard.py"), default_timeout=1800)
    app.query_params["start"] = first.isoformat()
    app.query_params["end"] = last.isoformat()
    for key, values in (chosen or {}).items():  # the sidebar's filters, as a shared link carries them
        app.query_params[key] = values
    return app.switch_page(f"app_pages/{page}.py")


def _timed_run(app: object) -> float:
    started = time.perf_counter()
    app.run()  # type: ignore[attr-defined]
    return time.perf_counter() - started


def _warm_and_floor(app: object, page: str, first: date, last: date,
                    chosen: dict[str, list[str]]) -> tuple[float, float]:
    """The page's warm rerun and its floor, medians of WARM_TURNS runs each taken in turns, so that a busy moment of
    the machine falls on both alike (their gap is tens of milliseconds on floors of 0.1-0.3 s). The floor is the page
    drawn from constant data: every result the page asks ``ui.session.cached`` for comes from a plain dict filled by
    an untimed run, and the data version is a constant, so what is left is Streamlit running the script and drawing
    its elements (and the few statements pages make outside the results cache)."""
    from data.warehouse import Warehouse
    from ui import session

    memo: dict[str, object] = {}

    def constant(version: int, name: str, _fn: Callable[..., object], args: tuple, kwargs: dict) -> object:
        key = f"{name}{args!r}{sorted(kwargs.items())!r}"
        if key not in memo:
            memo[key] = session._compute(version, name, _fn, args, kwargs)
        return memo[key]

    real_results, real_version = session._results, Warehouse.data_version

    def floor_run(floor_app: object) -> float:
        session._results = lambda: constant  # type: ignore[assignment]
        Warehouse.data_version = lambda self: 0  # type: ignore[assignment, method-assign]
        try:
            return _timed_run(floor_app)
        finally:
            session._results, Warehouse.data_version = real_results, real_version  # type: ignore[method-assign]

    floor_app = _open(page, first, last, chosen)
    floor_run(floor_app)  # untimed: fills the constant results
    warms, floors = [], []
    for _ in range(WARM_TURNS):
        warms.append(_timed_run(app))
        floors.append(floor_run(floor_app))
    return statistics.median(warms), statistics.median(floors)


def _page_problem(app: object, page: str) -> str:
    if app.exception:  # type: ignore[attr-defined]
        return f"EXCEPTION: {app.exception[0].value}"  # type: ignore[attr-defined]
    if app.error:  # type: ignore[attr-defined]
        return f"ERROR: {app.error[0].value}"  # type: ignore[attr-defined]
    titles = [t.value for t in app.title]  # type: ignore[attr-defined]
    return "" if titles == [PAGE_TITLES[page]] else f"WRONG PAGE: titles {titles}"


def _agree_text(check: dict[str, object]) -> str:
    if not check["bad"]:
        return f"ok ({check['rows']} rows)"
    return f"DIFFERS in {check['bad']}/{check['rows']} rows; e.g. {check['example']}"


def _ms(seconds: float, runs: int, repeat: int) -> str:
    return f"{seconds * 1000:,.1f}" + ("*" if runs < repeat else " ")


def report(r: dict[str, object], wall_s: float, repeat: int) -> list[str]:
    """Prints one size's tables; returns its disagreements and page problems."""
    rows = r["rows"]
    print(f"\n=== {rows:,} tickets and {rows // 2:,} orders, weekly over {r['period']} ({r['timezone']}) ===")
    built = (f"synthesised in {r['synth_s']:.1f} s, imported in {r['import_s']:.1f} s through {r['import_path']}"
             if r["synth_s"] is not None else r["import_path"])
    print(f"build: {built}; warehouse file {r['file_mb']:.0f} MB; pandas frame ({len(PANDAS_COLUMNS)} columns, "
          f"text as categoricals) {r['pandas_frame_mb']:.0f} MB, loaded from the warehouse in "
          f"{r['pandas_load_s']:.1f} s (not in the timings below)")
    header = f"{'':<42}{'duckdb ms':>12}{'pandas ms':>12}{'pandas/duckdb':>15}{'max abs':>10}{'max rel':>9}  agree"
    problems, totals = [], [0.0, 0.0]
    checks = agree = 0

    def line(label: str, item: dict[str, object], check: dict[str, object] | None, timed_: bool = True) -> None:
        nonlocal checks, agree
        cells = ""
        if timed_:
            totals[0] += item["duckdb_s"]  # type: ignore[operator]
            totals[1] += item["pandas_s"]  # type: ignore[operator]
            cells = (f"{_ms(item['duckdb_s'], item['duckdb_runs'], repeat):>12}"  # type: ignore[arg-type]
                     f"{_ms(item['pandas_s'], item['pandas_runs'], repeat):>12}"  # type: ignore[arg-type]
                     f"{item['pandas_s'] / item['duckdb_s']:>15.2f}")  # type: ignore[operator]
        if check is None:
            print(f"{label:<42}{cells}")
            return
        cells = cells or " " * 39
        print(f"{label:<42}{cells}{check['max_abs']:>10.1g}{check['max_rel']:>9.0g}  {_agree_text(check)}")
        checks += 1
        agree += not check["bad"]
        if check["bad"]:
            problems.append(f"{rows:,} tickets, {label.strip()}: {_agree_text(check)}")

    print("\n" + header.replace(" " * 42, f"{'ticket KPI, weekly, with samples':<42}", 1))
    for item in r["kpis"]:  # type: ignore[attr-defined]
        line(item["kpi"], item, item["checks"][0])
    team = r["team"]
    if team:
        title = f"Team: {len(TEAM)} KPIs by assignee ({team['agents']})"  # type: ignore[index]
        print("\n" + header.replace(" " * 42, f"{title:<42}", 1))
        line("one statement, all six", team, None)  # type: ignore[arg-type]
        for check in team["checks"]:  # type: ignore[index]
            line("  " + check["kpi"], team, check, timed_=False)  # type: ignore[arg-type]
    print("\n" + header.replace(" " * 42, f"{'Trends extras, whole data':<42}", 1))
    for item in r["extras"]:  # type: ignore[attr-defined]
        line(item["kpi"], item, item["checks"][0])
    print(f"(* one run only: the first took over {ONE_RUN_S:.0f} s)")
    if r.get("no_pandas_twin"):
        print(f"(no pandas twin yet, so neither compared nor counted: {', '.join(r['no_pandas_twin'])})")  # type: ignore[arg-type]

    print("\nPages under AppTest, opened straight from a link (?start=..&end=..); cold: every cached result cleared, "
          "as after a filter change (modules imported, warehouse open); each the median of three runs")
    print(f"{'page':<12}{'window':<16}{'cold s':>9}{'warm s':>9}{'floor s':>9}{'warm/floor':>12}  problem")
    for run in r["pages"]:  # type: ignore[attr-defined]
        print(f"{run['page']:<12}{run['window']:<16}{run['cold_s']:>9.2f}{run['warm_s']:>9.3f}"
              f"{run['floor_s']:>9.3f}{run['warm_s'] / run['floor_s']:>12.2f}  {run['problem']}")
        if run["problem"]:
            problems.append(f"{rows:,} tickets, page {run['page']} {run['window']}: {run['problem']}")
    if r["pages_rss_mb"] is not None:
        print(f"(the page runs' own process: peak RSS {r['pages_rss_mb']:,.0f} MB)")
    print("\npeak RSS so far (MB): " + ", ".join(f"{k} {v:,.0f}" for k, v in r["rss_mb"].items()))  # type: ignore[attr-defined]
    pages = r["pages"]
    page_summary = (f"pages cold {max(p['cold_s'] for p in pages):.1f} s at most, "  # type: ignore[attr-defined]
                    f"warm {max(p['warm_s'] for p in pages):.2f} s at most" if pages else "no page runs")  # type: ignore[attr-defined]
    print(f"\nSUMMARY {rows:,} tickets: every query above, DuckDB {totals[0]:.1f} s vs pandas {totals[1]:.1f} s "
          f"(pandas/duckdb {totals[1] / totals[0]:.2f}); {agree}/{checks} checks agree; {page_summary}; "
          f"peak RSS {r['peak_rss_mb'] / 1024:.1f} GB; warehouse {r['file_mb']:.0f} MB; "
          f"this size took {wall_s / 60:.1f} min")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="ticket counts, comma-separated (default 1e6,1e7)")
    parser.add_argument("--quick", action="store_true", help="100k tickets only, to try it out")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timezone", default="America/New_York",
                        help="the account time zone for both sides (default America/New_York, to cross DST)")
    parser.add_argument("--keep", metavar="DIR", help="keep each size's warehouse in DIR, and reuse it when there")
    parser.add_argument("--no-pages", action="store_true", help="leave out the page runs")
    parser.add_argument("--kpis", help="only these ticket KPIs, comma-separated (no Team statement, no extras)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pages", nargs=3, help=argparse.SUPPRESS)  # warehouse, first and last day
    args = parser.parse_args()
    if args.pages is not None:  # the warehouse named here, not whatever CSPULSE_WAREHOUSE_PATH the shell has
        os.environ.update({"CSPULSE_WAREHOUSE_PATH": str(Path(args.pages[0]).resolve()),
                           "CSPULSE_LOAD_DEMO_WHEN_EMPTY": "false", "CSPULSE_TIMEZONE": args.timezone})
        print(json.dumps(page_runs(date.fromisoformat(args.pages[1]), date.fromisoformat(args.pages[2]))))
        return
    if args.child is not None:
        kpis = args.kpis.split(",") if args.kpis else None
        print(json.dumps(measure(args.child, args.repeat, args.timezone, args.keep, not args.no_pages, kpis)))
        return
    sizes = [100_000] if args.quick else [int(float(s)) for s in args.sizes.split(",")]
    print(f"CS Pulse Trends and Team pages: DuckDB (metrics.query) vs pandas on the same data, same process; "
          f"median of {args.repeat} runs; ratio = pandas ÷ DuckDB; time zone {args.timezone}; "
          f"business hours and SLA targets from the default settings")
    problems = []
    for rows in sizes:
        started = time.perf_counter()
        options = [*(["--keep", str(Path(args.keep).resolve())] if args.keep else []),
                   *(["--no-pages"] if args.no_pages else []), *(["--kpis", args.kpis] if args.kpis else [])]
        done = subprocess.run([sys.executable, __file__, "--child", str(rows), "--repeat", str(args.repeat),
                               "--timezone", args.timezone, *options], stdout=subprocess.PIPE, text=True,
                              check=True, cwd=PROJECT)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        problems += report(result, time.perf_counter() - started, args.repeat)
        sys.stdout.flush()
    if problems:
        print("\n!!! DISAGREEMENTS OR PAGE PROBLEMS !!!")
        for problem in problems:
            print("  " + problem)
    else:
        print("\nEvery KPI, sample size, Team value and Trends view agrees between DuckDB and pandas.")


if __name__ == "__main__":
    main()
