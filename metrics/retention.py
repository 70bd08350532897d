"""Do customers who contacted support come back? The repeat purchase rate of those who did against those who did not.

Definitions (N = ``CSPULSE_RETENTION_DAYS``; customers are the salted ``customer_key`` shared by tickets and
orders; cancelled orders do not count):

- **Cohort**: every customer with an order placed in the view's dates; their first such order is the *anchor*.
- **Observed**: only customers whose N days after the anchor are over in the data (the anchor is at least N days
  before the newest order and the newest ticket); the others are left out and counted (``too_recent``), since their
  chance to come back is not over yet.
- **Repeat**: another order placed within N days after the anchor.
- **Reached**: only customers whose anchor is on or after the helpdesk export's first ticket are split by contact
  (their N days end before the newest ticket, as observed says): before it, no ticket means unknown, not none. A
  store's helpdesk export often begins years after its orders.
- **Contacted support**: a ticket of theirs created after the anchor, within the N days and before their next order.
  A ticket after the second order cannot have led to it, so it does not count. Their first such ticket is the one
  split by: its first reply bucket (calendar minutes, or business minutes where the data has only those), its CSAT
  (satisfied, not satisfied, no rating) and whether it is solved now.

Bias worth stating: a customer who comes back within days has had fewer days to write in, which pulls the contacted
group's rate down; customers who write in have also had something go wrong. Hence the statement returned with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from data import retention_rollup, rollups
from data.clock import rollup_holds
from metrics.availability import unavailable
from metrics.facts import export_span
from metrics.query import Filters, execute, in_view, utc_bound
from metrics.registry import DURATIONS, SOLVED_STATUS
from settings import Settings

STATEMENT = ("This is an association, not proof of cause: customers who contact support differ from those who do "
             "not (something went wrong, they bought different things), so a difference here does not show that "
             "support made them come back or stay away.")
SEGMENTS: dict[str, tuple[str, ...]] = {
    "contact": ("did not contact support", "contacted support"),
    "first_reply": ("under 1 h", "1–4 h", "4–24 h", "24 h or more", "no reply recorded"),
    "csat": ("satisfied", "not satisfied", "no rating"),
    "solved": ("solved", "not solved"),
}
DIMENSION_LABELS = {"contact": "Contacted support", "first_reply": "First reply", "csat": "CSAT",
                    "solved": "Ticket solved"}
NO_TICKETS = ("a helpdesk export with customer emails for these dates, hashed as the orders' are, tells who "
              "contacted support")
# the tickets that can follow an anchor: created at or after the view's start, before N days after its end
AFTER_ANCHORS = (f"created_at >= {utc_bound('$start')} "
                 f"AND created_at < {utc_bound('$end_excl')} + to_days($days::INTEGER)")
# tickets that could mark a customer of the view as having contacted support: none, and "did not contact" is unknown.
# Whether there is one, not how many: the first found ends the scan (a count read 3M keyed tickets, 0.2-0.6 s)
KEYED_TICKETS = f"EXISTS (SELECT 1 FROM tickets WHERE customer_key IS NOT NULL AND {AFTER_ANCHORS})"
NO_CUSTOMERS = "an orders export with customer emails or ids"
NOT_REACHED = ("a helpdesk export that reaches back to these customers' first orders in the period: the loaded one "
               "begins after every one of them, so who contacted support is unknown")
# an anchor the helpdesk export reaches: on or after its first ticket (its N days end before the newest, see HORIZON)
REACHED = f"ordered_at >= {export_span('tickets')}[1]"


@dataclass(frozen=True)
class Retention:
    table: pl.DataFrame  # dimension, segment, customers, repeat_customers, repeat_rate (NULL over 0 customers)
    days: int
    first_reply_clock: str | None  # "calendar" | "business"; None: the data has no first replies
    too_recent: int  # customers left out: their N days are not over in the data
    reached: int  # observed customers split by contact: their anchor on or after the helpdesk export's first ticket
    missing: str | None  # what export would give the comparison, when the loaded data cannot
    statement: str = STATEMENT


def repeat_by_support(cur: duckdb.DuckDBPyConnection, filters: Filters, *, settings: Settings,
                      rollup: bool = True) -> Retention:
    """The repeat purchase rate within N days, with the customers it rests on, for all observed customers
    (``dimension`` "all"), by whether they contacted support, and, of those who did, by how their first ticket
    went. Only the view's dates apply: ticket filters would move customers between the groups compared. The
    anchors and the contacted customers' first tickets from data/retention_rollup.py where it holds the data, unless
    ``rollup`` is False (the orders counted and the tickets matched to the anchors here)."""
    clock = _first_reply_clock(cur)
    served = rollup and rollup_holds(cur, rollups.RETENTION, settings)
    counted = execute(cur, _count_sql(served), filters, settings, days=settings.retention_days).row(0, named=True)
    missing = None
    if counted["customers"] == 0 and not counted["too_recent"]:
        missing = NO_CUSTOMERS
    elif not counted["keyed_tickets"]:
        missing = NO_TICKETS
    elif counted["customers"] and not counted["reached"]:
        missing = NOT_REACHED
    everyone = pl.DataFrame({"dimension": ["all"], "segment": ["all customers"],
                             "customers": [counted["customers"]], "repeat_customers": [counted["repeat_customers"]]})
    # the split joins the customers to their tickets: only where some customer and some ticket could be in it
    if missing or not counted["customers"]:
        rows = everyone
    else:
        split = execute(cur, _split_from_rollup(clock) if served else _sql(clock), filters, settings,
                        days=settings.retention_days)
        rows = _with_everyone(everyone, (counted["reached"], counted["reached_repeat_customers"]), split)
    wanted = {"all": ("all customers",)} | ({} if missing else SEGMENTS)
    if clock is None:
        wanted.pop("first_reply", None)
    return Retention(_complete(rows, wanted), settings.retention_days, clock, counted["too_recent"],
                     counted["reached"] or 0, missing)


def _with_everyone(everyone: pl.DataFrame, reached: tuple[int, int], split: pl.DataFrame) -> pl.DataFrame:
    """All customers, those who did not contact support (the ``reached`` customers and their repeat customers, but
    those who did) and the contacted ones' split."""
    split = split.cast({"customers": pl.Int64, "repeat_customers": pl.Int64})
    everyone = everyone.cast({"customers": pl.Int64, "repeat_customers": pl.Int64})
    contacted = split.filter(pl.col("dimension") == "contact").select("customers", "repeat_customers")
    customers, repeats = (contacted.row(0) if contacted.height else (0, 0))
    did_not = everyone.with_columns(dimension=pl.lit("contact"), segment=pl.lit("did not contact support"),
                                    customers=pl.lit(reached[0] - customers, pl.Int64),
                                    repeat_customers=pl.lit(reached[1] - repeats, pl.Int64))
    return pl.concat([everyone, did_not, split.select(everyone.columns)])


def _first_reply_clock(cur: duckdb.DuckDBPyConnection) -> str | None:
    """Calendar minutes where the data has them, else business minutes; None where it has neither."""
    missing = unavailable(cur, ["first_reply_minutes_median", "first_reply_business_minutes_median"])
    if "first_reply_minutes_median" not in missing:
        return "calendar"
    return None if "first_reply_business_minutes_median" in missing else "business"


# the newest moment in both exports: an anchor is observed where its N days are over by then
HORIZON = ("SELECT least(max(created_at), coalesce((SELECT max(created_at) FROM tickets), max(created_at))) AS newest "
           "FROM orders")


def _cohort_sql(kept: bool = False) -> str:
    """SQL: the view's anchors, each customer's first not cancelled order in it: every such order knows the customer's
    kept orders before and after it (data/order_sequence.py), so an anchor is an order with none before it in the
    view, where grouping millions of orders by customer took seconds. Read from data/retention_rollup.py's kept
    orders where ``kept`` (how long after each the customer's next came, not when: three narrow columns in time
    order, about half the count's time at five million orders), else from the orders."""
    if kept:  # every row a not cancelled order with a customer
        source, rows, time, columns = retention_rollup.ORDERS_TABLE, "TRUE", "ordered_at", "ordered_at, next_after_us"
    else:
        source, rows, time, columns = ("orders", "customer_key IS NOT NULL AND cancelled_at IS NULL", "created_at",
                                       "customer_key, created_at AS ordered_at, kept_next_at")
    return f"""
        WITH horizon AS ({HORIZON}),
        anchors AS (
            SELECT {columns}, {time} <= (SELECT newest FROM horizon) - to_days($days) AS observed
            FROM {source} WHERE {rows} AND {in_view(time, 'orders')}
                 AND NOT coalesce(kept_previous_at >= {utc_bound('$start')}, FALSE))"""


def within_days(later: str, earlier: str, *, inclusive: bool = True) -> str:
    """SQL: ``later`` (a UTC TIMESTAMP) no more than N days after ``earlier`` (less, unless ``inclusive``): their
    microseconds apart against N days' (N days on a TIMESTAMP are N times 24 hours), where adding an interval to each
    of millions of rows took about a third of the count of anchors at five million orders."""
    return _apart_within(f"epoch_us({later}) - epoch_us({earlier})", inclusive)


def _apart_within(microseconds: str, inclusive: bool = True) -> str:
    return f"{microseconds} {'<=' if inclusive else '<'} $days::BIGINT * 86400000000"


# an anchor's customer ordered again within N days
REPEATS = within_days("kept_next_at", "ordered_at")


def _count_sql(from_rollup: bool) -> str:
    """SQL: the view's anchors, those whose N days are not over, the observed and of them the repeat customers, and
    whether some ticket could mark one as having contacted support; the anchors from the kept orders of
    data/retention_rollup.py where ``from_rollup``, else from the orders."""
    repeats = _apart_within("next_after_us") if from_rollup else REPEATS
    return _cohort_sql(kept=from_rollup) + f""" SELECT count(*) FILTER (WHERE NOT observed) AS too_recent,
                                count(*) FILTER (WHERE observed) AS customers,
                                count(*) FILTER (WHERE observed AND {repeats}) AS repeat_customers,
                                count(*) FILTER (WHERE observed AND {REACHED}) AS reached,
                                count(*) FILTER (WHERE observed AND {REACHED} AND {repeats})
                                    AS reached_repeat_customers,
                                {KEYED_TICKETS} AS keyed_tickets FROM anchors"""


def _sql(clock: str | None) -> str:
    """SQL: the contacted customers' split, each observed anchor matched to its customer's tickets."""
    reply = DURATIONS[0].expression(clock == "business") if clock else "NULL::DOUBLE"
    return _cohort_sql() + f""",
        nexts AS (
            SELECT customer_key, ordered_at,
                   CASE WHEN {REPEATS} THEN kept_next_at END AS next_order_at
            FROM anchors WHERE observed AND {REACHED}),
        facts AS (
            SELECT customer_key, created_at, ticket_id, {reply} AS first_reply, satisfaction_score,
                   satisfaction_rating, solved_at IS NOT NULL OR coalesce({SOLVED_STATUS}, FALSE) AS solved
            FROM tickets WHERE customer_key IS NOT NULL AND {AFTER_ANCHORS}),
        contact AS (
            SELECT n.next_order_at IS NOT NULL AS repeated, f.first_reply, f.satisfaction_score,
                   f.satisfaction_rating, f.solved
            FROM nexts n JOIN facts f ON f.customer_key = n.customer_key AND f.created_at >= n.ordered_at
                 AND f.created_at < coalesce(n.next_order_at, n.ordered_at + to_days($days))
            QUALIFY row_number() OVER (PARTITION BY n.customer_key ORDER BY f.created_at, f.ticket_id) = 1)
        {SPLIT}"""


def _split_from_rollup(clock: str | None) -> str:
    """SQL: the contacted customers' split from each observed anchor's first ticket (data/retention_rollup.py): the
    view's anchors are its kept orders with none before them in the view, those with a ticket in the N days."""
    reply = {"calendar": "first_reply_minutes", "business": "first_reply_business_minutes"}.get(clock or "",
                                                                                                 "NULL::DOUBLE")
    return f"""
        WITH horizon AS ({HORIZON}),
        contact AS (
            SELECT coalesce({REPEATS}, FALSE) AS repeated, {reply} AS first_reply,
                   satisfaction_score, satisfaction_rating, solved
            FROM {retention_rollup.TABLE}
            WHERE ordered_at >= {utc_bound('$start')} AND ordered_at < {utc_bound('$end_excl')}
              AND NOT coalesce(kept_previous_at >= {utc_bound('$start')}, FALSE)
              AND ordered_at <= (SELECT newest FROM horizon) - to_days($days) AND {REACHED}
              AND {within_days('contacted_at', 'ordered_at', inclusive=False)})
        {SPLIT}"""


# the contacted customers' segments in one pass over them (``contact``: one row per contacted customer); those who
# did not contact are the rest of everyone. Counted first by the few raw values the segments read, then labelled:
# labelling every contacted customer and grouping them four ways was the statement's costliest step at 5M orders
SPLIT = """
    SELECT CASE WHEN GROUPING(reply_bucket) = 0 THEN 'first_reply' WHEN GROUPING(csat) = 0 THEN 'csat'
                WHEN GROUPING(solved) = 0 THEN 'solved' ELSE 'contact' END AS dimension,
           coalesce(reply_bucket, csat, solved, 'contacted support') AS segment,
           coalesce(sum(n), 0) AS customers, coalesce(sum(n) FILTER (WHERE repeated), 0) AS repeat_customers
    FROM (SELECT repeated, n,
                 CASE WHEN satisfaction_score IS NOT NULL AND satisfaction_score >= $csat_good_min THEN 'satisfied'
                      WHEN satisfaction_score IS NOT NULL THEN 'not satisfied'
                      WHEN satisfaction_rating = 'good' THEN 'satisfied'
                      WHEN satisfaction_rating = 'bad' THEN 'not satisfied' ELSE 'no rating' END AS csat,
                 CASE WHEN solved THEN 'solved' ELSE 'not solved' END AS solved,
                 coalesce(['under 1 h', '1–4 h', '4–24 h', '24 h or more'][reply_step + 1], 'no reply recorded')
                     AS reply_bucket
          FROM (SELECT repeated, satisfaction_score, satisfaction_rating, solved, count(*) AS n,
                       -- the first reply's bucket: how many of 1 h, 4 h and 24 h it reached (NULL: no reply)
                       (first_reply >= 60)::INT + (first_reply >= 240)::INT + (first_reply >= 1440)::INT AS reply_step
                FROM contact GROUP BY ALL))
    GROUP BY GROUPING SETS ((), (reply_bucket), (csat), (solved))"""


def _complete(rows: pl.DataFrame, wanted: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    """Every wanted segment in a fixed order, an empty one with 0 customers and no rate."""
    frame = pl.DataFrame([(d, s) for d, segments in wanted.items() for s in segments],
                         schema={"dimension": pl.String, "segment": pl.String}, orient="row")
    counts = frame.join(rows.cast({"customers": pl.Int64, "repeat_customers": pl.Int64}),
                        on=["dimension", "segment"], how="left", maintain_order="left")
    counts = counts.with_columns(pl.col("customers", "repeat_customers").fill_null(0))
    rate = pl.when(pl.col("customers") > 0).then(pl.col("repeat_customers") / pl.col("customers"))
    return counts.with_columns(rate.alias("repeat_rate"))
