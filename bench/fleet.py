"""``python -m bench fleet``: full ticks over a local fleet of N sshd servers.

Starts N servers on loopback (<=16 ports per sshd), optionally behind the
latency proxy (bench/latency.py, its own process), writes an inventory, and
runs the real tick flow over them. Reports per fleet size the median tick wall
time, connections per tick, and client CPU per server (all threads of this
process, Prefect's included: what a tick really costs the machine).

Without PREFECT_API_URL, a local Prefect server starts once for the bench (so
that Dask workers reach the same one); one warm-up tick per size is not
reported. ``--runner dask`` runs the probes on a local Dask cluster of
``--workers`` processes started once; their CPU is counted too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.localfleet import LocalFleet, free_ports


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LatencyProxy:
    """bench/latency.py in a subprocess, in front of ``ports``."""

    def __init__(self, ports: list[int], rtt_ms: float) -> None:
        self.ports = free_ports(len(ports))
        pairs = [f"{listen}:{target}" for listen, target in zip(self.ports, ports, strict=True)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.latency", "--rtt-ms", str(rtt_ms), *pairs],
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the latency proxy did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _connections_here() -> int:
    from probes.ssh import CONNECTIONS

    return CONNECTIONS.count


def _connections(client) -> int:
    """SSH connections opened so far: by this process, or by every Dask worker."""
    return sum(client.run(_connections_here).values()) if client else _connections_here()


def _cpu_of_workers(client) -> float:
    """CPU seconds used so far by every Dask worker process (0 without a cluster)."""
    if client is None:
        return 0.0
    return sum(client.run(_cpu_s).values())


def bench_size(
    root: Path, servers: int, rtt_ms: float, ticks: int, progress, task, tick, client=None
) -> dict:
    with LocalFleet(root / f"fleet-{servers}", count=servers, prefix="bench") as fleet:
        proxy = LatencyProxy(fleet.ports, rtt_ms) if rtt_ms else None
        try:
            if proxy:  # the inventory points at the proxy; host keys follow the port
                pub = fleet.host_key.with_suffix(".pub").read_text().split()
                fleet.known_hosts.write_text(
                    "".join(f"[127.0.0.1]:{p} {pub[0]} {pub[1]}\n" for p in proxy.ports)
                )
                fleet.ports = proxy.ports
            os.environ["MAST_INVENTORY"] = str(
                fleet.write_inventory(root / f"fleet-{servers}.yaml")
            )
            os.environ["MAST_DB"] = str(root / f"bench-{servers}.duckdb")
            tick()  # warm-up: imports, first connection of the Prefect client
            walls, cpus, conns, reachable = [], [], [], []
            for _ in range(ticks):
                c0, w0 = _cpu_s(), _cpu_of_workers(client)
                before, t0 = _connections(client), time.perf_counter()
                landed = tick()
                walls.append(time.perf_counter() - t0)
                cpus.append(_cpu_s() - c0 + _cpu_of_workers(client) - w0)
                conns.append(_connections(client) - before)
                reachable.append(landed["reachable"])
                progress.advance(task)
        finally:
            if proxy:
                proxy.stop()
    return {
        "servers": servers,
        "rtt_ms": rtt_ms,
        "ticks": ticks,
        "tick_wall_s": statistics.median(walls),
        "connections_per_tick": statistics.median(conns),
        "reachable": min(reachable),
        "cpu_ms_per_server": statistics.median(cpus) * 1000 / servers,
        "max_parallel": int(os.environ.get("MAST_MAX_PARALLEL", 32)),
        "runner": "dask" if client else "threads",
    }


def _dask(stack: contextlib.ExitStack, workers: int, tick):
    """A local Dask cluster for the whole bench (not one per tick), and the tick on it."""
    import distributed
    from prefect_dask import DaskTaskRunner

    from flows.fanout import max_parallel

    cluster = stack.enter_context(
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=max(1, max_parallel() // workers), processes=True
        )
    )
    client = stack.enter_context(distributed.Client(cluster))
    return client, tick.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench fleet", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--servers", default="50", help="fleet size, or sizes: 1,50,200 (default 50)"
    )
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="latency added by a TCP proxy")
    parser.add_argument("--ticks", type=int, default=3, help="measured ticks per size (default 3)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--runner", choices=["threads", "dask", "both"], default="threads")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.servers.split(",")]
    runners = ["threads", "dask"] if args.runner == "both" else [args.runner]
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.tick import tick

    results = []
    with contextlib.ExitStack() as stack:
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            # One local Prefect server for the whole bench, that Dask workers (other
            # processes) reach too; ephemeral mode would start one per process. Ask
            # the setting, not the variable: prefect_test_harness sets it in-process,
            # and SubprocessASGIServer() would be the harness's own server, stopped here.
            from prefect.server.api.server import SubprocessASGIServer

            server = SubprocessASGIServer()
            server.start(timeout=120)
            stack.callback(server.stop)
            os.environ["PREFECT_API_URL"] = server.api_url
            stack.callback(os.environ.pop, "PREFECT_API_URL", None)
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mast-bench-fleet-"))
        progress = stack.enter_context(Progress(console=Console(stderr=True), transient=True))
        task = progress.add_task("ticks", total=len(sizes) * args.ticks * len(runners))
        for runner in runners:
            client, run = None, tick
            if runner == "dask":
                client, run = _dask(stack, args.workers, tick)
            for size in sizes:
                progress.update(task, description=f"{runner}: {size} servers")
                results.append(
                    bench_size(
                        Path(tmp), size, args.rtt_ms, args.ticks, progress, task, run, client
                    )
                )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    table = Table(title=f"Mast fleet bench (rtt +{args.rtt_ms:g} ms, median of {args.ticks} ticks)")
    for col in ("runner", "servers", "tick wall s", "connections", "reachable", "cpu ms/server"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            r["runner"],
            str(r["servers"]),
            f"{r['tick_wall_s']:.2f}",
            f"{r['connections_per_tick']:g}",
            str(r["reachable"]),
            f"{r['cpu_ms_per_server']:.1f}",
        )
    Console().print(table)
    return 0
