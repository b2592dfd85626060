"""Measure the SSH path of each probe: connections per run, wall and client CPU time.

``combined`` is Mast's way: all of a probe's sections in ONE command over ONE
connection. ``separate`` is the seed system's: one connection per section, so
users can see on their own servers what batching saves, in one run.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from probes import PATCH_PROBES, TICK_PROBES
from probes.collect import parse_sections, probe_server, sections_of
from probes.inventory import Server
from probes.registry import ProbeContext, ProbeOptions
from probes.script import build_command, new_marker, split_output
from probes.ssh import CONNECTIONS, Transport

SSH_PROBES: tuple[ModuleType, ...] = tuple(dict.fromkeys(TICK_PROBES + PATCH_PROBES))
STRATEGIES = ("combined", "separate")


@dataclass(frozen=True)
class BenchRow:
    """One probe under one strategy, over ``runs`` runs (times per run, in ms)."""

    probe: str
    strategy: str
    runs: int
    ssh_calls: float  # per run
    min_ms: float
    median_ms: float
    max_ms: float
    cpu_ms: float  # median client CPU per run
    ratio: float | None = None  # combined median / separate median, on the combined row


def probes_named(names: Sequence[str] | None) -> tuple[ModuleType, ...]:
    """The SSH-bound probes called ``names`` (all when None); unknown names raise ValueError."""
    if not names:
        return SSH_PROBES
    by_name = {p.NAME: p for p in SSH_PROBES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown probe(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")
    return tuple(by_name[n] for n in names)


def _run_separate(
    server: Server, transport: Transport, probe: ModuleType, options: ProbeOptions
) -> None:
    """The seed's way: every section over a connection of its own."""
    context = ProbeContext(server, options)
    timeout = max(1.0, transport.settings.command_timeout_s - 2)
    sections = {}
    for name, command in sections_of([probe], context).items():
        marker = new_marker()
        one = build_command({name: command}, marker, timeout, transport.settings.output_cap_bytes)
        sections.update(split_output(transport.run(server, one).stdout, marker))
    parse_sections([probe], sections, context)


def _run_combined(
    server: Server, transport: Transport, probe: ModuleType, options: ProbeOptions
) -> None:
    probe_server(server, transport, (probe,), options)


def measure(
    server: Server,
    transport: Transport,
    probes: Sequence[ModuleType] = SSH_PROBES,
    n: int = 10,
    strategies: Sequence[str] = STRATEGIES,
    options: ProbeOptions | None = None,
    on_run=None,
) -> list[BenchRow]:
    """Run each probe ``n`` times per strategy against ``server``; one BenchRow each.

    Runs are sequential, so the process CPU time of a run is the run's own.
    ``on_run`` (if given) is called after every run, for progress bars.
    """
    options = options or ProbeOptions(refresh_packages=False)
    runners = {"combined": _run_combined, "separate": _run_separate}
    rows: list[BenchRow] = []
    for probe in probes:
        if not sections_of([probe], ProbeContext(server, options)):
            continue  # e.g. the app probe on a server that declares no releases
        medians: dict[str, float] = {}
        for strategy in strategies:
            walls, cpus, calls = [], [], 0
            for _ in range(n):
                before, t0, c0 = CONNECTIONS.count, time.perf_counter(), time.process_time()
                runners[strategy](server, transport, probe, options)
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
                calls += CONNECTIONS.count - before
                if on_run:
                    on_run()
            medians[strategy] = statistics.median(walls)
            rows.append(
                BenchRow(
                    probe.NAME,
                    strategy,
                    n,
                    calls / n,
                    min(walls),
                    medians[strategy],
                    max(walls),
                    statistics.median(cpus),
                )
            )
        if {"combined", "separate"} <= set(medians):
            i = next(
                i for i, r in enumerate(rows) if r.probe == probe.NAME and r.strategy == "combined"
            )
            rows[i] = BenchRow(
                **{**rows[i].__dict__, "ratio": medians["combined"] / medians["separate"]}
            )
    return rows


def bare_connect_rtt_ms(host: str, port: int, n: int = 5) -> float:
    """Median time of a plain TCP connect to ``host:port``: the network's round trip."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with socket.create_connection((host, port), timeout=10):
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


@dataclass(frozen=True)
class BenchReport:
    server: str
    rtt_ms: float
    rows: list[BenchRow]
    environment: dict[str, str]


def strategies_for(strategy: str) -> tuple[str, ...]:
    if strategy == "both":
        return STRATEGIES
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: use combined, separate or both")
    return (strategy,)


def run_bench(
    server: str | None = None,
    n: int = 10,
    probes: Sequence[str] | None = None,
    strategy: str = "both",
    on_run=None,
) -> BenchReport:
    """The bench of the CLI and the flow: the inventory's ``server`` (default: its first)."""
    import platform
    from importlib.metadata import version

    from flows.fanout import ssh_settings
    from probes.inventory import load_inventory

    inventory = load_inventory()
    target = inventory.select([server] if server else None)[0]
    transport = Transport(ssh_settings(inventory.known_hosts))
    rows = measure(
        target, transport, probes_named(probes), n, strategies_for(strategy), on_run=on_run
    )
    conn, _ = transport.connection(target)  # the host and port ~/.ssh/config resolves to
    environment = {
        "server": f"{target.name} ({conn.host}:{conn.port})",
        "python": platform.python_version(),
        **{pkg: version(pkg) for pkg in ("fabric", "paramiko", "prefect", "duckdb")},
        "runs per strategy": str(n),
    }
    rtt = bare_connect_rtt_ms(conn.host, conn.port)
    environment["rtt (bare TCP connect)"] = f"{rtt:.2f} ms"
    return BenchReport(target.name, rtt, rows, environment)
