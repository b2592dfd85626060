"""A host key that changes between ticks: refused, marked host-key, audited; accept-new
records unknown keys on first contact and still refuses changed ones."""

from __future__ import annotations

import pytest
import yaml

from bench.localfleet import LocalFleet
from warehouse.db import reader

pytestmark = pytest.mark.usefixtures("prefect_server")


def status(db) -> dict:
    with reader(db) as con:
        return {
            s: (ok, reason)
            for s, ok, reason in con.execute(
                "SELECT server, reachable, reason FROM server_status"
            ).fetchall()
        }


def events(db) -> list[tuple]:
    with reader(db) as con:
        return con.execute(
            "SELECT server, kind FROM audit_feed ORDER BY occurred_at, kind"
        ).fetchall()


def test_a_changed_host_key_is_refused_and_audited(tmp_path, monkeypatch):
    from flows.tick import tick

    with LocalFleet(tmp_path / "fleet", count=2, prefix="hk") as fleet:
        monkeypatch.setenv("MAST_INVENTORY", str(fleet.write_inventory(tmp_path / "fleet.yaml")))
        monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
        assert tick()["reachable"] == 2
        fleet.rekey()
        assert tick()["reachable"] == 0
        assert status(tmp_path / "mast.duckdb") == {
            "hk-1": (False, "host-key"),
            "hk-2": (False, "host-key"),
        }
        assert ("hk-1", "host-key.changed") in events(tmp_path / "mast.duckdb")


def test_accept_new_records_first_contact_and_refuses_a_later_change(tmp_path, monkeypatch):
    from flows.tick import tick

    with LocalFleet(tmp_path / "fleet", count=2, prefix="an") as fleet:
        inventory = yaml.safe_load(fleet.write_inventory(tmp_path / "fleet.yaml").read_text())
        known = tmp_path / "known_hosts"  # empty: nothing known yet
        inventory["known_hosts"] = str(known)
        (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(inventory))
        monkeypatch.setenv("MAST_INVENTORY", str(tmp_path / "fleet.yaml"))
        monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
        monkeypatch.setenv("MAST_HOST_KEY_POLICY", "strict")
        assert tick()["reachable"] == 0  # strict: unknown keys are refused
        monkeypatch.setenv("MAST_HOST_KEY_POLICY", "accept-new")
        assert tick()["reachable"] == 2
        assert len(known.read_text().splitlines()) == 2  # both keys recorded
        fleet.rekey()
        assert tick()["reachable"] == 0  # changed keys are refused even in accept-new
        assert {reason for _, reason in status(tmp_path / "mast.duckdb").values()} == {"host-key"}
