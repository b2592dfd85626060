"""Shared fixtures: a real sshd fleet on loopback, the corpora, a Prefect test server."""

from __future__ import annotations

import os
import tempfile

# Before anything imports prefect: no telemetry, a private Prefect home.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="mast-prefect-home-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402

from bench.localfleet import LocalFleet, free_ports, keygen  # noqa: E402
from tests.corpora import CORPORA  # noqa: E402


@pytest.fixture(scope="session")
def corpora():
    if not CORPORA.is_dir():
        pytest.fail(f"the shared corpora are missing at {CORPORA} (set MAST_CORPORA)")
    return CORPORA


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    """Three healthy servers srv-1..srv-3, one sshd, raised MaxStartups."""
    with LocalFleet(tmp_path_factory.mktemp("fleet"), count=3) as f:
        yield f


@pytest.fixture(scope="session")
def stuck_fleet(tmp_path_factory):
    """One server whose every command hangs (ForceCommand sleep)."""
    with LocalFleet(
        tmp_path_factory.mktemp("stuck"), count=1, prefix="stuck", force_command="sleep 120"
    ) as f:
        yield f


@pytest.fixture(scope="session")
def broken_fleet(tmp_path_factory):
    """Two servers of their own, used with a wrong client key and a wrong host key."""
    with LocalFleet(tmp_path_factory.mktemp("broken-fleet"), count=2, prefix="bad") as f:
        yield f


@pytest.fixture(scope="session")
def broken_entries(broken_fleet, stuck_fleet, tmp_path_factory):
    """Inventory entries of four servers that each fail in their own way, and a
    known_hosts that covers them: (entries, known_hosts path). In order: a closed
    port, a wrong client key, a command that never ends, a changed host key."""
    root = tmp_path_factory.mktemp("broken")
    wrong_key = keygen(root / "wrong_key")
    other_host_key = keygen(root / "other_host_key")
    closed_port = free_ports(1)[0]
    changed_port = broken_fleet.ports[1]
    user, key = broken_fleet.user, str(broken_fleet.client_key)
    entries = [
        {
            "name": "closed",
            "host": "127.0.0.1",
            "port": closed_port,
            "user": user,
            "identity_file": key,
        },
        {
            "name": "wrong-key",
            "host": "127.0.0.1",
            "port": broken_fleet.ports[0],
            "user": user,
            "identity_file": str(wrong_key),
        },
        {
            "name": "stuck",
            "host": "127.0.0.1",
            "port": stuck_fleet.ports[0],
            "user": stuck_fleet.user,
            "identity_file": str(stuck_fleet.client_key),
        },
        {
            "name": "changed-key",
            "host": "localhost",
            "port": changed_port,
            "user": user,
            "identity_file": key,
        },
    ]
    pub = other_host_key.with_suffix(".pub").read_text().split()
    known_hosts = root / "known_hosts"
    known_hosts.write_text(
        broken_fleet.known_hosts.read_text()
        + stuck_fleet.known_hosts.read_text()
        + f"[localhost]:{changed_port} {pub[0]} {pub[1]}\n"
    )
    return entries, known_hosts


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API (SQLite) for the whole session; it takes ~17 s to start here."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
