"""Every KPI, declared once as data.

A metric is one SQL aggregate over one fact table plus what a person needs to read it. Where a row falls in a
period is the metric's ``time`` column (Zendesk counts solves by solve date, creations by creation date); the
grain and the filters belong to the query. A metric with ``until`` is a snapshot: it aggregates the rows alive
at each period's end (``time`` before it, ``until`` empty or after it), like a daily backlog. A ``derived``
metric combines other metrics of the same period by name.

``sample`` counts the rows a value rests on (shown beside it, and small samples are marked); ``needs`` names
the columns of which at least one must hold data for the KPI to exist at all, and ``provided_by`` says which
export or setting gives it, so a page can explain a missing KPI instead of showing an empty chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from metrics.clock import business_minutes

Unit = Literal["count", "minutes", "fraction", "money", "per_100", "score"]
Better = Literal["higher", "lower", "neither"]

UNITS: tuple[str, ...] = ("count", "minutes", "fraction", "money", "per_100", "score")
BETTER: tuple[str, ...] = ("higher", "lower", "neither")
DERIVED = "derived"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    sql: str
    unit: Unit
    better: Better
    description: str
    table: str = "tickets"
    time: str = "created_at"
    until: str | None = None
    inputs: tuple[str, ...] = ()
    sample: str = "count(*)"
    needs: tuple[str, ...] = ()
    provided_by: str = ""

    @property
    def delta_color(self) -> str:
        """Streamlit's delta colour: a fall in a lower-is-better KPI shows green."""
        return {"higher": "normal", "lower": "inverse", "neither": "off"}[self.better]


def rate(flag: str) -> dict[str, str]:
    """A rate is the mean of a 0/1 flag; rows whose flag is NULL are outside its sample."""
    return {"sql": f"avg(({flag})::INT)", "sample": f"count({flag})"}


# --- durations: each event x statistic x clock is one KPI ------------------------------------------------------
STATISTICS = {"median": ("median", "median({})"), "mean": ("mean", "avg({})"),
              "p90": ("90th percentile", "quantile_cont({}, 0.9)")}


@dataclass(frozen=True)
class Duration:
    """An interval from creation to an event, as the export gives it or recomputed from timestamps."""

    stem: str  # first_reply -> first_reply_minutes, first_reply_business_minutes
    label: str
    event: str  # what ends the interval, in words
    end_column: str  # the timestamp that ends it, for the business clock
    time: str  # what places a ticket in a period
    exported_business: bool = True  # the warehouse has a business-minutes column that exports fill

    def expression(self, business: bool) -> str:
        calendar = f"{self.stem}_minutes"
        if not business:
            return calendar
        computed = business_minutes("created_at", self.end_column)
        if self.exported_business:  # the helpdesk's own schedule (holidays included) beats ours
            computed = f"coalesce({self.stem}_business_minutes, {computed})"
        # Only where the calendar duration survived the import's checks: an impossible interval stays out.
        return f"(CASE WHEN {calendar} IS NOT NULL THEN {computed} END)"


DURATIONS = (
    Duration("first_reply", "First reply", "the first public agent reply", "first_reply_at", "created_at"),
    Duration("first_resolution", "First resolution", "the first solve", "first_solved_at", "solved_at",
             exported_business=False),
    Duration("full_resolution", "Resolution", "the last solve", "solved_at", "solved_at"),
)


def duration_metrics(duration: Duration) -> list[Metric]:
    clocks = [False, True]
    placed = "by creation time" if duration.time == "created_at" else "by solve time"
    metrics = []
    for business in clocks:
        for stat, (stat_words, template) in STATISTICS.items():
            expression = duration.expression(business)
            clock = "business" if business else "calendar"
            metrics.append(Metric(
                name=f"{duration.stem}{'_business' if business else ''}_minutes_{stat}",
                label=f"{duration.label}{', business hours' if business else ''} ({'p90' if stat == 'p90' else stat})",
                sql=template.format(expression),
                unit="minutes",
                better="lower",
                description=f"{stat_words.capitalize()} {clock} minutes from creation to {duration.event}; {placed}.",
                time=duration.time,
                sample=f"count({expression})",
                needs=(f"{duration.stem}_minutes",),
                provided_by=f"an export with {duration.event} (its time or its duration in minutes)",
            ))
    return metrics


REQUESTER_WAIT = [
    Metric(
        name=f"requester_wait_minutes_{stat}",
        label=f"Requester wait ({'p90' if stat == 'p90' else stat})",
        sql=template.format("requester_wait_minutes"),
        unit="minutes",
        better="lower",
        description=f"{words.capitalize()} calendar minutes the ticket spent New, Open or On-hold; by solve time.",
        time="solved_at",
        sample="count(requester_wait_minutes)",
        needs=("requester_wait_minutes",),
        provided_by="Zendesk's export ('Requester wait time in minutes'); other helpdesks do not export it",
    )
    for stat, (words, template) in STATISTICS.items()
]


# The moment the data describes (the newest change in it), not the wall clock: an export from last spring must not
# count a ticket as breached for having stayed open since, when the export cannot know.
DATA_AS_OF = "(SELECT max(coalesce(updated_at, solved_at, created_at)) FROM tickets)"


# --- SLA: the target of a ticket is the stricter of its channel's and its priority's (settings) ------------------
def _sla_target(kind: str) -> str:
    channel = f"coalesce(list_extract(${kind}_minutes, list_position(${kind}_keys, channel)), " \
              f"list_extract(${kind}_minutes, list_position(${kind}_keys, 'other')))"
    priority = f"list_extract(${kind}_priority_minutes, list_position(${kind}_priority_keys, priority))"
    return f"least({channel}, {priority})"


def _sla_flag(minutes: str, kind: str, still_open: str) -> str:
    """Achieved (1) or breached (0); a ticket still inside its target is neither and stays out."""
    target = _sla_target(kind)
    late = f"created_at + to_microseconds(({target} * 60000000)::BIGINT) < {DATA_AS_OF}"
    return (f"CASE WHEN {minutes} IS NOT NULL THEN {minutes} <= {target} "
            f"WHEN {still_open} AND {late} THEN FALSE END")


def _tag_list() -> str:
    return r"regexp_split_to_array(lower(coalesce(tags, '')), '[\s,;]+')"


ESCALATED = (f"list_has_any({_tag_list()}, $escalation_tags) "
             "OR coalesce(list_contains($escalation_groups, lower(group_name)), FALSE)")
AUTOMATED = (f"CASE WHEN list_has_any({_tag_list()}, $automation_tags) THEN TRUE "
             "WHEN agent_replies IS NOT NULL THEN agent_replies = 0 END")
CSAT_RATED = "satisfaction_score IS NOT NULL OR satisfaction_rating IN ('good', 'bad')"
CSAT_OFFERED = "satisfaction_score IS NOT NULL OR satisfaction_rating IS NOT NULL"
NPS_VALID = "nps_score BETWEEN 0 AND 10"
CSAT_HINT = ("an export with survey results: Zendesk 'Satisfaction Score', Freshdesk survey results, "
             "Gorgias or Help Scout ratings, Olist reviews")


METRICS: tuple[Metric, ...] = (
    Metric(
        name="tickets_created",
        label="Tickets created",
        sql="count(*)",
        unit="count",
        better="neither",
        description="Tickets created in the period; by creation time in the account time zone.",
    ),
    Metric(
        name="tickets_solved",
        label="Tickets solved",
        sql="count(*)",
        unit="count",
        better="neither",
        description="Tickets solved or closed in the period, whenever they were created; by solve time.",
        time="solved_at",
    ),
    Metric(
        name="backlog",
        label="Backlog",
        sql="count(*)",
        unit="count",
        better="lower",
        description="Tickets open at the end of the period: created before it and not solved by then.",
        until="solved_at",
    ),
    *[metric for duration in DURATIONS for metric in duration_metrics(duration)],
    *REQUESTER_WAIT,
    Metric(
        name="resolution_rate",
        label="Resolution rate",
        **rate("solved_at IS NOT NULL"),
        unit="fraction",
        better="higher",
        description="Share of the tickets created in the period that are solved now; by creation time.",
    ),
    Metric(
        name="one_touch_rate",
        label="One-touch rate",
        **rate("agent_replies < 2"),
        unit="fraction",
        better="higher",
        description="Share of solved tickets with fewer than two agent replies (none counts); by solve time.",
        time="solved_at",
        needs=("agent_replies",),
        provided_by="an export with a replies count (Zendesk 'Replies', Freshdesk 'Agent interactions')",
    ),
    Metric(
        name="reopen_rate",
        label="Reopen rate",
        **rate("reopens > 0"),
        unit="fraction",
        better="lower",
        description="Share of solved tickets reopened at least once; by solve time.",
        time="solved_at",
        needs=("reopens",),
        provided_by="an export with a reopens count (Zendesk 'Reopens')",
    ),
    Metric(
        name="sla_first_reply_attainment",
        label="First reply SLA",
        **rate(_sla_flag("first_reply_minutes", "sla_first_reply", "first_reply_at IS NULL AND solved_at IS NULL")),
        unit="fraction",
        better="higher",
        description="Achieved ÷ (achieved + breached) first reply targets (settings, per channel and priority, "
                    "calendar minutes); an unanswered ticket past its target is breached; by creation time.",
        needs=("first_reply_minutes",),
        provided_by="an export with first reply times",
    ),
    Metric(
        name="sla_resolution_attainment",
        label="Resolution SLA",
        **rate(_sla_flag("full_resolution_minutes", "sla_resolution", "solved_at IS NULL")),
        unit="fraction",
        better="higher",
        description="Achieved ÷ (achieved + breached) resolution targets (settings, per channel and priority, "
                    "calendar minutes); an open ticket past its target is breached; by creation time.",
        needs=("full_resolution_minutes",),
        provided_by="an export with solve times",
    ),
    Metric(
        name="csat",
        label="CSAT",
        sql="""avg(CASE WHEN satisfaction_score IS NOT NULL THEN (satisfaction_score >= $csat_good_min)::INT
                        WHEN satisfaction_rating = 'good' THEN 1 WHEN satisfaction_rating = 'bad' THEN 0 END)""",
        unit="fraction",
        better="higher",
        description="Satisfied ÷ rated surveys (Good, or a 1–5 score at the CSAT rule's threshold); by solve time.",
        time="solved_at",
        sample=f"count(*) FILTER (WHERE {CSAT_RATED})",
        needs=("satisfaction_rating", "satisfaction_score"),
        provided_by=CSAT_HINT,
    ),
    Metric(
        name="csat_response_rate",
        label="Survey response rate",
        sql=f"avg(({CSAT_RATED})::INT) FILTER (WHERE {CSAT_OFFERED})",
        unit="fraction",
        better="higher",
        description="Rated ÷ offered satisfaction surveys; by solve time.",
        time="solved_at",
        sample=f"count(*) FILTER (WHERE {CSAT_OFFERED})",
        needs=("satisfaction_rating", "satisfaction_score"),
        provided_by=CSAT_HINT,
    ),
    Metric(
        name="nps",
        label="NPS",
        # a promoter counts +1, a detractor -1, a passive 0: the mean x 100 is the NPS
        sql=f"100.0 * avg(CASE WHEN {NPS_VALID} THEN (nps_score >= 9)::INT - (nps_score <= 6)::INT END)",
        unit="score",
        better="higher",
        description="% promoters (9–10) − % detractors (0–6) among 0–10 answers, from −100 to 100; by solve time.",
        time="solved_at",
        sample=f"count(*) FILTER (WHERE {NPS_VALID})",
        needs=("nps_score",),
        provided_by="a mapped export with a 0–10 'likely to recommend' answer per ticket",
    ),
    Metric(
        name="escalation_rate",
        label="Escalation rate",
        **rate(ESCALATED),
        unit="fraction",
        better="lower",
        description="Share of tickets created in the period with an escalation tag or in an escalation group "
                    "(both in settings); by creation time.",
        needs=("tags", "group_name"),
        provided_by="an export with tags or groups; the escalation tags and groups are settings",
    ),
    Metric(
        name="automation_rate",
        label="Automation rate",
        **rate(AUTOMATED),
        unit="fraction",
        better="neither",
        description="Share of solved tickets closed without a human reply (no agent reply, or an automation tag "
                    "from settings); by solve time.",
        time="solved_at",
        needs=("agent_replies", "tags"),
        provided_by="an export with a replies count or automation tags",
    ),
    Metric(
        name="orders",
        label="Orders",
        sql="count(*)",
        unit="count",
        better="higher",
        description="Distinct orders placed in the period; by order time in the account time zone.",
        table="orders",
    ),
    Metric(
        name="average_order_value",
        label="Average order value",
        sql="avg(gross_sales - coalesce(discounts, 0))",
        unit="money",
        better="higher",
        description="(Gross sales − discounts) ÷ orders, per currency, never summed across currencies; by order time.",
        table="orders",
    ),
    Metric(
        name="contacts_per_100_orders",
        label="Contacts per 100 orders",
        sql="100.0 * tickets_created / nullif(orders, 0)",
        unit="per_100",
        better="lower",
        description="Tickets created per 100 orders placed in the same period and time zone.",
        table=DERIVED,
        inputs=("tickets_created", "orders"),
    ),
)

BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


def get(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(BY_NAME)}") from None
