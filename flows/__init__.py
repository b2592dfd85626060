"""Prefect flows: thin wrappers that call into probes and warehouse."""
