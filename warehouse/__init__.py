"""The DuckDB warehouse: migrations, landing, rollups and the read queries.

It knows nothing of SSH: it stores the typed records that probes produce.
"""
