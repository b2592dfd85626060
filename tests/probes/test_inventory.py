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


def test_releases_load_with_their_effective_handle():
    inv = parse_inventory(
        {
            "servers": [
                {
                    "name": "web-1",
                    "host": "h",
                    "releases": [
                        {"name": "api", "handle": "API.Example.com", "unit": "api.service"},
                        {"name": "Shop", "container": "shop", "port": 8080},
                        {"name": "getty", "unit": "getty@tty1.service"},
                    ],
                }
            ]
        }
    )
    api, shop, getty = inv.servers[0].releases
    assert (api.effective_handle, api.unit, api.container, api.port) == (
        "api.example.com",
        "api.service",
        None,
        None,
    )
    assert (shop.effective_handle, shop.container, shop.port) == ("shop", "shop", 8080)
    assert getty.unit == "getty@tty1.service"


@pytest.mark.parametrize(
    "releases, message",
    [
        pytest.param(
            [{"name": "api"}], "release 'api' says nothing about how to find it", id="no-locator"
        ),
        pytest.param(
            [{"name": "api", "unit": "api; reboot"}], "unit 'api; reboot'", id="unit-injection"
        ),
        pytest.param(
            [{"name": "api", "container": "$(id)"}], "container '$(id)'", id="container-injection"
        ),
        pytest.param(
            [{"name": "api", "handle": "a b", "port": 80}], "handle 'a b'", id="handle-space"
        ),
        pytest.param(
            [{"name": "api", "unit": "x\\x2d.service"}], "unit 'x\\\\x2d.service'", id="unit-escape"
        ),
        pytest.param([{"name": "api", "port": 0}], "releases.0.port", id="port-range"),
        pytest.param(
            [{"name": "api", "port": 80, "prot": 81}], "prot: Extra inputs", id="typo-field"
        ),
    ],
)
def test_bad_releases_fail_naming_the_entry(releases, message):
    with pytest.raises(InventoryError) as err:
        parse_inventory({"servers": [{"name": "a", "host": "h", "releases": releases}]})
    assert "server #1 ('a'): releases.0" in str(err.value)
    assert message in str(err.value)


def test_a_handle_is_unique_across_the_fleet_whatever_its_case():
    with pytest.raises(InventoryError) as err:
        parse_inventory(
            {
                "servers": [
                    {"name": "a", "host": "h", "releases": [{"name": "api", "port": 80}]},
                    {
                        "name": "b",
                        "host": "h",
                        "releases": [{"name": "api-v2", "handle": "API", "unit": "api"}],
                    },
                ]
            }
        )
    assert (
        "release handle 'api' is declared more than once: a (api), b (api-v2); "
        "a handle (the handle, else the release name, lowercased) must be unique across the fleet"
    ) in str(err.value)


def test_the_same_release_name_under_distinct_handles_is_fine():
    inv = parse_inventory(
        {
            "servers": [
                {
                    "name": "a",
                    "host": "h",
                    "releases": [{"name": "api", "handle": "a.x", "port": 1}],
                },
                {
                    "name": "b",
                    "host": "h",
                    "releases": [{"name": "api", "handle": "b.x", "port": 1}],
                },
            ]
        }
    )
    assert [s.releases[0].effective_handle for s in inv.servers] == ["a.x", "b.x"]


def test_the_inventory_model_refuses_duplicate_handles_too():
    from probes.inventory import Inventory

    with pytest.raises(ValueError, match="'x' is declared more than once"):
        Inventory.model_validate(
            {
                "servers": [
                    {"name": "a", "host": "h", "releases": [{"name": "x", "port": 1}]},
                    {"name": "b", "host": "h", "releases": [{"name": "X", "port": 2}]},
                ]
            }
        )
