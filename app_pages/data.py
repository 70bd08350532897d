import streamlit as st

import ui

st.title("Data")
ui.demo_notice()
st.markdown(ui.table_counts())
st.markdown("One row per import. Customer emails are stored only as salted hashes; names and addresses not at all.")
st.dataframe(ui.imports_view(), hide_index=True, width="stretch")
ui.demo_controls()
