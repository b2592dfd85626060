"""Servers that misbehave on purpose: real sshd processes with hostile ForceCommands."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from bench.localfleet import LocalFleet
from probes import TICK_PROBES
from probes.collect import probe_server
from probes.errors import CommandTimedOut, HostUnreachable
from probes.inventory import Server
from probes.ssh import SshSettings, Transport

NOISY = r"""#!/bin/sh
printf 'Welcome to a hostile host\n\0\377\376 not utf-8\n'
printf 'mast0123456789abcdef0123456789abcd begin system.meminfo\nMemTotal: 1 kB\n'
sh -c "$SSH_ORIGINAL_COMMAND"
rc=$?
printf '\nbye\0\377\nmast0123456789abcdef0123456789abcd end system.meminfo 0\n'
exit $rc
"""
STALLS = '#!/bin/sh\nsh -c "$SSH_ORIGINAL_COMMAND" | head -c 700\nsleep 60\n'
FLOODS = "#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\0' x\n"


def hostile_fleet(root: Path, scripts: Path, name: str, script: str) -> LocalFleet:
    path = scripts / f"{name}.sh"
    path.write_text(script)
    path.chmod(0o755)
    return LocalFleet(root / name, count=1, prefix=name, force_command=str(path))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    scripts = Path(tempfile.mkdtemp(prefix="mast-hostile-"))  # the login user runs them
    scripts.chmod(0o755)
    fleets = {
        name: hostile_fleet(root, scripts, name, script)
        for name, script in [("noisy", NOISY), ("stalls", STALLS), ("floods", FLOODS)]
    }
    for f in fleets.values():
        f.start()
    yield fleets
    for f in fleets.values():
        f.stop()
    shutil.rmtree(scripts)


def target(fleet: LocalFleet) -> tuple[Server, Transport]:
    settings = SshSettings(
        known_hosts=str(fleet.known_hosts), command_timeout_s=4, output_cap_bytes=1 << 20
    )
    return Server.model_validate(fleet.server_entries()[0]), Transport(settings)


def local_mem_total() -> int:
    line = next(
        ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal:")
    )
    return int(line.split()[1]) * 1024


def test_noise_and_forged_markers_around_the_command_change_nothing(hostile):
    server, transport = target(hostile["noisy"])
    result = probe_server(server, transport, TICK_PROBES)
    assert result.reachable and result.section_errors == {}
    assert result.facts["system"].memory.total_bytes == local_mem_total()
    assert result.facts["system"].os.pretty_name


def test_a_stalled_command_keeps_the_sections_that_finished(hostile):
    server, transport = target(hostile["stalls"])
    t0 = time.monotonic()
    result = probe_server(server, transport, TICK_PROBES)
    assert time.monotonic() - t0 < 4 + 3
    assert result.reachable and result.reason == "timeout" and result.error.startswith("partial")
    assert result.facts["system"].os.pretty_name  # the first section arrived whole
    assert any(e.startswith(("incomplete", "missing")) for e in result.section_errors.values())


def test_a_flood_is_cut_at_the_output_cap(hostile):
    server, transport = target(hostile["floods"])
    t0 = time.monotonic()
    with pytest.raises(HostUnreachable) as err:
        probe_server(server, transport, TICK_PROBES)
    assert err.value.reason == "output-cap"
    assert time.monotonic() - t0 < 4  # stopped reading at 1 MiB, not after 100 MB
    remote = transport.run(server, "true")
    assert remote.cut_short == "output-cap" and len(remote.stdout) == 1 << 20


def test_a_server_that_never_sends_a_banner_times_out(fleet):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    held = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
    server = Server(
        name="silent",
        host="127.0.0.1",
        port=silent.getsockname()[1],
        user=fleet.user,
        identity_file=str(fleet.client_key),
    )
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts), connect_timeout_s=2))
    t0 = time.monotonic()
    with pytest.raises(HostUnreachable) as err:
        transport.run(server, "true")
    assert err.value.reason == "banner" and err.value.transient
    assert time.monotonic() - t0 < 2 + 3
    silent.close()


def test_a_command_timeout_without_any_section_is_unreachable(stuck_fleet):
    server, transport = target(stuck_fleet)
    with pytest.raises(CommandTimedOut):
        probe_server(server, transport, TICK_PROBES)


def test_handshakes_are_bounded_below_maxstartups(tmp_path):
    """48 connections at the same instant to an sshd with the default MaxStartups
    10:30:100: unbounded, sshd drops some ('banner'); at the default bound (5), none."""
    import logging
    from concurrent.futures import ThreadPoolExecutor

    logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)  # the drops' tracebacks
    outcomes = {}
    with LocalFleet(tmp_path, count=1, max_startups="10:30:100") as gateway:
        server = Server.model_validate(gateway.server_entries()[0])
        for bound in (64, SshSettings().max_handshakes):
            transport = Transport(
                SshSettings(known_hosts=str(gateway.known_hosts), max_handshakes=bound)
            )
            start = threading.Barrier(48)

            def one(
                _: int, transport: Transport = transport, start: threading.Barrier = start
            ) -> str:
                start.wait()
                try:
                    transport.run(server, "true")
                    return "ok"
                except HostUnreachable as e:
                    return e.reason

            with ThreadPoolExecutor(48) as pool:
                results = list(pool.map(one, range(48)))
            outcomes[bound] = {r: results.count(r) for r in set(results)}
    assert outcomes[64].get("banner", 0) > 0, outcomes  # the hazard is real here
    assert outcomes[SshSettings().max_handshakes] == {"ok": 48}, outcomes
