"""Dashboard page speed: the fleet page and the server page, cold and warm.

``python -m bench.viewer [--servers 1000] [--days 30] [--runs 5] [--json]``

Builds a warehouse of ``--servers`` servers (two ticks landed through
warehouse.land, a patch scan, and ``--days`` of metric history for the
charted metrics: raw 30 s samples for the raw retention, 5 m / 1 h / 1 d
rollups for the rest, generated inside DuckDB in time order, as the rollup
writes them), then runs the real pages under Streamlit's AppTest:

- cold: every cache cleared, so the run queries the warehouse;
- warm: the same page again, nothing changed: cache hits only (the benchmark
  checks that no query ran).

The times are AppTest's wall time for one script run (the page script plus
AppTest's handling of its messages: an upper bound of the script time). The
best and median of ``--runs`` runs are reported. The warehouse is generated
afresh each time (about 30 s for 1,000 servers and 30 days here), in a
temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "viewer" / "app.py"
RANGES = ("1h", "24h", "7d", "30d")

# Tiers: (name, width_s); their retention (5m: 30 d) is what the series read model checks.
TIERS = (("5m", 300), ("1h", 3600), ("1d", 86400))
ROLLUPS = """
INSERT INTO metric_rollups
SELECT $tier, b.bucket, s.name, m.metric,
       v.value - 5, v.value + 5, v.value * $count, $count, v.value,
       b.bucket + to_seconds($width - 30)
FROM (SELECT $start::TIMESTAMP + to_seconds(k * $width) AS bucket FROM range($buckets) t(k)) b,
     (SELECT unnest($servers) AS name) s,
     (SELECT unnest($metrics) AS metric) m,
     LATERAL (SELECT 10 + (hash(s.name, m.metric, b.bucket) % 8000) / 100.0 AS value) v
"""
SAMPLES = """
INSERT INTO metric_samples (server, metric, ts, value, landed_at)
SELECT s.name, m.metric, t.ts, 10 + (hash(s.name, m.metric, t.ts) % 8000) / 100.0, t.ts
FROM (SELECT $start::TIMESTAMP + to_seconds(i * 30) AS ts FROM range($samples) r(i)) t,
     (SELECT unnest($servers) AS name) s,
     (SELECT unnest($metrics) AS metric) m
"""


def _result(name: str, at: datetime, tick: int, i: int):
    from probes import system
    from probes.collect import ServerResult, parse_sections
    from probes.script import Section

    idle = 1000 * tick
    busy = 5 + i % 90
    texts = {
        "os_release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
        "uname": "Linux 6.1.0-18-amd64 x86_64\n",
        "stat": f"cpu  {idle * busy // (100 - busy)} 0 0 {idle} 0 0 0 0 0 0\n",
        "meminfo": (
            f"MemTotal: 8000000 kB\nMemAvailable: {1000000 + 5000 * (i % 1000)} kB\n"
            "SwapTotal: 0 kB\nSwapFree: 0 kB\n"
        ),
        "loadavg": f"{(i % 40) / 10:.2f} 0.40 0.30 1/99 123\n",
        "uptime": "86400.5 50.0\n",
        "nproc": "4\n",
        "df": (
            "Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
            f"/dev/vda1             1000 {i % 1000:7d} {1000 - i % 1000:9d}      0% /\n"
        ),
        "df_inodes": "Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/vda1 100 10 90 10% /\n",
    }
    facts, _ = parse_sections([system], {f"system.{k}": Section(0, v) for k, v in texts.items()})
    return ServerResult(name, at, 10.0, 1, True, facts=facts)


def generate(path: Path, servers: int, days: int) -> dict:
    """The fleet's history in SQL up to now, then its latest state through the landing
    code (two ticks, 30 s apart)."""
    from probes.collect import utcnow
    from probes.inventory import Server
    from probes.system import METRICS
    from viewer.cached import CHART_METRICS
    from warehouse.db import writer
    from warehouse.land import land_tick
    from warehouse.rollup import RollupSettings

    t0 = time.perf_counter()
    names = [f"srv-{i:04d}" for i in range(servers)]
    fleet = [
        Server(name=n, host=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", tags=(f"rack{i % 20}",))
        for i, n in enumerate(names)
    ]
    now = utcnow()
    metrics = [m for m in CHART_METRICS if m in METRICS]
    settings = RollupSettings.from_env()
    raw_days = min(days, (settings.raw_retention_s or 2 * 86400) // 86400)
    common = {"servers": names, "metrics": metrics}
    with writer(path) as con:
        con.execute("SET enable_progress_bar = false")
        for day in range(days):  # a day at a time, oldest first: time order, bounded memory
            start = now - timedelta(days=days - day)
            for tier, width in TIERS:
                con.execute(
                    ROLLUPS,
                    common
                    | {
                        "tier": tier,
                        "width": width,
                        "count": width // 30,
                        "start": start,
                        "buckets": max(1, 86400 // width),
                    },
                )
            if days - day <= raw_days:
                con.execute(SAMPLES, common | {"start": start, "samples": 2880 - 1})
        rollups = con.execute("SELECT count(*) FROM metric_rollups").fetchone()[0]
        samples = con.execute("SELECT count(*) FROM metric_samples").fetchone()[0]
    for tick, ago in ((1, 30), (2, 0)):
        at = utcnow() - timedelta(seconds=ago)
        results = [_result(n, at, tick, i) for i, n in enumerate(names)]
        land_tick(f"bench-tick-{tick}", at, fleet, results, path)
    return {
        "servers": servers,
        "days": days,
        "metrics": metrics,
        "rollup_rows": rollups,
        "raw_samples": samples,
        "generate_s": round(time.perf_counter() - t0, 1),
        "file_mb": round(path.stat().st_size / 2**20),
    }


def _page(name: str, **params: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300)
    at.query_params.update(params)
    if name != "fleet":
        at.switch_page(f"views/{name}.py")
    return at


def _timed(at) -> float:
    t0 = time.perf_counter()
    at.run()
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception[0].value}")
    return (time.perf_counter() - t0) * 1000


def measure(name: str, runs: int, **params: str) -> dict:
    """Cold and warm AppTest run times of one page, ``runs`` times each."""
    import streamlit as st

    from viewer.cached import QUERIES

    cold, warm, queries = [], [], []
    for _ in range(runs):
        st.cache_data.clear()
        at = _page(name, **params)
        before = sum(QUERIES.values())
        cold.append(_timed(at))
        queries.append(sum(QUERIES.values()) - before)
        before = sum(QUERIES.values())
        warm.append(_timed(at))
        if sum(QUERIES.values()) != before:
            raise RuntimeError(f"a warm rerun of the {name} page ran queries")
    return {
        "page": name,
        **params,
        "queries_cold": queries[0],
        "cold_ms_best": round(min(cold), 1),
        "cold_ms_median": round(statistics.median(cold), 1),
        "warm_ms_best": round(min(warm), 1),
        "warm_ms_median": round(statistics.median(warm), 1),
    }


def benchmark(path: Path, servers: int, days: int, runs: int) -> dict:
    generated = generate(path, servers, days)
    os.environ["MAST_DB"] = str(path)
    os.environ.setdefault("MAST_STALE_AFTER", "3600")  # the ticks stay up while measured
    _page("fleet").run()  # imports and Streamlit's first-run set-up, not measured
    pages = [measure("fleet", runs)]
    pages += [measure("server", runs, server="srv-0000", range=r) for r in RANGES]
    return {"generated": generated, "runs": runs, "pages": pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.viewer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5, help="runs per page (best and median)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    with tempfile.TemporaryDirectory(prefix="mast-bench-viewer-") as workdir:
        result = benchmark(Path(workdir) / "viewer.duckdb", args.servers, args.days, args.runs)
    if args.json:
        print(json.dumps(result))
        return 0
    g = result["generated"]
    print(
        f"warehouse  {g['servers']} servers, {g['days']} days of {', '.join(g['metrics'])}: "
        f"{g['rollup_rows']:,} rollup rows, {g['raw_samples']:,} raw samples, "
        f"{g['file_mb']} MB, generated in {g['generate_s']} s"
    )
    print(
        f"{'page':<22} {'queries':>7} {'cold best':>10} {'cold med':>9} {'warm best':>10} "
        f"{'warm med':>9}  (ms, AppTest run wall time, {args.runs} runs)"
    )
    for p in result["pages"]:
        label = p["page"] + (f" {p['range']}" if "range" in p else "")
        print(
            f"{label:<22} {p['queries_cold']:>7} {p['cold_ms_best']:>10.1f} "
            f"{p['cold_ms_median']:>9.1f} {p['warm_ms_best']:>10.1f} {p['warm_ms_median']:>9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
