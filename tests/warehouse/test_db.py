"""Migrations and the access rules, on real DuckDB files and real competing processes."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest

from warehouse.db import reader, writer
from warehouse.errors import SchemaTooNew, WarehouseError, WarehouseLocked
from warehouse.migrate import known_migrations, migrate

HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


def hold_file(path, seconds: float, mode: str = "ro") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_fresh_file_gets_every_migration_once(tmp_path):
    path = tmp_path / "sub" / "w.duckdb"
    with writer(path) as con:
        versions = [
            v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        ]
    assert versions == [v for v, _, _ in known_migrations()]
    con = duckdb.connect(str(path))
    assert migrate(con) == []  # nothing left to apply
    con.close()


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "w.duckdb"
    with writer(path) as con:
        con.execute("INSERT INTO schema_migrations VALUES (999, 'future', now()::TIMESTAMP)")
    before = path.read_bytes()
    con = duckdb.connect(str(path))
    with pytest.raises(SchemaTooNew, match=r"w\.duckdb has schema version 999.*upgrade Mast"):
        migrate(con, path)
    con.close()
    assert path.read_bytes() == before


def test_failed_unit_of_work_is_rolled_back(tmp_path):
    path = tmp_path / "w.duckdb"
    with pytest.raises(RuntimeError), writer(path) as con:
        con.execute(
            "INSERT INTO ticks VALUES ('t1', 'tick', now()::TIMESTAMP, now()::TIMESTAMP, 1, 1)"
        )
        raise RuntimeError("crash in the middle")
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM ticks").fetchone() == (0,)


def test_writer_waits_out_a_reader_in_another_process(tmp_path):
    path = tmp_path / "w.duckdb"
    with writer(path):
        pass
    holder = hold_file(path, 1.5)
    t0 = time.monotonic()
    with writer(path) as con:
        con.execute(
            "INSERT INTO ticks VALUES ('t1', 'tick', now()::TIMESTAMP, now()::TIMESTAMP, 1, 1)"
        )
    assert time.monotonic() - t0 >= 0.5  # it did have to wait
    holder.wait()
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM ticks").fetchone() == (1,)


def test_lock_held_too_long_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    with writer(path):
        pass
    monkeypatch.setenv("MAST_DB_LOCK_WAIT", "0.5")
    holder = hold_file(path, 10, mode="rw")
    try:
        locked = pytest.raises(WarehouseLocked, match=r"w\.duckdb stayed locked.*MAST_DB_LOCK_WAIT")
        with locked, reader(path):
            pass
    finally:
        holder.kill()


def test_reader_of_a_missing_file_says_how_to_create_it(tmp_path):
    missing = pytest.raises(WarehouseError, match=r"does not exist yet: run a tick first")
    with missing, reader(tmp_path / "none.duckdb"):
        pass
    assert not (tmp_path / "none.duckdb").exists()
