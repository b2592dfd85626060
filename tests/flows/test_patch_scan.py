"""The patch scan end to end: real sshd fleet, this machine's apt, real Prefect, real DuckDB."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from bench.localfleet import LocalFleet
from probes.packages import parse_apt_upgradable
from warehouse.db import reader

pytestmark = pytest.mark.usefixtures("prefect_server")


def local_upgradable() -> set[tuple]:
    """What ``apt list --upgradable`` says on this machine, parsed the same way."""
    out = subprocess.run(
        ["apt", "list", "--upgradable"],
        capture_output=True,
        text=True,
        check=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    return {
        (u.name, u.architecture, u.current_version, u.candidate_version, u.origin, u.security)
        for u in parse_apt_upgradable(out.stdout)
    }


def write_inventory(tmp_path, monkeypatch, fleet: LocalFleet):
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(
        yaml.safe_dump({"known_hosts": str(fleet.known_hosts), "servers": fleet.server_entries()})
    )
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    return tmp_path / "mast.duckdb"


def listed(db, server: str) -> set[tuple]:
    with reader(db) as con:
        return set(
            con.execute(
                "SELECT package, architecture, current_version, candidate_version, origin, security"
                " FROM upgradable_packages WHERE server = ?",
                [server],
            ).fetchall()
        )


def patch_rows(db) -> dict[str, dict]:
    with reader(db) as con:
        cur = con.execute("SELECT * FROM patch_status")
        cols = [d[0] for d in cur.description]
        return {row[0]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


def test_one_connection_per_server_lists_what_apt_says_and_needs_sudo(fleet, tmp_path, monkeypatch):
    from flows.patch_scan import patch_scan

    db = write_inventory(tmp_path, monkeypatch, fleet)
    before = fleet.connections_by_port()
    landed = patch_scan()  # refresh on: the fleet logs in an unprivileged user without sudo
    assert fleet.connections_by_port() - before == {port: 1 for port in fleet.ports}
    expected = local_upgradable()
    assert (landed["servers"], landed["reachable"]) == (3, 3)
    assert landed["upgradable"] == 3 * len(expected)
    rows = patch_rows(db)
    for name in fleet.names():
        assert listed(db, name) == expected
        row = rows[name]
        assert (row["manager"], row["note"], row["refresh"]) == ("apt", None, "needs-sudo")
        assert row["upgradable_count"] == len(expected)
        assert row["security_count"] == sum(1 for u in expected if u[5])
        assert row["reboot_required"] is not None and row["lists_age_s"] >= 0
    security = sum(1 for u in expected if u[5])
    kinds = [e["kind"] for e in landed["events"]]
    assert kinds == (["security-updates.appeared"] * 3 if security else [])

    landed = patch_scan(servers=["srv-1"], refresh=False)
    assert landed["events"] == ()  # nothing changed
    assert patch_rows(db)["srv-1"]["refresh"] == "skipped"
    with reader(db) as con:
        flows = con.execute("SELECT flow, count(*) FROM ticks GROUP BY flow").fetchall()
    assert flows == [("patch-scan", 2)]


@pytest.fixture(scope="module")
def root_fleet(tmp_path_factory):
    """One server that logs in root: the refresh runs for real, without sudo."""
    with LocalFleet(
        tmp_path_factory.mktemp("root-fleet"), count=1, prefix="root", root_login=True
    ) as f:
        yield f


def test_as_root_the_refresh_runs_for_real(root_fleet, tmp_path, monkeypatch):
    from flows.patch_scan import patch_scan

    db = write_inventory(tmp_path, monkeypatch, root_fleet)
    # apt-get update needs Debian's mirrors: bounded on the server, the result must be ok.
    monkeypatch.setenv("MAST_PATCH_REFRESH_TIMEOUT", "90")
    before = root_fleet.connections_by_port()
    landed = patch_scan()
    assert root_fleet.connections_by_port() - before == {root_fleet.ports[0]: 1}
    row = patch_rows(db)["root-1"]
    assert (row["refresh"], row["refresh_detail"]) == ("ok", None), row["refresh_detail"]
    assert row["lists_source"] == "refresh" and 0 <= row["lists_age_s"] < 60
    assert listed(db, "root-1") == local_upgradable()
    assert landed["reachable"] == 1


def test_the_command_line(fleet, tmp_path, monkeypatch, capsys):
    from flows.patch_scan import main

    db = write_inventory(tmp_path, monkeypatch, fleet)
    assert main(["--no-refresh", "--server", "srv-2"]) == 0
    out = capsys.readouterr().out
    assert "1/1 servers scanned" in out and "upgradable packages" in out
    assert set(patch_rows(db)) == {"srv-2"}
    monkeypatch.setenv("MAST_PATCH_COMMAND_TIMEOUT", "30")
    assert main(["--no-refresh"]) == 2
    assert "must exceed the refresh bound" in capsys.readouterr().err
