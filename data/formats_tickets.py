"""Helpdesk ticket exports as declarations: Zendesk (CSV export and Explore reports), Freshdesk, Gorgias, Help Scout.

Each format is its header names, their kinds and canonical targets (see :mod:`data.format_types`) plus one ``shape``
step that turns the typed columns into canonical ``tickets`` rows. Headers match case-insensitively, so one spelling
covers ``First response time (in hrs)`` and ``First Response Time (in Hrs)``. A column of kind ``email`` becomes a
salted ``customer_key`` as it is cast (see :func:`data.format_types.type_columns`): no frame here ever carries an
address.

Signatures are the few headers every export of a tool has and no other tool's export has; when two formats match,
:mod:`data.plans` takes the longer signature (a Help Scout file with an extra ``Id`` column is still Help Scout).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from data import cast
from data.format_types import (
    CHANNELS,
    PRIORITIES,
    SOLVED,
    TICKET_STATUSES,
    Context,
    Field,
    Format,
    Typed,
    finish_tickets,
    vocabulary_of,
)
from data.schema import TICKETS

Frames = dict[str, pl.DataFrame]

# Canonical columns plus the CSV record number, which the preview and problem table point back to.
KEPT_COLUMNS: frozenset[str] = frozenset({"record", *TICKETS.column_names})

# --- channel words beyond the shared ones -------------------------------------------------------------------------
# Zendesk's Via: "Web service" is the API, "Closed ticket" a follow-up of a closed one, "Text" an SMS.
ZENDESK_CHANNELS: dict[str, str] = {
    **CHANNELS, "web service": "other", "closed ticket": "other", "voicemail": "phone", "text": "phone",
    "mobile sdk": "chat", "mobile": "chat", "native messaging": "chat", "facebook messenger": "social",
    "facebook post": "social", "instagram direct": "social", "twitter dm": "social", "help center": "web",
    "side conversation": "other", "ticket sharing": "other", "answer bot": "other",
}
FRESHDESK_CHANNELS: dict[str, str] = {
    **CHANNELS, "mobihelp": "chat", "forum": "web", "bot": "chat", "ecommerce": "other",
}
GORGIAS_CHANNELS: dict[str, str] = {
    **CHANNELS, "facebook-messenger": "social", "facebook-mention": "social", "instagram-comment": "social",
    "instagram-ad-comment": "social", "instagram-mention": "social", "instagram-direct-message": "social",
    "twitter-direct-message": "social", "contact_form": "web", "contact-form": "web", "help-center": "web",
    "yotpo-review": "other", "internal-note": "other", "aircall": "phone",
}

# Freshdesk's survey answers (classic three-point and five-point smileys) in the words cast.to_rating reads.
FRESHDESK_SURVEY_WORDS: dict[str, str] = {
    "awesome": "great", "extremely happy": "great", "happy": "great",
    "just okay": "okay", "neutral": "okay",
    "not good": "not good", "unhappy": "not good", "extremely unhappy": "not good",
}


# --- shared shaping -----------------------------------------------------------------------------------------------
def fill_from(frame: pl.DataFrame, target: str, fallback: str) -> pl.DataFrame:
    """``target`` where it has a value, else ``fallback``; the fallback column is consumed."""
    if fallback not in frame.columns:
        return frame
    filled = pl.coalesce(target, fallback) if target in frame.columns else pl.col(fallback)
    return frame.with_columns(filled.alias(target)).drop(fallback)


# What a custom field holds for "no value" (Zendesk writes `-`).
NO_VALUE = ("", "-")


def category_value(column: str) -> pl.Expr:
    """The category as exported, spaces trimmed: the store's own words, which the Complaints page shows as they are
    (data/categorising.py compares them with the taxonomy without case or punctuation). Empty or `-` is none."""
    value = pl.col(column).str.strip_chars()
    return pl.when(~value.is_in(NO_VALUE)).then(value)


def with_category(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """The first of ``columns`` (most specific first) that has a value for the ticket."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return frame
    return frame.with_columns(pl.coalesce([category_value(c) for c in present]).alias("category_exported"))


def drop_tickets(frame: pl.DataFrame, unwanted: pl.Expr, what: str, notes: list[str]) -> pl.DataFrame:
    """Leave out tickets that are not customer conversations (spam), saying how many."""
    unwanted = unwanted.fill_null(False)
    count = frame.select(unwanted.sum()).item()
    if count:
        notes.append(f"{count} {what} ticket{'s' if count != 1 else ''} left out.")
    return frame.filter(~unwanted)


def canonical_words(frame: pl.DataFrame, channels: Mapping[str, str], notes: list[str]) -> pl.DataFrame:
    """Status, channel and priority in CS Pulse's words; unknown words take a fallback named in the notes."""
    words = {"status": (TICKET_STATUSES, "open", "Ticket statuses"), "channel": (channels, "other", "Channels"),
             "priority": (PRIORITIES, "normal", "Priorities")}
    canonical = {column: vocabulary_of(frame[column], mapping, fallback, what, notes)
                 for column, (mapping, fallback, what) in words.items() if column in frame.columns}
    # One with_columns: Polars maps the columns side by side.
    return frame.with_columns(pl.col(column).replace_strict(words, default=None, return_dtype=pl.String)
                              for column, words in canonical.items())


def solves_of_solved_tickets(frame: pl.DataFrame) -> pl.DataFrame:
    """A solve time on a ticket that is not solved (reopened, or a stale export value) is not a solve."""
    if "solved_at" not in frame.columns or "status" not in frame.columns:
        return frame
    solved = pl.when(pl.col("status").is_in(SOLVED)).then(pl.col("solved_at"))
    return frame.with_columns(solved.alias("solved_at"))


def status_from_solve(frame: pl.DataFrame) -> pl.DataFrame:
    """A report without a status column: its solve time is the only evidence of one."""
    if "status" in frame.columns or "solved_at" not in frame.columns:
        return frame
    return frame.with_columns(
        pl.when(pl.col("solved_at").is_not_null()).then(pl.lit("solved")).otherwise(pl.lit("open")).alias("status"))


def stamps_from_minutes(frame: pl.DataFrame) -> pl.DataFrame:
    """Event times the export gives only as durations: creation plus the duration (first reply, first solve)."""
    for stamp, minutes in (("first_reply_at", "first_reply_minutes"), ("first_solved_at", "first_resolution_minutes")):
        if minutes not in frame.columns:
            continue
        offset = pl.duration(microseconds=(pl.col(minutes) * 60_000_000).round().cast(pl.Int64))
        derived = pl.col("created_at") + offset
        frame = frame.with_columns((pl.col(stamp).fill_null(derived) if stamp in frame.columns else derived)
                                   .alias(stamp))
    return frame


def canonical_tickets(frame: pl.DataFrame, typed: Typed, ctx: Context, channels: Mapping[str, str]) -> Frames:
    """The steps every ticket format ends with, in the order they depend on each other."""
    frame = canonical_words(frame, channels, typed.notes)
    frame = with_category(frame, ("category_exported",))
    frame = solves_of_solved_tickets(frame)
    frame = stamps_from_minutes(frame)
    frame = finish_tickets(frame, typed.notes)
    return {"tickets": frame.select(c for c in frame.columns if c in KEPT_COLUMNS)}


# --- Zendesk CSV export -------------------------------------------------------------------------------------------
def shape_zendesk(typed: Typed, ctx: Context) -> Frames:
    """Zendesk's CSV export and its Explore reports carry the same facts under different labels."""
    frame = fill_from(typed.frame, "full_resolution_minutes", "resolution_time_minutes")
    frame = with_category(frame, ("category_exported", "ticket_type"))  # the account's own categories say more
    frame = status_from_solve(frame)
    return canonical_tickets(frame, typed, ctx, ZENDESK_CHANNELS)


# Read as the category without asking when the file has no other candidate; any other `… [list]` custom field may
# hold it too (see data.format_types.category_candidates_of).
ZENDESK_CATEGORY_HEADERS = ("Ticket Category [list]", "Category [list]", "Ticket category", "Category",
                            "Contact reason [list]")

ZENDESK = Format(
    source="zendesk",
    kind="tickets",
    label="Zendesk ticket export",
    signature=("Id", "Created at", "Status"),  # in every export, however trimmed; Freshdesk and Explore say "Ticket ID"
    fields=(
        Field("ticket_id", ("Id",), required=True),
        Field("created_at", ("Created at",), "timestamp", required=True),
        Field("updated_at", ("Updated at",), "timestamp"),
        Field("solved_at", ("Solved at",), "timestamp"),  # 1900-01-01 for unsolved: a placeholder, read as empty
        Field("status", ("Status",)),
        Field("priority", ("Priority",)),
        Field("channel", ("Via",)),
        Field("group_name", ("Group",)),
        Field("assignee", ("Assignee",)),
        Field("subject", ("Subject",)),
        Field("tags", ("Tags",)),
        Field("customer_email", ("Requester email",), "email"),
        Field("reopens", ("Reopens",), "int"),
        Field("agent_replies", ("Replies",), "int"),
        Field("first_reply_minutes", ("First reply time in minutes",), "minutes"),
        Field("first_reply_business_minutes", ("First reply time in minutes within business hours",), "minutes"),
        Field("first_resolution_minutes", ("First resolution time in minutes",), "minutes"),
        Field("full_resolution_minutes", ("Full resolution time in minutes",), "minutes"),
        Field("full_resolution_business_minutes", ("Full resolution time in minutes within business hours",),
              "minutes"),
        Field("requester_wait_minutes", ("Requester wait time in minutes",), "minutes"),
        # `Resolution time` is in HOURS (cast to minutes here), a fallback for the full resolution time only.
        Field("resolution_time_minutes", ("Resolution time",), "hours"),
        Field("satisfaction", ("Satisfaction Score",), "rating"),  # Good/Bad/Offered/Not Offered/Unoffered or 1-5
        Field("ticket_type", ("Ticket type",)),
        Field("category_exported", ZENDESK_CATEGORY_HEADERS),
    ),
    shape=shape_zendesk,
    custom_field=r".+ \[list\]",  # a drop-down custom field: `Reason for contact [list]`
)


# --- Zendesk Explore report export --------------------------------------------------------------------------------
def explore_metric(name: str) -> tuple[str, ...]:
    """An Explore metric as labelled by itself or by its aggregator; with one ticket per row they are equal."""
    return (name, *(f"{aggregate}({name})" for aggregate in ("SUM", "AVG", "MED", "MAX", "MIN")))


# Labels are Explore's Support > Tickets dataset attributes; each row is one ticket (the report has `Ticket ID` as a
# row attribute). Dates come as `- Timestamp` or, coarser, `- Date` (read as midnight in the account time zone).
EXPLORE_FIELDS: tuple[Field, ...] = (
    Field("ticket_id", ("Ticket ID",), required=True),
    Field("created_at", ("Ticket created - Timestamp", "Ticket created - Date"), "timestamp", required=True),
    Field("solved_at", ("Ticket solved - Timestamp", "Ticket solved - Date"), "timestamp"),
    Field("updated_at", ("Ticket updated - Timestamp", "Ticket updated - Date"), "timestamp"),
    Field("status", ("Ticket status",)),
    Field("channel", ("Ticket channel", "Ticket via")),
    Field("priority", ("Ticket priority",)),
    Field("group_name", ("Ticket group", "Group name")),
    Field("assignee", ("Assignee name", "Ticket assignee")),
    Field("subject", ("Ticket subject",)),
    Field("tags", ("Ticket tags",)),
    Field("ticket_type", ("Ticket type",)),
    Field("customer_email", ("Requester email", "Ticket requester email"), "email"),
    Field("agent_replies", explore_metric("Agent replies"), "int"),
    Field("reopens", explore_metric("Reopens"), "int"),
    Field("first_reply_minutes", explore_metric("First reply time (min)"), "minutes"),
    Field("first_reply_business_minutes", explore_metric("First reply time - business hours (min)"), "minutes"),
    Field("first_resolution_minutes", explore_metric("First resolution time (min)"), "minutes"),
    Field("full_resolution_minutes", explore_metric("Full resolution time (min)"), "minutes"),
    Field("full_resolution_business_minutes", explore_metric("Full resolution time - business hours (min)"),
          "minutes"),
    Field("requester_wait_minutes", explore_metric("Requester wait time (min)"), "minutes"),
    Field("satisfaction", ("Satisfaction rating", "Ticket satisfaction rating"), "rating"),
)

# One declaration per creation label: a signature needs every header, and `Ticket ID` with `Ticket status` alone
# would also match the Kaggle tickets set (`Ticket ID`, `Ticket Status`, ...).
ZENDESK_EXPLORE_TIMESTAMPS = Format(
    source="zendesk", kind="tickets", label="Zendesk Explore report",
    signature=("Ticket ID", "Ticket created - Timestamp"), fields=EXPLORE_FIELDS, shape=shape_zendesk,
)
ZENDESK_EXPLORE_DATES = Format(
    source="zendesk", kind="tickets", label="Zendesk Explore report",
    signature=("Ticket ID", "Ticket created - Date"), fields=EXPLORE_FIELDS, shape=shape_zendesk,
)


# --- Freshdesk ----------------------------------------------------------------------------------------------------
def shape_freshdesk(typed: Typed, ctx: Context) -> Frames:
    """Resolved time, else Closed time, is the solve; the empty hour columns are recomputed from the timestamps."""
    frame = fill_from(typed.frame, "solved_at", "closed_at")
    frame = freshdesk_survey(frame, typed.notes)
    return canonical_tickets(frame, typed, ctx, FRESHDESK_CHANNELS)


def freshdesk_survey(frame: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    """Survey answers as ratings; one that is not a rating is noted and left out, the ticket is kept."""
    if "survey" not in frame.columns:
        return frame
    lowered = pl.col("survey").str.strip_chars().str.to_lowercase()
    known = pl.when(lowered.is_in(list(FRESHDESK_SURVEY_WORDS))).then(lowered.replace(FRESHDESK_SURVEY_WORDS))
    answers = frame.select(known.otherwise(pl.col("survey"))).to_series()  # others as written, for the note
    rating, score = cast.to_rating(answers, "Survey results")
    if rating.problem_count:
        examples = ", ".join(repr(p.value) for p in rating.problems[:3])
        notes.append(f"{rating.problem_count} survey results are not a rating ({examples}); "
                     "those tickets are read without one.")
    return frame.with_columns(satisfaction_rating=rating.values, satisfaction_score=score.values).drop("survey")


FRESHDESK = Format(
    source="freshdesk",
    kind="tickets",
    label="Freshdesk ticket export",
    signature=("Ticket ID", "Status", "Created time"),
    fields=(
        Field("ticket_id", ("Ticket ID",), required=True),
        Field("created_at", ("Created time",), "timestamp", required=True),
        Field("solved_at", ("Resolved time",), "timestamp"),
        Field("closed_at", ("Closed time",), "timestamp"),
        Field("updated_at", ("Last update time",), "timestamp"),
        Field("first_reply_at", ("Initial response time",), "timestamp"),  # a time, not a duration
        Field("first_reply_minutes", ("First response time (in hrs)", "First response time (in hours)"), "hours"),
        Field("full_resolution_minutes", ("Resolution time (in hrs)", "Resolution time (in hours)"), "hours"),
        Field("status", ("Status",)),  # custom statuses (Waiting on Third Party) read as open, with a note
        Field("priority", ("Priority",)),
        Field("channel", ("Source",)),
        Field("category_exported", ("Type",)),
        Field("assignee", ("Agent",)),
        Field("group_name", ("Group",)),
        Field("subject", ("Subject",)),
        Field("description", ("Description",)),
        Field("tags", ("Tags",)),
        Field("agent_replies", ("Agent interactions",), "int"),
        Field("survey", ("Survey results", "Survey result")),  # Freshdesk's own words, read in the shape step
        Field("customer_email", ("Email", "Contact email", "Requester email"), "email"),
    ),
    shape=shape_freshdesk,
    custom_field=r"cf_.+",  # a custom field under its API name (`cf_reason_for_contact`); labels are named ones
)


# --- Gorgias ------------------------------------------------------------------------------------------------------
def shape_gorgias(typed: Typed, ctx: Context) -> Frames:
    """Spam is left out; a snoozed ticket counts as closed, solved when closed or else when snoozed."""
    frame = typed.frame
    if "spam" in frame.columns:
        frame = drop_tickets(frame, pl.col("spam"), "spam", typed.notes)
    if "snoozed_at" in frame.columns:
        # Gorgias keeps a snoozed ticket out of the open queue until it wakes; its status may still read "open".
        snoozed = pl.col("snoozed_at").is_not_null()
        frame = frame.with_columns(pl.when(snoozed).then(pl.lit("closed")).otherwise(pl.col("status")).alias("status"))
        frame = fill_from(frame, "solved_at", "snoozed_at")
    return canonical_tickets(frame, typed, ctx, GORGIAS_CHANNELS)


GORGIAS = Format(
    source="gorgias",
    kind="tickets",
    label="Gorgias ticket export",
    signature=("id", "status", "created_datetime"),
    fields=(
        Field("ticket_id", ("id",), required=True),
        Field("created_at", ("created_datetime",), "timestamp", required=True),
        Field("solved_at", ("closed_datetime",), "timestamp"),
        Field("snoozed_at", ("snooze_datetime",), "timestamp"),
        Field("updated_at", ("updated_datetime", "last_message_datetime"), "timestamp"),
        Field("status", ("status",)),  # open | closed
        Field("channel", ("channel",)),  # `via` is how the ticket was made (rule, api, ...), not the customer's channel
        Field("assignee", ("assignee_user",)),
        Field("customer_email", ("customer", "customer_email"), "email"),
        Field("subject", ("subject",)),
        Field("tags", ("tags",)),
        Field("satisfaction", ("satisfaction_survey",), "rating"),  # score 1-5
        Field("spam", ("spam",), "bool"),
    ),
    shape=shape_gorgias,
)


# --- Help Scout ---------------------------------------------------------------------------------------------------
def shape_helpscout(typed: Typed, ctx: Context) -> Frames:
    """Spam conversations are left out; a mailbox is the team that answers, read as the group."""
    frame = typed.frame
    if "status" in frame.columns:
        frame = drop_tickets(frame, pl.col("status").str.strip_chars().str.to_lowercase() == "spam", "spam",
                             typed.notes)
    return canonical_tickets(frame, typed, ctx, CHANNELS)


HELPSCOUT = Format(
    source="helpscout",
    kind="tickets",
    label="Help Scout conversations export",
    # Longer than Zendesk's signature: a conversations export with an `Id` column still reads as Help Scout.
    signature=("Mailbox", "Status", "Subject", "Created At"),
    fields=(
        # The number is what agents see and search (#1234); the API id is the fallback.
        Field("ticket_id", ("Conversation Number", "Number", "Conversation ID"), required=True),
        Field("created_at", ("Created At", "Created", "Date Created"), "timestamp", required=True),
        Field("solved_at", ("Closed At", "Closed", "Date Closed"), "timestamp"),
        Field("updated_at", ("Modified At", "Updated At", "Last Modified"), "timestamp"),
        Field("first_reply_at", ("First Response At",), "timestamp"),
        # A plain number is SECONDS (Help Scout's unit); a clock duration ("0:05:30", "1 day 02:00") is read as such.
        Field("first_reply_minutes", ("First Response Time", "First Response Time (seconds)", "Response Time"),
              "seconds"),
        Field("status", ("Status",)),  # active | pending | closed (spam is left out)
        Field("channel", ("Type", "Channel")),  # email | chat | phone
        Field("group_name", ("Mailbox",)),
        Field("assignee", ("Assigned To", "Assignee", "Owner")),
        Field("customer_email", ("Customer Email", "Customer", "Email"), "email"),
        Field("subject", ("Subject",)),
        Field("tags", ("Tags",)),
        Field("agent_replies", ("Replies", "Replies Sent"), "int"),
        Field("satisfaction", ("Rating", "Happiness Rating", "Customer Rating"), "rating"),  # great | okay | not good
    ),
    shape=shape_helpscout,
)

TICKET_FORMATS: tuple[Format, ...] = (
    ZENDESK, ZENDESK_EXPLORE_TIMESTAMPS, ZENDESK_EXPLORE_DATES, FRESHDESK, GORGIAS, HELPSCOUT,
)
