"""The Streamlit fleet dashboard (to come): pages that only arrange cached read-model results."""
