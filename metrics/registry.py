"""Every KPI, declared once as data.

A metric is one SQL aggregate over one fact table plus what a person needs to read it. Where a row falls in a
period is the metric's ``time`` column (Zendesk counts solves by solve date, creations by creation date); the
grain and the filters belong to the query. A metric with ``until`` is a snapshot: it aggregates the rows alive
at each period's end (``time`` before it, ``until`` empty or after it), like a daily backlog. A ``derived``
metric combines other metrics of the same period by name.

``sample`` counts the rows a value rests on (shown beside it, and small samples are marked); ``needs`` names
the columns of which at least one must hold data for the KPI to exist at all, ``known`` (where given) is the
condition on the whole warehouse under which the loaded data can give it, and ``provided_by`` says which export or
setting gives it, so a page can explain a missing KPI instead of showing an empty chart. A KPI whose input is
missing is NULL, never 0: a ticket counts as a failure (a breach, a non-escalation) only where its export measures
what it failed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from data.schema import ISSUE_SPOILS
from data.ticket_flags import (  # noqa: F401 - the conditions the KPIs are built from, re-exported for metrics
    AUTOMATED,
    CSAT,
    CSAT_OFFERED,
    CSAT_RATED,
    DATA_AS_OF,
    ESCALATED,
    OFFERS_RECORDED,
    RESOLVED,
    SOLVED_STATUS,
    STILL_OPEN,
    sla_flag,
    source_measures,
)

Unit = Literal["count", "minutes", "hours", "fraction", "money", "per_100", "score"]
Better = Literal["higher", "lower", "neither"]

UNITS: tuple[str, ...] = ("count", "minutes", "hours", "fraction", "money", "per_100", "score")
BETTER: tuple[str, ...] = ("higher", "lower", "neither")
DERIVED = "derived"
DIMENSIONS: tuple[str, ...] = ("channel", "category", "priority")  # the shared filters, of tickets


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
    known: str = ""  # SQL over the whole warehouse: false -> NULL in every period, counts included
    per_currency: bool = False  # a ratio of money (refunded ÷ sold): one value per currency, like money itself
    # counted only on the local days both the helpdesk export and the orders export cover (metrics.query
    # ``shared_days``): the parts of a ticket-per-order rate, where a day one export does not reach would add the
    # other's rows and none of its own
    shared_days: bool = False

    @property
    def by_currency(self) -> bool:
        """Money, and ratios of money, are never added across currencies: one value per currency."""
        return self.unit == "money" or self.per_currency

    @property
    def delta_color(self) -> str:
        """Streamlit's delta colour: a fall in a lower-is-better KPI shows green."""
        return {"higher": "normal", "lower": "inverse", "neither": "off"}[self.better]


def rate(flag: str) -> dict[str, str]:
    """A rate is the mean of a 0/1 flag; rows whose flag is NULL are outside its sample."""
    return {"sql": f"avg(({flag})::INT)", "sample": f"count({flag})"}


# Solves and the backlog need every source to say when its solved tickets were solved: one that says "solved" but
# never when, or gives neither statuses nor solve times, cannot place a solve in a period nor say what was open at a
# period's end. (A source with statuses and nothing solved yet is fine: all its tickets are open.)
TICKETS_LOADED = "EXISTS (SELECT 1 FROM tickets)"
# Only the sources without any solve time have their statuses read: testing every row's status took most of the time.
SOLVE_TIMES_KNOWN = (f"{TICKETS_LOADED} AND NOT EXISTS (SELECT 1 FROM (SELECT source FROM tickets GROUP BY source "
                     "HAVING count(solved_at) = 0) unsolved WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE "
                     "t.source = unsolved.source AND t.status IS NOT NULL) OR EXISTS (SELECT 1 FROM tickets t "
                     f"WHERE t.source = unsolved.source AND t.{SOLVED_STATUS}))")
ORDERS_LOADED = "EXISTS (SELECT 1 FROM orders)"
TICKETS_HINT = "a helpdesk export (Zendesk, Freshdesk, Gorgias, Help Scout, or a mapped file)"
ORDERS_HINT = "an orders export (Shopify, WooCommerce, Olist)"
TRAFFIC_HINT = ("a traffic export: Shopify's 'Sessions over time' or 'Conversion rate over time' report (Day, "
                "Sessions, Sessions with cart additions, Sessions that reached checkout, Sessions that completed "
                "checkout), GA4, or a CSV with date, sessions, carts, checkouts, orders")
# A day counts toward a traffic rate only where its export gives both counts the rate divides.
TRAFFIC_LOADED = "EXISTS (SELECT 1 FROM traffic WHERE orders IS NOT NULL)"
CARTS_LOADED = "EXISTS (SELECT 1 FROM traffic WHERE orders IS NOT NULL AND carts IS NOT NULL)"
SOLVES_HINT = "an export with solve times for its solved tickets (Zendesk 'Solved at', Freshdesk 'Resolved time')"


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

    @property
    def calendar_column(self) -> str:
        return f"{self.stem}_minutes"

    @property
    def business_column(self) -> str | None:
        return f"{self.stem}_business_minutes" if self.exported_business else None

    def expression(self, business: bool) -> str:
        """The calendar duration is the column the import filled (from the export or its timestamps). The business
        one is the export's own column (the helpdesk's schedule, holidays included, beats ours), else the clock
        over the timestamps; either way not for a ticket whose times the import flagged impossible."""
        if not business:
            return self.calendar_column
        computed = self.computed_business_column
        if self.business_column:
            computed = f"coalesce({self.business_column}, {computed})"
        return f"(CASE WHEN {self.trusted()} THEN {computed} END)"

    @property
    def computed_business_column(self) -> str:
        """Our business minutes on the configured schedule, worked out at import (data/clock.py) where the export
        gives none and the end is not before the creation."""
        return f"{self.stem}_business_minutes_computed"

    def trusted(self) -> str:
        """The import found none of the impossible times that spoil this duration (``data_issues``)."""
        reasons = [why for why, spoiled in ISSUE_SPOILS.items() if self.calendar_column in spoiled]
        found = " OR ".join(f"contains(data_issues, '{why}')" for why in reasons)
        return f"(data_issues IS NULL OR NOT ({found}))" if reasons else "TRUE"

    def needs(self, business: bool) -> tuple[str, ...]:
        """The columns that give the duration on a clock: the business one also from the calendar one's
        timestamps, never the calendar one from business minutes."""
        if not business:
            return (self.calendar_column,)
        return tuple(c for c in (self.business_column, self.calendar_column) if c)

    def provided_by(self, business: bool) -> str:
        zendesk = f"Zendesk '{self.stem.replace('_', ' ').capitalize()} time in minutes"
        if not business:
            return (f"an export with {self.event} as a time or in calendar minutes ({zendesk}'); a business-hours "
                    "duration alone cannot give calendar minutes")
        if self.business_column:
            return (f"an export with {self.event} as a time, in calendar minutes or in business-hours minutes "
                    f"({zendesk} within business hours')")
        return (f"an export with {self.event} as a time or in calendar minutes "
                "(Zendesk Explore's 'First resolution time')")


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
                needs=duration.needs(business),
                provided_by=duration.provided_by(business),
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


def _sla_flag(duration: Duration, kind: str, unanswered: str) -> str:
    return sla_flag(duration.calendar_column, kind, unanswered)


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
        provided_by=TICKETS_HINT,
        known=TICKETS_LOADED,
    ),
    Metric(
        name="tickets_solved",
        label="Tickets solved",
        sql="count(*)",
        unit="count",
        better="neither",
        description="Tickets solved or closed in the period, whenever they were created; by solve time.",
        time="solved_at",
        provided_by=SOLVES_HINT,
        known=SOLVE_TIMES_KNOWN,
    ),
    Metric(
        name="backlog",
        label="Backlog",
        sql="count(*)",
        unit="count",
        better="lower",
        description="Tickets open at the end of the period: created before it and not solved by then.",
        until="solved_at",
        provided_by=SOLVES_HINT,
        known=SOLVE_TIMES_KNOWN,
    ),
    *[metric for duration in DURATIONS for metric in duration_metrics(duration)],
    *REQUESTER_WAIT,
    Metric(
        name="resolution_rate",
        label="Resolution rate",
        **rate(RESOLVED),
        unit="fraction",
        better="higher",
        description="Share of the tickets created in the period that are solved now (by solve time or status); "
                    "by creation time.",
        needs=("solved_at", "status"),
        provided_by="an export with ticket statuses or solve times",
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
        **rate(_sla_flag(DURATIONS[0], "sla_first_reply",
                         "first_reply_at IS NULL AND first_reply_business_minutes IS NULL")),
        unit="fraction",
        better="higher",
        description="Achieved ÷ (achieved + breached) first reply targets (settings, per channel and priority, "
                    "calendar minutes); an unanswered open ticket past its target is breached; unknown where the "
                    "export gives no calendar first reply time; by creation time.",
        needs=("first_reply_minutes",),
        provided_by="an export with first reply times or calendar minutes (Zendesk 'First reply time in "
                    "minutes'); the targets are calendar minutes, which business-hours minutes cannot be held to",
    ),
    Metric(
        name="sla_resolution_attainment",
        label="Resolution SLA",
        **rate(_sla_flag(DURATIONS[2], "sla_resolution", "TRUE")),
        unit="fraction",
        better="higher",
        description="Achieved ÷ (achieved + breached) resolution targets (settings, per channel and priority, "
                    "calendar minutes); an open ticket past its target is breached; unknown where the export gives "
                    "no calendar resolution time; by creation time.",
        needs=("full_resolution_minutes",),
        provided_by="an export with solve times or calendar resolution minutes (Zendesk 'Full resolution time in "
                    "minutes'); the targets are calendar minutes, which business-hours minutes cannot be held to",
    ),
    Metric(
        name="csat",
        label="CSAT",
        sql=f"avg({CSAT})",
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
        description="Rated ÷ offered satisfaction surveys, from exports that list surveys offered and left "
                    "unanswered; by solve time.",
        time="solved_at",
        sample=f"count(*) FILTER (WHERE {CSAT_OFFERED})",
        needs=("satisfaction_rating",),
        provided_by="an export that lists surveys offered and not answered (Zendesk 'Satisfaction Score': Offered); "
                    "ratings alone do not say how many surveys went unanswered",
        known=f"EXISTS (SELECT 1 FROM tickets WHERE {OFFERS_RECORDED})",
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
                    "(both in settings), of the tickets whose export gives tags or groups; by creation time.",
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
                    "from settings; where the export has no replies count, the tags alone); by solve time.",
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
        provided_by=ORDERS_HINT,
        known=ORDERS_LOADED,
    ),
    Metric(
        name="average_order_value",
        label="Average order value",
        sql="avg(gross_sales - coalesce(discounts, 0))",
        unit="money",
        better="higher",
        description="(Gross sales − discounts) ÷ orders, per currency, never summed across currencies; by order time.",
        table="orders",
        provided_by=ORDERS_HINT,
        known=ORDERS_LOADED,
    ),
    Metric(
        name="tickets_created_shared_days",
        label="Tickets created (days both exports cover)",
        sql="count(*)",
        unit="count",
        better="neither",
        description="Tickets created in the period on the days the orders export covers too; by creation time.",
        provided_by=TICKETS_HINT,
        known=TICKETS_LOADED,
        shared_days=True,
    ),
    Metric(
        name="orders_shared_days",
        label="Orders (days both exports cover)",
        sql="count(*)",
        unit="count",
        better="higher",
        description="Orders placed in the period on the days the helpdesk export covers too; by order time.",
        table="orders",
        provided_by=ORDERS_HINT,
        known=ORDERS_LOADED,
        shared_days=True,
    ),
    Metric(
        name="contacts_per_100_orders",
        label="Contacts per 100 orders",
        sql="100.0 * tickets_created_shared_days / nullif(orders_shared_days, 0)",
        unit="per_100",
        better="lower",
        description="Tickets created per 100 orders placed, over the days of the period both the helpdesk export "
                    "and the orders export cover (account time zone); unknown where they share none.",
        table=DERIVED,
        inputs=("tickets_created_shared_days", "orders_shared_days"),
        provided_by=ORDERS_HINT,
        known=ORDERS_LOADED,
    ),
    Metric(
        name="conversion_rate",
        label="Conversion rate",
        sql="sum(orders) / nullif(sum(sessions) FILTER (WHERE orders IS NOT NULL), 0)",
        unit="fraction",
        better="higher",
        description="Sessions that completed checkout ÷ sessions, from the traffic export; by the shop's local day.",
        table="traffic",
        time="date",
        sample="sum(sessions) FILTER (WHERE orders IS NOT NULL)",
        provided_by=TRAFFIC_HINT,
        known=TRAFFIC_LOADED,
    ),
    Metric(
        name="cart_abandonment_rate",
        label="Cart abandonment",
        sql="1 - sum(orders) FILTER (WHERE carts IS NOT NULL) "
            "/ nullif(sum(carts) FILTER (WHERE orders IS NOT NULL), 0)",
        unit="fraction",
        better="lower",
        description="1 − sessions that completed checkout ÷ sessions that added to cart, from the traffic export; "
                    "by the shop's local day.",
        table="traffic",
        time="date",
        sample="sum(carts) FILTER (WHERE orders IS NOT NULL)",
        provided_by=TRAFFIC_HINT,
        known=CARTS_LOADED,
    ),
)

# --- orders: money per currency, rates of orders, fulfilment ------------------------------------------------------
# A source measures refunds when its export gives a refunded amount for some order (Shopify writes 0.00 for none);
# from one that never does (Olist), a missing amount means "not measured", not "no refund".
# A list the statement works out once (metrics/facts.py binds it as a fact), where an IN subquery probed a set for each
# of five million orders (four times as long as the bound list, 0.3 s a statement).
REFUND_SOURCES = "(SELECT list(DISTINCT source) FROM orders WHERE refunded_amount IS NOT NULL)"
REFUNDS_MEASURED = f"list_contains({REFUND_SOURCES}, source)"
REFUNDED = f"CASE WHEN refunded_amount > 0 THEN TRUE WHEN {REFUNDS_MEASURED} THEN FALSE END"
REFUNDS_KNOWN = "EXISTS (SELECT 1 FROM orders WHERE refunded_amount IS NOT NULL)"
REFUNDS_HINT = "an orders export with refunds (Shopify 'Refunded Amount', WooCommerce refund rows)"
# What the customer was charged: the export's total, else the lines after discounts (WooCommerce, mapped files).
ORDER_VALUE = "coalesce(total, gross_sales - coalesce(discounts, 0))"
# Fulfilment lag: order created -> fulfilled. Shopify's 'Paid at' is not kept in the warehouse, and for a card
# payment it is the order time itself; the creation time is what every orders export gives.
LAG_HOURS = "(epoch(fulfilled_at) - epoch(created_at)) / 3600.0"
LAG_VALID = "fulfilled_at >= created_at"  # a fulfilment before its order is an impossible value, kept out
FULFILMENT_KNOWN = "EXISTS (SELECT 1 FROM orders WHERE fulfilled_at IS NOT NULL)"
FULFILMENT_HINT = "an orders export with fulfilment times (Shopify 'Fulfilled at', Olist carrier dates)"
CUSTOMERS_KNOWN = "EXISTS (SELECT 1 FROM orders WHERE customer_key IS NOT NULL)"
# The local day the period a row counts in starts: metrics.query puts in the view's first day, or the row's week or
# month where a trend asks for them. Only an aggregate of the period's rows may read it.
PERIOD_START = "{period_start}"
# An order is its customer's first in the period when the one before it is not in it, their second when the one
# before is and the one before that is not: one of each per customer, however many orders share an instant.
FIRST_IN_PERIOD = (f"customer_key IS NOT NULL AND NOT coalesce(customer_previous_local_date >= {PERIOD_START}, "
                   "FALSE)")
SECOND_IN_PERIOD = (f"customer_previous_local_date >= {PERIOD_START} "
                    f"AND NOT coalesce(customer_second_previous_local_date >= {PERIOD_START}, FALSE)")
# A ticket's order: the one the linking step found, else the export's own order-number column.
TICKET_ORDER = "coalesce(linked_order_id, order_id)"
WISMO = "category = 'shipping_status'"
# Categories are worked out after an import (data/categorising.py): before that no ticket is "where is my order"
CATEGORIES_KNOWN = "EXISTS (SELECT 1 FROM tickets WHERE category_source IS NOT NULL)"

ORDER_METRICS: tuple[Metric, ...] = (
    Metric(
        name="net_sales",
        label="Net sales",
        sql=f"sum(gross_sales - coalesce(discounts, 0) - coalesce(refunded_amount, 0)) "
            f"FILTER (WHERE {REFUNDS_MEASURED})",
        unit="money",
        better="higher",
        description="Gross sales − discounts − returns (Shopify's net sales), per currency, never summed across "
                    "currencies; by order time. Returns are the refunded amounts, counted against the order's "
                    "own date.",
        table="orders",
        provided_by=REFUNDS_HINT,
        known=REFUNDS_KNOWN,
    ),
    Metric(
        name="refund_rate",
        label="Refund rate",
        **rate(REFUNDED),
        unit="fraction",
        better="lower",
        description="Orders with a refund ÷ orders, of the exports that record refunds; by order time.",
        table="orders",
        provided_by=REFUNDS_HINT,
        known=REFUNDS_KNOWN,
    ),
    Metric(
        name="refund_rate_by_value",
        label="Refunded share of sales",
        sql=f"sum(refunded_amount) / nullif(sum({ORDER_VALUE}) FILTER (WHERE refunded_amount IS NOT NULL), 0)",
        unit="fraction",
        better="lower",
        description="Refunded amount ÷ order value (total charged, else sales after discounts), per currency; "
                    "by order time.",
        table="orders",
        provided_by=REFUNDS_HINT,
        known=REFUNDS_KNOWN,
        per_currency=True,
    ),
    Metric(
        name="repeat_purchase_rate",
        label="Repeat purchase rate",
        # counted by each order's neighbours among its customer's orders (data/order_sequence.py), where grouping
        # millions of orders by customer took seconds: a customer's second order in the period over their first
        sql=f"count(*) FILTER (WHERE {SECOND_IN_PERIOD}) / nullif(count(*) FILTER (WHERE {FIRST_IN_PERIOD}), 0)",
        unit="fraction",
        better="higher",
        description="Customers with two or more orders in the period ÷ customers who ordered in it (orders "
                    "without a customer left out). Shopify's returning-customer rate instead counts customers "
                    "who had ordered before, at any time; by order time.",
        table="orders",
        sample=f"count(*) FILTER (WHERE {FIRST_IN_PERIOD})",
        provided_by="an orders export with customer emails or ids (Shopify, Olist); WooCommerce Analytics has none",
        known=CUSTOMERS_KNOWN,
    ),
    Metric(
        name="orders_fulfilled",
        label="Orders fulfilled",
        sql="count(*)",
        unit="count",
        better="neither",
        description="Orders fulfilled (shipped) in the period, whenever they were placed; by fulfilment time.",
        table="orders",
        time="fulfilled_at",
        provided_by=FULFILMENT_HINT,
        known=FULFILMENT_KNOWN,
    ),
    *[Metric(
        name=f"fulfilment_lag_hours_{stat}",
        label=f"Fulfilment lag ({'p90' if stat == 'p90' else stat})",
        sql=template.format(f"CASE WHEN {LAG_VALID} THEN {LAG_HOURS} END"),
        unit="hours",
        better="lower",
        description=f"{words.capitalize()} hours from order creation to fulfilment, of fulfilled orders (order "
                    "creation, not 'Paid at': the warehouse keeps no payment time); by order time.",
        table="orders",
        sample=f"count(*) FILTER (WHERE {LAG_VALID})",
        provided_by=FULFILMENT_HINT,
        known=FULFILMENT_KNOWN,
    ) for stat, (words, template) in STATISTICS.items() if stat != "mean"],
    Metric(
        name="late_fulfilment_share",
        label="Fulfilled late",
        sql=f"avg(CASE WHEN {LAG_VALID} THEN ({LAG_HOURS} > $fulfilment_target_hours)::INT END)",
        unit="fraction",
        better="lower",
        description="Share of fulfilled orders fulfilled more than the target hours (settings) after they were "
                    "placed; by order time.",
        table="orders",
        sample=f"count(*) FILTER (WHERE {LAG_VALID})",
        provided_by=FULFILMENT_HINT,
        known=FULFILMENT_KNOWN,
    ),
    Metric(
        name="tickets_linked_share",
        label="Tickets linked to an order",
        **rate(f"{TICKET_ORDER} IS NOT NULL"),
        unit="fraction",
        better="higher",
        description="Share of the tickets created in the period tied to an order (an order-number column, or the "
                    "link CS Pulse found); by creation time.",
        provided_by=ORDERS_HINT,
        known=f"{TICKETS_LOADED} AND {ORDERS_LOADED}",
    ),
    Metric(
        name="wismo_tickets",
        label="Where-is-my-order tickets",
        sql=f"count(*) FILTER (WHERE {WISMO})",
        unit="count",
        better="lower",
        description="Tickets created in the period in the category 'Where is my order'; by creation time.",
        provided_by=TICKETS_HINT + ", categorised after its import",
        known=CATEGORIES_KNOWN,
    ),
    Metric(
        name="wismo_tickets_shared_days",
        label="Where-is-my-order tickets (days both exports cover)",
        sql=f"count(*) FILTER (WHERE {WISMO})",
        unit="count",
        better="lower",
        description="Tickets created in the period in the category 'Where is my order', on the days the orders "
                    "export covers too; by creation time.",
        provided_by=TICKETS_HINT + ", categorised after its import",
        known=CATEGORIES_KNOWN,
        shared_days=True,
    ),
    Metric(
        name="orders_fulfilled_shared_days",
        label="Orders fulfilled (days both exports cover)",
        sql="count(*)",
        unit="count",
        better="neither",
        description="Orders fulfilled in the period on the days the helpdesk export and the orders export (by its "
                    "orders' creation) both cover; by fulfilment time.",
        table="orders",
        time="fulfilled_at",
        provided_by=FULFILMENT_HINT,
        known=FULFILMENT_KNOWN,
        shared_days=True,
    ),
    Metric(
        name="wismo_per_100_fulfilled",
        label="WISMO per 100 fulfilled",
        sql="100.0 * wismo_tickets_shared_days / nullif(orders_fulfilled_shared_days, 0)",
        unit="per_100",
        better="lower",
        description="'Where is my order' tickets created per 100 orders fulfilled, over the days of the period both "
                    "the helpdesk export and the orders export cover; unknown where they share none.",
        table=DERIVED,
        inputs=("wismo_tickets_shared_days", "orders_fulfilled_shared_days"),
        provided_by=FULFILMENT_HINT,
        known=f"{CATEGORIES_KNOWN} AND {FULFILMENT_KNOWN}",
    ),
)
METRICS = (*METRICS, *ORDER_METRICS)

BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


def get(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(BY_NAME)}") from None


def other_clock(name: str) -> str | None:
    """The same duration and statistic on the other clock (calendar <-> business hours); None for other KPIs."""
    twin = name.replace("_business_minutes_", "_minutes_") if "_business_minutes_" in name \
        else name.replace("_minutes_", "_business_minutes_", 1)
    return twin if twin != name and twin in BY_NAME and name in BY_NAME else None
