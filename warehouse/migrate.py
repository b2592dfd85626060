"""Numbered SQL migrations (warehouse/migrations/NNN_name.sql), applied in order.

Each migration runs with its row in ``schema_migrations`` in one transaction,
so a crash never leaves a half-applied one. A file migrated by a newer Mast
(a version this code does not know) is refused, never touched.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from warehouse.errors import SchemaTooNew

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def known_migrations() -> list[tuple[int, str, str]]:
    """[(version, name, sql)] of the migrations shipped with this code, in order."""
    found = []
    for entry in resources.files("warehouse.migrations").iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text()))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection, path: Path | str = "warehouse") -> list[int]:
    """Apply the migrations ``con`` lacks; return the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    applied = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    known = known_migrations()
    newest_known = known[-1][0] if known else 0
    if applied and max(applied) > newest_known:
        raise SchemaTooNew(
            f"the warehouse {path} has schema version {max(applied)}, newer than this Mast "
            f"knows ({newest_known}); upgrade Mast, or point MAST_DB at another file. "
            "Nothing was changed."
        )
    done = []
    for version, name, sql in known:
        if version in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, name, datetime.now(UTC).replace(tzinfo=None)],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        done.append(version)
    return done
