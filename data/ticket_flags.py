"""The ticket-level conditions the KPIs are built from, as SQL, declared once: metrics.registry puts them into its
KPI declarations and data.rollups into the rollup's parts, which metrics.query matches against the KPIs by their
text (a copy that drifted sent the KPI back to raw rows without a word)."""

from __future__ import annotations

import re


def source_measures(*columns: str) -> str:
    """The ticket comes from a source whose export gives one of ``columns`` for some ticket: there an empty cell
    means "none" (no reply yet, no tag); from a source that never gives it, it means "not measured"."""
    present = " OR ".join(f"{column} IS NOT NULL" for column in columns)
    # the few sources listed once, then looked up per row: `source IN (subquery)` joined every row to them instead
    return f"coalesce(list_contains((SELECT list(DISTINCT source) FROM tickets WHERE {present}), source), FALSE)"


# the subquery source_measures writes, found again in a KPI's or a part's SQL to bind its value (group 1: the
# condition)
SOURCES_SUBQUERY = re.compile(r"\(SELECT list\(DISTINCT source\) FROM tickets WHERE ([^()]*)\)")


SOLVED_STATUS = "status IN ('solved', 'closed')"
# Open now: no solve time, and a status (where the export has one) that does not say solved.
STILL_OPEN = f"solved_at IS NULL AND coalesce(NOT ({SOLVED_STATUS}), TRUE)"
# The moment the data describes (the newest change in it), not the wall clock: an export from last spring must not
# count a ticket as breached for having stayed open since, when the export cannot know.
DATA_AS_OF = "(SELECT max(coalesce(updated_at, solved_at, created_at)) FROM tickets)"


# --- SLA: the target of a ticket is the stricter of its channel's and its priority's (settings) ------------------
def sla_target(kind: str) -> str:
    channel = f"coalesce(list_extract(${kind}_minutes, list_position(${kind}_keys, channel)), " \
              f"list_extract(${kind}_minutes, list_position(${kind}_keys, 'other')))"
    priority = f"list_extract(${kind}_priority_minutes, list_position(${kind}_priority_keys, priority))"
    return f"least({channel}, {priority})"


def sla_flag(minutes: str, kind: str, unanswered: str) -> str:
    """Achieved (1) or breached (0) on the calendar ``minutes`` column; a ticket still inside its target is neither
    and stays out. An open ticket without the event is breached once past its target, but only where its export
    measures the calendar duration: from an export that gives it in business hours only, or not at all, nothing
    says it is missing."""
    target = sla_target(kind)
    late = f"created_at + to_microseconds(({target} * 60000000)::BIGINT) < {DATA_AS_OF}"
    return (f"CASE WHEN {minutes} IS NOT NULL THEN {minutes} <= {target} "
            f"WHEN {unanswered} AND {STILL_OPEN} AND {late} AND {source_measures(minutes)} THEN FALSE END")


SLA_FIRST_REPLY = sla_flag("first_reply_minutes", "sla_first_reply",
                           "first_reply_at IS NULL AND first_reply_business_minutes IS NULL")
SLA_RESOLUTION = sla_flag("full_resolution_minutes", "sla_resolution", "TRUE")

# tag_list: the tags as lower-case words, split once at import (data/tags.py); NULL where the export gives none
ESCALATED = ("CASE WHEN list_has_any(tag_list, $escalation_tags) "
             "OR coalesce(list_contains($escalation_groups, lower(group_name)), FALSE) THEN TRUE "
             f"WHEN {source_measures('tags', 'group_name')} THEN FALSE END")
# From an export without a replies count, the automation tags alone say which tickets were automated; from one with
# it, a ticket whose count is missing stays out.
AUTOMATED = ("CASE WHEN list_has_any(tag_list, $automation_tags) THEN TRUE "
             "WHEN agent_replies IS NOT NULL THEN agent_replies = 0 "
             f"WHEN NOT {source_measures('agent_replies')} AND {source_measures('tags')} THEN FALSE END")
# Solved now: by its solve time or, where the export gives none, by its status.
RESOLVED = (f"CASE WHEN solved_at IS NOT NULL OR {SOLVED_STATUS} THEN TRUE "
            f"WHEN status IS NOT NULL OR {source_measures('solved_at')} THEN FALSE END")
# Satisfied (1) or not (0): a 1-5 score at the CSAT rule's threshold (settings), else a Good or Bad rating.
CSAT = ("CASE WHEN satisfaction_score IS NOT NULL THEN (satisfaction_score >= $csat_good_min)::INT "
        "WHEN satisfaction_rating = 'good' THEN 1 WHEN satisfaction_rating = 'bad' THEN 0 END")
CSAT_RATED = "satisfaction_score IS NOT NULL OR satisfaction_rating IN ('good', 'bad')"
# Offered: rated, or offered and left unanswered. Only an export that records unanswered surveys ("Offered") can
# give a response rate; one that lists ratings alone would read as 100 %.
OFFERS_RECORDED = "satisfaction_rating = 'offered'"
CSAT_OFFERED = (f"(satisfaction_score IS NOT NULL OR satisfaction_rating IS NOT NULL) "
                f"AND source IN (SELECT DISTINCT source FROM tickets WHERE {OFFERS_RECORDED})")
