"""Peak periods: from the calendar (Black Friday to Cyber Monday, the December holidays, national holidays, custom
events) and from the data (weeks well above the weeks before them), each set against its baseline weeks; and
which of them a page offers to study or to forecast. Where the tickets hold none of these (a short export: two
spring months have no Black Friday and too few weeks to judge a busy one), the busiest complete weeks stand in,
each against the typical week.

Peaks are found in the tickets' dates, not the orders': an orders export reaching back a year must not offer a
Black Friday without a single ticket to study.

Dates are local dates in the account time zone, both ends inclusive, like ``Filters``. Same SQL rules as
``metrics.query``: trusted constants in the SQL text, every user value bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb
import polars as pl

from data import rollups
from metrics.availability import on_a_clock_with_data
from metrics.query import Filters, data_range, dimension_filter, execute, rollup_current, totals
from metrics.registry import BY_NAME
from settings import Settings

KINDS = ("bfcm", "december", "holiday", "custom", "data", "busiest")
TRAILING_WEEKS = 8  # a week is compared with the median of the weeks before it
MIN_HISTORY_WEEKS = 4  # fewer weeks before it and a week cannot be judged
BASELINE_WEEKS = 4  # the weeks just before a peak, for the peak-against-baseline table
YEAR_DAYS = 364  # 52 weeks: a year earlier on the same weekday
PEAK_KPIS = ("tickets_created", "first_reply_minutes_median", "csat", "backlog")
BUSIEST_WEEKS = 3  # the busiest complete weeks offered where the data holds no peak
ORDINALS = ("Busiest", "2nd busiest", "3rd busiest")


@dataclass(frozen=True)
class Peak:
    """A named window of local dates, both ends inclusive. ``key`` is stable, so a link can name it. ``versus`` is
    the window it is compared with when that is not the weeks just before it (a busiest week: the typical week)."""

    key: str
    name: str
    start: date
    end: date
    kind: str
    versus: tuple[date, date] | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"{self.name} ends ({self.end}) before it starts ({self.start})")
        if self.kind not in KINDS:
            raise ValueError(f"peak kind must be one of {KINDS}, not {self.kind!r}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        span = f"{self.start:%d %b %Y}" if self.days == 1 else f"{self.start:%d %b} – {self.end:%d %b %Y}"
        return f"{self.name} ({span})"

    def filters(self, view: Filters) -> Filters:
        """The view's channel, category and priority over this peak's dates."""
        return replace(view, start=self.start, end=self.end)


# --- the calendar ---------------------------------------------------------------------------------------------------
def thanksgiving(year: int) -> date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def bfcm(year: int) -> Peak:
    """Black Friday (the day after Thanksgiving) to Cyber Monday, four days."""
    black_friday = thanksgiving(year) + timedelta(days=1)
    return Peak(f"bfcm-{year}", f"Black Friday – Cyber Monday {year}", black_friday,
                black_friday + timedelta(days=3), "bfcm")


def december(year: int) -> Peak:
    """The December holidays: gift orders, last shipping days, Christmas and the returns after it, from the day
    after Cyber Monday (1 December at the earliest) to 31 December."""
    start = max(date(year, 12, 1), bfcm(year).end + timedelta(days=1))
    return Peak(f"december-{year}", f"December holidays {year}", start, date(year, 12, 31), "december")


def national_holidays(country: str, years: Iterable[int]) -> list[Peak]:
    """One-day peaks for the country's national holidays (the `holidays` package; no network)."""
    if not country:
        return []
    import holidays  # its calendars ship inside the package

    try:
        calendar = holidays.country_holidays(country, years=sorted(set(years)))
    except NotImplementedError as error:
        raise ValueError(f"no holiday calendar for country {country!r}") from error
    return [Peak(f"holiday-{day.isoformat()}", str(name), day, day, "holiday")
            for day, name in sorted(calendar.items())]


def custom_events(events: Sequence[Mapping[str, object] | object]) -> list[Peak]:
    """Peaks the user declared: dicts or objects with ``name``, ``start`` and ``end`` (dates or ISO strings)."""
    peaks = []
    for event in events:
        get = event.get if isinstance(event, Mapping) else lambda field, e=event: getattr(e, field)
        name, start, end = str(get("name")).strip(), _day(get("start")), _day(get("end"))
        if not name:
            raise ValueError("a custom event needs a name")
        peaks.append(Peak(f"custom-{start.isoformat()}-{end.isoformat()}-{_slug(name)}", name, start, end, "custom"))
    return peaks


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "event"


def calendar_peaks(years: Iterable[int], country: str, events: Sequence[Mapping[str, object] | object] = (),
                   *, holidays: bool = True) -> list[Peak]:
    """Every calendar peak in the given years, by start date."""
    years = sorted(set(years))
    found = [p for year in years for p in (bfcm(year), december(year))]
    found += national_holidays(country, years) if holidays else []
    found += custom_events(events)
    return sorted(found, key=lambda p: (p.start, p.end, p.key))


def last_year(peak: Peak, events: Sequence[Peak] = ()) -> Peak:
    """The comparable window a year earlier: the same rule's window for the calendar's own peaks, the same holiday
    by name, else the same dates 52 weeks earlier (so weekdays line up)."""
    year = peak.start.year - 1
    if peak.kind == "bfcm":
        return bfcm(year)
    if peak.kind == "december":
        return december(year)
    for earlier in events:
        if earlier.kind == peak.kind and earlier.name == peak.name and earlier.start.year == year:
            return earlier
    shift = timedelta(days=YEAR_DAYS)
    return Peak(f"{peak.key}-last-year", f"{peak.name}, a year earlier", peak.start - shift, peak.end - shift,
                peak.kind)


def next_peaks(peaks: Sequence[Peak], after: date, kinds: Sequence[str] = ("bfcm", "december", "custom")) -> list[Peak]:
    """The configured peaks starting after ``after``, soonest first."""
    return sorted((p for p in peaks if p.start > after and p.kind in kinds), key=lambda p: p.start)


# --- the slot rollup: the Staffing page's statements read a window's rows of it, not every ticket -----------------
def slots_served(cur: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the slot rollup (data/slot_rollup.py) holds the data as it is now, on the settings' clock (its days
    and half hours are local) and the SLA, CSAT and automation settings in force; else statements read tickets."""
    return rollup_current(cur, settings) and rollups.settings_current(cur, settings)


def in_slot_days() -> str:
    """The slot rollup's rows of the view: its local creation days and filters (the rollup keeps all three)."""
    return f"day >= $start::DATE AND day < $end_excl::DATE AND {dimension_filter('tickets')}"


def created_in_view() -> str:
    """The tickets created on the view's local days that match its filters. By the local day, as the rollups keep
    them, not by ``created_at`` between the UTC instants of the local midnights: where a midnight comes twice (Cuba
    falls back from 01:00 to 00:00) those instants hold an hour of the next day's tickets (bench: no row group is
    skipped either way)."""
    return (f"created_local_date >= $start::DATE AND created_local_date < $end_excl::DATE "
            f"AND {dimension_filter('tickets')}")


def created_days(view: Filters) -> str:
    """The ticket rollup's rows (data/rollups.py) of the tickets created in the view's local days, from its
    smallest table that holds the view's filters: two rows a day without filters."""
    table = rollups.table_for(tuple(name for name, values in view.dimension_values().items() if values))
    kept = dimension_filter("tickets") if rollups.KEYS_OF[table] else "TRUE"  # type: ignore[index]
    return f"{table} WHERE time_column = 'created_at' AND day >= $start::DATE AND day < $end_excl::DATE AND {kept}"


# --- peaks in the data ----------------------------------------------------------------------------------------------
def weekly_tickets(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings, *,
                   rollup: bool = True) -> pl.DataFrame:
    """Tickets per local week (Monday start) over the view, every week of the range present (0 when none)."""
    counted = (f"SELECT date_trunc('week', day)::DATE AS week, sum(n) AS tickets FROM {created_days(view)}"
               if rollup and rollup_current(cur, settings) else
               f"SELECT date_trunc('week', created_local_date)::DATE AS week, count(*) AS tickets FROM tickets "
               f"WHERE {created_in_view()}")
    sql = f"""
        WITH weeks AS (SELECT w::DATE AS week FROM range(date_trunc('week', $start::DATE)::TIMESTAMP,
                                                         $end_excl::TIMESTAMP, INTERVAL 7 DAY) r(w)),
        counts AS ({counted} GROUP BY ALL)
        SELECT week, coalesce(tickets, 0)::BIGINT AS tickets FROM weeks LEFT JOIN counts USING (week) ORDER BY week"""
    return execute(cur, sql, view, settings)


def detect_peaks(weeks: pl.DataFrame, factor: float, *, first_day: date | None = None, last_day: date | None = None,
                 trailing: int = TRAILING_WEEKS, min_history: int = MIN_HISTORY_WEEKS) -> pl.DataFrame:
    """Each week with ``baseline`` (median tickets of the up to ``trailing`` complete weeks before it), ``ratio``
    and ``is_peak`` (tickets > factor × baseline). Weeks cut by the data's first or last day are neither judged nor
    used as a baseline: a half week would look like a dip."""
    if factor <= 1:
        raise ValueError(f"the peak factor must be above 1, got {factor}")
    frame = weeks.sort("week")
    complete = pl.lit(True)
    if first_day is not None:
        complete = complete & (pl.col("week") >= first_day)
    if last_day is not None:
        complete = complete & (pl.col("week") + pl.duration(days=6) <= last_day)
    frame = frame.with_columns(complete=complete)
    counts = [t if c else None for t, c in zip(frame["tickets"].to_list(), frame["complete"].to_list(), strict=True)]
    baselines: list[float | None] = []
    for i in range(len(counts)):
        history = [c for c in counts[max(0, i - trailing): i] if c is not None]
        baselines.append(float(pl.Series(history).median()) if len(history) >= min_history else None)  # type: ignore[arg-type]
    frame = frame.with_columns(baseline=pl.Series(baselines, dtype=pl.Float64))
    ratio = pl.when(pl.col("baseline") > 0).then(pl.col("tickets") / pl.col("baseline"))
    return frame.with_columns(ratio=ratio).with_columns(
        is_peak=pl.col("complete") & pl.col("ratio").is_not_null() & (pl.col("ratio") > factor)
    ).drop("complete")


def data_peaks(flagged: pl.DataFrame) -> list[Peak]:
    """Runs of consecutive peak weeks as peaks, named after their first week."""
    peaks, run = [], []
    weeks = flagged.filter(pl.col("is_peak"))["week"].to_list()
    for week in [*weeks, None]:
        if run and (week is None or week != run[-1] + timedelta(days=7)):
            first, last = run[0], run[-1] + timedelta(days=6)
            count = f"{len(run)} busy week{'s' if len(run) > 1 else ''}"
            peaks.append(Peak(f"data-{first.isoformat()}", f"{count} from {first:%d %b %Y}", first, last, "data"))
            run = []
        if week is not None:
            run.append(week)
    return peaks


def ticket_span(cur: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[date, date] | None:
    """First and last local dates with tickets; None without tickets. Orders do not count: staffing studies
    tickets, and an orders export often reaches back years further than the helpdesk's."""
    return data_range(cur, settings, tables=("tickets",))


def ticket_days(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings, *, rollup: bool = True) -> set[date]:
    """The local days on which the view holds at least one ticket."""
    sql = (f"SELECT DISTINCT day FROM {created_days(view)} AND n > 0" if rollup and rollup_current(cur, settings)
           else f"SELECT DISTINCT created_local_date AS day FROM tickets WHERE {created_in_view()}")
    return set(execute(cur, sql, view, settings)["day"].to_list())


def holds_tickets(peak: Peak, days: set[date]) -> bool:
    return any(peak.start + timedelta(days=k) in days for k in range(peak.days))


def within(peak: Peak, first: date, last: date) -> Peak | None:
    """The part of the peak inside the data's dates (a December cut by the export's last day), None outside it."""
    if peak.end < first or peak.start > last:
        return None
    return replace(peak, start=max(peak.start, first), end=min(peak.end, last))


def rank_weeks(weeks: pl.DataFrame, first_day: date, last_day: date, n: int = BUSIEST_WEEKS) -> pl.DataFrame:
    """The ``n`` busiest complete weeks (``week``, ``tickets``) against the typical week: ``typical`` is the median
    tickets of all ``weeks`` complete weeks, ``ratio`` tickets ÷ typical, ``versus`` the complete week (another
    one) whose tickets lie nearest the median, the newest of equals, to compare KPIs with a real week. No rows with
    fewer than ``MIN_HISTORY_WEEKS`` complete weeks (no typical week to speak of) or without tickets."""
    complete = weeks.filter((pl.col("week") >= first_day) & (pl.col("week") + pl.duration(days=6) <= last_day))
    schema = {"week": pl.Date, "tickets": pl.Int64, "typical": pl.Float64, "weeks": pl.Int64, "ratio": pl.Float64,
              "versus": pl.Date, "versus_tickets": pl.Int64}
    if complete.height < MIN_HISTORY_WEEKS or not complete["tickets"].max():
        return pl.DataFrame(schema=schema)
    typical = float(complete["tickets"].median())  # type: ignore[arg-type]
    busiest = complete.filter(pl.col("tickets") > 0).sort(["tickets", "week"], descending=True).head(n)
    rows = []
    for week, tickets in busiest.select("week", "tickets").iter_rows():
        others = complete.filter(pl.col("week") != week).with_columns(off=(pl.col("tickets") - typical).abs())
        versus, versus_tickets = others.sort(["off", "week"], descending=[False, True]).select(
            "week", "tickets").row(0)
        ratio = tickets / typical if typical else None
        rows.append((week, tickets, typical, complete.height, ratio, versus, versus_tickets))
    return pl.DataFrame(rows, schema=schema, orient="row")


def busiest_weeks(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings,
                  n: int = BUSIEST_WEEKS) -> pl.DataFrame:
    """``rank_weeks`` of the tickets the view's channel, category and priority keep, over all the tickets' dates."""
    span = ticket_span(cur, settings)
    if span is None:
        return rank_weeks(pl.DataFrame(schema={"week": pl.Date, "tickets": pl.Int64}), date.min, date.min, n)
    everything = replace(view, start=span[0], end=span[1])
    return rank_weeks(weekly_tickets(cur, everything, settings), *span, n)


def busiest_peaks(ranked: pl.DataFrame) -> list[Peak]:
    """The ranked weeks as peaks to study, busiest first, each compared with its typical week."""
    found = []
    for place, row in enumerate(ranked.iter_rows(named=True)):
        times = f", {row['ratio']:.1f}× the typical week" if row["ratio"] is not None else ""
        name = f"{ORDINALS[place] if place < len(ORDINALS) else f'{place + 1}th busiest'} week{times}"
        found.append(Peak(f"busiest-{row['week'].isoformat()}", name, row["week"], row["week"] + timedelta(days=6),
                          "busiest", versus=(row["versus"], row["versus"] + timedelta(days=6))))
    return found


# --- a peak against its baseline ------------------------------------------------------------------------------------
def baseline(peak: Peak, weeks: int = BASELINE_WEEKS) -> tuple[date, date]:
    """The window the peak is compared with: its own (``versus``), else the ``weeks`` weeks just before it."""
    if peak.versus is not None:
        return peak.versus
    return peak.start - timedelta(days=7 * weeks), peak.start - timedelta(days=1)


def against_baseline(cur: duckdb.DuckDBPyConnection, peak: Peak, view: Filters, settings: Settings) -> pl.DataFrame:
    """One row per KPI (tickets as a daily rate, first reply, CSAT, backlog at the end): peak, baseline, ratio."""
    start, end = baseline(peak)
    names = on_a_clock_with_data(cur, PEAK_KPIS)  # an export with business-hours first replies only shows those
    now = totals(cur, names, peak.filters(view), settings)
    before = totals(cur, names, replace(view, start=start, end=end), settings)  # unknown before the export begins
    days_before = (end - start).days + 1
    rows = []
    for name in names:
        metric = BY_NAME[name]
        value, base = now[name], before[name]
        if name == "tickets_created":  # windows differ in length: compare tickets per day
            value, base = (value or 0) / peak.days, None if base is None else base / days_before
        ratio = value / base if isinstance(value, int | float) and isinstance(base, int | float) and base else None
        rows.append({"metric": name, "label": "Tickets per day" if name == "tickets_created" else metric.label,
                     "unit": metric.unit, "peak": value, "baseline": base, "ratio": ratio})
    return pl.DataFrame(rows, schema={"metric": pl.String, "label": pl.String, "unit": pl.String,
                                      "peak": pl.Float64, "baseline": pl.Float64, "ratio": pl.Float64})


# --- the peaks a page offers ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakOptions:
    """The peaks the data allows: ``past`` overlap the tickets' dates and hold tickets of the view (calendar and busy
    weeks, newest first), ``upcoming`` are configured peaks after them (soonest first); ``last_day`` is the tickets'
    last local day. ``busiest`` (busiest first) are the busiest complete weeks, offered only when no Black Friday,
    December, event or busy week is among ``past``; ``first_day`` is the tickets' first local day."""

    past: tuple[Peak, ...]
    upcoming: tuple[Peak, ...]
    last_day: date | None
    busiest: tuple[Peak, ...] = ()
    first_day: date | None = None

    def after_data(self, peak: Peak) -> bool:
        """Whether the peak starts after the newest data (so it can be forecast, not studied)."""
        return self.last_day is not None and peak.start > self.last_day


def peak_options(cur: duckdb.DuckDBPyConnection, view: Filters, settings: Settings) -> PeakOptions:
    """The calendar's peaks (settings: country, custom events) in the tickets' years and the next year, cut to the
    tickets' dates, and the busy weeks of the tickets the view's channel, category and priority keep, over all the
    tickets' dates; a peak without a ticket of the view (a gap in the export) is left out."""
    span = ticket_span(cur, settings)
    if span is None:
        return PeakOptions((), (), None)
    first, last = span
    calendar = calendar_peaks(range(first.year, last.year + 2), settings.country, settings.peak_events)
    everything = replace(view, start=first, end=last)
    weeks = weekly_tickets(cur, everything, settings)
    flagged = detect_peaks(weeks, settings.peak_volume_factor, first_day=first, last_day=last)
    days = ticket_days(cur, everything, settings)
    inside = [cut for p in calendar if (cut := within(p, first, last)) is not None]
    past = [p for p in [*inside, *data_peaks(flagged)] if holds_tickets(p, days)]
    busiest = () if any(p.kind != "holiday" for p in past) else tuple(busiest_peaks(rank_weeks(weeks, first, last)))
    return PeakOptions(tuple(sorted(past, key=_newest_first, reverse=True)), tuple(next_peaks(calendar, last)), last,
                       busiest, first)


def _newest_first(peak: Peak) -> tuple[date, str]:
    return peak.start, peak.key  # sorted in reverse: the newest start first, ties by key


def peaks_to_study(options: PeakOptions, extra: Sequence[Peak]) -> list[Peak]:
    """The busiest weeks (busiest first), then the data's peaks and events added on the page (whatever their
    dates), newest first."""
    return [*options.busiest, *sorted([*options.past, *extra], key=_newest_first, reverse=True)]


DEFAULT_ORDER = (("bfcm",), ("december", "custom", "data"), ("busiest",), ("holiday",))


def default_peak(past: Sequence[Peak], busiest: Sequence[Peak] = ()) -> Peak | None:
    """The peak a page opens on, of peaks that hold tickets: the newest Black Friday – Cyber Monday (the peak every
    store plans for), else the newest December holidays, event or busy week, else the busiest week (``busiest``
    comes busiest first), else the newest national holiday: a holiday is one day, more often quiet than busy, so
    it is studied only when asked for or when nothing else can be."""
    for kinds in DEFAULT_ORDER:
        found = [p for p in [*past, *busiest] if p.kind in kinds]
        if found:
            return found[0] if kinds == ("busiest",) else max(found, key=_newest_first)
    return None


def upcoming_peaks(options: PeakOptions, extra: Sequence[Peak]) -> list[Peak]:
    """The peaks to forecast: configured ones after the data and events added on the page that start after it,
    soonest first."""
    return sorted([*options.upcoming, *(p for p in extra if options.after_data(p))], key=lambda p: p.start)

