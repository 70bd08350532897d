"""The Streamlit side: ``session`` (the warehouse handle, cached queries, filters, URL state, messages), ``widgets``
(what two or more pages draw) and one module per page for what only that page draws."""
