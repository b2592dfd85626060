"""The dashboard's pages, one module each, run by st.navigation (viewer/app.py).

Each module defines ``render()`` and runs it only when Streamlit executes the
file as a page (``__name__ == "__main__"``), so importing one has no effect.
"""
