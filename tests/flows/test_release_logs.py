"""The release-logs flow end to end: real sshd fleet, real Prefect API, real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from probes.errors import InventoryError
from warehouse.queries import release_log_fetches, release_log_lines

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("prefect_server")


def records(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows, missing values as None (string columns hold them as NaN)."""
    return [{k: None if pd.isna(v) else v for k, v in r.items()} for r in frame.to_dict("records")]


@pytest.fixture
def logs_env(fleet, broken_entries, tmp_path, monkeypatch):
    """srv-1 with a unit release and a container release, a port-only release on srv-2,
    and a release on a server whose port is closed."""
    entries, known_hosts = broken_entries
    servers = fleet.server_entries()
    servers[0]["releases"] = [
        {"name": "api", "handle": "API.example.test", "unit": "mast-no-such-unit.service"},
        {"name": "web", "container": "mast-no-such-container"},
    ]
    servers[1]["releases"] = [{"name": "ssh", "port": servers[1]["port"]}]
    closed = dict(entries[0], releases=[{"name": "gone", "unit": "gone.service"}])
    (tmp_path / "known_hosts").write_text(fleet.known_hosts.read_text() + known_hosts.read_text())
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(
        yaml.safe_dump(
            {"known_hosts": str(tmp_path / "known_hosts"), "servers": [*servers, closed]}
        )
    )
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    monkeypatch.setenv("MAST_SSH_CONNECT_TIMEOUT", "3")
    return tmp_path / "mast.duckdb"


def test_one_connection_to_the_release_server_and_the_condition_lands(fleet, logs_env):
    from flows.release_logs import release_logs

    before = fleet.connections_by_port()
    landed = release_logs(release="api.EXAMPLE.test", lines=30, fetch_id="f-api")
    assert fleet.connections_by_port() - before == {fleet.ports[0]: 1}  # counted by sshd
    before = fleet.connections_by_port()
    web = release_logs(release="web", lines=30, fetch_id="f-web")
    assert fleet.connections_by_port() - before == {fleet.ports[0]: 1}

    fetches = {r["fetch_id"]: r for r in records(release_log_fetches(path=logs_env))}
    api, box = fetches["f-api"], fetches["f-web"]
    assert (api["handle"], api["server"], api["source"], api["target"]) == (
        "api.example.test",
        "srv-1",
        "journal",
        "mast-no-such-unit.service",
    )
    assert (api["reachable"], api["connections"], api["lines_requested"]) == (True, 1, 30)
    # This machine: journalctl without a journal (rc 0, no entries); docker without a daemon.
    assert api["lines_read"] == 0 and landed["lines_new"] == 0
    assert api["condition"] is None or api["condition"].startswith("journalctl: ")
    assert (box["source"], box["target"], box["reachable"]) == (
        "docker",
        "mast-no-such-container",
        True,
    )
    assert box["condition"] == web["condition"]
    assert box["condition"].startswith("docker: ")  # not installed, or no daemon to ask
    assert release_log_lines("web", path=logs_env).empty


def test_an_unreachable_server_lands_as_a_fetch_that_says_why(logs_env):
    from flows.release_logs import release_logs

    landed = release_logs(release="gone", fetch_id="f-gone")
    assert (landed["reason"], landed["lines_read"]) == ("refused", 0)
    (row,) = records(release_log_fetches("gone", path=logs_env))
    assert (row["fetch_id"], row["reachable"], row["reason"]) == ("f-gone", False, "refused")
    assert "refused" in row["error"].lower()


@pytest.mark.parametrize(
    "release, message",
    [
        (
            "nope",
            "unknown release handle 'nope'; the inventory declares "
            "api.example.test, gone, ssh, web",
        ),
        ("ssh", "'ssh' declares neither a unit nor a container"),
    ],
)
def test_no_log_to_read_fails_before_connecting(fleet, logs_env, release, message):
    from flows.release_logs import release_logs

    before = fleet.connections_by_port()
    with pytest.raises(InventoryError, match=message):
        release_logs(release=release)
    assert fleet.connections_by_port() - before == {}
    assert not logs_env.exists()  # nothing was written


def test_the_cli_prints_the_stored_tail(logs_env, capsys):
    from flows.release_logs import main

    assert main(["web", "-n", "5"]) == 0
    err = capsys.readouterr().err
    assert "0 lines read, 0 new; docker: " in err
    assert main(["nope"]) == 2
    assert "unknown release handle 'nope'" in capsys.readouterr().err


def test_the_on_demand_deployment_has_no_schedule():
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    (ours,) = [d for d in deployments if d["entrypoint"] == "flows/release_logs.py:release_logs"]
    assert ours["name"] == "on-demand" and not ours.get("schedules")
    assert ours["work_pool"]["name"] == "mast"
