"""Order exports: Shopify's orders CSV, WooCommerce's Analytics orders report, and Olist's set of files.

Shopify and WooCommerce spread one order over several rows (line items; an order and its refunds). A cell that
cannot be read must leave out the whole order, not one row of it, or the order would be imported with a line or a
refund missing and wrong sums. The shared machinery drops unreadable rows before the shape step, and with them the
order number that says which order they belonged to, so these two formats declare every column as text and cast
them in their shape step (with the same casts, the same problem reports and the same date-order detection), where
the order number of an unreadable row is still at hand.

Choices a person may want to know about:

- Shopify: ``gross_sales`` is Σ line price × quantity (empty if a line lacks either); the order fields come from
  each order's first row; ``updated_at`` is the latest of created, paid, fulfilled and cancelled; the email becomes
  a salted ``customer_key`` and is dropped. Names, addresses, phones and notes are never read.
- WooCommerce: the report has only net sales (after coupons, without shipping and tax), so ``gross_sales`` holds
  that amount and ``discounts``, ``shipping``, ``taxes`` and ``total`` stay empty. The currency is the one the
  formatted amount names (€, £, "USD", "R$", ...); "$" and other shared symbols name none, and those orders are read
  as :data:`WOOCOMMERCE_DEFAULT_CURRENCY`, with a note. ``Product(s)`` becomes order lines: WooCommerce writes
  ``2× Mug, 1× Towel`` and is split before each ``N×``, so product names may contain commas; a cell without those
  quantities is split on ", " and only a single product gets a quantity (``Items sold``). Lines have no prices.
  Customer names are never read, so these orders have no ``customer_key``.
- Olist: times are São Paulo wall clock, money is BRL. Olist records no cancellation time: a cancelled order's
  last recorded event stands in for it. ``total`` is what was paid, or gross sales + shipping without payments.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import polars as pl

from data.basics import POLARS_TYPES, ImportRejected
from data.cast import Problem, currency_symbol
from data.format_types import (
    Context,
    Field,
    Format,
    SetFormat,
    SetReading,
    Typed,
    type_columns,
    vocabulary,
)
from data.privacy import customer_keys
from data.raw_tables import RawTable, header_lookup
from data.schema import ORDER_LINES, ORDERS, REVIEWS, Table

OrderShape = Callable[[pl.DataFrame, Typed, Context], dict[str, pl.DataFrame]]


# --- orders read whole ---------------------------------------------------------------------------------------------


def order_format(*, source: str, label: str, signature: tuple[str, ...], fields: tuple[Field, ...],
                 shape_orders: OrderShape, date_order: Literal["DMY", "MDY"] = "DMY") -> Format:
    """A format whose columns arrive as text and are cast order by order in its shape step."""

    def shape(typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
        return shape_orders(cast_whole_orders(typed, cast_format, ctx), typed, ctx)

    cast_format = Format(source=source, kind="orders", label=label, signature=signature, fields=fields, shape=shape,
                         date_order=date_order)
    return replace(cast_format, fields=tuple(replace(f, kind="text") for f in fields))


def cast_whole_orders(typed: Typed, cast_format: Format, ctx: Context) -> pl.DataFrame:
    """Cast the text columns by their declared kinds; every row of an order with an unreadable cell is left out.

    The rows left out, their problems and notes go into ``typed``; the readable rows are returned in file order.
    """
    present = tuple(f for f in cast_format.fields if typed.has(f.target))
    cells = typed.frame.select(pl.col(f.target).alias(f.headers[0]) for f in present)
    cast = type_columns(replace(cast_format, fields=present), _cells_table(cells), ctx)
    records = typed.frame["record"]  # the text step rejects nothing, but map positions back to records anyway
    problems = [replace(p, record=records[p.record - 1]) for p in cast.problems]
    frame = cast.frame.with_columns(record=records.gather(cast.frame["record"] - 1))
    keys = typed.frame.select("record", "order_id")
    unreadable = {records[r - 1] for r in cast.rejected} | _blank_order_ids(keys, present, problems)
    unreadable |= _orders_missing_values(frame, keys, unreadable, present, problems)
    typed.problems.extend(problems)
    typed.problems.sort(key=lambda p: p.record)
    typed.notes.extend(cast.notes)
    typed.naive_times |= cast.naive_times
    left_out = _leave_out_orders(typed, keys, unreadable)
    return frame.filter(~pl.col("record").is_in(left_out))


def _leave_out_orders(typed: Typed, keys: pl.DataFrame, unreadable: set[int]) -> list[int]:
    """Every record of an order that has an unreadable record, added to the rejected ones and noted."""
    bad_orders = keys.filter(pl.col("record").is_in(sorted(unreadable)))["order_id"].drop_nulls().unique().sort()
    left_out = keys.filter(pl.col("record").is_in(sorted(unreadable)) | pl.col("order_id").is_in(bad_orders.to_list()))
    records = left_out["record"].to_list()
    typed.rejected.update(records)
    if bad_orders.len():
        typed.notes.append(f"{_count(bad_orders.len(), 'order')} ({_count(len(records), 'row')}) left out whole for "
                           f"the problems listed on their rows: {_examples(bad_orders)}")
    return records


def _cells_table(cells: pl.DataFrame) -> RawTable:
    return RawTable(file_name="", frame=cells, sha256="", encoding="utf-8", delimiter=",", notes=())


def _blank_order_ids(keys: pl.DataFrame, fields: Sequence[Field], problems: list[Problem]) -> set[int]:
    header = next(f.headers[0] for f in fields if f.target == "order_id")
    blank = keys.filter(pl.col("order_id").is_null())["record"].to_list()
    problems.extend(Problem(record, header, "", "empty; every row needs its order number") for record in blank)
    return set(blank)


def _orders_missing_values(frame: pl.DataFrame, keys: pl.DataFrame, unreadable: set[int], fields: Sequence[Field],
                           problems: list[Problem]) -> set[int]:
    """First records of orders that have a required field empty on every row (reported once, on that record)."""
    required = [f for f in fields if f.required and f.target != "order_id"]
    bad_orders = keys.filter(pl.col("record").is_in(sorted(unreadable)))["order_id"].drop_nulls().to_list()
    candidates = frame.filter(pl.col("order_id").is_not_null() & ~pl.col("order_id").is_in(bad_orders))
    found = set()
    for f in required:
        missing = (candidates.group_by("order_id").agg(pl.col("record").min(), pl.col(f.target).is_not_null().any())
                   .filter(~pl.col(f.target)).sort("record"))
        problems.extend(Problem(r, f.headers[0], "", "empty on every row of the order; an order needs it")
                        for r in missing["record"])
        found.update(missing["record"].to_list())
    return found


def canonical(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Exactly the table's columns in its types, empty where the export has nothing; anything else (emails) dropped.

    ``source`` is left to the caller and ``import_id`` to the import.
    """
    columns = [c for c in table.column_names if c not in ("source", "import_id")]
    return frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(POLARS_TYPES[table.types[c]]).alias(c)
        for c in columns)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _examples(values: pl.Series, limit: int = 5) -> str:
    shown = ", ".join(str(v) for v in values.head(limit).to_list())
    return shown + (f" and {values.len() - limit:,} more" if values.len() > limit else "")


def unescape_html(values: pl.Series) -> pl.Series:
    """HTML entities decoded (``&amp;`` -> ``&``), each distinct value once."""
    distinct = values.drop_nulls().unique().to_list()
    mapping = {v: html.unescape(v) for v in distinct if "&" in v}
    return values.replace(mapping) if mapping else values


# --- Shopify -------------------------------------------------------------------------------------------------------

SHOPIFY_FIELDS: tuple[Field, ...] = (
    Field("order_id", ("Name",), required=True),
    Field("email", ("Email",), "email"),
    Field("financial_status", ("Financial Status",)),
    Field("paid_at", ("Paid at",), "timestamp"),
    Field("fulfillment_status", ("Fulfillment Status",)),
    Field("fulfilled_at", ("Fulfilled at",), "timestamp"),
    Field("currency", ("Currency",), required=True),
    Field("shipping", ("Shipping",), "money"),
    Field("taxes", ("Taxes",), "money"),
    Field("total", ("Total",), "money"),
    Field("discount_code", ("Discount Code",)),
    Field("discounts", ("Discount Amount",), "money"),
    Field("shipping_method", ("Shipping Method",)),
    Field("created_at", ("Created at",), "timestamp", required=True),
    Field("quantity", ("Lineitem quantity",), "int"),
    Field("product_name", ("Lineitem name",)),
    Field("price", ("Lineitem price",), "money"),
    Field("sku", ("Lineitem sku",)),
    Field("cancelled_at", ("Cancelled at",), "timestamp"),
    Field("refunded_amount", ("Refunded Amount",), "money"),
    Field("vendor", ("Vendor",)),
    Field("country", ("Shipping Country", "Billing Country")),
    Field("sales_channel", ("Source",)),
)
# Filled on an order's first row only; continuation rows leave them blank (some exports repeat a few).
SHOPIFY_ORDER_COLUMNS: tuple[str, ...] = (
    "customer_key", "financial_status", "paid_at", "fulfillment_status", "fulfilled_at", "currency", "shipping",
    "taxes", "total", "discount_code", "discounts", "shipping_method", "created_at", "cancelled_at",
    "refunded_amount", "country", "sales_channel",
)
SHOPIFY_FINANCIAL: dict[str, str] = {
    "paid": "paid", "pending": "pending", "authorized": "pending", "partially_paid": "pending",
    "refunded": "refunded", "partially_refunded": "partially_refunded", "voided": "voided", "expired": "voided",
}
# "restocked": the items went back to stock (a cancelled or returned order), so nothing is out for delivery.
SHOPIFY_FULFILLMENT: dict[str, str] = {"fulfilled": "fulfilled", "partial": "partial", "unfulfilled": "unfulfilled",
                                       "restocked": "unfulfilled", "pending": "unfulfilled"}


def _shape_shopify(rows: pl.DataFrame, typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    lines = shopify_lines(rows)
    orders = shopify_orders(rows, lines, ctx, typed.notes)
    return {"orders": canonical(orders, ORDERS), "order_lines": canonical(lines, ORDER_LINES)}


def shopify_lines(rows: pl.DataFrame) -> pl.DataFrame:
    """Every row is a line item; its number is its position within the order, in file order."""
    return rows.sort("record").with_columns(
        line_number=pl.int_range(1, pl.len() + 1).over("order_id"),
        currency=pl.col("currency").drop_nulls().first().over("order_id"),
    )


def shopify_orders(rows: pl.DataFrame, lines: pl.DataFrame, ctx: Context, notes: list[str]) -> pl.DataFrame:
    present = [c for c in SHOPIFY_ORDER_COLUMNS if c in rows.columns]
    orders = rows.sort("record").group_by("order_id", maintain_order=True).agg(
        pl.col(c).drop_nulls().first() for c in present)
    if {"price", "quantity"} <= set(lines.columns):
        orders = orders.join(gross_sales(lines), on="order_id", how="left")
    if "financial_status" in orders.columns:
        orders = orders.with_columns(vocabulary(orders["financial_status"], SHOPIFY_FINANCIAL, "pending",
                                                "Shopify financial statuses", notes).alias("financial_status"))
    if "fulfillment_status" in orders.columns:
        orders = orders.with_columns(vocabulary(orders["fulfillment_status"], SHOPIFY_FULFILLMENT, "unfulfilled",
                                                "Shopify fulfillment statuses", notes).alias("fulfillment_status"))
    stamps = [c for c in ("created_at", "paid_at", "fulfilled_at", "cancelled_at") if c in orders.columns]
    return orders.with_columns(pl.max_horizontal(stamps).alias("updated_at"), pl.col("currency").str.to_uppercase())


def gross_sales(lines: pl.DataFrame) -> pl.DataFrame:
    """Σ price × quantity per order; empty when a line lacks either (a partial sum would understate it)."""
    amount = pl.col("price") * pl.col("quantity")
    return lines.group_by("order_id").agg(pl.when(amount.null_count() == 0).then(amount.sum()).alias("gross_sales"))


SHOPIFY = order_format(
    source="shopify", label="Shopify orders export", signature=("Name", "Created at", "Lineitem name"),
    fields=SHOPIFY_FIELDS, shape_orders=_shape_shopify, date_order="DMY",
)


# --- WooCommerce ---------------------------------------------------------------------------------------------------

WOOCOMMERCE_DEFAULT_CURRENCY = "USD"  # WooCommerce's default store currency; "$" alone cannot say which dollar
WOOCOMMERCE_FIELDS: tuple[Field, ...] = (
    Field("created_at", ("Date",), "timestamp", required=True),
    Field("order_id", ("Order #",), required=True),
    Field("revenue_formatted", ("N. Revenue (formatted)",)),
    Field("status", ("Status",)),
    Field("products", ("Product(s)",)),
    Field("items_sold", ("Items sold",), "int"),
    Field("coupons", ("Coupon(s)",)),
    Field("revenue", ("N. Revenue", "Net Sales"), "money", required=True),
)
WOOCOMMERCE_FINANCIAL: dict[str, str] = {
    "completed": "paid", "processing": "paid", "on-hold": "pending", "on hold": "pending", "pending": "pending",
    "pending payment": "pending", "checkout-draft": "pending", "draft": "pending", "cancelled": "voided",
    "failed": "voided", "refunded": "refunded",
}
_QUANTITY_AND_NAME = re.compile(r"([0-9]+)\s*×\s*(.+)", re.DOTALL)
_BEFORE_QUANTITY = re.compile(r", (?=[0-9]+\s*× )")


def _shape_woocommerce(rows: pl.DataFrame, typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    rows = rows.sort("record").with_columns(is_refund=_is_refund(rows))
    sales, refunds = rows.filter(~pl.col("is_refund")), rows.filter(pl.col("is_refund"))
    orders = sales.unique("order_id", keep="first", maintain_order=True)
    _note_left_out(sales, orders, refunds, typed.notes)
    orders = orders.join(refund_totals(refunds), on="order_id", how="left")
    orders = woocommerce_orders(orders, typed.notes)
    lines = woocommerce_lines(orders)
    return {"orders": canonical(orders, ORDERS), "order_lines": canonical(lines, ORDER_LINES)}


def _is_refund(rows: pl.DataFrame) -> pl.Expr:
    negative = pl.col("revenue") < 0
    if "items_sold" in rows.columns:
        negative = negative | (pl.col("items_sold") < 0)
    return negative.fill_null(False)


def _note_left_out(sales: pl.DataFrame, orders: pl.DataFrame, refunds: pl.DataFrame, notes: list[str]) -> None:
    repeated = sales.height - orders.height
    if repeated:
        notes.append(f"Rows repeating an order number already read were left out, the first row kept "
                     f"({_count(repeated, 'row')})")
    orphans = refunds.join(orders, on="order_id", how="anti")["order_id"].unique(maintain_order=True)
    if orphans.len():
        notes.append(f"{_count(orphans.len(), 'refund')} of orders that are not in this export left out "
                     f"(export a date range that includes the orders): {_examples(orphans)}")


def refund_totals(refunds: pl.DataFrame) -> pl.DataFrame:
    """Per order: the refunded amount (refund rows carry negative revenue) and the last refund's date."""
    return refunds.group_by("order_id").agg((-pl.col("revenue").sum()).alias("refunded"),
                                            pl.col("created_at").max().alias("refunded_at"))


def woocommerce_orders(orders: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    orders = orders.with_columns(status_word=_status_words(orders))
    status = _woocommerce_status(orders["status_word"], notes)
    word, refunded = pl.col("status_word"), pl.col("refunded")
    return orders.with_columns(
        currency=woocommerce_currency(orders, notes),
        gross_sales=pl.col("revenue"),
        # a refunded order whose refund rows are outside the export: the amount is unknown, not zero
        refunded_amount=pl.when(refunded.is_not_null()).then(refunded)
        .when(status != "refunded").then(pl.lit(0, pl.Decimal(18, 2))),
        financial_status=pl.when(refunded >= pl.col("revenue")).then(pl.lit("refunded"))
        .when(refunded > 0).then(pl.lit("partially_refunded")).otherwise(status),
        # completed orders were delivered; whether a refunded one was is unknown; the others were not yet
        fulfillment_status=pl.when(word == "completed").then(pl.lit("fulfilled"))
        .when(word.is_in(["processing", "on-hold", "on hold", "pending", "pending payment"]))
        .then(pl.lit("unfulfilled")),
        discount_code=unescape_html(orders["coupons"]) if "coupons" in orders.columns else pl.lit(None, pl.String),
        updated_at=pl.max_horizontal("created_at", "refunded_at"),
    )


def _status_words(orders: pl.DataFrame) -> pl.Expr:
    if "status" not in orders.columns:
        return pl.lit(None, pl.String)
    return pl.col("status").str.to_lowercase().str.strip_prefix("wc-")


def _woocommerce_status(words: pl.Series, notes: list[str]) -> pl.Series:
    if words.null_count() == words.len():  # no Status column: the report lists paid orders by default
        return pl.Series("status", ["paid"] * words.len(), pl.String)
    return vocabulary(words, WOOCOMMERCE_FINANCIAL, "pending", "WooCommerce order statuses", notes)


def woocommerce_currency(orders: pl.DataFrame, notes: list[str]) -> pl.Series:
    """The currency each formatted amount names; the default (with a note) where it names none."""
    if "revenue_formatted" not in orders.columns:
        notes.append(f"No 'N. Revenue (formatted)' column names the currency; read as {WOOCOMMERCE_DEFAULT_CURRENCY}.")
        return pl.Series("currency", [WOOCOMMERCE_DEFAULT_CURRENCY] * orders.height, pl.String)
    formatted = unescape_html(orders["revenue_formatted"])
    named = currency_symbol(formatted)
    unnamed = formatted.filter(named.is_null()).drop_nulls().unique(maintain_order=True)
    if named.null_count():
        notes.append(f"The currency of {_count(named.null_count(), 'order')} is not named, or its symbol is shared by "
                     f"several currencies (e.g. {_examples(unnamed, 3)}): read as {WOOCOMMERCE_DEFAULT_CURRENCY}.")
    return named.fill_null(WOOCOMMERCE_DEFAULT_CURRENCY).alias("currency")


def woocommerce_lines(orders: pl.DataFrame) -> pl.DataFrame:
    """One line per product in ``Product(s)``; WooCommerce gives no line prices or SKUs."""
    cells = orders.select("order_id", _column_or_null(orders, "products"), _column_or_null(orders, "items_sold"),
                          "currency")
    rows = [
        (order_id, number, name, quantity, currency)
        for order_id, products, items_sold, currency in cells.iter_rows()
        for number, (quantity, name) in enumerate(split_products(products, items_sold), 1)
    ]
    schema = {"order_id": pl.String, "line_number": pl.Int32, "product_name": pl.String, "quantity": pl.Int32,
              "currency": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _column_or_null(frame: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column) if column in frame.columns else pl.lit(None).alias(column)


def split_products(cell: str | None, items_sold: int | None) -> list[tuple[int | None, str]]:
    """``2× Mug &amp; Saucer, 1× Towel`` -> [(2, "Mug & Saucer"), (1, "Towel")]; see the module notes."""
    if not cell:
        return []
    text = html.unescape(cell)
    if _QUANTITY_AND_NAME.match(text):
        parts = [_QUANTITY_AND_NAME.fullmatch(part.strip()) for part in _BEFORE_QUANTITY.split(text)]
        return [(int(m.group(1)), m.group(2).strip()) for m in parts if m]
    names = [name.strip() for name in text.split(", ") if name.strip()]
    return [(items_sold if len(names) == 1 else None, name) for name in names]


WOOCOMMERCE = order_format(
    source="woocommerce", label="WooCommerce Analytics orders export", signature=("Date", "Order #", "Items sold"),
    fields=WOOCOMMERCE_FIELDS, shape_orders=_shape_woocommerce, date_order="MDY",
)

ORDER_FORMATS: tuple[Format, ...] = (SHOPIFY, WOOCOMMERCE)


# --- Olist ---------------------------------------------------------------------------------------------------------

OLIST_TZ = "America/Sao_Paulo"
OLIST_CURRENCY = "BRL"
OLIST_STAMP = "%Y-%m-%d %H:%M:%S"
OLIST_MEMBERS: dict[str, tuple[str, ...]] = {  # role -> headers that identify the file (lower case)
    "orders": ("order_id", "customer_id", "order_status", "order_purchase_timestamp"),
    "items": ("order_id", "order_item_id", "product_id", "seller_id", "price", "freight_value"),
    "payments": ("order_id", "payment_sequential", "payment_value"),
    "reviews": ("review_id", "order_id", "review_score", "review_creation_date"),
    "customers": ("customer_id", "customer_unique_id"),
    "products": ("product_id", "product_category_name"),
    "category_translation": ("product_category_name", "product_category_name_english"),
    "sellers": ("seller_id", "seller_zip_code_prefix"),
    "geolocation": ("geolocation_zip_code_prefix", "geolocation_lat"),
}
OLIST_FIELDS: dict[str, tuple[Field, ...]] = {
    "orders": (
        Field("order_id", ("order_id",), required=True),
        Field("customer_id", ("customer_id",)),
        Field("order_status", ("order_status",)),
        Field("created_at", ("order_purchase_timestamp",), "timestamp", required=True),
        Field("approved_at", ("order_approved_at",), "timestamp"),
        Field("carrier_at", ("order_delivered_carrier_date",), "timestamp"),
        Field("delivered_at", ("order_delivered_customer_date",), "timestamp"),
    ),
    "items": (
        Field("order_id", ("order_id",), required=True),
        Field("line_number", ("order_item_id",), "int", required=True),
        Field("sku", ("product_id",)),
        Field("vendor", ("seller_id",)),
        Field("price", ("price",), "money"),
        Field("freight", ("freight_value",), "money"),
    ),
    "payments": (
        Field("order_id", ("order_id",), required=True),
        Field("payment_value", ("payment_value",), "money"),
    ),
    "reviews": (
        Field("review_id", ("review_id",), required=True),
        Field("order_id", ("order_id",), required=True),
        Field("score", ("review_score",), "int"),
        Field("title", ("review_comment_title",)),
        Field("message", ("review_comment_message",)),
        Field("created_at", ("review_creation_date",), "timestamp", required=True),
        Field("answered_at", ("review_answer_timestamp",), "timestamp"),
    ),
    "customers": (
        Field("customer_id", ("customer_id",), required=True),
        Field("customer_unique_id", ("customer_unique_id",), required=True),
    ),
}
# An order is only right with all its items and payments: one unreadable row of these leaves the order out.
OLIST_ORDER_PARTS = ("items", "payments")
OLIST_MISSING_NOTES: dict[str, str] = {
    "items": "no order items file (olist_order_items_dataset.csv): orders have no lines, gross sales or shipping",
    "payments": "no payments file (olist_order_payments_dataset.csv): totals are gross sales + shipping",
    "customers": "no customers file (olist_customers_dataset.csv): orders cannot be tied to a person",
    "reviews": "no reviews file (olist_order_reviews_dataset.csv): no reviews imported",
}


@dataclass
class OlistMember:
    """One role's readable rows (from one or more files) and the orders its unreadable rows belong to."""

    frame: pl.DataFrame
    unreadable_orders: set[str] = field(default_factory=set)
    rejected: int = 0


def read_olist(raws: list[RawTable], ctx: Context) -> SetReading:
    files = olist_roles(raws)
    if "orders" not in files:
        names = ", ".join(raw.file_name for raw in raws)
        raise ImportRejected(f"{names}: an Olist set needs its orders file (olist_orders_dataset.csv, with columns "
                             f"{', '.join(OLIST_MEMBERS['orders'])})")
    reading = SetReading(frames={}, rows_read=sum(raw.frame.height for raw in files["orders"]))
    members = {role: read_member(role, files[role], ctx, reading) for role in OLIST_FIELDS if role in files}
    _note_files(files, reading.notes)
    unreadable = set().union(*(members[r].unreadable_orders for r in ("orders", *OLIST_ORDER_PARTS) if r in members))
    reading.rejected_rows = _olist_rejected(members, unreadable)
    _note_unreadable_orders(unreadable, reading.notes)
    orders = members["orders"].frame.filter(~pl.col("order_id").is_in(sorted(unreadable)))
    known = set(members["orders"].frame["order_id"].to_list()) | members["orders"].unreadable_orders
    parts = {role: _of_known_orders(role, m.frame, known, unreadable, reading.notes) for role, m in members.items()
             if role in ("items", "payments", "reviews")}
    frames = {"orders": canonical(olist_orders(orders, parts, members.get("customers"), ctx, reading.notes), ORDERS)}
    if "items" in parts:
        frames["order_lines"] = canonical(olist_lines(parts["items"]), ORDER_LINES)
    if "reviews" in parts:
        frames["reviews"] = canonical(olist_reviews(parts["reviews"]), REVIEWS)
    # planning (data.plans) names the source of single files only; a set names its own
    reading.frames = {name: frame.with_columns(source=pl.lit("olist")) for name, frame in frames.items()}
    reading.problems.sort(key=lambda p: (p.column.split(": ")[0], p.record))
    return reading


def olist_roles(raws: Iterable[RawTable]) -> dict[str, list[RawTable]]:
    files: dict[str, list[RawTable]] = {}
    for raw in raws:
        role = OLIST.role_of(raw)
        if role:
            files.setdefault(role, []).append(raw)
    return files


def _note_files(files: dict[str, list[RawTable]], notes: list[str]) -> None:
    notes.extend(f"Olist set: {note}" for role, note in OLIST_MISSING_NOTES.items() if role not in files)
    unused = [raw.file_name for role, raws in files.items() if role not in OLIST_FIELDS for raw in raws]
    if unused:
        notes.append(f"Olist set: {', '.join(unused)} recognised as part of the set; CS Pulse stores nothing from them")


def read_member(role: str, raws: list[RawTable], ctx: Context, reading: SetReading) -> OlistMember:
    """Type one role's files; problems name the file, and unreadable rows name the order they belong to."""
    fmt = Format(source="olist", kind="orders", label=f"Olist {role}", signature=OLIST_MEMBERS[role],
                 fields=OLIST_FIELDS[role], shape=_shaped_as_a_set, tz=OLIST_TZ)
    frames, unreadable, rejected = [], set(), 0
    for raw in raws:
        shifted = shift_skipped_hour(raw, fmt.fields, reading.notes)
        typed = type_columns(fmt, shifted, ctx)
        _check_values(role, typed)
        bad = sorted(typed.rejected)
        rejected += len(bad)
        unreadable |= _order_ids_of(raw, bad)
        reading.problems.extend(replace(p, column=f"{raw.file_name}: {p.column}") for p in typed.problems)
        reading.notes.extend(f"{raw.file_name}: {note}" for note in (*raw.notes, *typed.notes))
        frames.append(typed.frame.filter(~pl.col("record").is_in(bad)))
    return OlistMember(pl.concat(frames, how="diagonal_relaxed"), unreadable, rejected)


def _shaped_as_a_set(typed: Typed, ctx: Context) -> dict[str, pl.DataFrame]:
    raise NotImplementedError("Olist files are shaped together by read_olist")


def shift_skipped_hour(raw: RawTable, fields: Sequence[Field], notes: list[str]) -> RawTable:
    """Times in the hour São Paulo skipped at DST start (until 2019, at midnight) read one hour later.

    Olist writes review dates as midnight, and on those days midnight did not exist; a clock that had not
    switched yet is the likeliest reading of any other time in that hour.
    """
    lookup, columns, shifted = header_lookup(raw.frame), {}, 0
    for f in fields:
        header = lookup.get(f.headers[0])
        if f.kind != "timestamp" or header is None:
            continue
        wall = raw.frame[header].str.strip_chars().str.strptime(pl.Datetime("us"), OLIST_STAMP, strict=False)
        local = wall.dt.replace_time_zone(OLIST_TZ, ambiguous="earliest", non_existent="null")
        skipped = wall.is_not_null() & local.is_null()
        if skipped.any():
            later = (wall + pl.duration(hours=1)).dt.strftime(OLIST_STAMP)
            columns[header] = pl.select(pl.when(skipped).then(later).otherwise(raw.frame[header])).to_series()
            shifted += int(skipped.sum())
    if not shifted:
        return raw
    notes.append(f"{raw.file_name}: {_count(shifted, 'time')} in the hour São Paulo clocks skipped at daylight "
                 "saving read one hour later")
    return replace(raw, frame=raw.frame.with_columns(pl.Series(h, s) for h, s in columns.items()))


def _check_values(role: str, typed: Typed) -> None:
    """Required values present and review scores 1-5; rows failing either join the rejected ones."""
    for f in OLIST_FIELDS[role]:
        if f.required and typed.has(f.target):
            _reject_where(typed, pl.col(f.target).is_null(), f.headers[0], None, "empty; a value is needed")
    if role == "reviews" and typed.has("score"):
        _reject_where(typed, ~pl.col("score").is_between(1, 5), "review_score", "score", "not a score from 1 to 5")
    typed.problems.sort(key=lambda p: p.record)


def _reject_where(typed: Typed, failing: pl.Expr, header: str, value_column: str | None, why: str) -> None:
    bad = typed.frame.filter(failing.fill_null(False) & ~pl.col("record").is_in(sorted(typed.rejected)))
    values = bad[value_column].cast(pl.String) if value_column else pl.Series([""] * bad.height)
    typed.problems.extend(Problem(int(r), header, v, why) for r, v in zip(bad["record"], values, strict=True))
    typed.rejected.update(bad["record"].to_list())


def _order_ids_of(raw: RawTable, records: list[int]) -> set[str]:
    header = header_lookup(raw.frame).get("order_id")
    if header is None or not records:
        return set()
    ids = raw.frame[header].gather([r - 1 for r in records]).str.strip_chars()
    return set(ids.drop_nulls().to_list()) - {""}


def _olist_rejected(members: dict[str, OlistMember], unreadable: set[str]) -> int:
    """Records left out for an unreadable cell: their own, or one in a record of the same order."""
    rejected = sum(m.rejected for m in members.values())
    for role in ("orders", *OLIST_ORDER_PARTS, "reviews"):
        if role in members:
            rejected += members[role].frame.filter(pl.col("order_id").is_in(sorted(unreadable))).height
    return rejected


def _note_unreadable_orders(unreadable: set[str], notes: list[str]) -> None:
    if unreadable:
        orders = _examples(pl.Series(sorted(unreadable)))
        notes.append(f"{_count(len(unreadable), 'order')} left out with all their items, payments and reviews "
                     f"because a cell in one of their records cannot be read: {orders}")


def _of_known_orders(role: str, frame: pl.DataFrame, known: set[str], unreadable: set[str],
                     notes: list[str]) -> pl.DataFrame:
    """Rows of orders in the orders file; those of other orders are left out with a note."""
    orphans = frame.filter(~pl.col("order_id").is_in(sorted(known)))
    if orphans.height:
        notes.append(f"Olist set: {_count(orphans.height, role.removesuffix('s'))} of orders that are not in the "
                     f"orders file left out: {_examples(orphans['order_id'].unique(maintain_order=True))}")
    return frame.filter(pl.col("order_id").is_in(sorted(known - unreadable)))


def olist_orders(orders: pl.DataFrame, parts: dict[str, pl.DataFrame], customers: OlistMember | None, ctx: Context,
                 notes: list[str]) -> pl.DataFrame:
    orders = _with_sums(orders, parts)
    orders = _with_customer_keys(orders, customers, ctx, notes)
    status = pl.col("order_status").str.to_lowercase()
    stamps = [c for c in ("created_at", "approved_at", "carrier_at", "delivered_at") if c in orders.columns]
    last_event = pl.max_horizontal(stamps)
    shipped = pl.col("carrier_at").is_not_null() | status.is_in(["shipped", "delivered"]).fill_null(False)
    return orders.with_columns(
        currency=pl.lit(OLIST_CURRENCY),
        financial_status=pl.when(status == "canceled").then(pl.lit("voided")).otherwise(pl.lit("paid")),
        fulfillment_status=pl.when(shipped).then(pl.lit("fulfilled")).otherwise(pl.lit("unfulfilled")),
        fulfilled_at=pl.col("carrier_at"),
        cancelled_at=pl.when(status == "canceled").then(last_event),
        updated_at=last_event,
    )


def _with_sums(orders: pl.DataFrame, parts: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Gross sales and shipping from the items (0 for an order without items), total from the payments."""
    money = pl.Decimal(18, 2)
    if "items" in parts:
        sums = parts["items"].group_by("order_id").agg(_complete_sum("price").alias("gross_sales"),
                                                       _complete_sum("freight").alias("shipping"),
                                                       pl.len().alias("items"))
        orders = orders.join(sums, on="order_id", how="left").with_columns(
            pl.when(pl.col("items").is_null()).then(pl.lit(0, money)).otherwise(pl.col(c)).alias(c)
            for c in ("gross_sales", "shipping"))
    else:
        orders = orders.with_columns(gross_sales=pl.lit(None, money), shipping=pl.lit(None, money))
    paid = pl.lit(None, money)
    if "payments" in parts:
        payments = parts["payments"].group_by("order_id").agg(_complete_sum("payment_value").alias("paid"))
        orders = orders.join(payments, on="order_id", how="left")
        paid = pl.col("paid")
    return orders.with_columns(total=pl.coalesce(paid, pl.col("gross_sales") + pl.col("shipping")))


def _complete_sum(column: str) -> pl.Expr:
    return pl.when(pl.col(column).null_count() == 0).then(pl.col(column).sum())


def _with_customer_keys(orders: pl.DataFrame, customers: OlistMember | None, ctx: Context,
                        notes: list[str]) -> pl.DataFrame:
    """customer_unique_id is the person (customer_id is per order); hashed like an email, never kept."""
    if customers is None:
        return orders
    people = customers.frame.select("customer_id", "customer_unique_id").unique("customer_id", keep="first")
    orders = orders.join(people, on="customer_id", how="left")
    unknown = orders["customer_unique_id"].null_count()
    if unknown:
        notes.append(f"Olist set: orders whose customer_id is not in the customers file have no customer key "
                     f"({_count(unknown, 'order')})")
    return orders.with_columns(customer_key=customer_keys(orders["customer_unique_id"], ctx.salt))


def olist_lines(items: pl.DataFrame) -> pl.DataFrame:
    return items.with_columns(quantity=pl.lit(1, pl.Int32), currency=pl.lit(OLIST_CURRENCY))


def olist_reviews(reviews: pl.DataFrame) -> pl.DataFrame:
    return reviews.with_columns(updated_at=pl.coalesce("answered_at", "created_at"))


OLIST = SetFormat(source="olist", kind="orders", label="Olist marketplace export set", members=OLIST_MEMBERS,
                  required=("orders",), read=read_olist)

SET_FORMATS: tuple[SetFormat, ...] = (OLIST,)
