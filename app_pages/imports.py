import streamlit as st

from ui import imports

st.title("Import")
st.markdown("Drop the CSV or XLSX exports your helpdesk and shop already produce — Zendesk, Freshdesk, Gorgias, "
            "Help Scout, Shopify, WooCommerce, an Olist file set — or any file whose columns you map once. "
            "Nothing is written until you press **Import**; importing the same file twice changes nothing.")
left, right = st.columns(2)
source = left.selectbox("Source", imports.source_choices(), key="import_source",
                        help="auto: recognised from the headers")
date_order = right.radio("Dates like 03/04/2024", list(imports.DATE_ORDERS), horizontal=True, key="date_order",
                         format_func=imports.DATE_ORDERS.get)
uploads = imports.uploader()
for plan in imports.plans(uploads, source, date_order):
    imports.plan_card(plan)
imports.just_imported()

st.subheader("Past imports")
imports.import_history()
