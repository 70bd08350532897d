"""The registry of export formats: built-in declarations, file sets, and formats made from a saved mapping."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

import polars as pl

from data.basics import ImportRejected
from data.cast import is_currency_code
from data.format_types import (
    CHANNELS,
    Context,
    Field,
    Format,
    SetFormat,
    Typed,
    category_candidates_of,
    customer_key_from_id,
)
from data.formats_orders import (
    ORDER_FORMATS,
    SET_FORMATS,
    canonical,
    gross_sales,
    order_format,
    shopify_lines,
)
from data.formats_roster import ROSTER
from data.formats_tickets import TICKET_FORMATS, canonical_tickets
from data.formats_traffic import TRAFFIC
from data.raw_tables import RawTable
from data.schema import ORDER_LINES, ORDERS

FORMATS: tuple[Format, ...] = (*TICKET_FORMATS, *ORDER_FORMATS, ROSTER, TRAFFIC)
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
        "customer_id": ("Customer id (hashed, never stored)", "customer_id", False),
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
        "currency": ("Currency", "text", False),  # or one code for the whole file: see mapped_format
        "customer_email": ("Customer email (hashed, never stored)", "email", False),
        "customer_id": ("Customer id (hashed, never stored)", "customer_id", False),
        # a file of one row per line item: the rows of one order number group into an order and its lines
        "sku": ("SKU or stock code (line)", "text", False),
        "product_name": ("Product name (line)", "text", False),
        "quantity": ("Quantity (line)", "int", False),
        "price": ("Unit price (line)", "money", False),
        "vendor": ("Vendor (line)", "text", False),
        "gross_sales": ("Gross sales", "money", False),
        "discounts": ("Discounts", "money", False),
        "shipping": ("Shipping", "money", False),
        "taxes": ("Taxes", "money", False),
        "total": ("Total", "money", False),
        "refunded_amount": ("Refunded amount", "money", False),
        "financial_status": ("Payment status", "text", False),
        "fulfillment_status": ("Fulfilment status", "text", False),
        "fulfilled_at": ("Fulfilled at", "timestamp", False),
        "cancelled_at": ("Cancelled at", "timestamp", False),
        "shipping_method": ("Shipping method", "text", False),
        "discount_code": ("Discount code", "text", False),
    },
}
LINE_TARGETS: tuple[str, ...] = ("sku", "product_name", "quantity", "price", "vendor")


def mapped_format(name: str, mapping: dict[str, object]) -> Format:
    """A format from an analyst's saved mapping: {"kind", "columns": {target: header}, "date_order"?, "currency"?}.

    ``currency`` is the ISO code of every amount in a file of orders that has no currency column.
    """
    kind = mapping.get("kind")
    columns = mapping.get("columns")
    if isinstance(columns, dict) and "category" in columns:  # saved before the category was derived
        columns = {("category_exported" if t == "category" else t): h for t, h in columns.items()}
    if kind not in MAPPABLE or not isinstance(columns, dict) or not columns:
        raise ImportRejected(f"mapping {name!r} needs a kind ({' or '.join(MAPPABLE)}) and at least one column")
    fields = MAPPABLE[str(kind)]
    unknown = sorted(set(columns) - set(fields))
    missing = [fields[t][0] for t, (_, _, required) in fields.items() if required and not columns.get(t)]
    currency = _currency_code(mapping.get("currency"))
    if kind == "orders" and not columns.get("currency") and currency is None:
        missing.append("Currency (a column, or the code every amount is in, such as GBP)")
    if unknown or missing:
        raise ImportRejected(f"mapping {name!r}: " + "; ".join(
            ([f"unknown targets {unknown}"] if unknown else []) + ([f"map {', '.join(missing)}"] if missing else [])))
    declared = tuple(Field(target, (str(header),), fields[target][1], fields[target][2])  # type: ignore[arg-type]
                     for target, header in columns.items() if header)
    order = "MDY" if mapping.get("date_order") == "MDY" else "DMY"
    source, label = f"mapped:{name}", f"{name} export (saved mapping)"
    signature = tuple(str(h) for h in columns.values() if h)
    if kind == "tickets":
        return Format(source=source, kind="tickets", label=label, signature=signature, fields=declared,
                      shape=_shape_mapped_tickets, date_order=order)
    return order_format(source=source, label=label, signature=signature, fields=declared, date_order=order,
                        shape_orders=partial(_shape_mapped_orders, currency=currency))


def _currency_code(value: object) -> str | None:
    """An ISO 4217 code as given ("gbp" -> "GBP"), or None."""
    return value.strip().upper() if isinstance(value, str) and is_currency_code(value) else None


def _shape_mapped_tickets(typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    return canonical_tickets(customer_key_from_id(typed.frame), typed, ctx, CHANNELS)


def _shape_mapped_orders(rows: pl.DataFrame, typed: Typed, ctx: Context, *,
                         currency: str | None) -> dict[str, pl.DataFrame]:
    """Rows of one order number make one order; with line columns mapped, each row is also one of its lines."""
    rows = customer_key_from_id(rows)
    if currency is not None:
        given = pl.col("currency").fill_null(pl.lit(currency)) if "currency" in rows.columns else pl.lit(currency)
        rows = rows.with_columns(given.alias("currency"))
    rows = without_credit_notes(rows, typed.notes)
    lines = shopify_lines(rows) if set(LINE_TARGETS) & set(rows.columns) else None
    order_columns = [c for c in ORDERS.column_names if c in rows.columns and c not in ("order_id", "updated_at")]
    orders = rows.sort("record").group_by("order_id", maintain_order=True).agg(
        pl.col(c).drop_nulls().first() for c in order_columns)
    if "gross_sales" not in orders.columns and lines is not None and {"price", "quantity"} <= set(lines.columns):
        orders = orders.join(gross_sales(lines), on="order_id", how="left")
    stamps = [c for c in ("created_at", "fulfilled_at", "cancelled_at") if c in orders.columns]
    orders = orders.with_columns(pl.max_horizontal(stamps).alias("updated_at"), pl.col("currency").str.to_uppercase())
    frames = {"orders": canonical(orders, ORDERS)}
    if lines is not None:
        frames["order_lines"] = canonical(lines, ORDER_LINES)
    return frames


def without_credit_notes(rows: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    """Orders whose every line has a negative quantity left out, with a note.

    Such an order is a credit note: a cancellation or return (the UCI Online Retail export numbers them "C…").
    It names no order it refunds, so it can neither be an order of its own (it would count as one more order and
    pull down the average order value) nor be netted into the order it undoes. A line with a negative quantity
    inside an order that also has positive lines stays, and nets in that order's gross sales.
    """
    if "quantity" not in rows.columns:
        return rows
    credit = rows.group_by("order_id").agg((pl.col("quantity") < 0).all().alias("credit"))
    credit_notes = credit.filter(pl.col("credit"))["order_id"].sort()
    if credit_notes.len():
        count = credit_notes.len()
        notes.append(f"{count:,} cancellation{'s' if count != 1 else ''} left out ({', '.join(credit_notes.head(5))}"
                     f"{' and more' if count > 5 else ''}): every line has a negative quantity, a credit note that "
                     "does not say which order it refunds, so it is neither counted as an order nor as a refund.")
    return rows.filter(~pl.col("order_id").is_in(credit_notes.to_list()))


# --- guessing a mapping from the header names ------------------------------------------------------------------------
# Per kind and target, names a header goes by, in the words header_words() makes of it, most telling first. A kind's
# own noun at the start of a header is dropped first ("Ticket Status" is the status, "InvoiceDate" the date).
KIND_NOUNS: dict[str, frozenset[str]] = {
    "tickets": frozenset({"ticket", "case", "conversation", "request"}),
    "orders": frozenset({"order", "invoice", "purchase", "lineitem", "line"}),
}
WORD_SYNONYMS: dict[str, str] = {"no": "number", "num": "number", "nr": "number", "nbr": "number", "qty": "quantity",
                                 "amt": "amount", "desc": "description", "canceled": "cancelled",
                                 "fulfilment": "fulfillment", "mail": "email"}
_EMAIL = ("email", "customer email", "email address", "e email", "contact email", "requester email", "buyer email")
_CUSTOMER_ID = ("customer id", "customer number", "client id", "customer", "client", "requester id", "contact id",
                "user id", "buyer id")
GUESSES: dict[str, dict[str, tuple[str, ...]]] = {
    "tickets": {
        "ticket_id": ("id", "number", "ticket", "case", "reference", "key"),
        "created_at": ("created at", "created", "created on", "created time", "created date", "date created",
                       "creation date", "opened", "opened at", "date opened", "submitted at", "received at", "date"),
        "first_reply_at": ("first reply at", "first response at", "first replied at", "first responded at"),
        "solved_at": ("solved at", "resolved at", "closed at", "solved", "resolved", "closed", "date closed",
                      "date resolved", "resolved time", "closed time", "closed date", "resolution date"),
        "updated_at": ("updated at", "updated", "last updated", "modified at", "last modified", "last update time",
                       "updated time", "last activity"),
        "status": ("status", "state"),
        "channel": ("channel", "via", "source", "medium"),
        "priority": ("priority", "urgency", "severity"),
        "category_exported": ("category", "type", "reason", "contact reason", "topic", "issue type"),
        "subject": ("subject", "title", "summary"),
        "description": ("description", "body", "message", "text", "content", "details"),
        "customer_email": _EMAIL,
        "customer_id": _CUSTOMER_ID,
        "order_id": ("order id", "order number", "order", "order reference"),
        "assignee": ("assignee", "agent", "assigned to", "owner", "assignee name", "agent name"),
        "group_name": ("group", "team", "queue", "mailbox", "department", "group name"),
        "agent_replies": ("replies", "agent replies", "number of replies", "agent interactions", "replies sent"),
        "reopens": ("reopens", "reopened", "reopen count", "times reopened", "number of reopens"),
        "first_reply_minutes": ("first reply time", "first response time", "first reply time in minutes",
                                "first reply minutes", "first response minutes", "time to first reply",
                                "time to first response"),
        "full_resolution_minutes": ("resolution time", "full resolution time", "full resolution time in minutes",
                                    "resolution minutes", "time to resolve"),
        "satisfaction": ("satisfaction", "satisfaction rating", "satisfaction score", "csat", "rating",
                         "happiness rating", "customer rating", "survey result", "survey results"),
        "nps_score": ("nps", "nps score", "likely to recommend", "net promoter score"),
        "tags": ("tags", "tag", "labels"),
    },
    "orders": {
        "order_id": ("number", "id", "order", "invoice", "reference"),
        "created_at": ("date", "created at", "created", "ordered at", "placed at", "date created", "created date",
                       "created time", "timestamp", "date of purchase", "purchased at"),
        "currency": ("currency", "currency code", "ccy"),
        "customer_email": _EMAIL,
        "customer_id": _CUSTOMER_ID,
        "sku": ("sku", "stock code", "product code", "item code", "product id", "item id", "article number",
                "product sku", "variant sku", "code"),
        "product_name": ("product name", "product", "item", "item name", "name", "description",
                         "product description", "item description", "title", "product title"),
        "quantity": ("quantity", "units", "items", "quantity ordered", "items sold", "units sold"),
        "price": ("unit price", "price", "item price", "price each", "price per unit", "unit cost", "sale price"),
        "vendor": ("vendor", "brand", "supplier", "seller", "manufacturer"),
        "gross_sales": ("gross sales", "subtotal", "sub total", "gross", "gross amount"),
        "discounts": ("discount", "discounts", "discount amount", "total discount", "total discounts"),
        "shipping": ("shipping", "shipping cost", "shipping amount", "shipping price", "freight", "freight value",
                     "postage", "delivery cost"),
        "taxes": ("tax", "taxes", "vat", "tax amount", "total tax"),
        "total": ("total", "amount", "total amount", "grand total", "total price", "revenue", "value"),
        "refunded_amount": ("refunded amount", "refunded", "refund", "refund amount", "amount refunded"),
        "financial_status": ("status", "financial status", "payment status"),
        "fulfillment_status": ("fulfillment status", "shipping status", "delivery status", "shipment status"),
        "fulfilled_at": ("fulfilled at", "fulfilled", "shipped at", "shipped", "ship date", "shipped date",
                         "dispatched at", "fulfillment date"),
        "cancelled_at": ("cancelled at", "cancelled", "cancellation date", "cancel date"),
        "shipping_method": ("shipping method", "delivery method", "shipping service", "carrier", "ship mode"),
        "discount_code": ("discount code", "coupon", "coupons", "coupon code", "promo code", "voucher"),
    },
}
# A header with one of these words says something the plain name does not: "First reply time in minutes within
# business hours" is not the calendar first reply time.
QUALIFYING_WORDS: frozenset[str] = frozenset({"business"})


def header_words(header: str, kind: str) -> str:
    """A header as plain lower-case words: "InvoiceNo" -> "number" (orders), "Ticket Status" -> "status" (tickets),
    "CustomerID" -> "customer id", "Order #" -> "number"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", header)  # camelCase
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)  # "SKUCode"
    words = [WORD_SYNONYMS.get(w, w) for w in re.findall(r"[a-z0-9]+", spaced.replace("#", " number ").lower())]
    while len(words) > 1 and words[0] in KIND_NOUNS[kind]:
        words = words[1:]
    return " ".join(words)


def guess_mapping(kind: str, headers: Sequence[str]) -> dict[str, str]:
    """target -> the header that most likely holds it, for the kind's mappable targets; each header used once.

    A header whose words are one of the target's names wins over one that only contains a name of two or more
    words ("Customer Satisfaction Rating" contains "satisfaction rating"); among equals, the earlier name.
    """
    candidates = []
    for position, (target, names) in enumerate(GUESSES[kind].items()):
        for header in headers:
            rank = _name_rank(header_words(header, kind), names)
            if rank is not None:
                candidates.append((rank, position, target, header))
    guessed: dict[str, str] = {}
    for _, _, target, header in sorted(candidates):
        if target not in guessed and header not in guessed.values():
            guessed[target] = header
    return {target: guessed[target] for target in GUESSES[kind] if target in guessed}


def _name_rank(words: str, names: Sequence[str]) -> tuple[int, int] | None:
    exact = [i for i, name in enumerate(names) if words == name]
    if exact:
        return 0, exact[0]
    if QUALIFYING_WORDS & set(words.split()):
        return None
    inside = [i for i, name in enumerate(names) if " " in name and f" {name} " in f" {words} "]
    return (1, inside[0]) if inside else None


def guess_kind(headers: Sequence[str]) -> str:
    """The kind whose required targets the headers hold; of those (or of none), the one with more guessed."""
    def fit(kind: str) -> tuple[bool, int]:
        guessed = guess_mapping(kind, headers)
        required = [t for t, (_, _, needed) in MAPPABLE[kind].items() if needed]
        return all(t in guessed for t in required), len(guessed)

    return max(MAPPABLE, key=fit)  # the first kind (tickets) on a tie
