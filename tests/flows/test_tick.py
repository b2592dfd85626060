"""The tick flow end to end: real sshd fleet, real Prefect API, real DuckDB file."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from warehouse.db import reader

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def tick_env(fleet, broken_entries, tmp_path, monkeypatch):
    """An inventory of the 3 healthy servers plus the 4 broken ones, and a fresh warehouse."""
    entries, known_hosts = broken_entries
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "known_hosts": str(tmp_path / "known_hosts"),
                "servers": fleet.server_entries() + entries,
            }
        )
    )
    (tmp_path / "known_hosts").write_text(fleet.known_hosts.read_text() + known_hosts.read_text())
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    monkeypatch.setenv("MAST_SSH_COMMAND_TIMEOUT", "4")
    return tmp_path / "mast.duckdb"


def local_facts() -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    mem_total = next(
        int(line.split()[1]) * 1024 for line in meminfo.splitlines() if line.startswith("MemTotal:")
    )
    pretty = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in Path("/etc/os-release").read_text().splitlines()
        if line.startswith("PRETTY_NAME=")
    )
    # Online CPUs, as the probe reads them (not this process's CPU affinity).
    nproc = int(
        subprocess.run(
            ["getconf", "_NPROCESSORS_ONLN"], capture_output=True, text=True, check=True
        ).stdout
    )
    return {"ncpu": nproc, "mem_total_bytes": mem_total, "os_name": pretty}


def statuses(db) -> dict[str, dict]:
    with reader(db) as con:
        cur = con.execute("SELECT * FROM server_status")
        cols = [d[0] for d in cur.description]
        return {row[0]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


def test_tick_one_connection_per_server_and_every_failure_classified(fleet, tick_env):
    from flows.tick import tick

    before = fleet.connections_by_port()
    t0 = time.monotonic()
    landed = tick()
    wall = time.monotonic() - t0
    assert (landed["servers"], landed["reachable"]) == (7, 3)
    # Counted by sshd itself: exactly one connection per healthy server.
    assert fleet.connections_by_port() - before == {port: 1 for port in fleet.ports}
    rows = statuses(tick_env)
    expected = local_facts()
    for name in fleet.names():
        row = rows[name]
        assert row["reachable"] is True and row["error"] is None
        assert {k: row[k] for k in expected} == expected
        assert 0 < row["mem_available_bytes"] <= row["mem_total_bytes"]
        assert row["load1"] >= 0 and row["uptime_s"] > 0
        assert row["cpu_pct"] is None  # first tick: no previous counters
    reasons = {
        name: rows[name]["reason"] for name in ("closed", "wrong-key", "stuck", "changed-key")
    }
    assert reasons == {
        "closed": "refused",
        "wrong-key": "auth",
        "stuck": "timeout",
        "changed-key": "host-key",
    }
    assert all(not rows[n]["reachable"] and rows[n]["error"] for n in reasons)
    # The stuck server cost its own timeout (4 s), not the others': one bound, plus Prefect.
    assert wall < 4 + 15

    landed = tick()
    rows = statuses(tick_env)
    for name in fleet.names():
        assert 0.0 <= rows[name]["cpu_pct"] <= 100.0
    with reader(tick_env) as con:
        (runs,) = con.execute("SELECT count(*) FROM probe_runs").fetchone()
        (ticks,) = con.execute("SELECT count(*) FROM ticks").fetchone()
    assert (runs, ticks) == (14, 2)


def test_the_app_probe_rides_in_the_same_one_connection(fleet, tmp_path, monkeypatch):
    from flows.tick import tick

    entries = fleet.server_entries()
    entries[0]["releases"] = [
        {"name": "sshd", "handle": "SSH.example.test", "port": entries[0]["port"]},
        {"name": "closed", "port": 1},
    ]
    entries[1]["releases"] = [{"name": "api", "unit": "mast-no-such-unit.service"}]
    entries[2]["releases"] = [{"name": "web", "container": "mast-no-such-container", "port": 1}]
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(
        yaml.safe_dump({"known_hosts": str(fleet.known_hosts), "servers": entries})
    )
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))

    before = fleet.connections_by_port()
    landed = tick()
    # Counted by sshd itself: still exactly one connection per server, apps included.
    assert fleet.connections_by_port() - before == {port: 1 for port in fleet.ports}
    with reader(tmp_path / "mast.duckdb") as con:
        apps = {
            row[0]: row[1:]
            for row in con.execute(
                "SELECT handle, server, status, port_listening, conditions FROM app_status"
            ).fetchall()
        }
        (errors,) = con.execute(
            "SELECT count(*) FROM probe_runs WHERE section_errors::VARCHAR <> '{}'"
        ).fetchone()
    assert errors == 0
    assert apps["ssh.example.test"] == ("srv-1", "running", True, None)
    assert apps["closed"][:3] == ("srv-1", "stopped", False)
    assert apps["api"][0] == "srv-2" and apps["api"][1] in ("unknown", "missing")
    assert apps["web"][0] == "srv-3" and apps["web"][2] is False
    assert [(e["kind"], e["subject"]) for e in landed["events"]] == [("app.stopped", "closed")] + (
        [("app.stopped", "web")] if apps["web"][1] == "stopped" else []
    )
    assert [a["handle"] for a in landed["apps"]] == ["ssh.example.test", "closed", "api", "web"]

    landed = tick()
    assert landed["events"] == ()  # nothing changed, nothing said
