"""The transport against real sshd processes on loopback."""

from __future__ import annotations

import time

import pytest

from bench.localfleet import LocalFleet
from probes.errors import AuthFailed, CommandTimedOut, HostKeyRejected, HostUnreachable
from probes.inventory import Server
from probes.ssh import CONNECTIONS, SshSettings, Transport


def server(entry: dict) -> Server:
    return Server.model_validate(entry)


def entry_of(fleet: LocalFleet, i: int = 0) -> dict:
    return fleet.server_entries()[i]


def test_one_run_is_one_connection_counted_on_both_sides(fleet):
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts)))
    target = server(entry_of(fleet, 2))
    before_client, before_server = CONNECTIONS.count, fleet.connections_by_port()
    result = transport.run(target, "echo hello; echo err >&2; exit 4")
    assert (result.stdout, result.stderr, result.exit_status) == ("hello\n", "err\n", 4)
    assert result.connections == 1
    assert CONNECTIONS.count - before_client == 1
    assert (fleet.connections_by_port() - before_server) == {target.port: 1}


def test_closed_port_is_refused(broken_entries, fleet):
    entries, known_hosts = broken_entries
    transport = Transport(SshSettings(known_hosts=str(known_hosts)))
    with pytest.raises(HostUnreachable) as err:
        transport.run(server(entries[0]), "true")
    assert err.value.reason == "refused"


def test_wrong_key_is_auth(broken_entries):
    entries, known_hosts = broken_entries
    with pytest.raises(AuthFailed) as err:
        Transport(SshSettings(known_hosts=str(known_hosts))).run(server(entries[1]), "true")
    assert err.value.reason == "auth"


def test_changed_host_key_is_refused(broken_entries):
    entries, known_hosts = broken_entries
    with pytest.raises(HostKeyRejected, match="CHANGED") as err:
        Transport(SshSettings(known_hosts=str(known_hosts))).run(server(entries[3]), "true")
    assert err.value.reason == "host-key"


def test_unknown_host_key_is_refused_by_default(fleet, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyRejected, match="not in"):
        Transport(SshSettings(known_hosts=str(empty))).run(server(entry_of(fleet)), "true")
    assert empty.read_text() == ""  # strict mode records nothing


def test_accept_new_records_unknown_keys_and_still_refuses_changed(fleet, broken_entries, tmp_path):
    known = tmp_path / "known_hosts"
    settings = SshSettings(known_hosts=str(known), host_key_policy="accept-new")
    target = server(entry_of(fleet))
    assert Transport(settings).run(target, "echo 1").stdout == "1\n"
    assert f"[127.0.0.1]:{target.port} ssh-ed25519 " in known.read_text()
    assert Transport(settings).run(target, "echo 2").stdout == "2\n"  # now a known key
    entries, changed_known = broken_entries
    changed = SshSettings(known_hosts=str(changed_known), host_key_policy="accept-new")
    with pytest.raises(HostKeyRejected):
        Transport(changed).run(server(entries[3]), "true")


def test_command_timeout_is_enforced(broken_entries):
    entries, known_hosts = broken_entries
    transport = Transport(SshSettings(known_hosts=str(known_hosts), command_timeout_s=2))
    t0 = time.monotonic()
    with pytest.raises(CommandTimedOut) as err:
        transport.run(server(entries[2]), "true")
    assert err.value.reason == "timeout"
    assert time.monotonic() - t0 < 10


def test_encrypted_key_is_decrypted_once_per_transport(tmp_path):
    with LocalFleet(tmp_path, count=2, passphrase="s3cret pass") as f:
        transport = Transport(SshSettings(known_hosts=str(f.known_hosts), passphrase="s3cret pass"))
        for entry in f.server_entries() * 2:
            assert transport.run(server(entry), "echo ok").stdout == "ok\n"
        assert transport.keys.decrypts == 1
        no_pass = Transport(SshSettings(known_hosts=str(f.known_hosts)))
        with pytest.raises(AuthFailed, match="MAST_SSH_KEY_PASSPHRASE"):
            no_pass.run(server(f.server_entries()[0]), "true")


def test_ssh_config_alias_user_port_and_identity_file_are_honoured(fleet, tmp_path):
    target = entry_of(fleet, 1)
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host box-alias\n  HostName 127.0.0.1\n  Port {target['port']}\n"
        f"  User {target['user']}\n  IdentityFile {target['identity_file']}\n"
    )
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts), ssh_config=str(config)))
    alias = Server(name="aliased", host="box-alias")
    before = fleet.connections_by_port()
    assert transport.run(alias, "echo via-alias").stdout == "via-alias\n"
    assert transport.keys.decrypts == 1
    assert fleet.connections_by_port() - before == {target["port"]: 1}


def test_proxyjump_hop_is_verified_and_counted(fleet, tmp_path):
    jump, target = entry_of(fleet, 0), entry_of(fleet, 1)
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jump\n  HostName 127.0.0.1\n  Port {jump['port']}\n  User {jump['user']}\n"
        f"  IdentityFile {jump['identity_file']}\n"
        f"Host inner\n  HostName 127.0.0.1\n  Port {target['port']}\n  User {target['user']}\n"
        f"  IdentityFile {target['identity_file']}\n  ProxyJump jump\n"
    )
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts), ssh_config=str(config)))
    before = fleet.connections_by_port()
    result = transport.run(Server(name="inner", host="inner"), "echo through")
    assert result.stdout == "through\n" and result.connections == 2
    # Two handshakes: one to the hop, one to the target tunnelled through it.
    assert fleet.connections_by_port() - before == {jump["port"]: 1, target["port"]: 1}


def test_connections_never_write_into_the_shared_config(fleet, broken_entries):
    """Each connection's key stays its own: Fabric hands out the shared config's
    connect_kwargs unless given a dict, and invoke re-merges the whole config on
    every write, which corrupted it under a tick's threads."""
    entries, known_hosts = broken_entries
    transport = Transport(SshSettings(known_hosts=str(known_hosts)))
    wrong_key, good = server(entries[1]), server(entry_of(fleet))
    conn_a, _ = transport.connection(wrong_key)
    conn_b, _ = transport.connection(good)
    assert conn_a.connect_kwargs["pkey"] != conn_b.connect_kwargs["pkey"]
    assert dict(conn_b.config.connect_kwargs) == {}


def test_threads_never_share_an_invoke_config(fleet):
    """Fabric writes into the config of every Connection it builds, and invoke then
    re-merges that config whole: a config shared by a tick's threads was seen empty."""
    from concurrent.futures import ThreadPoolExecutor

    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts)))
    target = server(entry_of(fleet))
    with ThreadPoolExecutor(max_workers=4) as pool:
        configs = list(pool.map(lambda _: id(transport.connection(target)[0].config), range(4)))
    same_thread = [transport.connection(target)[0].config for _ in range(2)]
    assert same_thread[0] is same_thread[1]  # one clone per thread, reused
    assert id(same_thread[0]) not in configs and len(set(configs)) >= 2


def test_many_concurrent_runs_on_one_transport(fleet):
    """One Transport serves a whole tick's thread pool; nothing in it may be shared unsafely."""
    from concurrent.futures import ThreadPoolExecutor

    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts)))
    targets = [server(e) for e in fleet.server_entries()] * 16
    with ThreadPoolExecutor(max_workers=24) as pool:
        outputs = list(pool.map(lambda s: transport.run(s, f"echo {s.port}").stdout, targets))
    assert outputs == [f"{s.port}\n" for s in targets]
    assert transport.keys.decrypts == 1
