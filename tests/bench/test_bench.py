"""The bench: counts cross-checked with sshd, the flow's artifacts, the CLI and fleet mode."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.fleet import LatencyProxy
from bench.measure import measure
from probes import packages, system
from probes.inventory import Server
from probes.ssh import SshSettings, Transport
from warehouse.db import reader

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_env(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("MAST_INVENTORY", str(fleet.write_inventory(tmp_path / "fleet.yaml")))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    return tmp_path / "mast.duckdb"


def test_connection_counts_agree_with_sshd(fleet):
    target = Server.model_validate(fleet.server_entries()[0])
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts)))
    before = fleet.connections_by_port()
    rows = measure(target, transport, [system, packages], n=2)
    by = {(r.probe, r.strategy): r for r in rows}
    assert by["system", "combined"].ssh_calls == 1
    assert by["system", "separate"].ssh_calls == len(system.SECTIONS)
    assert by["packages", "combined"].ssh_calls == 1
    assert by["packages", "separate"].ssh_calls > 1
    assert by["system", "combined"].ratio is not None and by["system", "separate"].ratio is None
    counted_by_us = sum(r.ssh_calls * r.runs for r in rows)
    assert fleet.connections_by_port() - before == {target.port: counted_by_us}


def test_cli_json_rows(bench_env):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "-n", "2", "--probes", "system", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["probe"], r["strategy"], r["runs"], r["ssh_calls"]) for r in rows] == [
        ("system", "combined", 2, 1),
        ("system", "separate", 2, len(system.SECTIONS)),
    ]
    assert all(r["min_ms"] <= r["median_ms"] <= r["max_ms"] and r["cpu_ms"] > 0 for r in rows)
    with reader(bench_env) as con:
        assert con.execute("SELECT count(*) FROM bench_runs").fetchone() == (2,)


def test_cli_refuses_unknown_probe(bench_env):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--probes", "nope"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "unknown probe(s) nope" in done.stderr


async def artifacts(keys: list[str]):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )


@pytest.mark.usefixtures("prefect_server")
def test_bench_flow_publishes_table_and_report_artifacts(bench_env):
    from bench.flow import bench

    rows = bench(n=2, probes=["system"])
    assert [r["ssh_calls"] for r in rows] == [1, len(system.SECTIONS)]
    found = {a.key: a for a in asyncio.run(artifacts(["bench-ssh-calls", "bench-report"]))}
    assert found["bench-ssh-calls"].type == "table"
    table = found["bench-ssh-calls"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert [r["strategy"] for r in table] == ["combined", "separate"]
    report = found["bench-report"].data
    assert "rtt (bare TCP connect)" in report and "| system | separate | 9 |" in report
    with reader(bench_env) as con:
        assert con.execute("SELECT count(*) FROM bench_runs").fetchone() == (2,)


def test_latency_proxy_adds_round_trips(fleet):
    target = Server.model_validate(fleet.server_entries()[1])
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts)))
    t0 = time.perf_counter()
    transport.run(target, "true")
    direct = time.perf_counter() - t0
    proxy = LatencyProxy([target.port], rtt_ms=100)
    try:
        pub = fleet.host_key.with_suffix(".pub").read_text().split()
        known = fleet.root / "proxy_known_hosts"
        known.write_text(f"[127.0.0.1]:{proxy.ports[0]} {pub[0]} {pub[1]}\n")
        slow = Transport(SshSettings(known_hosts=str(known)))
        via = target.model_copy(update={"port": proxy.ports[0]})
        t0 = time.perf_counter()
        assert slow.run(via, "echo through").stdout == "through\n"
        delayed = time.perf_counter() - t0
    finally:
        proxy.stop()
    # An SSH connection needs several round trips; each now costs at least 100 ms.
    assert delayed >= direct + 0.3


@pytest.mark.usefixtures("prefect_server")
def test_fleet_mode_runs_full_ticks(monkeypatch, capsys):
    from bench.fleet import main

    monkeypatch.setenv("MAST_INVENTORY", "unused")  # restored after: main() sets its own
    monkeypatch.setenv("MAST_DB", "unused")
    assert main(["--servers", "2,5", "--ticks", "1", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [(r["servers"], r["connections_per_tick"], r["reachable"]) for r in results] == [
        (2, 2, 2),
        (5, 5, 5),
    ]
    assert all(r["tick_wall_s"] > 0 and r["cpu_ms_per_server"] > 0 for r in results)
