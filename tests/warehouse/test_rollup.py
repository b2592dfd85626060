"""The rollup tiers and retention, on real DuckDB files, checked against plain Python."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta

import pandas as pd
import pytest

from probes.collect import utcnow
from tests.warehouse.test_land import SERVERS, result
from warehouse.db import reader, writer
from warehouse.land import land_tick
from warehouse.rollup import (
    RollupSettings,
    RollupSettingsError,
    Tier,
    format_duration,
    run,
)

DEFAULT = RollupSettings.from_env({})
KEEP_ALL = RollupSettings(tuple(Tier(t.width_s) for t in DEFAULT.tiers), None)
ORIGIN = datetime(2000, 1, 3)  # DuckDB's time_bucket origin: a Monday, midnight
T0 = datetime(2026, 3, 2)  # a Monday, midnight


def bucket(ts: datetime, width_s: int) -> datetime:
    return ts - timedelta(seconds=(ts - ORIGIN).total_seconds() % width_s)


def samples(start: datetime, hours: float, servers=("a", "b"), metrics=("cpu_pct", "load1")):
    """Samples every 30 s (with a jitter of a few seconds, as ticks have) and made-up values."""
    rows = []
    for i in range(int(hours * 120)):
        ts = start + timedelta(seconds=30 * i + (i * 7) % 5, microseconds=(i * 131) % 1000)
        for s, server in enumerate(servers):
            for m, metric in enumerate(metrics):
                rows.append((server, metric, ts, float((i * 37 + s * 11 + m * 5) % 101)))
    return rows


def add(path, rows) -> None:
    """Land raw samples the way landing does (landed_at stamped by the insert)."""
    frame = pd.DataFrame(rows, columns=["server", "metric", "ts", "value"])
    with writer(path) as con:
        con.register("incoming", frame)
        con.execute("INSERT INTO metric_samples (server, metric, ts, value) SELECT * FROM incoming")
        con.unregister("incoming")


def expected(rows, width_s: int, closed_until: datetime) -> dict:
    """{(bucket, server, metric): (min, max, sum, count, last, last_ts)} in plain Python."""
    groups = defaultdict(list)
    for server, metric, ts, value in rows:
        b = bucket(ts, width_s)
        if b < closed_until:
            groups[(b, server, metric)].append((ts, value))
    out = {}
    for key, points in groups.items():
        values = [v for _, v in points]
        last_ts, last = max(points)
        out[key] = (min(values), max(values), sum(values), len(values), last, last_ts)
    return out


def tier(path, name: str) -> dict:
    with reader(path) as con:
        rows = con.execute(
            "SELECT bucket, server, metric, min_value, max_value, sum_value, sample_count, "
            "last_value, last_ts FROM metric_rollups WHERE tier = ?",
            [name],
        ).fetchall()
    out = {(b, s, m): rest for b, s, m, *rest in rows}
    assert len(out) == len(rows), f"duplicate buckets in tier {name}"
    return {k: (v[0], v[1], v[2], v[3], v[4], v[5]) for k, v in out.items()}


def assert_tier_equals(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, (mn, mx, sm, n, last, last_ts) in want.items():
        g = got[key]
        assert (g[0], g[1], g[3], g[4], g[5]) == (mn, mx, n, last, last_ts), key
        assert g[2] == pytest.approx(sm), key


def dump(path) -> list:
    with reader(path) as con:
        return [
            con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in ("metric_rollups", "rollup_watermarks", "metric_samples")
        ]


def test_every_tier_matches_the_samples_exactly(tmp_path):
    path = tmp_path / "w.duckdb"
    rows = samples(T0, 50)
    add(path, rows)
    now = T0 + timedelta(hours=50, minutes=7)
    report = run(path, KEEP_ALL, now)
    closed = {"5m": T0 + timedelta(hours=50, minutes=5), "1h": now.replace(minute=0)}
    closed["1d"] = T0 + timedelta(days=2)
    assert {t.tier: t.closed_until for t in report.tiers} == closed
    for t in KEEP_ALL.tiers:
        assert_tier_equals(tier(path, t.name), expected(rows, t.width_s, closed[t.name]))
    # A chart's daily average is the mean of the samples, not a mean of hourly means.
    day = [v for s, m, ts, v in rows if s == "a" and m == "load1" and ts < T0 + timedelta(days=1)]
    mn, mx, sm, n, _, _ = tier(path, "1d")[(T0, "a", "load1")]
    assert sm / n == pytest.approx(sum(day) / len(day))
    assert n == 2880 and (mn, mx) == (min(day), max(day))


def test_open_buckets_wait_for_a_later_run(tmp_path):
    path = tmp_path / "w.duckdb"
    rows = samples(T0, 2)
    add(path, rows)
    early = T0 + timedelta(minutes=62)
    run(path, KEEP_ALL, early)
    five = tier(path, "5m")
    assert max(b for b, _, _ in five) == T0 + timedelta(minutes=55)
    assert {b for b, _, _ in tier(path, "1h")} == {T0}
    assert tier(path, "1d") == {}
    later = T0 + timedelta(hours=3)
    report = run(path, KEEP_ALL, later)
    assert [(t.fresh_buckets, t.late_buckets) for t in report.tiers] == [(48, 0), (4, 0), (0, 0)]
    assert_tier_equals(tier(path, "5m"), expected(rows, 300, later))
    assert_tier_equals(tier(path, "1h"), expected(rows, 3600, later))


def test_a_second_run_changes_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    add(path, samples(T0, 30))
    now = T0 + timedelta(hours=30, minutes=1)
    first = run(path, DEFAULT, now)
    assert first.tiers[0].fresh_buckets > 0 and first.raw_pruned == 0
    before = dump(path)
    again = run(path, DEFAULT, now)
    assert all(t.fresh_buckets == t.late_buckets == t.pruned == 0 for t in again.tiers)
    assert again.raw_pruned == 0
    assert dump(path) == before


def test_late_samples_are_folded_into_every_tier_once(tmp_path):
    path = tmp_path / "w.duckdb"
    rows = samples(T0, 30)
    add(path, rows)
    now = T0 + timedelta(hours=30)
    run(path, KEEP_ALL, now)
    # Late: for a bucket rolled up long ago, a new minimum and the bucket's latest sample,
    # and for a bucket no sample had touched (a new one in every tier).
    late = [
        ("a", "cpu_pct", T0 + timedelta(hours=3, minutes=4, seconds=59), -5.0),
        ("b", "load1", T0 + timedelta(hours=5, minutes=1), 1000.0),
        ("c", "cpu_pct", T0 + timedelta(hours=2), 42.0),
    ]
    add(path, late)
    report = run(path, KEEP_ALL, now)
    assert [t.fresh_buckets for t in report.tiers] == [0, 0, 0]
    assert [t.late_buckets for t in report.tiers] == [3, 3, 3]
    for t in KEEP_ALL.tiers:
        closed = bucket(now, t.width_s)
        assert_tier_equals(tier(path, t.name), expected(rows + late, t.width_s, closed))
    a = tier(path, "5m")[(T0 + timedelta(hours=3), "a", "cpu_pct")]
    assert (a[0], a[3], a[4]) == (-5.0, 11, -5.0)  # min, count, last
    before = dump(path)
    run(path, KEEP_ALL, now)
    assert dump(path) == before


def test_a_late_sample_joins_a_bucket_whose_raw_samples_are_gone(tmp_path):
    path = tmp_path / "w.duckdb"
    rows = samples(T0, 2, servers=("a",), metrics=("cpu_pct",))
    add(path, rows)
    now = T0 + timedelta(days=5)
    first = run(path, DEFAULT, now)
    assert first.raw_pruned == len(rows)  # rolled up, then past the raw retention
    late = [("a", "cpu_pct", T0 + timedelta(minutes=10, seconds=1), 99.5)]
    add(path, late)
    run(path, DEFAULT, now)
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM metric_samples").fetchone() == (0,)
    for t in DEFAULT.tiers:
        assert_tier_equals(tier(path, t.name), expected(rows + late, t.width_s, now))


def test_retention_never_deletes_what_the_tier_above_lacks(tmp_path):
    path = tmp_path / "w.duckdb"
    rows = samples(T0, 6, servers=("a",), metrics=("cpu_pct",))
    add(path, rows)
    settings = RollupSettings((Tier(300, 600), Tier(3600, 7200), Tier(86400)), 60)
    now = T0 + timedelta(hours=5, minutes=32)
    report = run(path, settings, now)
    with reader(path) as con:
        raw = [ts for (ts,) in con.execute("SELECT ts FROM metric_samples ORDER BY ts").fetchall()]
    # Raw: older than a minute, but samples of the open 5m bucket stay.
    assert raw == [ts for _, _, ts, _ in rows if ts >= T0 + timedelta(hours=5, minutes=30)]
    assert report.raw_pruned == len(rows) - len(raw)
    # 5m: kept 10 minutes, but also every bucket of the open hour (not in 1h yet).
    assert sorted(b for b, _, _ in tier(path, "5m")) == [
        T0 + timedelta(hours=5, minutes=m) for m in range(0, 30, 5)
    ]
    # 1h: kept two hours, but the day is still open, so no hour goes yet.
    assert sorted(b for b, _, _ in tier(path, "1h")) == [T0 + timedelta(hours=h) for h in range(5)]
    now = T0 + timedelta(days=1, minutes=1)
    run(path, settings, now)
    assert tier(path, "1h") == {}  # past retention and rolled into the closed day
    assert_tier_equals(tier(path, "1d"), expected(rows, 86400, now))


CRASH = """
import os, signal, sys
from datetime import datetime
from warehouse.db import writer
from warehouse.rollup import RollupSettings, Tier, prune, roll_up
settings = RollupSettings((Tier(300), Tier(3600), Tier(86400)), 7200)
now = datetime.fromisoformat(sys.argv[2])
with writer(sys.argv[1]) as con:
    pruned = prune(con, settings, now, roll_up(con, settings, now))
    assert pruned.tiers[0].late_buckets and pruned.raw_pruned, pruned
    os.kill(os.getpid(), signal.SIGKILL)  # every statement ran; the commit never does
"""


def test_a_crash_midway_loses_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    settings = RollupSettings((Tier(300), Tier(3600), Tier(86400)), 7200)
    rows = samples(T0, 4)
    add(path, rows)
    run(path, settings, T0 + timedelta(hours=3))
    more = samples(T0 + timedelta(hours=4), 1) + [("a", "load1", T0 + timedelta(minutes=1), 7.0)]
    add(path, more)
    before = dump(path)
    now = T0 + timedelta(hours=6)
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(path), now.isoformat()])
    assert crashed.returncode == -signal.SIGKILL
    assert dump(path) == before
    run(path, settings, now)
    for t in settings.tiers:
        closed = bucket(now, t.width_s)
        assert_tier_equals(tier(path, t.name), expected(rows + more, t.width_s, closed))


def test_landing_stamps_landed_at_inside_its_transaction(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = datetime(2026, 3, 2, 10)
    before = utcnow()
    land_tick("t1", t0, SERVERS[:1], [result("a", t0, (1000, 900))], path)
    after = utcnow()
    with reader(path) as con:
        stamps = con.execute("SELECT DISTINCT landed_at FROM metric_samples").fetchall()
    assert len(stamps) == 1 and before <= stamps[0][0] <= after
    run(path, KEEP_ALL, t0 + timedelta(minutes=5))
    assert tier(path, "5m")[(t0, "a", "mem_used_pct")][3] == 1


def test_settings_from_the_environment():
    assert DEFAULT.raw_retention_s == 2 * 86400
    assert [(t.name, t.retention_s) for t in DEFAULT.tiers] == [
        ("5m", 30 * 86400),
        ("1h", 400 * 86400),
        ("1d", None),
    ]
    custom = RollupSettings.from_env(
        {"MAST_ROLLUP_TIERS": "10m:7d, 90m:1w ,1d:forever", "MAST_RAW_RETENTION": "forever"}
    )
    assert [(t.name, t.retention_s) for t in custom.tiers] == [
        ("10m", 7 * 86400),
        ("90m", 7 * 86400),
        ("1d", None),
    ]
    assert custom.raw_retention_s is None
    assert format_duration(5400) == "90m" and format_duration(45) == "45s"


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        pytest.param("5m,7m", "7m tier must be a larger multiple of the 5m", id="not-multiple"),
        pytest.param("1h,5m", "5m tier must be a larger multiple of the 1h", id="descending"),
        pytest.param("5x", "'5x' is not a duration", id="unit"),
        pytest.param("5m:soon", "'soon' is not a duration", id="retention"),
        pytest.param("0m", "'0m' is not a duration", id="zero"),
    ],
)
def test_bad_tier_settings_are_refused_with_the_reason(tiers, message):
    with pytest.raises(RollupSettingsError, match=f"MAST_ROLLUP_TIERS: .*{message}"):
        RollupSettings.from_env({"MAST_ROLLUP_TIERS": tiers})
