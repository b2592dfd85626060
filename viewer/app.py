"""The Mast dashboard: ``streamlit run viewer/app.py`` (the multipage entry point).

st.navigation over one module per page (viewer/views/); the fleet page is the
landing page. Pages read the warehouse only through viewer/cached.py (cached
read models, read-only connections); a missing or busy warehouse is shown as
a state of the page, never as a traceback. .streamlit/config.toml binds the
server to 127.0.0.1 and turns usage statistics off.
"""

from __future__ import annotations

import streamlit as st

from viewer import ui

PAGES = (
    ("views/fleet.py", "Fleet", ":material/dns:", ""),
    ("views/server.py", "Server", ":material/computer:", "server"),
    ("views/release.py", "Release", ":material/deployed_code:", "release"),
    ("views/activity.py", "Activity", ":material/history:", "activity"),
    ("views/bench.py", "Bench", ":material/speed:", "bench"),
)


def main() -> None:
    st.set_page_config(page_title="Mast", page_icon=":material/dns:", layout="wide")
    pages = [
        st.Page(path, title=title, icon=icon, url_path=url or None, default=not url)
        for path, title, icon, url in PAGES
    ]
    page = st.navigation(pages)
    with ui.warehouse_guard():
        page.run()


if __name__ == "__main__":
    main()
