"""Every KPI, declared once as data.

A metric is one SQL aggregate over one fact table plus what a person needs to read it. Where a row falls in a
period is the metric's ``time`` column (Zendesk counts solves by solve date, creations by creation date); the
grain and the filters belong to the query. A metric with ``until`` is a snapshot: it aggregates the rows alive
at each period's end (``time`` before it, ``until`` empty or after it), like a daily backlog. A ``derived``
metric combines other metrics of the same period by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "minutes", "fraction", "money", "per_100"]
Better = Literal["higher", "lower", "neither"]

UNITS: tuple[str, ...] = ("count", "minutes", "fraction", "money", "per_100")
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

    @property
    def delta_color(self) -> str:
        """Streamlit's delta colour: a fall in a lower-is-better KPI shows green."""
        return {"higher": "normal", "lower": "inverse", "neither": "off"}[self.better]


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
    Metric(
        name="first_reply_minutes_median",
        label="First reply (median)",
        sql="median(first_reply_minutes)",
        unit="minutes",
        better="lower",
        description="Median calendar minutes from creation to the first public agent reply; by creation time.",
    ),
    Metric(
        name="first_reply_minutes_p90",
        label="First reply (p90)",
        sql="quantile_cont(first_reply_minutes, 0.9)",
        unit="minutes",
        better="lower",
        description="90th percentile of calendar minutes to the first public agent reply; by creation time.",
    ),
    Metric(
        name="full_resolution_minutes_median",
        label="Resolution (median)",
        sql="median(full_resolution_minutes)",
        unit="minutes",
        better="lower",
        description="Median calendar minutes from creation to the last solve; by solve time.",
        time="solved_at",
    ),
    Metric(
        name="resolution_rate",
        label="Resolution rate",
        sql="avg((solved_at IS NOT NULL)::INT)",
        unit="fraction",
        better="higher",
        description="Share of the tickets created in the period that are solved now; by creation time.",
    ),
    Metric(
        name="one_touch_rate",
        label="One-touch rate",
        sql="avg((agent_replies < 2)::INT)",
        unit="fraction",
        better="higher",
        description="Share of solved tickets with fewer than two agent replies (none counts); by solve time.",
        time="solved_at",
    ),
    Metric(
        name="reopen_rate",
        label="Reopen rate",
        sql="avg((reopens > 0)::INT)",
        unit="fraction",
        better="lower",
        description="Share of solved tickets reopened at least once; by solve time.",
        time="solved_at",
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
