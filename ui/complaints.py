"""The Complaints page's own widgets: categories and their change, what is rising, what the complaints attach to in
the orders, example tickets and corrections."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import streamlit as st

import charts
from data import categorising
from data.basics import mapped
from data.privacy import mask_pii
from metrics import complaints
from metrics import query as mq
from metrics.registry import BY_NAME
from ui.session import (
    act,
    cached,
    category_label,
    category_labels,
    category_namer,
    flash,
    guard,
    kpis,
    row_count,
    settings,
    taxonomy_labels,
    url_choice,
    url_choices,
)
from ui.widgets import chart, grain_control, min_sample, team_table

HANDLING = ["first_reply_minutes_median", "full_resolution_minutes_median", "reopen_rate", "csat"]
ORDER_LABELS = {"sku": "Product (SKU)", "vendor": "Vendor", "shipping_method": "Shipping method",
                "discount_code": "Discount code"}
SOURCE_NAMES = {"export": "Export", "mapping": "Mapping", "analyst": "Analyst", "rules": "Rules", "model": "Model",
                "none": "Uncategorised", "pending": "Not yet"}
SOURCE_WORDS = {"export": "the store's own category in the export",
                "mapping": "a mapping of the export's category or tags",
                "analyst": "an analyst's correction", "rules": "keyword rules on the text",
                "model": "a model learned from tagged tickets", "none": "uncategorised (no confident source)",
                "pending": "not categorised yet"}


def shares(filters: mq.Filters) -> pl.DataFrame:
    """Tickets per category this period and the one before, with shares, the change and each category's label."""
    table = cached(complaints.category_shares, filters)
    return table.with_columns(mapped(table["by_value"], category_namer()).alias("category"))


def sources_note(filters: mq.Filters) -> None:
    """Where the period's categories came from, so a guess is never read as fact."""
    table = cached(complaints.category_sources, filters)
    if table.height:
        parts = [f"{share:.0%} {SOURCE_WORDS.get(source, source)}" for source, _, share in table.iter_rows()]
        st.caption("Categories come from: " + "; ".join(parts) + ". Rules and the model place a ticket only at "
                   "confidence 0.5 or more; the rest stay uncategorised.")


def how_sure(filters: mq.Filters) -> None:
    """Each source's share of the period's categories, and the tickets behind the one chosen, least sure first."""
    table = cached(complaints.category_sources, filters)
    if table.is_empty():
        return
    counts = {row["category_source"]: row for row in table.iter_rows(named=True)}
    options = list(counts)
    worth = next((s for s in ("none", "model", "rules", "pending") if s in counts), options[0])
    chosen = url_choice("Placed by", options, "placed_by", worth, segmented=True,
                        format_func=lambda s: f"{SOURCE_NAMES.get(s, s)} · {counts[s]['share']:.0%} "
                                              f"({counts[s]['tickets']:,})")
    tickets = cached(complaints.placed_by, filters, chosen)
    total = counts[chosen]["tickets"]
    shown = f" (the {tickets.height:,} least sure shown)" if tickets.height < total else ""
    st.caption(f"{total:,} tickets of the period got their category from {SOURCE_WORDS.get(chosen, chosen)}; the "
               f"least sure first{shown}: where a correction below pays most. Emails and phone numbers are masked.")
    st.dataframe(tickets.with_columns(mask_pii(tickets["subject"]),
                                      mapped(tickets["category"], category_namer())),
                 hide_index=True, width="stretch", height=280, column_config={
                     "category_confidence": st.column_config.ProgressColumn("confidence", min_value=0.0,
                                                                            max_value=1.0, format="percent")})


def top_and_rising(filters: mq.Filters, table: pl.DataFrame) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Top categories")
        chart(charts.category_bars(table), "Top categories", width="stretch")
        st.caption("Tickets per category, its share of the period, and the change on the period before.")
    with right:
        st.subheader("Rising now")
        _rising(filters)


def _rising(filters: mq.Filters) -> None:
    s = settings()
    test = complaints.RisingTest(weeks=s.rising_weeks, z=s.rising_z, min_tickets=s.rising_min)
    table = complaints.rising(cached(complaints.weekly_counts, filters, test.weeks), test)
    up = table.filter(pl.col("is_rising"))
    if up.is_empty():
        st.success(f"No category is rising in the 7 days to {filters.end:%d %b %Y}.", icon=":material/check:")
    for row in up.iter_rows(named=True):
        z = "no spread before" if row["z"] is None else f"z = {row['z']:.1f}"
        st.warning(f"**{category_label(row['category'])}** is rising: {row['this_week']:,} tickets in the last 7 "
                   f"days against {row['mean']:.1f} a week before ({z}).", icon=":material/trending_up:")
    st.caption(test.describe())


def _picker(label: str, options: Sequence[str], default: Sequence[str], key: str) -> list[str]:
    """Categories to draw, kept in the URL: the default follows the data, so a shared link must name them."""
    return url_choices(label, options, key, format_func=category_namer(),
                       default=[c for c in default if c in options], placeholder="Choose categories")


def trend(filters: mq.Filters, table: pl.DataFrame) -> None:
    """Tickets per period of the chosen categories, the five largest first."""
    grain = grain_control()
    chosen = _picker("Categories", table["by_value"].to_list(), table["by_value"].head(5).to_list(),
                     "trend_categories")
    frame = kpis(["tickets_created"], filters, grain, by="category", samples=True)
    frame = frame.filter(pl.col("by_value").is_in(chosen))
    frame = frame.with_columns(mapped(frame["by_value"], category_namer()))
    if frame.height:
        chart(charts.trend(frame, BY_NAME["tickets_created"], grain, by="category", min_sample=min_sample()),
              "Trend per category", width="stretch")
    st.caption("The five largest categories are shown first; add or remove categories above.")


def handling(filters: mq.Filters) -> None:
    team_table(kpis(HANDLING, filters, by="category", samples=True), HANDLING, "category")


def attached_to_orders(filters: mq.Filters, table: pl.DataFrame) -> None:
    """Complaints per 1,000 orders or units by product, vendor, shipping method or discount code."""
    if not row_count("orders"):
        st.info("Load an orders export (Shopify, WooCommerce, Olist) to see complaints per product, vendor, "
                "shipping method and discount code.")
        return
    dimension = url_choice("Per", list(complaints.ORDER_DIMENSIONS), "order_by", "sku", format_func=ORDER_LABELS.get,
                           segmented=True)
    present = table["by_value"].to_list()
    focus = _picker("Complaints about", present, complaints.focus_categories(dimension, present), f"focus_{dimension}")
    rates = complaints.for_categories(cached(complaints.by_order_dimension, filters, dimension), tuple(focus))
    if rates.is_empty():
        st.info("No ticket of these categories in the period reaches an order loaded here (tickets reach orders by "
                "their order number, an order number in their text, or the customer's recent order).")
        return
    per, label = rates["per"][0], ORDER_LABELS[dimension]
    chart(charts.complaint_rates(rates, label, min_sample()), f"Tickets per 1,000 {per} by {label.lower()}",
          width="stretch")
    st.caption(f"Tickets that reach an order, per 1,000 {per} with that {label.lower()} in the period, both counted "
               "on the days the helpdesk export and the orders export both cover; grey bars rest "
               f"on fewer than {min_sample()} {per}. A ticket about an order of several products counts against "
               "each of them.")


def examples(filters: mq.Filters, table: pl.DataFrame) -> None:
    """The newest tickets of a category, masked, with where each category came from; then corrections."""
    options = table["by_value"].to_list() or ["uncategorised"]
    category = url_choice("Category", options, "example", options[0], format_func=category_namer())
    # the correction form's 50 newest hold these 5: one statement for both
    found = cached(complaints.examples, filters, category, limit=50).head(5)
    if found.is_empty():
        st.caption("No tickets of this category in the period.")
    else:
        shown = found.with_columns(mask_pii(found["subject"]), mask_pii(found["description"]))
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            "category_confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0,
                                                                   format="percent")})
    _correction_form(filters, category)
    _recategorise_button()


def _correction_form(filters: mq.Filters, category: str) -> None:
    """An analyst puts a ticket in its right category; it is kept on re-import and the model learns from it."""
    table = cached(complaints.examples, filters, category, limit=50)
    if table.is_empty():
        return
    with st.form("correction", border=True):
        st.markdown("**Correct a category** — kept when the ticket is imported again, and learned from.")
        left, right = st.columns(2)
        keys = [f"{row['source']}|{row['ticket_id']}" for row in table.iter_rows(named=True)]
        chosen = left.selectbox("Ticket", keys, format_func=lambda key: key.split("|", 1)[1], key="correction_ticket")
        slugs = [slug for slug in category_labels() if slug != "uncategorised"]  # the store's own ones too
        new = right.selectbox("Right category", slugs, format_func=category_namer(), key="correction_category")
        if st.form_submit_button("Save correction", **guard("correct_category")):
            source, ticket_id = chosen.split("|", 1)
            try:
                act("correct_category", categorising.correct, source, ticket_id, new)
            except ValueError as error:
                st.error(str(error))
                return
            flash(f"Ticket {ticket_id} is now {category_label(new)}.")


def _recategorise_button() -> None:
    if st.button("Re-categorise guessed tickets", **guard(
            "correct_category", "Runs the rules and the model again on every ticket they placed, e.g. after editing "
                                "the taxonomy file or correcting tickets.")):
        with st.spinner("Categorising…"):
            result = act("correct_category", categorising.categorise, redo_guesses=True)
        flash(f"{result.tickets:,} tickets categorised again.")


def store_categories() -> None:
    """The store's own category values on one screen: each mapped onto a built-in category or kept as its own, or
    the store's categories adopted as the taxonomy. Saving re-categorises every ticket; corrections stay."""
    values = cached(categorising.store_values)
    if (values["value"] == values["default"]).all():  # none, or all named as the taxonomy names them (the demo)
        return
    mapping = cached(categorising.load_store_mapping)
    own = values["own"].sum()
    title = f"The store's own categories: {values.height} in the exports, {own} kept as the store's own"
    with st.expander(title), st.form("store_categories", border=False):
        st.caption("Each value your agents chose in the export, with its tickets: keep it as a category of its "
                   "own, or count it as one of CS Pulse's. Rules and the model only place tickets that have none.")
        adopt = st.checkbox("Adopt the store's categories as the taxonomy", value=mapping.adopt, key="store_adopt",
                            help="Every value stays as the store named it; CS Pulse's keyword rules and tag "
                                 "aliases stop, and the model learns the store's categories instead.")
        choices = _store_value_choices(values)
        if st.form_submit_button("Save and re-categorise", **guard("correct_category")):
            _apply_store_mapping(values, choices, adopt)


def _store_value_choices(values: pl.DataFrame) -> dict[str, str]:
    """One selectbox per store value, three to a row, starting at where it goes now."""
    targets = [categorising.OWN, *(slug for slug in taxonomy_labels() if slug != "uncategorised")]
    columns = st.columns(3)
    chosen = {}
    for index, row in enumerate(values.iter_rows(named=True)):
        chosen[row["value"]] = columns[index % 3].selectbox(
            f"{row['label']} ({row['tickets']:,})", targets, index=targets.index(row["choice"]),
            key=f"store_value_{row['value']}", format_func=_target_label)
    return chosen


def _target_label(target: str) -> str:
    return "Keep as its own" if target == categorising.OWN else f"→ {taxonomy_labels()[target]}"


def _apply_store_mapping(values: pl.DataFrame, choices: dict[str, str], adopt: bool) -> None:
    # only the values moved off their default are saved: a later taxonomy or alias still reaches the rest
    defaults = dict(zip(values["value"].to_list(), values["default"].to_list(), strict=True))
    changed = {value: target for value, target in choices.items() if target != defaults[value]}
    with st.spinner("Categorising…"):
        try:
            result = act("correct_category", categorising.apply_store_mapping,
                         categorising.StoreMapping(changed, adopt))
        except ValueError as error:
            st.error(str(error))
            return
    flash(f"Saved; {result.tickets:,} tickets categorised again.")
