"""Downsampling benchmark: the SQL rollup against the seed's pandas groupby, same rows.

``python -m bench.downsample --servers 100 --days 30 [--metrics 1] [--repeat 3] [--json]``

Generates 30 s samples inside DuckDB (``range()``, never in Python) into a
fresh warehouse file, then runs each side in its own process so their peak
memory (``ru_maxrss``) does not mix, ``--repeat`` times (the best time counts):

- sql: ``warehouse.rollup.roll_up`` in one write transaction, all tiers from
  nothing (the heaviest run there is); raw rows never leave DuckDB.
- pandas: every raw row loaded into a DataFrame, then the same tiers by
  ``groupby`` (the seed's in-memory approach).

Then a second ``warehouse.rollup.run`` (what the flow runs: nothing left to
roll up, then retention) is timed and must write nothing. Both sides' tier
sizes and coarsest tier are compared; a mismatch is an error (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

END = datetime(2026, 1, 1)  # samples end here; fixed so runs are comparable
GENERATE = """
INSERT INTO metric_samples (server, metric, ts, value, landed_at)
SELECT
    'srv-' || lpad(s::VARCHAR, 4, '0'),
    metrics[m + 1],
    $start::TIMESTAMP + to_seconds(i * 30),
    ((i * 7919 + s * 104729 + m * 1299709) % 10007) / 100.0,
    $start::TIMESTAMP + to_seconds(i * 30 + 5)
FROM range($samples) t(i), range($servers) u(s), range($nmetrics) v(m),
     (SELECT $metrics AS metrics)
ORDER BY i, s, m
"""
SUMMARY = """
SELECT count(*), sum(sample_count), sum(sum_value), min(min_value), max(max_value)
FROM metric_rollups WHERE tier = $tier
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, servers: int, days: int, metrics: int) -> dict:
    from probes.system import METRICS
    from warehouse.db import writer

    names = list(METRICS)[:metrics]
    with writer(path) as con:
        con.execute(
            GENERATE,
            {
                "start": END - timedelta(days=days),
                "samples": days * 2880,
                "servers": servers,
                "nmetrics": len(names),
                "metrics": names,
            },
        )
        (rows,) = con.execute("SELECT count(*) FROM metric_samples").fetchone()
    return {"rows": rows}


def run_sql(path: Path) -> dict:
    from warehouse.db import writer
    from warehouse.rollup import RollupSettings, roll_up

    settings = RollupSettings.from_env()
    t0 = time.perf_counter()
    with writer(path) as con:
        report = roll_up(con, settings, END)
    sql_s = time.perf_counter() - t0
    with writer(path) as con:
        summary = list(con.execute(SUMMARY, {"tier": settings.tiers[-1].name}).fetchone())
    return {
        "sql_s": sql_s,
        "sql_peak_mb": peak_mb(),
        "buckets": {t.tier: t.fresh_buckets for t in report.tiers},
        "sql_summary": summary,
    }


def run_again(path: Path) -> dict:
    """A second run of the flow's step: nothing left to roll up, then retention."""
    from warehouse.rollup import run

    t0 = time.perf_counter()
    report = run(path, now=END)
    return {
        "rerun_s": time.perf_counter() - t0,
        "rerun_written": sum(t.fresh_buckets + t.late_buckets for t in report.tiers),
        "raw_pruned": report.raw_pruned,
    }


def run_pandas(path: Path) -> dict:
    import pandas as pd

    from warehouse.db import reader
    from warehouse.rollup import RollupSettings

    tiers = RollupSettings.from_env().tiers
    t0 = time.perf_counter()
    with reader(path) as con:
        frame = con.execute("SELECT server, metric, ts, value FROM metric_samples").df()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    level = frame.sort_values("ts").rename(columns={"ts": "last_ts"})
    level = level.assign(
        min_value=level["value"],
        max_value=level["value"],
        sum_value=level["value"],
        sample_count=1,
        last_value=level["value"],
        bucket=level["last_ts"],
    ).drop(columns="value")
    del frame
    sizes = {}
    for tier in tiers:
        level = (
            level.assign(bucket=level["bucket"].dt.floor(pd.Timedelta(seconds=tier.width_s)))
            .groupby(["bucket", "server", "metric"], sort=False)
            .agg(
                min_value=("min_value", "min"),
                max_value=("max_value", "max"),
                sum_value=("sum_value", "sum"),
                sample_count=("sample_count", "sum"),
                last_value=("last_value", "last"),  # rows are in ts order
                last_ts=("last_ts", "max"),
            )
            .reset_index()
            .sort_values("last_ts")
        )
        sizes[tier.name] = len(level)
    groupby_s = time.perf_counter() - t0
    summary = [
        len(level),
        int(level["sample_count"].sum()),
        float(level["sum_value"].sum()),
        float(level["min_value"].min()),
        float(level["max_value"].max()),
    ]
    return {
        "pandas_s": load_s + groupby_s,
        "pandas_load_s": load_s,
        "pandas_groupby_s": groupby_s,
        "pandas_peak_mb": peak_mb(),
        "pandas_buckets": sizes,
        "pandas_summary": summary,
    }


def _child(role: str, path: Path, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.downsample", "--role", role, "--path", str(path), *extra],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the {role} process failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _same(a: list, b: list) -> bool:
    return a[:2] == b[:2] and all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6) for x, y in zip(a[2:], b[2:], strict=True)
    )


def benchmark(servers: int, days: int, metrics: int, repeat: int, workdir: Path) -> dict:
    """Each side ``repeat`` times, each time in a fresh process (the SQL side on a fresh
    copy of the generated file); the best time of each side counts, as the least
    disturbed by whatever else the machine runs."""
    source = workdir / "generated.duckdb"
    generated = _child("generate", source, str(servers), str(days), str(metrics))
    path = workdir / "bench.duckdb"
    sqls, pandases = [], []
    for _ in range(repeat):
        shutil.copyfile(source, path)
        sqls.append(_child("sql", path))
        pandases.append(_child("pandas", source))
    sql = min(sqls, key=lambda r: r["sql_s"])
    pandas = min(pandases, key=lambda r: r["pandas_s"])
    again = _child("again", path)  # last: its retention deletes raw rows
    return {
        "servers": servers,
        "days": days,
        "metrics": metrics,
        **generated,
        "sql_s": round(sql["sql_s"], 3),
        "pandas_s": round(pandas["pandas_s"], 3),
        "ratio": round(pandas["pandas_s"] / sql["sql_s"], 1),
        "sql_peak_mb": round(max(r["sql_peak_mb"] for r in sqls)),
        "pandas_peak_mb": round(max(r["pandas_peak_mb"] for r in pandases)),
        "pandas_load_s": round(pandas["pandas_load_s"], 3),
        "pandas_groupby_s": round(pandas["pandas_groupby_s"], 3),
        "sql_runs_s": [round(r["sql_s"], 3) for r in sqls],
        "pandas_runs_s": [round(r["pandas_s"], 3) for r in pandases],
        "rerun_s": round(again["rerun_s"], 3),
        "rerun_written": again["rerun_written"],
        "raw_pruned": again["raw_pruned"],
        "buckets": sql["buckets"],
        "match": all(r["buckets"] == sql["buckets"] for r in sqls)
        and all(_same(r["sql_summary"], p["pandas_summary"]) for r in sqls for p in pandases)
        and all(p["pandas_buckets"] == sql["buckets"] for p in pandases)
        and again["rerun_written"] == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.downsample", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--metrics", type=int, default=1, help="metrics per server (max 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (best counts)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--role", choices=["generate", "sql", "pandas", "again"], help=argparse.SUPPRESS
    )
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("size", nargs="*", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "generate":
        print(json.dumps(generate(args.path, *args.size)))
        return 0
    if args.role:
        roles = {"sql": run_sql, "pandas": run_pandas, "again": run_again}
        print(json.dumps(roles[args.role](args.path)))
        return 0
    with tempfile.TemporaryDirectory(prefix="mast-bench-downsample-") as workdir:
        result = benchmark(args.servers, args.days, args.metrics, args.repeat, Path(workdir))
    if args.json:
        print(json.dumps(result))
    else:
        tiers = ", ".join(f"{n}: {c:,}" for n, c in result["buckets"].items())

        def runs(times: list[float]) -> str:
            return " / ".join(f"{t:.2f}" for t in times) + " s"

        print(
            f"rows      {result['rows']:,} ({args.servers} servers x {args.metrics} metric(s) "
            f"x {args.days} days, 30 s samples)\n"
            f"sql       {result['sql_s']:.2f} s, peak {result['sql_peak_mb']} MB "
            f"(buckets {tiers}; runs {runs(result['sql_runs_s'])})\n"
            f"pandas    {result['pandas_s']:.2f} s, peak {result['pandas_peak_mb']} MB "
            f"(load {result['pandas_load_s']:.2f} s + groupby {result['pandas_groupby_s']:.2f} s; "
            f"runs {runs(result['pandas_runs_s'])})\n"
            f"ratio     {result['ratio']} (pandas time / sql time); pandas peak memory "
            f"{result['pandas_peak_mb'] / max(result['sql_peak_mb'], 1):.1f}x the sql peak\n"
            f"rerun     {result['rerun_s']:.2f} s: {result['rerun_written']} buckets written, "
            f"{result['raw_pruned']:,} raw rows past retention deleted\n"
            f"results   {'match' if result['match'] else 'DIFFER'}"
        )
    return 0 if result["match"] else 1


if __name__ == "__main__":
    sys.exit(main())
