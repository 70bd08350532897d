"""The registry of export formats: built-in declarations, file sets, and formats made from a saved mapping."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from data.basics import ImportRejected
from data.format_types import CHANNELS, Context, Field, Format, SetFormat, Typed, category_candidates_of
from data.formats_orders import ORDER_FORMATS, SET_FORMATS
from data.formats_roster import ROSTER
from data.formats_tickets import TICKET_FORMATS, canonical_tickets
from data.raw_tables import RawTable

FORMATS: tuple[Format, ...] = (*TICKET_FORMATS, *ORDER_FORMATS, ROSTER)
SOURCES: tuple[str, ...] = tuple(dict.fromkeys([f.source for f in FORMATS] + [s.source for s in SET_FORMATS]))


def category_candidates(headers: Sequence[str]) -> list[str]:
    """The columns of a ticket export with these headers that could hold the ticket category, best guess first
    (see :func:`data.format_types.category_candidates_of`); none for a file that is no known ticket export."""
    lookup = {" ".join(h.lower().split()): h for h in headers}
    known = [f for f in FORMATS if f.kind == "tickets" and f.matches(lookup)]
    if not known:
        return []
    return category_candidates_of(max(known, key=lambda f: len(f.signature)), headers)


def split_sets(raws: Sequence[RawTable], source: str) -> tuple[list[tuple[SetFormat, list[RawTable]]],
                                                                list[RawTable]]:
    """Files that belong to a set format go together; the rest are read one by one."""
    sets, singles = [], list(raws)
    for set_format in SET_FORMATS:
        if source not in ("auto", set_format.source):
            continue
        members = [raw for raw in singles if set_format.role_of(raw)]
        if members:
            sets.append((set_format, members))
            singles = [raw for raw in singles if raw not in members]
    return sets, singles


# --- formats from a saved mapping ----------------------------------------------------------------------------------
# What an analyst can map a column to, per kind: target -> (label, kind, required).
MAPPABLE: dict[str, dict[str, tuple[str, str, bool]]] = {
    "tickets": {
        "ticket_id": ("Ticket id", "text", True),
        "created_at": ("Created at", "timestamp", True),
        "first_reply_at": ("First reply at", "timestamp", False),
        "solved_at": ("Solved at", "timestamp", False),
        "updated_at": ("Updated at", "timestamp", False),
        "status": ("Status", "text", False),
        "channel": ("Channel", "text", False),
        "priority": ("Priority", "text", False),
        "category_exported": ("Category or type", "text", False),
        "subject": ("Subject", "text", False),
        "description": ("Description", "text", False),
        "customer_email": ("Customer email (hashed, never stored)", "email", False),
        "order_id": ("Order number", "text", False),
        "assignee": ("Agent", "text", False),
        "group_name": ("Group", "text", False),
        "agent_replies": ("Agent replies", "int", False),
        "reopens": ("Reopens", "int", False),
        "first_reply_minutes": ("First reply time (minutes)", "minutes", False),
        "full_resolution_minutes": ("Resolution time (minutes)", "minutes", False),
        "satisfaction": ("Satisfaction rating", "rating", False),
        "nps_score": ("Likely to recommend (0-10)", "int", False),
        "tags": ("Tags", "text", False),
    },
    "orders": {
        "order_id": ("Order number", "text", True),
        "created_at": ("Ordered at", "timestamp", True),
        "currency": ("Currency", "text", True),
        "gross_sales": ("Gross sales", "money", False),
        "discounts": ("Discounts", "money", False),
        "shipping": ("Shipping", "money", False),
        "taxes": ("Taxes", "money", False),
        "total": ("Total", "money", False),
        "refunded_amount": ("Refunded amount", "money", False),
        "financial_status": ("Payment status", "text", False),
        "fulfillment_status": ("Fulfilment status", "text", False),
        "fulfilled_at": ("Fulfilled at", "timestamp", False),
        "customer_email": ("Customer email (hashed, never stored)", "email", False),
        "shipping_method": ("Shipping method", "text", False),
        "discount_code": ("Discount code", "text", False),
    },
}


def mapped_format(name: str, mapping: dict[str, object]) -> Format:
    """A format from an analyst's saved mapping: {"kind", "columns": {target: header}, "date_order"?}."""
    kind = mapping.get("kind")
    columns = mapping.get("columns")
    if isinstance(columns, dict) and "category" in columns:  # saved before the category was derived
        columns = {("category_exported" if t == "category" else t): h for t, h in columns.items()}
    if kind not in MAPPABLE or not isinstance(columns, dict) or not columns:
        raise ImportRejected(f"mapping {name!r} needs a kind ({' or '.join(MAPPABLE)}) and at least one column")
    fields = MAPPABLE[str(kind)]
    unknown = sorted(set(columns) - set(fields))
    missing = [fields[t][0] for t, (_, _, required) in fields.items() if required and not columns.get(t)]
    if unknown or missing:
        raise ImportRejected(f"mapping {name!r}: " + "; ".join(
            ([f"unknown targets {unknown}"] if unknown else []) + ([f"map {', '.join(missing)}"] if missing else [])))
    declared = tuple(Field(target, (str(header),), fields[target][1], fields[target][2])  # type: ignore[arg-type]
                     for target, header in columns.items() if header)
    order = mapping.get("date_order", "DMY")
    return Format(source=f"mapped:{name}", kind=str(kind), label=f"{name} export (saved mapping)",
                  signature=tuple(str(h) for h in columns.values() if h), fields=declared,
                  shape=_shape_mapped_tickets if kind == "tickets" else _shape_mapped_orders,
                  date_order="MDY" if order == "MDY" else "DMY")


def _shape_mapped_tickets(typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    return canonical_tickets(typed.frame, typed, ctx, CHANNELS)


def _shape_mapped_orders(typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    frame = typed.frame
    stamps = [c for c in ("created_at", "fulfilled_at") if c in frame.columns]
    frame = frame.with_columns(pl.max_horizontal(stamps).alias("updated_at"),
                               pl.col("currency").str.to_uppercase())
    return {"orders": frame}
