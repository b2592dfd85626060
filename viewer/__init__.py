"""The Streamlit fleet dashboard: pages that only arrange cached read-model results.

``streamlit run viewer/app.py`` (app.py is the st.navigation entry point);
``cached.py`` holds every query the pages run, ``views/`` one module per page.
"""
