"""The Orders & loyalty page's own widgets: what the page needs without an orders export, the notes beside its
tiles, and the contact rate (tickets per 100 orders) over time and per product, vendor, shipping method and
discount code."""

from __future__ import annotations

import polars as pl
import streamlit as st

import charts
from metrics import fulfilment, orders, orders_links
from metrics import query as mq
from metrics import retention as retention_metrics
from metrics.registry import BY_NAME, ORDERS_HINT
from ui.session import cached, kpis, row_count, settings, url_choice
from ui.widgets import chart, explain_chart, explain_missing, kpi_row, min_sample, shared_days_note

CONTACT_RATE = "contacts_per_100_orders"
NO_REACH = "No helpdesk export reaches these dates"
NO_SHARED_DAY = "The helpdesk export and the orders export cover none of these dates together"
DIMENSION_LABELS = {"sku": "Product (SKU)", "vendor": "Vendor", "shipping_method": "Shipping method",
                    "discount_code": "Discount code", "country": "Country", "sales_channel": "Sales channel"}


def orders_loaded() -> bool:
    """Whether any orders are loaded; if not, one sentence says which export gives this page its numbers."""
    if row_count("orders"):
        return True
    st.info(f"No orders loaded. This page's numbers (orders, net sales, refunds, fulfilment lag, repeat purchases "
            f"and tickets per 100 orders) come from {ORDERS_HINT}: add one on the Import page.",
            icon=":material/info:")
    return False


def fulfilment_note() -> None:
    st.caption(f"Fulfilment lag runs from the order's creation to its fulfilment (the warehouse keeps no payment "
               f"time, and for a card payment the two are the same moment); late means more than "
               f"{settings().fulfilment_target_hours:g} hours (CSPULSE_FULFILMENT_TARGET_HOURS). Orders not yet "
               "fulfilled are not in these numbers.")


def loyalty_note(filters: mq.Filters) -> None:
    """What the repeat purchase rate counts, then which days the ticket-per-order rates are over."""
    st.caption("Repeat purchase rate: of the customers who ordered in these dates, the share who ordered two or more "
               "times in them. Shopify's returning-customer rate is a different number: it counts customers who had "
               "ordered before, at any time, so it is higher for the same store, most of all over short periods. "
               "Tickets reach orders by the link CS Pulse found, else by the export's order-number column.")
    shared_days_note(filters)


def contact_rate_trend(filters: mq.Filters, grain: str) -> None:
    """Tickets per 100 orders per period; each point says the orders it rests on (few orders: drawn grey)."""
    if explain_chart(CONTACT_RATE):
        return
    if why := _why_rates_unknown(filters):
        st.info(f"{why}: tickets per 100 orders are unknown here.", icon=":material/info:")
        return
    base = BY_NAME[CONTACT_RATE].inputs[1]  # the orders of the days both exports cover: the rate's sample
    trend = kpis([CONTACT_RATE, base], filters, grain=grain)
    trend = trend.with_columns(pl.col(base).alias(f"{CONTACT_RATE}_n"))
    chart(charts.trend(trend, BY_NAME[CONTACT_RATE], grain, min_sample=min_sample()), BY_NAME[CONTACT_RATE].label,
          width="stretch")
    st.caption(f"Tickets created per 100 orders placed in the same {grain}, on its days both the helpdesk export and "
               f"the orders export cover; hover a point for the orders it rests on. Points over fewer than "
               f"{min_sample()} orders are drawn hollow: an indication, not a result.")


def _why_rates_unknown(filters: mq.Filters) -> str:
    """Why tickets per order are unknown on every day of the view, or "" where some day has them."""
    if not cached(mq.tickets_reach, filters):
        return NO_REACH
    return NO_SHARED_DAY if cached(mq.shared_days_in, filters) is None else ""


def contact_rate_by(filters: mq.Filters) -> None:
    """Tickets per 100 orders per value of an order-side dimension, with the orders and tickets behind each."""
    dimension = url_choice("Per", list(orders.CONTACT_DIMENSIONS), "contact_by", "sku",
                           format_func=DIMENSION_LABELS.get, segmented=True)
    if _why_rates_unknown(filters):
        return  # said above the trend
    table = cached(orders.contact_rate_by, filters, dimension)
    label = DIMENSION_LABELS[dimension]
    if table.is_empty():
        st.info(f"No order placed in these dates has a {label.lower()}: the loaded export does not give it, or "
                "no order falls in the dates.", icon=":material/info:")
    else:
        st.dataframe(table.with_columns(pl.col("value").fill_null("(none)")), hide_index=True, width="stretch",
                     column_config={
                         "value": st.column_config.TextColumn(label),
                         "orders": st.column_config.NumberColumn("Orders", format="localized"),
                         "tickets": st.column_config.NumberColumn("Tickets", format="localized"),
                         "per_100": st.column_config.NumberColumn("Tickets per 100 orders", format="%.1f"),
                     })
    st.caption(f"Orders placed with that {label.lower()}, and the tickets created about one of those orders (a "
               "ticket counts once per value), on the days of these dates both exports cover. A ticket reaches its "
               "order by the link CS Pulse found, else by the export's order-number column. Country and sales "
               "channel come from Shopify's export (shipping country, Source).")


def how_linked(filters: mq.Filters) -> None:
    """The period's tickets by how they reach an order, in order of trust."""
    shares = cached(orders_links.link_shares, filters)
    if shares.is_empty():
        st.caption("No tickets in these dates.")
        return
    chart(charts.link_shares(shares), "How tickets reach orders", width="stretch")
    st.caption(f"A ticket reaches an order by its order-number column, else an order number in its subject, tags or "
               f"description that exists, else the same customer's newest order in the {settings().link_window_days} "
               "days before it (`CSPULSE_LINK_WINDOW_DAYS`). Tickets by creation time.")


def money_at_stake(filters: mq.Filters) -> None:
    """Refund rates of orders with tickets against those without, and the revenue waiting on an answer."""
    if not cached(mq.tickets_reach, filters):
        st.info(f"{NO_REACH}: which orders had tickets, and what waits on an answer, is unknown here.",
                icon=":material/info:")
        return
    stake = cached(orders_links.money_at_stake, filters)
    left, right = st.columns(2)
    refunds = stake.refunds.with_columns(
        pl.when(pl.col("with_tickets")).then(pl.lit("with tickets")).otherwise(pl.lit("without")).alias("orders_"))
    left.markdown("**Refunds of orders with and without tickets**")
    left.dataframe(refunds.select("currency", "orders_", "orders", "refund_rate", "refund_rate_by_value"),
                   hide_index=True, width="stretch", column_config={
                       "orders_": "Orders", "orders": st.column_config.NumberColumn("n", format="localized"),
                       "refund_rate": st.column_config.NumberColumn("Refunded (count)", format="percent"),
                       "refund_rate_by_value": st.column_config.NumberColumn("Refunded (value)", format="percent")})
    left.caption("Orders placed in the period; an order with tickets is one a ticket links to. An association, "
                 "not a cause: unhappy customers both write and ask for refunds. Blank where the export gives no "
                 "refunds.")
    right.markdown("**Revenue waiting on an answer**")
    if stake.waiting.is_empty():
        right.caption(f"No ticket open at the period's end names an order ({stake.open_tickets:,} open).")
        return
    right.dataframe(stake.waiting, hide_index=True, width="stretch", column_config={
        "currency": "Currency", "orders": st.column_config.NumberColumn("Orders", format="localized"),
        "open_tickets": st.column_config.NumberColumn("Open tickets", format="localized"),
        "order_value": st.column_config.NumberColumn("Order value", format="%.2f")})
    right.caption(f"The value of the orders behind the {stake.open_tickets:,} tickets open at the period's end, per "
                  f"currency; {stake.open_unlinked:,} of them name no order, so their value is unknown.")


def traffic(filters: mq.Filters) -> None:
    """Conversion and cart abandonment, from an optional traffic export; without one, which export gives them."""
    names = ["conversion_rate", "cart_abandonment_rate"]
    if explain_missing(names):
        return
    kpi_row(names, filters)
    st.caption(" ".join(f"{BY_NAME[name].label}: {BY_NAME[name].description}" for name in names))


def wismo(filters: mq.Filters) -> None:
    """Where-is-my-order tickets per 100 fulfilled orders against the fulfilment lag, week by week."""
    frame = cached(fulfilment.wismo_against_lag, filters)
    if frame.is_empty() or frame["fulfilled_orders"].is_null().all():
        st.info("This needs an orders export that says when orders were fulfilled (Shopify's 'Fulfilled at').",
                icon=":material/info:")
        return
    chart(charts.wismo_against_lag(frame), "Where is my order, against shipping", width="stretch")
    tickets = (f"{NO_REACH}: the where-is-my-order tickets are unknown" if frame["wismo_tickets"].is_null().all()
               else f"{int(frame['wismo_tickets'].sum()):,} where-is-my-order tickets")
    st.caption(f"{fulfilment.DEFINITION} {tickets}; {int(frame['fulfilled_orders'].sum() or 0):,} fulfilled orders "
               "in the period.")


def retention(filters: mq.Filters) -> None:
    """The repeat purchase rate of customers who contacted support against those who did not."""
    found = cached(retention_metrics.repeat_by_support, filters)
    if found.missing:
        st.info(f"To compare, load {found.missing}.", icon=":material/info:")
    if not found.table["customers"].sum():
        st.info(f"No customer of these dates has had {found.days} days to order again before the data ends "
                f"({found.too_recent:,} ordered too recently): choose earlier dates to see who came back.",
                icon=":material/info:")
        return
    chart(charts.repeat_by_support(found.table, min_sample()), "Does support bring customers back?", width="stretch")
    observed = int(found.table.filter(pl.col("dimension") == "all")["customers"].sum())
    reached = (f"; who contacted support is known for {found.reached:,} of the {observed:,} customers, those whose "
               "first order is on or after the helpdesk export's first ticket" if found.reached < observed else "")
    st.caption(f"Repeat purchase: a second order within {found.days} days of a customer's first order in the period; "
               f"contacted support: a ticket in those days before that second order; {found.too_recent:,} recent "
               f"customers left out (their {found.days} days are not over){'' if found.missing else reached}"
               + (f"; first reply on the {found.first_reply_clock} clock" if found.first_reply_clock else "")
               + f". {found.statement}")
