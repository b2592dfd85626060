"""The downsample flow on a real Prefect API and a real DuckDB file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from probes.collect import utcnow
from warehouse.db import reader, writer

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_downsample_flow_rolls_up_once_and_then_has_nothing_to_do(tmp_path, monkeypatch, capsys):
    from flows.downsample import downsample, main

    db = tmp_path / "mast.duckdb"
    monkeypatch.setenv("MAST_DB", str(db))
    start = (utcnow() - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    with writer(db) as con:
        con.execute(
            "INSERT INTO metric_samples (server, metric, ts, value) "
            "SELECT 'web-1', 'load1', $start::TIMESTAMP + to_seconds(i * 30), i % 10 "
            "FROM range(2880) t(i)",
            {"start": start},
        )
    report = downsample()
    assert [(t["tier"], t["fresh_buckets"]) for t in report["tiers"]] == [
        ("5m", 288),
        ("1h", 24),
        ("1d", 1),
    ]
    assert report["raw_pruned"] == 2880  # rolled up and older than the 2 days kept
    with reader(db) as con:
        assert con.execute(
            "SELECT sum(sample_count), sum(sum_value) FROM metric_rollups WHERE tier = '1d'"
        ).fetchone() == (2880, 2880 / 10 * 45)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "5m: closed until" in out and "0 buckets written" in out
    assert "raw: 0 samples past retention deleted" in out
