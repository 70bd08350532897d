"""The ticket rollup: the additive parts of the decomposable ticket KPIs, per local day and shared dimension.

A page asking for a weekly count or a mean reads a few thousand rollup rows instead of every ticket. The table
``ticket_rollup`` holds, for each time column a KPI places tickets by (created or solved, whose local days differ),
each local day and each (channel, category, priority, group_name), the sums and counts the KPIs add up:
``count(*)``, ``count(x)``, ``sum(x)``, and those ``FILTER``ed. metrics.query matches a KPI's aggregates against
:data:`PARTS` by their text and reads the rollup where every one of them is here (see ``metrics.query.rollup_sql``).

Distinct counts are not here. Medians and percentiles are not parts either (an exact quantile of a period is not a
function of its days' quantiles). For them ``ticket_rollup_values`` holds each duration a median or percentile KPI
reads (:data:`MEASURES`), per ticket, with its local day and its bucket (:func:`bucket`: a monotone function of the
value), stored in bucket order; ``ticket_rollup_buckets`` counts them per day and bucket. The counts say which
bucket holds any rank of a period's values and how many values come before it, so metrics.query reads the
counts, then only the values of the bucket(s) holding the ranks ``quantile_cont`` interpolates between (see
``metrics.query._quantile_ctes``): exact, from a few percent of the values, in row groups found by their min/max.
A scan of the tickets' own column for the same buckets reads every row of the view: several times slower at 10M.

Some parts read a setting (SLA targets, the CSAT rule, escalation and automation tags) or the whole table (which
sources measure a column, the newest moment in the data). The settings are bound from those recorded beside the
rollup (``warehouse_meta`` key ``rollup_settings``): a reader uses those parts only while they are the settings in
force (:func:`settings_current`), else raw rows, and :func:`sync` rebuilds the rollup on the settings in force when
the dashboard opens. The whole-table values are worked out in one scan at every build and refresh and recorded
(``rollup_facts``): where which sources measure a column changed, any day may count otherwise and the whole rollup
is built again; where the newest moment moved, the days of the open tickets that may have passed their SLA target
since are worked out again with the noted ones.

The rollup is kept in the transaction of every write that changes a column its parts read (imports, undo, clear,
categorising, corrections, linking, a clock rebuild): such a writer notes the local days its rows had and have
(:func:`note_days`), and :func:`bump_version` works those days out again before it bumps the data version. The
warehouse records the data version the rollup is current for (``warehouse_meta`` key ``rollup``), with a signature
of its parts; a reader uses the rollup only where that is the current version, so a writer that forgets it leaves
the rollup unused (slower, never wrong) until the next write rebuilds it whole.

Beside it, ``ticket_rollup_days`` adds its parts up over the keys (what a view without filters reads: two rows a
day), ``ticket_rollup_agents`` holds the Team page's parts per assignee instead of the keys (its breakdown by agent
without filters: 60k rows at 10M tickets and 40 agents over two years) and ``ticket_rollup_hours`` counts the tickets
created per local day and hour (the arrivals heatmap); the Staffing page's tables per interval (data/slot_rollup.py)
are kept in the same steps.

Medians by agent, category, channel or priority, or with a filter on one of the last three (the sidebar's: a filter is
a click), read bucket counts keyed by that one column (:data:`KEYED_BUCKETS`) and the values, which carry the number
of their combination of those columns (:data:`COMBOS_TABLE`) to pick one key's; a channel filter beside a breakdown by
agent or category (or a category filter), the counts per agent or category and channel, and the Team parts per agent
and channel (``ticket_rollup_agent_channels``);
other filters on two keys, or a filter beside another breakdown, raw rows. A
key's values of one day are too few for the fine buckets (per day and agent about 340 tickets over a hundred of
them: 10M rows at 10M tickets already at two fine buckets each), so these count coarse buckets of
:data:`KEYED_WIDTH` fine ones (3.9M rows by agent, 0.47M by category, of the four durations the pages break down),
and a reader reads every value in the fine buckets a wanted coarse one spans: a few percent of a measure's values
over two years, in a few row groups.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

import duckdb

from data import complaint_rollup, contact_rollup, kept, money_rollup, order_rollup, retention_rollup, slot_rollup
from data.basics import named_in
from data.schema import ISSUE_SPOILS
from data.ticket_flags import (
    AUTOMATED,
    CSAT,
    CSAT_OFFERED,
    CSAT_RATED,
    DATA_AS_OF,
    ESCALATED,
    RESOLVED,
    SLA_FIRST_REPLY,
    SLA_RESOLUTION,
    SOURCES_SUBQUERY,
)
from data.warehouse import Warehouse
from settings import Settings

log = logging.getLogger(__name__)

TABLE = "ticket_rollup"  # per day and every key
DAYS_TABLE = "ticket_rollup_days"  # per day only: what a view without filters reads, a few rows a day
# per local day and key: tickets created that day, and solved tickets whose later of created and solved day it is:
# a backlog (tickets open at a period's end) adds them up, where it counted every ticket twice per statement
STEPS_TABLE = "ticket_rollup_steps"
BACKLOG_DAYS = ("created_local_date", "greatest(created_local_date, solved_local_date)")  # begun, ended
HOURS_TABLE = "ticket_rollup_hours"  # tickets created per local day and hour: the arrivals heatmap without filters
BUCKETS_TABLE = "ticket_rollup_buckets"  # values per bucket of each duration per day: medians without filters
# The upper bounds (minutes) of the Trends page's duration buckets (metrics.distributions.BUCKETS, the last open):
# the unkeyed counts are split at them too, so that page adds up counts where it read the values of six buckets.
DURATION_BOUNDS: tuple[float, ...] = (15, 60, 240, 480, 1440, 2880)
VALUES_TABLE = "ticket_rollup_values"  # each duration's values, in bucket order: the few a median reads
META_KEY = "rollup"
# The time column a KPI places tickets by -> its local day, as data/clock.py stores it.
TIME_COLUMNS: dict[str, str] = {"created_at": "created_local_date", "solved_at": "solved_local_date"}
# The shared filters. Not the group: at a million tickets over two years, (day, channel, category, priority) and the
# group made 168k rows per 100k tickets, too close to the tickets themselves to save anything, where the three
# filters alone give a few hundred per day however many tickets there are (bench/rollups.py). A breakdown by group
# reads raw rows, as the Team page does for its medians anyway.
KEYS: tuple[str, ...] = ("channel", "category", "priority")
_DAYS = "rollup_days"  # temp table of the local days a transaction touched (data/kept.py drops it)
# Per time column, day and assignee: the Team page's breakdown without filters (two rows a day per agent), apart
# from the keyed table, whose keys times the agents would come close to the tickets again.
AGENTS_TABLE = "ticket_rollup_agents"
# A table that holds only some of the parts (:data:`PARTS`): the agents' the Team page's additive KPIs read (volume,
# one-touch, reopens, CSAT), as all of them took about as long to work out as the keyed table's, at every write.
PARTS_OF: dict[str, tuple[str, ...]] = {AGENTS_TABLE: ("n", "one_touch_sum", "one_touch_n", "reopened_sum",
                                                       "reopened_n", "csat_sum", "csat_n", "csat_rated")}
# The same parts per assignee and channel: the Team page by agent with one channel chosen in the sidebar (a filter is
# a click), which read every ticket (1.3 s of its page at 10M tickets); the table per agent adds these up over the
# channels (a few hundred thousand rows, where grouping the tickets again cost as much as this table).
AGENT_CHANNELS_TABLE = "ticket_rollup_agent_channels"
PARTS_OF[AGENT_CHANNELS_TABLE] = PARTS_OF[AGENTS_TABLE]
KEYS_OF: dict[str, tuple[str, ...]] = {DAYS_TABLE: (), TABLE: KEYS, AGENTS_TABLE: ("assignee",),
                                       AGENT_CHANNELS_TABLE: ("assignee", "channel")}  # the coarsest first
BUCKETS_OF: dict[str, str] = {DAYS_TABLE: BUCKETS_TABLE}  # a rollup table -> the bucket counts with the same keys
# The bucket counts per key of one breakdown or filter (a median by agent or by category, or a channel, category
# or priority filter: 5.5-6.7 s for the Overview tiles' raw medians at 10M with one channel, on a busy machine), of
# the measures the Overview, Team and Complaints pages show (the others' medians by a key read raw rows): a key's
# values of a day are too few to spread over the fine buckets (tens of millions of rows at 10M tickets), so they
# are counted in coarse buckets of KEYED_WIDTH fine ones (:func:`coarse`), and the reader reads every value of the
# fine buckets a wanted coarse one spans.
# Per two keys too, for a breakdown beside the sidebar's channel filter (the Team page by agent, the Complaints page by
# category, with one channel chosen: raw rows before, 1.3 s of the Team page at 10M tickets). Built first: the counts
# per agent, category or channel add these up over the other key (:func:`_buckets`), a few million rows where
# grouping the values again read tens of millions.
KEYED_BUCKETS: dict[tuple[str, ...], str] = {("category", "channel"): "ticket_rollup_buckets_category_channels",
                                             ("assignee", "channel"): "ticket_rollup_buckets_agent_channels",
                                             ("assignee",): "ticket_rollup_buckets_agents",
                                             ("category",): "ticket_rollup_buckets_categories",
                                             ("channel",): "ticket_rollup_buckets_channels",
                                             ("priority",): "ticket_rollup_buckets_priorities"}
# the smallest first, as buckets_for picks: one key's counts before two keys'
BUCKET_KEYS: dict[str, tuple[str, ...]] = {BUCKETS_TABLE: (), **{table: keys for keys, table in sorted(
    KEYED_BUCKETS.items(), key=lambda item: len(item[0]))}}
# 8 at 10M: 2.4M rows by agent, not 3.9M, but two medians by agent read in 1.2x, by category 1.6x the time
KEYED_WIDTH = 4
KEYED_MEASURES = ("first_reply_minutes", "first_reply_business", "full_resolution_minutes", "full_resolution_business")
BUCKET_WIDTH: dict[str, int] = {BUCKETS_TABLE: 1, **{table: KEYED_WIDTH for table in KEYED_BUCKETS.values()}}
VALUES_OF: dict[str, str] = {table: VALUES_TABLE for table in BUCKET_KEYS}  # the bucket counts -> the values
VALUE_KEYS = tuple(keys[0] for keys in BUCKET_KEYS.values() if len(keys) == 1)  # the keys a value's combo stands for
# Each combination of the keys (:data:`VALUE_KEYS`) the tickets have, numbered (``combo``): a value carries its
# combination's number, not the four texts, which took about three quarters of each keyed measure's insert (1.6 s of
# CPU against 0.45 s per measure at a million tickets); a reader joins it back to the texts. Numbers stay as given:
# a write that brings a new combination numbers it after the others (:func:`_number_new_combos`).
COMBOS_TABLE = "ticket_rollup_combos"


def table_for(keys: tuple[str, ...]) -> str | None:
    """The smallest rollup table that has ``keys`` (the filters and breakdown a query needs); None: none has."""
    return next((table for table, held in KEYS_OF.items() if set(keys) <= set(held)), None)


def buckets_for(keys: tuple[str, ...]) -> str | None:
    """The bucket counts that have ``keys`` (the filters and breakdown a median needs); None: none has."""
    return next((table for table, held in BUCKET_KEYS.items() if set(keys) <= set(held)), None)


def coarse(fine: str, width: int) -> str:
    """SQL: the coarse bucket of a fine one, ``width`` fine buckets each (floor division: -1 lies below 0)."""
    return fine if width == 1 else f"floor({fine} / {width})::SMALLINT"


def _mean(name: str, expression: str) -> dict[str, str]:
    return {f"{name}_sum": f"sum({expression})", f"{name}_n": f"count({expression})"}


_SAME_AS: dict[str, str] = {}  # another aggregate's text -> the part that holds its value too


def _rate(name: str, flag: str) -> dict[str, str]:
    """As metrics.registry.rate: the mean of a 0/1 flag, and its sample (the rows whose flag is not NULL). The
    mean's count is its sample (a cast keeps NULL): one part for both, one aggregate less per rate to build."""
    _SAME_AS[f"count(({flag})::INT)"] = f"{name}_n"
    return {f"{name}_sum": f"sum(({flag})::INT)", f"{name}_n": f"count({flag})"}


def _business(stem: str, exported: bool) -> str:
    """The business minutes metrics.registry.Duration.expression reads: ours where the export gives none, never
    for a ticket whose times the import flagged impossible. A change there only sends the KPI to the raw path
    (its text no longer matches; tests/test_rollups.py lists the KPIs served)."""
    computed = f"{stem}_business_minutes_computed"
    if exported:
        computed = f"coalesce({stem}_business_minutes, {computed})"
    reasons = [why for why, spoiled in ISSUE_SPOILS.items() if f"{stem}_minutes" in spoiled]
    found = " OR ".join(f"contains(data_issues, '{why}')" for why in reasons)
    trusted = f"(data_issues IS NULL OR NOT ({found}))" if reasons else "TRUE"
    return f"(CASE WHEN {trusted} THEN {computed} END)"


NPS = "CASE WHEN nps_score BETWEEN 0 AND 10 THEN (nps_score >= 9)::INT - (nps_score <= 6)::INT END"

# --- the bucket counts medians and percentiles read -----------------------------------------------------------------
# measure -> (the time column whose local day places a ticket, the duration), as metrics.registry declares the
# median and p90 KPIs (a KPI whose text differs reads raw rows: tests/test_rollup_quantiles.py lists those served).
MEASURES: dict[str, tuple[str, str]] = {
    "first_reply_minutes": ("created_at", "first_reply_minutes"),
    "first_reply_business": ("created_at", _business("first_reply", True)),
    "first_resolution_minutes": ("solved_at", "first_resolution_minutes"),
    "first_resolution_business": ("solved_at", _business("first_resolution", False)),
    "full_resolution_minutes": ("solved_at", "full_resolution_minutes"),
    "full_resolution_business": ("solved_at", _business("full_resolution", True)),
    "requester_wait_minutes": ("solved_at", "requester_wait_minutes"),
}
# measure -> its number, which the values and their counts carry in its name's place (a text per row cost a fifth of
# each values insert and a third of each count table's; the time column that places a measure follows from it)
MEASURE_CODE: dict[str, int] = {name: code for code, name in enumerate(MEASURES)}
# 16 buckets per doubling of 1 + |value|: each about 4% wide, so a median's bucket holds a few percent of a period's
# values, and a day has a couple of hundred buckets per measure (finer buckets grow the table more than they save).
BUCKETS_PER_DOUBLING = 16
TOP_BUCKET = 32767  # NaN, which DuckDB sorts after every number; infinities take the next one in


def bucket(value: str) -> str:
    """SQL: the bucket of ``value``, never lower for a higher value (so every value in a lower bucket is lower), and
    the same for equal values (0.0 and -0.0 alike: ``< 0`` is false for both). Log-sized: 0, 1, 2, ... from 0 up
    and -1, -2, ... below 0."""
    k = BUCKETS_PER_DOUBLING
    return (f"(CASE WHEN isnan({value}) THEN {TOP_BUCKET} "
            f"WHEN {value} < 0 THEN greatest(1 - {TOP_BUCKET}, -1 - floor(log2(1 - {value}) * {k})) "
            f"ELSE least({TOP_BUCKET} - 1, floor(log2(1 + {value}) * {k})) END)::SMALLINT")


MEASURE_OF: dict[tuple[str, str], str] = {}  # (time column, the duration's normalised text) -> measure

# --- the parts that read a setting or the whole table -----------------------------------------------------------
# From data.ticket_flags, as metrics.registry declares the KPIs with them. The settings come in as
# parameters ($...), from the settings the rollup was built with (recorded beside it, :func:`settings_current`);
# the whole-table values (which sources measure a column, the newest moment in the data) are worked out once per
# build or refresh and bound in their subqueries' place (:data:`FACTS`), so that a refresh can tell when they
# changed.
# part -> an additive aggregate over ticket rows; only trusted constants.
PARTS: dict[str, str] = {
    "n": "count(*)",
    "wismo": "count(*) FILTER (WHERE category = 'shipping_status')",
    "nps_answers": "count(*) FILTER (WHERE nps_score BETWEEN 0 AND 10)",
    **_mean("nps", NPS),
    **{part: sql for column in ("first_reply_minutes", "first_resolution_minutes", "full_resolution_minutes",
                                "requester_wait_minutes") for part, sql in _mean(column, column).items()},
    **_mean("first_reply_business", _business("first_reply", True)),
    **_mean("first_resolution_business", _business("first_resolution", False)),
    **_mean("full_resolution_business", _business("full_resolution", True)),
    **_rate("one_touch", "agent_replies < 2"),
    **_rate("reopened", "reopens > 0"),
    **_rate("linked", "coalesce(linked_order_id, order_id) IS NOT NULL"),
    **_rate("resolved", RESOLVED),
    **_rate("sla_first_reply", SLA_FIRST_REPLY),
    **_rate("sla_resolution", SLA_RESOLUTION),
    **_rate("escalated", ESCALATED),
    **_rate("automated", AUTOMATED),
    **_mean("csat", CSAT),
    "csat_rated": f"count(*) FILTER (WHERE {CSAT_RATED})",
    "csat_offered_rated_sum": f"sum(({CSAT_RATED})::INT) FILTER (WHERE {CSAT_OFFERED})",
    "csat_offered_rated_n": f"count(({CSAT_RATED})::INT) FILTER (WHERE {CSAT_OFFERED})",
    "csat_offered": f"count(*) FILTER (WHERE {CSAT_OFFERED})",
}
# The parts that read a setting: served only while the settings are those the rollup was built with.
SETTING_PARTS = frozenset(name for name, sql in PARTS.items() if "$" in sql)
# Sums of whole numbers (0/1 flags, NPS points) are stored as BIGINT, where DuckDB's sum of them gives HUGEINT,
# which is slower to add up again; counts are BIGINT, the sums of minutes DOUBLE.
WHOLE_SUMS = frozenset(name for name, sql in PARTS.items() if sql.startswith("sum(") and "::INT" in sql)
_DECLARED = [PARTS, _SAME_AS, sorted(WHOLE_SUMS), KEYS, TIME_COLUMNS, HOURS_TABLE, MEASURES, bucket("v"), VALUES_TABLE,
             BUCKETS_TABLE, slot_rollup.SIGNATURE, STEPS_TABLE, BACKLOG_DAYS, KEYS_OF, BUCKET_KEYS, KEYED_WIDTH,
             KEYED_MEASURES, PARTS_OF, DURATION_BOUNDS, COMBOS_TABLE, MEASURE_CODE]


def normalised(aggregate: str) -> str:
    """An aggregate's text with its spacing made canonical, to match a KPI's against :data:`PARTS`."""
    return re.sub(r"\s+", " ", aggregate).replace("( ", "(").replace(" )", ")").strip()


PART_OF: dict[str, str] = {normalised(sql): name for name, sql in PARTS.items()}
PART_OF.update({normalised(text): part for text, part in _SAME_AS.items()})
MEASURE_OF.update({(time, normalised(sql)): name for name, (time, sql) in MEASURES.items()})


# --- the settings and whole-table values the parts were worked out with -----------------------------------------
SETTINGS_KEY = "rollup_settings"  # the setting values bound into the parts, as setting_params gives them
FACTS_KEY = "rollup_facts"  # the whole-table values bound into them
_SOURCE_IN = re.compile(r"source IN \(SELECT DISTINCT source FROM tickets WHERE ([^()]*)\)")


def _whole_table_values() -> dict[str, tuple[str, str]]:
    """Each whole-table subquery of the parts -> the aggregate over every ticket that gives its value, and what stands
    in its place once the value is bound (``{}``: the parameter's name)."""
    found = {DATA_AS_OF: ("max(coalesce(updated_at, solved_at, created_at))", "(${}::TIMESTAMP)")}
    for sql in PARTS.values():
        found.update({match.group(0): (f"list(DISTINCT source) FILTER (WHERE {match.group(1)})", "(${}::VARCHAR[])")
                      for match in SOURCES_SUBQUERY.finditer(sql)})
        found.update({match.group(0): (f"list(DISTINCT source) FILTER (WHERE {match.group(1)})",
                                       "coalesce(list_contains(${}::VARCHAR[], source), FALSE)")
                      for match in _SOURCE_IN.finditer(sql)})
    return found


FACTS = _whole_table_values()
_FACT_PARAM = {text: f"rollup_fact_{number}" for number, text in enumerate(FACTS)}
_AS_OF = _FACT_PARAM[DATA_AS_OF]


def setting_params(settings: Settings) -> dict[str, object]:
    """The settings ticket KPIs read, as the parameters their SQL binds ($csat_good_min, the SLA targets, the
    escalation and automation tags and groups)."""
    return {
        "csat_good_min": settings.csat_good_min_score,
        **_targets("sla_first_reply", settings.sla_first_reply_minutes, settings.sla_first_reply_minutes_by_priority),
        **_targets("sla_resolution", settings.sla_resolution_minutes, settings.sla_resolution_minutes_by_priority),
        "escalation_tags": list(settings.escalation_tags),
        "escalation_groups": list(settings.escalation_groups),
        "automation_tags": list(settings.automation_tags),
    }


def _targets(kind: str, by_channel: dict[str, float], by_priority: dict[str, float]) -> dict[str, object]:
    return {f"{kind}_keys": list(by_channel), f"{kind}_minutes": [float(v) for v in by_channel.values()],
            f"{kind}_priority_keys": list(by_priority),
            f"{kind}_priority_minutes": [float(v) for v in by_priority.values()]}


def _as_text(values: dict[str, object]) -> str:
    return json.dumps(values, sort_keys=True, default=lambda value: value.isoformat())


DEFAULT_SETTINGS = _as_text(setting_params(Settings.model_construct()))  # a rollup built before any was recorded


def settings_current(cur: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Whether the parts that read a setting (:data:`SETTING_PARTS`) were worked out with ``settings``' values."""
    return Warehouse.meta_in(cur, SETTINGS_KEY) == _as_text(setting_params(settings))


def _fact_values(cur: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Every whole-table value the parts read, in one scan of the tickets (lists sorted, to compare)."""
    row = cur.execute(f"SELECT {', '.join(aggregate for aggregate, _ in FACTS.values())} FROM tickets").fetchone()
    values = dict(zip(_FACT_PARAM.values(), row or (None,) * len(FACTS), strict=True))
    return {name: sorted(value) if isinstance(value, list) else value for name, value in values.items()}


def _bound(sql: str) -> str:
    """A part's SQL with its whole-table subqueries standing for their bound values."""
    for text in sorted(FACTS, key=len, reverse=True):
        sql = sql.replace(text, FACTS[text][1].format(_FACT_PARAM[text]))
    return sql


# list_has_any builds a set for every row: the tag tests (escalated, automated) were 0.8 s of the ticket rollup's 2 s
# of CPU at a million tickets. Looking each of a ticket's few tags up in the setting's short list gives the same
# answer (NULL without a list, false for an empty one, NULL tags never match) in about a third of the time.
_TAG_TEST = re.compile(r"list_has_any\(tag_list, (\$\w+)\)")


def _evaluated(sql: str) -> str:
    """A part's SQL as the rollup works it out: bound (:func:`_bound`), its tag tests in the cheaper form."""
    return _TAG_TEST.sub(r"(len(list_filter(tag_list, lambda tag: list_contains(\1, tag))) > 0)", _bound(sql))


def is_current(cur: duckdb.DuckDBPyConnection, family: kept.Family | None = None) -> bool:
    """Whether ``family`` (None: the ticket rollup) holds the warehouse's data as it is now, with these parts."""
    return kept.is_current(cur, family or TICKETS)


def note_days(cur: duckdb.DuckDBPyConnection, rows_sql: str, params: dict[str, object] | None = None) -> None:
    """Remember the local days of the rows ``rows_sql`` selects (it gives ``created_local_date`` and
    ``solved_local_date``), for :func:`bump_version` to work out again. Note them before a change for the days
    rows leave, after it for the days they arrive at."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_DAYS} (day DATE)")
    cur.execute(f"INSERT INTO {_DAYS} SELECT DISTINCT day FROM (SELECT unnest([created_local_date, "
                f"solved_local_date]) AS day FROM ({rows_sql})) WHERE day IS NOT NULL", params or {})


# Inside ``deferred()``, writes leave the rollups stale instead of keeping them (see there).
_DEFERRED: ContextVar[bool] = ContextVar("rollups_deferred", default=False)


@contextmanager
def deferred() -> Iterator[None]:
    """Writes in this block bump the data version and leave every rollup stale (a reader meanwhile reads raw rows,
    as the marks no longer match the data version); :func:`sync` after it builds them once. For a run of writes
    that would each rebuild them whole: the demo store's import, its categorising and its linking built the ticket
    rollup three times on a first start. A process stopped inside leaves them stale: the next start's sync builds
    them."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def bump_version(cur: duckdb.DuckDBPyConnection, *, everything: bool = False) -> None:
    """Bump the data version with every rollup (:data:`FAMILIES`) kept current, in the caller's transaction: the
    noted days worked out again, or the whole of one where ``everything`` changed or it was not current before this
    write (data/kept.py). The ticket rollup on the settings it was built with (:func:`sync` moves it to others).
    Inside :func:`deferred`, only the bump."""
    if _DEFERRED.get():
        kept.leave_stale(cur, FAMILIES)
    else:
        kept.keep(cur, FAMILIES, everything=everything)


def sync(warehouse: Warehouse, settings: Settings | None = None) -> bool:
    """Build every rollup that is not current (a warehouse from before it, or one a writer left stale) and, given
    ``settings``, the ticket rollup's parts where it was built with other setting values, without changing the data
    version: the data did not change. Whether it did; a read-only warehouse reads raw rows (and the KPIs that read
    a setting do, while it differs)."""
    wanted = None if settings is None else _as_text(setting_params(settings))
    cur = warehouse.cursor()
    stale = [family for family in FAMILIES if not kept.is_current(cur, family)]
    moved = wanted not in (None, Warehouse.meta_in(cur, SETTINGS_KEY))
    if warehouse.read_only or not (stale or moved):
        return False
    with warehouse.transaction() as cur:
        if moved:
            Warehouse.set_meta(cur, SETTINGS_KEY, wanted)  # type: ignore[arg-type]  # what a rebuild reads
        for family in stale:
            family.rebuild(cur)
            kept.mark(cur, family)
        if moved and TICKETS not in stale:
            rebuild(cur, values=False)  # only the settings moved, which no value reads
    return True


def rebuild(cur: duckdb.DuckDBPyConnection, settings: str | None = None,
            facts: dict[str, object] | None = None, *, values: bool = True) -> None:
    """The whole rollup from every ticket (its parts may have changed since the table was made), with ``settings``
    (as :func:`_as_text` gives them; None: those it was built with) and the whole-table values as they are now;
    ``values=False`` keeps the durations' values and bucket counts as they are (for a caller that knows they are
    current: they read no setting nor whole-table value, and their sort is most of a rebuild's time)."""
    settings = settings or Warehouse.meta_in(cur, SETTINGS_KEY) or DEFAULT_SETTINGS
    facts = _fact_values(cur) if facts is None else facts
    params = {**json.loads(settings), **facts}
    for table, source in ((TABLE, _aggregate("TRUE")), (DAYS_TABLE, _per_day("TRUE")),
                          (HOURS_TABLE, _hours("TRUE")), (STEPS_TABLE, _steps("TRUE")),
                          (AGENT_CHANNELS_TABLE, _agent_channels("TRUE")), (AGENTS_TABLE, _agents("TRUE"))):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        _execute(cur, f"CREATE TABLE {table} AS {source} ORDER BY 1, 2", params)
    slot_rollup.rebuild(cur, params, _evaluated)
    if values:
        _rebuild_values(cur)
    Warehouse.set_meta(cur, SETTINGS_KEY, settings)
    Warehouse.set_meta(cur, FACTS_KEY, _as_text(facts))
    log.info("ticket rollup rebuilt")


def _execute(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> None:
    cur.execute(sql, named_in(sql, params))


def _refresh(cur: duckdb.DuckDBPyConnection) -> None:
    """The noted days worked out again, on the whole-table values as they are now. Where which sources measure a
    column changed, a ticket of theirs on any day may count otherwise (a rate's sample): all of it. Where the newest
    moment in the data moved, so did which open tickets are past their SLA target: the days of those created
    within the longest target of it too."""
    if kept.noted_days(cur, (_DAYS,))[0] is None:
        return  # no ticket changed: neither a part nor a whole-table value did
    facts, recorded = _fact_values(cur), json.loads(Warehouse.meta_in(cur, FACTS_KEY) or "{}")
    if {k: v for k, v in facts.items() if k != _AS_OF} != {k: v for k, v in recorded.items() if k != _AS_OF}:
        rebuild(cur, facts=facts)
        return
    settings = json.loads(Warehouse.meta_in(cur, SETTINGS_KEY) or DEFAULT_SETTINGS)
    if _as_text({_AS_OF: facts[_AS_OF]}) != _as_text({_AS_OF: recorded.get(_AS_OF)}):
        _note_sla_window(cur, settings, facts[_AS_OF], recorded.get(_AS_OF))
    _refresh_noted(cur, {**settings, **facts})
    Warehouse.set_meta(cur, FACTS_KEY, _as_text(facts))


def _note_sla_window(cur: duckdb.DuckDBPyConnection, settings: dict[str, object], now: object,
                     before: object) -> None:
    """Note the days of the tickets whose "past the SLA target" may differ between the two newest moments: those
    created after the earlier one less the longest target."""
    moments = [moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
               for moment in (now, before) if moment is not None]
    targets = [0.0, *(minutes for name, values in settings.items() if name.endswith("minutes")
                      for minutes in values)]  # type: ignore[attr-defined]
    since = min(moments) - timedelta(minutes=max(targets)) if len(moments) == 2 else datetime.min
    note_days(cur, "SELECT created_local_date, solved_local_date FROM tickets WHERE created_at >= $since",
              {"since": since})


def _refresh_noted(cur: duckdb.DuckDBPyConnection, params: dict[str, object]) -> None:
    noted, bounds = kept.noted_rows(cur, (_DAYS,)) or ("FALSE", {})  # _refresh returned early where none were
    params = {**params, **bounds}
    _number_new_combos(cur, noted, params)
    _execute(cur, f"DELETE FROM {VALUES_TABLE} WHERE {noted.format(day='day')}", params)
    _insert_values(cur, noted, params)
    for table, source in ((TABLE, _aggregate(noted)), (DAYS_TABLE, _per_day(noted.format(day="day"))),
                          (HOURS_TABLE, _hours(noted)), (STEPS_TABLE, _steps(noted)),
                          (BUCKETS_TABLE, _buckets(noted.format(day="day"))),
                          (AGENT_CHANNELS_TABLE, _agent_channels(noted)), (AGENTS_TABLE, _agents(noted)),
                          *((table, _buckets(noted.format(day="day"), key)) for key, table in KEYED_BUCKETS.items())):
        _execute(cur, f"DELETE FROM {table} WHERE {noted.format(day='day')}", params)
        _execute(cur, f"INSERT INTO {table} {source}", params)
    slot_rollup.refresh(cur, noted, params, _evaluated)


def _type(part: str) -> str:
    return "DOUBLE" if PARTS[part].startswith("sum(") and part not in WHOLE_SUMS else "BIGINT"


def _per_day(where: str) -> str:
    """The day table from the keyed one: every part added up over the keys."""
    parts = ", ".join(f"sum({name})::{_type(name)} AS {name}" for name in PARTS)
    return f"SELECT time_column, day, {parts} FROM {TABLE} WHERE {where} GROUP BY 1, 2"


def _hours(where: str) -> str:
    day = TIME_COLUMNS["created_at"]
    return (f"SELECT {day} AS day, created_local_hour AS hour, count(*) AS n FROM tickets "
            f"WHERE {day} IS NOT NULL AND {where.format(day=day)} GROUP BY 1, 2")


def _steps(where: str) -> str:
    """Per local day and key, the tickets created that day (``begun``) and the solved ones whose later of created
    and solved day it is (``ended``: a ticket solved before it was created is never open), of the days that meet
    ``where`` (``{day}`` stands for the day). A ticket's noted days hold both, so a refresh of them is whole."""
    begun, ended = BACKLOG_DAYS
    keys = ", ".join(KEYS)
    return (f"SELECT day, {keys}, sum(begun)::BIGINT AS begun, sum(ended)::BIGINT AS ended FROM ("
            f"SELECT {begun} AS day, {keys}, count(*) AS begun, 0 AS ended FROM tickets "
            f"WHERE {begun} IS NOT NULL AND {where.format(day=begun)} GROUP BY ALL UNION ALL "
            f"SELECT {ended} AS day, {keys}, 0 AS begun, count(*) AS ended FROM tickets "
            f"WHERE solved_at IS NOT NULL AND {ended} IS NOT NULL AND {where.format(day=ended)} GROUP BY ALL) "
            f"GROUP BY ALL")


def _agent_channels(where: str) -> str:
    return _aggregate(where, KEYS_OF[AGENT_CHANNELS_TABLE], PARTS_OF[AGENT_CHANNELS_TABLE])


def _agents(where: str) -> str:
    """The agents' parts added up over the channels, from their table per channel (worked out first)."""
    parts = ", ".join(f"sum({name})::{_type(name)} AS {name}" for name in PARTS_OF[AGENTS_TABLE])
    return (f"SELECT time_column, day, assignee, {parts} FROM {AGENT_CHANNELS_TABLE} "
            f"WHERE {where.format(day='day')} GROUP BY 1, 2, 3")


def _aggregate(where: str, by: tuple[str, ...] = KEYS, names: tuple[str, ...] = tuple(PARTS)) -> str:
    """The parts ``names`` per time column, local day and key (``by``), of the tickets whose day meets ``where``
    (``{day}`` stands for the day column)."""
    parts = ", ".join(f"({_evaluated(PARTS[name])})::{_type(name)} AS {name}" for name in names)
    keys = ", ".join(by)
    positions = ", ".join(str(i) for i in range(2, len(by) + 3))
    return " UNION ALL ".join(
        f"SELECT '{time}' AS time_column, {day} AS day, {keys}, {parts} FROM tickets "
        f"WHERE {day} IS NOT NULL AND {where.format(day=day)} GROUP BY 1, {positions}"
        for time, day in TIME_COLUMNS.items()
    )


def _rebuild_values(cur: duckdb.DuckDBPyConnection) -> None:
    """The values ordered by measure, bucket and day (:func:`_insert_values`). Then their counts."""
    for table in (VALUES_TABLE, COMBOS_TABLE, *BUCKET_KEYS):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {COMBOS_TABLE} AS SELECT (row_number() OVER ())::INTEGER AS combo, * "
                f"FROM (SELECT DISTINCT {', '.join(VALUE_KEYS)} FROM tickets)")
    cur.execute(f"CREATE TABLE {VALUES_TABLE} AS {_values_of_each('TRUE')[0]} LIMIT 0")
    _insert_values(cur, "TRUE", {})
    cur.execute(f"CREATE TABLE {BUCKETS_TABLE} AS {_buckets('TRUE')} ORDER BY 1, 2")
    for key, table in KEYED_BUCKETS.items():
        cur.execute(f"CREATE TABLE {table} AS {_buckets('TRUE', key)} ORDER BY 1, 2")


def _insert_values(cur: duckdb.DuckDBPyConnection, where: str, params: dict[str, object]) -> None:
    """Append the values of the tickets whose day meets ``where`` ordered by measure, bucket and day, so that a
    reader of a few buckets skips the row groups of the others by their min/max; one measure sorted at a time, where
    sorting them all at once took about 1.6 times as long at 10M tickets. A refresh appends its days so too: a
    write that notes most days (linking an orders export to every ticket) appended them out of bucket order, and a
    weekly median read all of its measure's row groups until the next rebuild (66 ms against 30 at 10M tickets)."""
    for select in _values_of_each(where):
        # DuckDB 1.5 loses every later large insert into a table (a row group or more) in the transaction after
        # an INSERT ... ORDER BY of no rows: a measure a source lacks (a Zendesk export's first resolution) took
        # the next measures' values with it at a million tickets. A measure without values is not inserted.
        if cur.execute(f"SELECT EXISTS ({select})", named_in(select, params)).fetchone()[0]:
            _execute(cur, f"INSERT INTO {VALUES_TABLE} {select} ORDER BY bucket, day", params)


def _values_of_each(where: str) -> list[str]:
    """Per measure, its values of the tickets whose day meets ``where`` (``{day}`` stands for the day column), with
    their measure's number (:data:`MEASURE_CODE`), bucket, day and keys' combination (:data:`COMBOS_TABLE`; NULL for
    a measure no keyed count reads, as carrying the keys made each measure's sort about 1.4 times as long at 10M)."""
    def combo(name: str) -> tuple[str, str]:
        if name not in KEYED_MEASURES:
            return "NULL::INTEGER", ""
        return "c.combo", f" JOIN {COMBOS_TABLE} c ON {_same_keys('tickets', 'c')}"

    return [f"SELECT {MEASURE_CODE[name]}::UTINYINT AS measure, {bucket(sql)} AS bucket, {TIME_COLUMNS[time]} AS day, "
            f"{sql} AS value, {combo(name)[0]} AS combo FROM tickets{combo(name)[1]} "
            f"WHERE {TIME_COLUMNS[time]} IS NOT NULL AND {sql} IS NOT NULL "
            f"AND {where.format(day=TIME_COLUMNS[time])}" for name, (time, sql) in MEASURES.items()]


def _same_keys(left: str, right: str) -> str:
    """SQL: the rows ``left`` and ``right`` have the same keys (:data:`VALUE_KEYS`), a missing one (NULL) too."""
    return " AND ".join(f"{left}.{key} IS NOT DISTINCT FROM {right}.{key}" for key in VALUE_KEYS)


def _number_new_combos(cur: duckdb.DuckDBPyConnection, noted: str, params: dict[str, object]) -> None:
    """Number the combinations of keys the tickets of the noted days (``noted``: a condition on ``{day}``) have and
    :data:`COMBOS_TABLE` lacks, after those it holds; those no ticket has any more stay (no value names them)."""
    days = " OR ".join(f"({noted.format(day=day)})" for day in TIME_COLUMNS.values())
    keys = ", ".join(VALUE_KEYS)
    _execute(cur, f"INSERT INTO {COMBOS_TABLE} SELECT (SELECT coalesce(max(combo), 0) FROM {COMBOS_TABLE}) "
                  f"+ (row_number() OVER ())::INTEGER, * FROM (SELECT DISTINCT {keys} FROM tickets WHERE {days} "
                  f"EXCEPT SELECT {keys} FROM {COMBOS_TABLE})", params)


def _values(where: str) -> str:
    return " UNION ALL ".join(_values_of_each(where))


def span(minutes: str) -> str:
    """SQL: which of the duration buckets (:data:`DURATION_BOUNDS`, the last open) ``minutes`` falls in, from 0."""
    cases = " ".join(f"WHEN {minutes} < {bound} THEN {i}" for i, bound in enumerate(DURATION_BOUNDS))
    return f"CASE {cases} ELSE {len(DURATION_BOUNDS)} END"


def _buckets(where: str, keys: tuple[str, ...] = ()) -> str:
    """How many values of each measure (its number: :data:`MEASURE_CODE`) fall in each bucket, per local day, of
    the days that meet ``where``, from the values, split where a duration bucket's bound (:func:`span`) cuts one
    (the Trends page's duration buckets add them up); given ``keys``, per their values too, in coarse buckets
    (:data:`KEYED_WIDTH` fine ones each) and of :data:`KEYED_MEASURES` only, added up from the counts per more keys
    where :data:`KEYED_BUCKETS` has them (built before). Ordered by measure first (the CREATE's ORDER BY 1, 2), so
    that a reader of one measure skips the others' row groups."""
    wider = next((table for held, table in KEYED_BUCKETS.items() if keys and set(keys) < set(held)), None)
    if wider:
        return (f"SELECT measure, day, {', '.join(keys)}, bucket, span, sum(n)::BIGINT AS n "
                f"FROM {wider} WHERE {where} GROUP BY ALL")
    keyed = f"{', '.join(keys)}, {coarse('bucket', KEYED_WIDTH)} AS bucket" if keys else "bucket"
    codes = ", ".join(str(MEASURE_CODE[name]) for name in KEYED_MEASURES)
    measures = f" AND measure IN ({codes})" if keys else ""
    combos = f" JOIN {COMBOS_TABLE} USING (combo)" if keys else ""
    return (f"SELECT measure, day, {keyed}, {span('value')} AS span, count(*) AS n "
            f"FROM {VALUES_TABLE}{combos} WHERE {where}{measures} GROUP BY ALL")


# what the tables hold, as declared above and as the values' and their counts' SQL says it: a change rebuilds them
SIGNATURE = hashlib.sha256(json.dumps([*_DECLARED, _values("TRUE"), *(_buckets("TRUE", keys) for keys in (
    (), *KEYED_BUCKETS))]).encode()).hexdigest()[:16]

# What data/kept.py keeps in every write, in this order: the ticket rollup (with the slot tables), the order rollup,
# the contact rollup (which works out again the days the ticket rollup's writers note), the money rollup (which reads
# both the ticket and the order rollup's noted days), the retention rollup, the complaint rollup (the ticket days).
# (called by name, so that a test or bench that swaps rebuild or _refresh for a counting one counts these calls too)
TICKETS = kept.Family("tickets", META_KEY, SIGNATURE, (_DAYS,), lambda cur: rebuild(cur), lambda cur: _refresh(cur))
ORDERS = order_rollup.family(bucket)
CONTACTS = contact_rollup.family(_DAYS)
MONEY = money_rollup.family(_DAYS, ORDERS.noted[0])  # the ticket and the order rollup's noted days
RETENTION = retention_rollup.family(_DAYS, ORDERS.noted,  # the order days, and those whose neighbours moved
                                    (MEASURES["first_reply_minutes"][1], MEASURES["first_reply_business"][1]))
COMPLAINTS = complaint_rollup.family(_DAYS)
FAMILIES: tuple[kept.Family, ...] = (TICKETS, ORDERS, CONTACTS, MONEY, RETENTION, COMPLAINTS)
