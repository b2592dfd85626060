"""The inventory contract: minimal entries load, bad ones fail naming the entry."""

from __future__ import annotations

import pytest

from probes.errors import InventoryError
from probes.inventory import load_inventory, parse_inventory


def test_minimal_entry_gets_defaults(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text("servers:\n  - name: web-1\n    host: 10.0.0.5\n")
    inv = load_inventory(path)
    (server,) = inv.servers
    assert (server.name, server.host, server.port, server.user, server.tags) == (
        "web-1",
        "10.0.0.5",
        None,
        None,
        (),
    )
    assert inv.known_hosts is None


def test_full_entry(tmp_path):
    inv = parse_inventory(
        {
            "known_hosts": "~/.ssh/known_hosts",
            "servers": [
                {
                    "name": "web-1",
                    "host": "web1.example.com",
                    "port": 2222,
                    "user": "deploy",
                    "identity_file": "~/.ssh/id_ed25519",
                    "tags": ["web", "prod"],
                },
            ],
        }
    )
    s = inv.servers[0]
    assert s.port == 2222 and s.user == "deploy" and s.tags == ("web", "prod")
    assert not s.identity_file.startswith("~")


@pytest.mark.parametrize(
    "entry, message",
    [
        pytest.param({"host": "h"}, "server #1: name: Field required", id="missing-name"),
        pytest.param({"name": "a"}, "server #1 ('a'): host: Field required", id="missing-host"),
        pytest.param(
            {"name": "a", "host": "x; rm -rf /"},
            "host 'x; rm -rf /' is not accepted",
            id="host-injection",
        ),
        pytest.param(
            {"name": "a", "host": "h", "user": "$(reboot)"}, "user '$(reboot)'", id="user-injection"
        ),
        pytest.param({"name": "a b", "host": "h"}, "name 'a b'", id="name-space"),
        pytest.param({"name": "a", "host": "h", "port": 70000}, "port", id="port-range"),
        pytest.param(
            {"name": "a", "host": "h", "hots": "x"}, "hots: Extra inputs", id="typo-field"
        ),
    ],
)
def test_bad_entries_fail_naming_the_entry(entry, message):
    with pytest.raises(InventoryError) as err:
        parse_inventory({"servers": [entry]})
    assert message in str(err.value)


def test_duplicate_names_are_refused():
    with pytest.raises(InventoryError, match="'a' is used more than once"):
        parse_inventory({"servers": [{"name": "a", "host": "h1"}, {"name": "a", "host": "h2"}]})


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(InventoryError, match="MAST_INVENTORY"):
        load_inventory(tmp_path / "nope.yaml")


def test_select_by_name_and_tag():
    inv = parse_inventory(
        {
            "servers": [
                {"name": "a", "host": "h", "tags": ["prod", "web"]},
                {"name": "b", "host": "h", "tags": ["prod"]},
                {"name": "c", "host": "h"},
            ]
        }
    )
    assert [s.name for s in inv.select(tags=["prod"])] == ["a", "b"]
    assert [s.name for s in inv.select(["c", "a"])] == ["c", "a"]
    assert [s.name for s in inv.select(["a", "b"], tags=["web"])] == ["a"]
    with pytest.raises(InventoryError, match="unknown server name.*: nope, zz"):
        inv.select(["a", "nope", "zz"])
