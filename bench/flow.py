"""The ``bench`` flow: the probe bench as a Prefect run, with its table as artifacts."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from bench.measure import BenchReport, run_bench
from warehouse.bench import land_bench_runs


def markdown_of(report: BenchReport) -> str:
    lines = ["# Mast bench", "", "| | |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in report.environment.items()]
    lines += [
        "",
        "| probe | strategy | ssh calls/run | min ms | median ms | max ms | cpu ms | comb/sep |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report.rows:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        lines.append(
            f"| {r.probe} | {r.strategy} | {r.ssh_calls:g} | {r.min_ms:.1f} | {r.median_ms:.1f} "
            f"| {r.max_ms:.1f} | {r.cpu_ms:.1f} | {ratio} |"
        )
    return "\n".join(lines)


@flow(name="bench")
def bench(
    server: str | None = None, n: int = 10, probes: list[str] | None = None, strategy: str = "both"
) -> list[dict]:
    """Run each SSH-bound probe ``n`` times against one server, combined and/or separate."""
    report = run_bench(server, n, probes, strategy)
    rows = [asdict(r) for r in report.rows]
    create_table_artifact(
        table=rows, key="bench-ssh-calls", description=f"Mast bench on {report.server}"
    )
    create_markdown_artifact(markdown=markdown_of(report), key="bench-report")
    land_bench_runs(str(flow_run.id or uuid.uuid4()), report.server, rows, report.rtt_ms)
    return rows
