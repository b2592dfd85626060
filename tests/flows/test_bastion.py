"""Many servers behind one sshd with its default MaxStartups (10:30:100), as through a bastion."""

from __future__ import annotations

import pytest
import yaml

from bench.localfleet import LocalFleet
from warehouse.db import reader

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture(scope="module")
def default_sshd(tmp_path_factory):
    with LocalFleet(
        tmp_path_factory.mktemp("bastion"), count=1, prefix="gw", max_startups="10:30:100"
    ) as f:
        yield f


def test_fifty_servers_on_one_default_sshd_all_land(default_sshd, tmp_path, monkeypatch):
    from flows.tick import tick

    entry = default_sshd.server_entries()[0]
    servers = [{**entry, "name": f"behind-{i}", "tags": []} for i in range(50)]
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(
        yaml.safe_dump({"known_hosts": str(default_sshd.known_hosts), "servers": servers})
    )
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    monkeypatch.setenv(
        "MAST_MAX_PARALLEL", "32"
    )  # more sessions than MaxStartups allows handshakes
    before = default_sshd.connections_by_port()
    landed = tick()  # 32 probes at once (MAST_MAX_PARALLEL), well past MaxStartups' 10
    assert (landed["servers"], landed["reachable"]) == (50, 50)
    # 50 connections and no more: no handshake was dropped and retried.
    assert default_sshd.connections_by_port() - before == {entry["port"]: 50}
    with reader(tmp_path / "mast.duckdb") as con:
        assert con.execute("SELECT count(*) FROM server_status WHERE reachable").fetchone() == (50,)
