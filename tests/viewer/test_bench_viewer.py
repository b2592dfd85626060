"""bench/viewer.py on a small warehouse: it runs the real pages and reports what it must.

The figures themselves are the benchmark's to print (README), never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_page_benchmark_reports_cold_and_warm_runs():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.viewer",
            "--servers",
            "30",
            "--days",
            "3",
            "--runs",
            "1",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    generated = result["generated"]
    assert generated["servers"] == 30 and generated["days"] == 3
    # 3 days of 5 m, 1 h and 1 d buckets and 2 days of 30 s samples, for 4 metrics.
    assert generated["rollup_rows"] == 30 * 4 * 3 * (288 + 24 + 1)
    assert generated["raw_samples"] == 30 * 4 * 2 * 2879  # before the two ticks landed
    pages = {(p["page"], p.get("range")): p for p in result["pages"]}
    assert set(pages) == {("fleet", None)} | {("server", r) for r in ("1h", "24h", "7d", "30d")}
    assert pages[("fleet", None)]["queries_cold"] == 3  # figures, tags, table
    assert all(p["queries_cold"] == 6 for k, p in pages.items() if k[0] == "server")
    # A warm run that queried would have failed the benchmark; both times are reported.
    assert all(p["cold_ms_best"] > 0 and p["warm_ms_best"] > 0 for p in pages.values())
