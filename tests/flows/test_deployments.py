"""prefect.yaml and the Prefect behaviour users rely on: on-demand runs, no overlaps, retries."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from probes.errors import InventoryError
from warehouse.db import reader

REPO = Path(__file__).resolve().parents[2]
PREFECT_YAML = yaml.safe_load((REPO / "prefect.yaml").read_text())
DEPLOYMENTS = {d["entrypoint"]: d for d in PREFECT_YAML["deployments"]}


def load_flow(entrypoint: str):
    path, name = entrypoint.split(":")
    spec = importlib.util.spec_from_file_location(f"entry_{Path(path).stem}", REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.mark.parametrize("entrypoint", sorted(DEPLOYMENTS))
def test_every_deployment_loads_and_is_well_formed(entrypoint):
    deployment = DEPLOYMENTS[entrypoint]
    flow = load_flow(entrypoint)
    accepted = set(inspect.signature(flow.fn).parameters)
    assert set(deployment.get("parameters") or {}) <= accepted
    assert deployment["work_pool"]["name"] == "mast"
    if deployment.get("schedules"):
        assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def test_the_schedules_users_rely_on():
    every = {e: [s["interval"] for s in d.get("schedules", [])] for e, d in DEPLOYMENTS.items()}
    assert every == {
        "flows/tick.py:tick": [30],
        "flows/patch_scan.py:patch_scan": [6 * 3600],
        "flows/downsample.py:downsample": [300],
        "bench/flow.py:bench": [],
        "flows/release_logs.py:release_logs": [],
    }


@pytest.fixture
def inventory_env(fleet, broken_entries, tmp_path, monkeypatch):
    entries, known_hosts = broken_entries
    inventory = tmp_path / "fleet.yaml"
    (tmp_path / "known_hosts").write_text(fleet.known_hosts.read_text() + known_hosts.read_text())
    inventory.write_text(
        yaml.safe_dump(
            {
                "known_hosts": str(tmp_path / "known_hosts"),
                "servers": fleet.server_entries() + entries,
            }
        )
    )
    env = {
        "MAST_INVENTORY": str(inventory),
        "MAST_DB": str(tmp_path / "mast.duckdb"),
        "MAST_SSH_COMMAND_TIMEOUT": "4",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def probed_servers(db) -> list[str]:
    with reader(db) as con:
        return [s for (s,) in con.execute("SELECT server FROM probe_runs ORDER BY 1").fetchall()]


@pytest.mark.usefixtures("prefect_server")
def test_on_demand_tick_probes_only_the_named_servers(fleet, inventory_env):
    from flows.tick import tick

    before = fleet.connections_by_port()
    tick(servers=["srv-2"])
    assert fleet.connections_by_port() - before == {fleet.ports[1]: 1}
    tick(tags=["odd"])  # srv-1 and srv-3 carry the tag "odd"
    assert probed_servers(inventory_env["MAST_DB"]) == ["srv-1", "srv-2", "srv-3"]


@pytest.mark.usefixtures("prefect_server")
def test_unknown_server_names_fail_the_run_naming_them(inventory_env):
    from flows.tick import tick

    with pytest.raises(InventoryError, match="unknown server name.*: web-9, db-7"):
        tick(servers=["srv-1", "web-9", "db-7"])
    assert not Path(inventory_env["MAST_DB"]).exists()  # nothing was written


class BannerDropper:
    """A TCP server that accepts and closes at once: sshd dropping a handshake
    past MaxStartups looks like this to the client."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


async def task_run_counts(names: list[str]) -> dict[str, int]:
    from prefect import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    async with get_client() as client:
        runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=names))
        )
    return {r.name: r.run_count for r in runs}


@pytest.mark.usefixtures("prefect_server")
def test_only_transient_failures_are_retried(fleet, inventory_env, tmp_path):
    from flows.tick import tick

    dropper = BannerDropper()
    inventory = yaml.safe_load(Path(inventory_env["MAST_INVENTORY"]).read_text())
    inventory["servers"].append(
        {
            "name": "dropper",
            "host": "127.0.0.1",
            "port": dropper.port,
            "user": fleet.user,
            "identity_file": str(fleet.client_key),
        }
    )
    Path(inventory_env["MAST_INVENTORY"]).write_text(yaml.safe_dump(inventory))
    tick(servers=["dropper", "wrong-key"])
    counts = asyncio.run(task_run_counts(["probe dropper", "probe wrong-key"]))
    assert counts["probe wrong-key"] == 1  # auth: never retried
    assert counts["probe dropper"] == 3 and dropper.accepted == 3  # banner: two retries
    with reader(inventory_env["MAST_DB"]) as con:
        reasons = dict(con.execute("SELECT server, reason FROM server_status").fetchall())
    assert reasons == {"dropper": "banner", "wrong-key": "auth"}


async def final_states(deployment_name: str, parameters: dict, runs: int, timeout_s: float):
    from prefect import get_client
    from prefect.deployments import run_deployment

    async with get_client() as client:
        deployment = await client.read_deployment_by_name(deployment_name)
        for schedule in deployment.schedules:  # only our two runs, not the scheduler's
            await client.update_deployment_schedule(deployment.id, schedule.id, active=False)
        created = await asyncio.gather(
            *[
                run_deployment(deployment_name, parameters=parameters, timeout=0)
                for _ in range(runs)
            ]
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = [(await client.read_flow_run(r.id)).state for r in created]
            if all(s.is_final() for s in states):
                return sorted(s.type.value for s in states)
            await asyncio.sleep(1)
    raise AssertionError(f"runs did not finish in {timeout_s} s: {[s.type for s in states]}")


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_two_runs_at_once_end_one_completed_one_cancelled(inventory_env, tmp_path):
    from prefect.settings import PREFECT_API_URL

    env = dict(
        os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_WORKER_QUERY_SECONDS="1"
    )
    prefect = str(Path(sys.executable).parent / "prefect")
    for command in (
        [prefect, "work-pool", "create", "mast", "--type", "process", "--overwrite"],
        [prefect, "--no-prompt", "deploy", "--name", "tick/fleet"],
    ):
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [prefect, "worker", "start", "--pool", "mast"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        states = asyncio.run(
            final_states("tick/fleet", {"servers": ["srv-1", "stuck"]}, runs=2, timeout_s=120)
        )
    finally:
        worker.terminate()
        worker.wait(30)
    assert states == ["CANCELLED", "COMPLETED"], (tmp_path / "worker.log").read_text()[-3000:]
    with reader(inventory_env["MAST_DB"]) as con:
        assert con.execute("SELECT count(*) FROM ticks").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM probe_runs").fetchone() == (2,)


async def mast_events(resource_id: str, timeout_s: float = 30) -> list[str]:
    """The event names the Prefect server stored for ``resource_id`` (it persists them
    asynchronously, so poll)."""
    from prefect import get_client

    deadline = time.monotonic() + timeout_s
    names: list[str] = []
    async with get_client() as client:
        while time.monotonic() < deadline:
            response = await client._client.post(
                "/events/filter",
                json={"filter": {"resource": {"id": [resource_id]}, "order": "ASC"}, "limit": 50},
            )
            response.raise_for_status()
            names = [e["event"] for e in response.json()["events"]]
            if "mast.server.up" in names:
                return names
            await asyncio.sleep(1)
    return names


@pytest.mark.usefixtures("prefect_server")
def test_state_changes_become_prefect_events(fleet, inventory_env):
    from flows.tick import tick

    tick(servers=["closed"])  # first look: down
    inventory = yaml.safe_load(Path(inventory_env["MAST_INVENTORY"]).read_text())
    closed = next(s for s in inventory["servers"] if s["name"] == "closed")
    closed.update(port=fleet.ports[2], identity_file=str(fleet.client_key))  # repaired
    Path(inventory_env["MAST_INVENTORY"]).write_text(yaml.safe_dump(inventory))
    landed = tick(servers=["closed"])
    assert [e["kind"] for e in landed["events"]] == ["server.up"]
    assert asyncio.run(mast_events("mast.server.closed")) == ["mast.server.down", "mast.server.up"]


def test_the_documented_automation_is_valid_for_prefect():
    from prefect.events.schemas.automations import AutomationCore

    automation = AutomationCore.model_validate(
        yaml.safe_load((REPO / "docs/automations/server-down.yaml").read_text())
    )
    assert automation.trigger.expect == {"mast.server.down"}
