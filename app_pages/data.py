import streamlit as st

from ui import data, widgets

st.title("Data")
widgets.demo_notice()
st.markdown(data.table_counts())
st.markdown("One row per import. Customer emails are stored only as salted hashes; names and addresses not at all.")
st.dataframe(data.imports_view(), hide_index=True, width="stretch")
data.demo_controls()
st.subheader("Data quality")
data.quality_panel()
