import streamlit as st

import charts
import ui
from metrics.complaints import FOCUS, ORDER_DIMENSIONS
from metrics.registry import BY_NAME

ORDER_LABELS = {"sku": "Product (SKU)", "vendor": "Vendor", "shipping_method": "Shipping method",
                "discount_code": "Discount code"}

filters = ui.current_filters()
st.title("Complaints")
ui.demo_notice()
st.caption(ui.sample_caption(filters) + " Tickets by creation time.")
ui.category_sources_note(filters)

shares = ui.category_shares(filters)
left, right = st.columns([3, 2])
with left:
    st.subheader("Top categories")
    st.plotly_chart(charts.category_bars(shares), width="stretch")
    st.caption("Tickets per category, its share of the period, and the change on the period before.")
with right:
    st.subheader("Rising now")
    ui.rising_panel(filters)

st.subheader("Trend per category")
grain = ui.url_choice("Grain", ["day", "week", "month"], "grain", "week", segmented=True)
chosen = ui.category_picker("Categories", shares["by_value"].to_list(), shares["by_value"].head(5).to_list(),
                            "trend_categories")
trend = ui.category_trend(filters, grain, chosen)
if trend.height:
    st.plotly_chart(charts.trend(trend, BY_NAME["tickets_created"], grain, by="category",
                                 min_sample=ui.min_sample()), width="stretch")
st.caption("The five largest categories are shown first; add or remove categories above.")

st.subheader("How each category is handled")
ui.team_table(ui.query(ui.HANDLING, filters, by="category", samples=True), ui.HANDLING, "category")

st.subheader("What the complaints attach to")
if ui.has_orders():
    dimension = ui.url_choice("Per", list(ORDER_DIMENSIONS), "order_by", "sku", format_func=ORDER_LABELS.get,
                              segmented=True)
    focus = ui.category_picker("Complaints about", shares["by_value"].to_list(), FOCUS[dimension],
                               f"focus_{dimension}")
    rates = ui.complaints_by_order(filters, dimension, focus)
    if rates.is_empty():
        st.info("No ticket of these categories in the period names an order loaded here "
                "(tickets reach orders by their order number).")
    else:
        st.plotly_chart(charts.complaint_rates(rates, ORDER_LABELS[dimension], ui.min_sample()), width="stretch")
        st.caption(f"Tickets that name an order, per 1,000 {rates['per'][0]} with that "
                   f"{ORDER_LABELS[dimension].lower()} in the period; grey bars rest on fewer than "
                   f"{ui.min_sample()} {rates['per'][0]}. A ticket about an order of several products counts "
                   "against each of them.")
else:
    st.info("Load an orders export (Shopify, WooCommerce, Olist) to see complaints per product, vendor, "
            "shipping method and discount code.")

st.subheader("Example tickets")
category = ui.url_choice("Category", shares["by_value"].to_list() or ["uncategorised"], "example",
                         shares["by_value"][0] if shares.height else "uncategorised", format_func=ui.category_label)
ui.category_examples(filters, category)
ui.correction_form(filters, category)
ui.recategorise_button()
