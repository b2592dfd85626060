"""The one place that opens the warehouse file, and the rules for doing so.

DuckDB lets one process write a file, or several processes read it, never
both: a reader holding the file blocks the writer and vice versa, and a second
opener fails at once with "Could not set lock". So every Mast process:

- keeps connections short: open, do one unit of work, close;
- writes a whole tick (or rollup step) in ONE transaction, so a crash leaves
  either all of it or none;
- retries the open on the lock error, with jittered backoff capped at 0.1 s
  (the lock has no queue: whoever looks least often starves), for a bounded
  time (``MAST_DB_LOCK_WAIT``, default 30 s for writers, 10 s for readers),
  then raises WarehouseLocked naming the file.

The file path is $MAST_DB (default ./data/mast.duckdb).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb

from warehouse.errors import WarehouseError, WarehouseLocked
from warehouse.migrate import migrate

DEFAULT_DB = "data/mast.duckdb"
_migrated: set[Path] = set()


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file: ``path``, else $MAST_DB, else ./data/mast.duckdb."""
    return Path(path or os.environ.get("MAST_DB") or DEFAULT_DB)


@cache
def load_sql(name: str) -> str:
    """The statement in warehouse/sql/<name>.sql (SQL lives in files, loaded by name)."""
    return (resources.files("warehouse") / "sql" / f"{name}.sql").read_text()


def is_lock_error(e: BaseException) -> bool:
    text = str(e)
    return isinstance(e, duckdb.IOException) and (
        "Could not set lock" in text or "Conflicting lock" in text
    )


def _open(path: Path, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_s
    delay = 0.01
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as e:
            if not is_lock_error(e):
                raise WarehouseError(
                    f"cannot open the warehouse {path}: {e}; check that it is a DuckDB file "
                    "this user may read (and write, for flows), or point MAST_DB elsewhere"
                ) from None
            if time.monotonic() + delay > deadline:
                raise WarehouseLocked(
                    f"the warehouse {path} stayed locked by another process for {wait_s:g} s "
                    f"({e}); retry later or raise MAST_DB_LOCK_WAIT"
                ) from None
        time.sleep(delay * random.uniform(0.5, 1.5))
        # A short cap for everyone: the lock has no queue, so whoever looks least
        # often starves (the soak test starved writers at a 0.5 s cap, and readers
        # when only writers looked every 50 ms).
        delay = min(delay * 2, 0.1)


def _lock_wait(default: float) -> float:
    return float(os.environ.get("MAST_DB_LOCK_WAIT", default))


@contextmanager
def writer(path: str | os.PathLike[str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection inside one transaction: committed on success, rolled back on error.

    The file and its directory are created, and migrations applied, on first use.
    """
    path = db_path(path)
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True)
        except OSError as e:
            raise WarehouseError(
                f"cannot create the directory of the warehouse {path}: {e.strerror}; "
                "create it, or point MAST_DB at a writable path"
            ) from None
    con = _open(path, read_only=False, wait_s=_lock_wait(30))
    try:
        if path.resolve() not in _migrated:
            migrate(con, path)
            _migrated.add(path.resolve())
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


@contextmanager
def reader(path: str | os.PathLike[str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection. Raises WarehouseError if the file does not exist."""
    path = db_path(path)
    if not path.exists():
        raise WarehouseError(
            f"the warehouse {path} does not exist yet: run a tick first (python -m flows.tick)"
        )
    con = _open(path, read_only=True, wait_s=_lock_wait(10))
    try:
        yield con
    finally:
        con.close()
