"""``python -m bench``: the probe bench; ``python -m bench fleet``: the fleet benchmark.

python -m bench [--server NAME] [-n 10] [--probes system apps] [--strategy both] [--json]
python -m bench fleet --servers 1,50,200 [--rtt-ms 40] [--ticks 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import asdict

from rich.console import Console
from rich.progress import Progress
from rich.table import Table


def probe_bench(argv: list[str]) -> int:
    from bench.measure import STRATEGIES, run_bench, strategies_for
    from warehouse.bench import land_bench_runs

    parser = argparse.ArgumentParser(
        prog="python -m bench", description="SSH calls and timings per probe"
    )
    parser.add_argument("--server", help="inventory name (default: the first server)")
    parser.add_argument("-n", type=int, default=10, help="runs per probe and strategy (default 10)")
    parser.add_argument("--probes", nargs="+", help="probe names (default: every SSH-bound probe)")
    parser.add_argument("--strategy", choices=[*STRATEGIES, "both"], default="both")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    from bench.measure import probes_named

    total = args.n * len(strategies_for(args.strategy)) * len(probes_named(args.probes))
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=args.json) as progress:
        task = progress.add_task("probing", total=total)
        report = run_bench(
            args.server, args.n, args.probes, args.strategy, lambda: progress.advance(task)
        )
    rows = [asdict(r) for r in report.rows]
    land_bench_runs(str(uuid.uuid4()), report.server, rows, report.rtt_ms)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"Mast bench: {report.server}, rtt {report.rtt_ms:.2f} ms, n={args.n}")
    for col in (
        "probe",
        "strategy",
        "ssh calls/run",
        "min ms",
        "median ms",
        "max ms",
        "cpu ms",
        "comb/sep",
    ):
        table.add_column(col, justify="left" if col in ("probe", "strategy") else "right")
    for r in report.rows:
        table.add_row(
            r.probe,
            r.strategy,
            f"{r.ssh_calls:g}",
            f"{r.min_ms:.1f}",
            f"{r.median_ms:.1f}",
            f"{r.max_ms:.1f}",
            f"{r.cpu_ms:.1f}",
            f"{r.ratio:.2f}" if r.ratio is not None else "",
        )
    Console().print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["fleet"]:
            from bench.fleet import main as fleet_main

            return fleet_main(argv[1:])
        return probe_bench(argv)
    except ValueError as e:
        print(f"mast bench: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
