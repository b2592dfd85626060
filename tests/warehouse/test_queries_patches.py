"""The read models of the patch scan and the releases, over a real DuckDB file."""

from __future__ import annotations

from probes import packages
from probes.collect import ServerResult, parse_sections, utcnow
from probes.inventory import Server
from probes.registry import ProbeContext
from probes.script import Section
from tests.warehouse.test_audit import SERVER, up
from warehouse.land import land_patch_scan, land_tick
from warehouse.queries import app_status, patch_overview, upgradable_packages


def scan(name: str, apt: str, at) -> ServerResult:
    texts = {
        "manager": "apt-get\n",
        "refresh": "skipped 1\n",
        "apt_upgradable": apt,
        "dnf_updates": "",
        "dnf_security": "",
        "reboot": "not-required\n",
        "lists": "now 100\n40 /var/lib/apt/lists\n",
    }
    facts, _ = parse_sections(
        [packages],
        {f"packages.{k}": Section(0, v) for k, v in texts.items()},
        ProbeContext(Server(name=name, host="h")),
    )
    return ServerResult(name, at, 1.0, 1, True, facts=facts)


def test_patch_and_app_read_models(tmp_path):

    path = tmp_path / "w.duckdb"
    at = utcnow()
    a, b = Server(name="a", host="h"), Server(name="b", host="h")
    land_patch_scan(
        "p1",
        at,
        [a, b],
        [
            scan("a", "vim/bookworm 2 amd64 [upgradable from: 1]\n", at),
            scan("b", "openssl/bookworm-security 2 amd64 [upgradable from: 1]\n", at),
        ],
        path,
    )
    assert list(patch_overview(path)["server"]) == ["b", "a"]
    assert list(upgradable_packages(path=path)["package"]) == ["openssl", "vim"]
    assert list(upgradable_packages("a", path=path)["package"]) == ["vim"]
    assert list(upgradable_packages(security_only=True, path=path)["server"]) == ["b"]

    land_tick("t1", at, [SERVER], [up(SERVER, 0, listening=())], path)
    rows = app_status(path=path)
    assert list(zip(rows["handle"], rows["status"], strict=True)) == [
        ("api.example.com", "stopped"),
        ("web", "running"),
    ]
    assert app_status("nobody", path=path).empty
