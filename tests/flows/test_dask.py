"""The fan-out on a Dask cluster (prefect-dask), and sharded ticks."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import distributed  # the dask extra, installed by .ci/setup
import pytest
import yaml

from bench.localfleet import LocalFleet
from warehouse.db import reader

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=4, processes=True) as c,
        distributed.Client(c) as client,
    ):
        yield c, client


def dask_tick(cluster_address: str):
    from prefect_dask import DaskTaskRunner

    from flows.tick import tick

    return tick.with_options(task_runner=DaskTaskRunner(address=cluster_address))


def write_inventory(path: Path, known_hosts: Path, servers: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"known_hosts": str(known_hosts), "servers": servers}))
    return path


def rows(db) -> list[tuple]:
    with reader(db) as con:
        return con.execute(
            "SELECT server, reachable, os_name, ncpu, mem_total_bytes, kernel FROM server_status "
            "ORDER BY server"
        ).fetchall()


def test_dask_runner_lands_what_the_thread_runner_lands(fleet, cluster, tmp_path, monkeypatch):
    from flows.tick import tick
    from probes.ssh import installed_key_material

    c, client = cluster
    inventory = write_inventory(tmp_path / "fleet.yaml", fleet.known_hosts, fleet.server_entries())
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "threads.duckdb"))
    tick()
    monkeypatch.setenv("MAST_DB", str(tmp_path / "dask.duckdb"))
    before = fleet.connections_by_port()
    landed = dask_tick(c.scheduler_address)()
    assert (landed["servers"], landed["reachable"]) == (3, 3)
    assert fleet.connections_by_port() - before == {p: 1 for p in fleet.ports}
    assert rows(tmp_path / "dask.duckdb") == rows(tmp_path / "threads.duckdb")
    # The workers got the key and known_hosts in memory, from the flow.
    held = client.run(lambda: sorted(installed_key_material().keys))
    assert list(held.values()) == [[str(fleet.client_key)]] * 2
    assert installed_key_material().keys == {}  # the flow's own process needs none


def test_a_worker_killed_mid_tick_loses_no_server_and_duplicates_none(
    cluster, tmp_path, monkeypatch
):
    c, client = cluster
    scripts = Path(tempfile.mkdtemp(prefix="mast-slow-"))
    scripts.chmod(0o755)
    slow = scripts / "slow.sh"
    slow.write_text('#!/bin/sh\nsleep 3\nexec sh -c "$SSH_ORIGINAL_COMMAND"\n')
    slow.chmod(0o755)
    with LocalFleet(tmp_path / "slow", count=8, prefix="slow", force_command=str(slow)) as fleet:
        inventory = write_inventory(
            tmp_path / "fleet.yaml", fleet.known_hosts, fleet.server_entries()
        )
        monkeypatch.setenv("MAST_INVENTORY", str(inventory))
        monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
        monkeypatch.setenv("MAST_SSH_COMMAND_TIMEOUT", "20")
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.update(dask_tick(c.scheduler_address)()))
        runner.start()
        deadline = time.monotonic() + 20
        # More than 4 connections (one worker's threads) means both workers are probing.
        while sum(fleet.connections_by_port().values()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        runner.join(120)
        connections = sum(fleet.connections_by_port().values())
    assert outcome["servers"] == 8
    with reader(tmp_path / "mast.duckdb") as con:
        runs = con.execute("SELECT server, ok, reason FROM probe_runs ORDER BY server").fetchall()
    assert [r[0] for r in runs] == fleet.names()  # every server once, none twice
    assert all(ok or reason == "runner" for _, ok, reason in runs), runs
    assert connections > 8  # the killed worker's probes were run again elsewhere
    assert sum(ok for _, ok, _ in runs) >= 4  # the other worker's probes landed
    client.wait_for_workers(2, timeout=60)  # the nanny replaced the killed worker


def test_two_shards_cover_the_fleet_exactly_once(fleet, tmp_path, monkeypatch):
    from flows.tick import tick

    entry = fleet.server_entries()
    servers = [{**entry[i % 3], "name": f"node-{i:02d}"} for i in range(12)]
    monkeypatch.setenv(
        "MAST_INVENTORY", str(write_inventory(tmp_path / "f.yaml", fleet.known_hosts, servers))
    )
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    first, second = tick(shard="0/2"), tick(shard="1/2")
    assert first["servers"] > 0 and second["servers"] > 0
    with reader(tmp_path / "mast.duckdb") as con:
        probed = con.execute(
            "SELECT server, count(*) FROM probe_runs GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert probed == [(s["name"], 1) for s in servers]
