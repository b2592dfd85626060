"""The Mast viewer (placeholder until the dashboard lands): the latest status of every server."""

from __future__ import annotations

import streamlit as st

from warehouse.errors import WarehouseError
from warehouse.queries import server_status


@st.cache_data(ttl=10, show_spinner=False)
def cached_status():
    return server_status()


st.set_page_config(page_title="Mast", layout="wide")
st.title("Mast fleet")
try:
    st.dataframe(cached_status(), hide_index=True)
except WarehouseError as e:
    st.info(f"{e}")
