import streamlit as st

import ui

st.title("Data")
ui.demo_notice()
st.markdown("What the warehouse holds, one row per import. Customer emails are stored only as salted hashes.")
st.dataframe(ui.imports_view(), hide_index=True, width="stretch")
ui.demo_controls()
