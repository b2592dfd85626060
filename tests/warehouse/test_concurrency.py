"""A tick writer, the rollup and a reader in three processes at once, on one file.

DuckDB lets one process write or several read; warehouse.db makes every access
a short connection that retries the lock with jittered backoff. This proves
that pattern holds under load: no error reaches the reader, no write fails,
and every landed sample is in the warehouse and in every tier exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from warehouse.db import reader, writer
from warehouse.rollup import RollupSettings, Tier, run

ROOT = Path(__file__).resolve().parents[2]


def start(
    role: str, db: Path, epoch: float, stop: Path, env: dict | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.warehouse.concurrency_roles", role, str(db), str(epoch)]
        + [str(stop)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(proc: subprocess.Popen, role: str, timeout_s: float = 90) -> dict:
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the {role} process did not finish:\n{err}") from None
    assert proc.returncode == 0, f"the {role} process failed:\n{err}"
    return json.loads(out.strip().splitlines()[-1])


def tier_totals(con) -> dict:
    return {
        tier: (n, total)
        for tier, n, total in con.execute(
            "SELECT tier, sum(sample_count), sum(sum_value) FROM metric_rollups GROUP BY tier"
        ).fetchall()
    }


def test_writer_rollup_and_reader_processes_at_once(tmp_path):
    db = tmp_path / "w.duckdb"
    with writer(db):
        pass  # created and migrated, so the reader can open it from the start
    epoch, stop = time.time(), tmp_path / "stop"  # sample time: 100 times the wall clock
    rollup = start("rollup", db, epoch, stop)
    assert rollup.stdout.readline().strip() == "ready"
    read, tick = start("reader", db, epoch, stop), start("writer", db, epoch, stop)
    wrote = finish(tick, "writer")
    stop.touch()  # the reader stops; the rollup runs once more, then stops
    rolled, seen = finish(rollup, "rollup"), finish(read, "reader")

    assert seen["errors"] == [] and min(seen["reads"]) >= 1, seen
    assert rolled["runs"] >= 3 and rolled["fresh"] > 0 and rolled["late"] > 0, rolled

    with reader(db) as con:
        raw = con.execute("SELECT count(*), sum(value) FROM metric_samples").fetchone()
        (ticks,) = con.execute("SELECT count(*) FROM ticks").fetchone()
        # Each tier holds exactly the samples its watermarks say it has folded in.
        for tier, closed_until, landed_until in con.execute(
            "SELECT tier, closed_until, landed_until FROM rollup_watermarks"
        ).fetchall():
            (want,) = con.execute(
                "SELECT count(*) FROM metric_samples WHERE ts < ? AND landed_at <= ?",
                [closed_until, landed_until],
            ).fetchone()
            (got,) = con.execute(
                "SELECT coalesce(sum(sample_count), 0) FROM metric_rollups WHERE tier = ?", [tier]
            ).fetchone()
            assert got == want, tier
        (latest,) = con.execute("SELECT max(ts) FROM metric_samples").fetchone()
    assert ticks == wrote["ticks"] + wrote["late_ticks"] == 15
    assert raw[0] == wrote["samples"] > 0  # no write lost, none doubled

    # Once every bucket has closed, every tier holds every sample once.
    settings = RollupSettings(tuple(Tier(t.width_s) for t in RollupSettings.from_env().tiers), None)
    run(db, settings, latest + timedelta(days=1))
    with reader(db) as con:
        totals = tier_totals(con)
        (dupes,) = con.execute(
            "SELECT count(*) - count(DISTINCT (tier, bucket, server, metric)) FROM metric_rollups"
        ).fetchone()
    assert dupes == 0
    assert set(totals) == {"5m", "1h", "1d"}
    for n, total in totals.values():
        assert n == raw[0] and abs(total - raw[1]) < 1e-6 * max(1.0, abs(raw[1]))


@pytest.mark.slow
def test_soak_of_two_writers_and_readers(tmp_path):
    """Issue 8's longer soak: a tick writer and the rollup (two writers) and two readers,
    for about a minute of writing (200 ticks of 300 ms; every loop also ends by itself)."""
    db = tmp_path / "w.duckdb"
    with writer(db):
        pass
    env = {"MAST_SOAK_TICKS": "200", "MAST_SOAK_LIMIT_S": "240"}
    epoch, stop = time.time(), tmp_path / "stop"
    rollup = start("rollup", db, epoch, stop, env)
    assert rollup.stdout.readline().strip() == "ready"
    readers = [start("reader", db, epoch, stop, env) for _ in range(2)]
    wrote = finish(start("writer", db, epoch, stop, env), "writer", timeout_s=300)
    stop.touch()
    rolled = finish(rollup, "rollup", timeout_s=120)
    seen = [finish(r, "reader", timeout_s=120) for r in readers]

    assert all(s["errors"] == [] and min(s["reads"]) >= 1 for s in seen), seen
    assert rolled["runs"] >= 10, rolled
    with reader(db) as con:
        (ticks,) = con.execute("SELECT count(*) FROM ticks").fetchone()
        (samples,) = con.execute("SELECT count(*) FROM metric_samples").fetchone()
    assert ticks == wrote["ticks"] + wrote["late_ticks"] == 250
    assert samples == wrote["samples"]  # retention deleted nothing: none is two days old
