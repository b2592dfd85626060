"""The release page's Fetch end to end: the release-logs flow runs elsewhere (a Prefect
deployment run, or a child process), over one connection, and the page shows what landed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.viewer.conftest import APP
from warehouse.queries import release_log_fetches

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture
def fleet_env(fleet, tmp_path, monkeypatch):
    """srv-1 declares a container release; one real tick has landed the fleet."""
    from flows.tick import tick

    servers = fleet.server_entries()
    servers[0]["releases"] = [{"name": "web", "container": "mast-no-such-container"}]
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(
        yaml.safe_dump({"known_hosts": str(fleet.known_hosts), "servers": servers})
    )
    db = tmp_path / "mast.duckdb"
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(db))
    tick()
    return db


def release_page():
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["release"] = "web"
    at.switch_page("views/release.py")
    return at.run()


def run_until(at, done, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not done(at):
        assert time.monotonic() < deadline, f"{what} within {timeout_s:g} s"
        time.sleep(1)
        at.run()
    return at


async def flow_run_parameters(flow_run_id: str) -> dict:
    from prefect import get_client

    async with get_client() as client:
        return (await client.read_flow_run(uuid.UUID(flow_run_id))).parameters


def test_fetch_runs_the_deployment_and_the_page_shows_the_result(fleet, fleet_env):
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())
    prefect = str(Path(sys.executable).parent / "prefect")
    for command in (
        [prefect, "work-pool", "create", "mast", "--type", "process", "--overwrite"],
        [prefect, "--no-prompt", "deploy", "--name", "release-logs/on-demand"],
    ):
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr

    at = release_page()
    assert "(docker logs mast-no-such-container)" in at.button(key="fetch_logs").help
    at.number_input(key="log_lines").set_value(50).run()
    at.button(key="fetch_logs").click().run()
    (pending,) = at.session_state["release_page.pending"].values()
    assert pending.via == "prefect"
    parameters = asyncio.run(flow_run_parameters(pending.flow_run_id))
    assert parameters == {"release": "web", "lines": 50, "fetch_id": pending.fetch_id}
    assert at.button(key="fetch_logs").disabled  # one fetch at a time

    # What a worker of the pool does with the run: execute it, here in a child process.
    before = fleet.connections_by_port()
    done = subprocess.run(
        [prefect, "flow-run", "execute", pending.flow_run_id],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert fleet.connections_by_port() - before == {fleet.ports[0]: 1}

    at = run_until(
        at, lambda a: not a.session_state["release_page.pending"], 30, "the page saw it land"
    )
    summary = " ".join(c.value for c in at.caption)
    assert "Last fetch" in summary and "from docker mast-no-such-container" in summary
    assert "0 lines read, 0 new. docker: " in summary  # no daemon (or no docker) here
    assert not at.exception and not at.warning
    assert not at.button(key="fetch_logs").disabled


def test_without_a_prefect_api_a_child_process_runs_the_flow(fleet, fleet_env):
    from viewer import logfetch

    before = fleet.connections_by_port()
    pending = logfetch.start("web", 20, api=None)
    assert pending.via == "process" and pending.process is not None
    deadline = time.monotonic() + 120
    while release_log_fetches(fetch_id=pending.fetch_id, path=fleet_env).empty:
        assert logfetch.problem(pending) is None, logfetch.problem(pending)
        assert time.monotonic() < deadline, pending.log.read_text()[-2000:]
        time.sleep(1)
    assert pending.process.wait(60) == 0, pending.log.read_text()[-2000:]
    assert fleet.connections_by_port() - before == {fleet.ports[0]: 1}
    (row,) = release_log_fetches(fetch_id=pending.fetch_id, path=fleet_env).to_dict("records")
    assert (row["handle"], row["lines_requested"], row["source"]) == ("web", 20, "docker")
    logfetch.finish(pending)
    assert not pending.log.exists()

    # A run that fails says why, from the child's own output.
    failing = logfetch.start("web", 0, api=None)  # the flow refuses a tail of 0 lines
    assert failing.process.wait(120) != 0
    assert "1 to 5000 lines" in (logfetch.problem(failing) or "")
    logfetch.finish(failing)
