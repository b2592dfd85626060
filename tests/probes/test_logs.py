"""The log tail: parsers over sample text, the section command, and the real fleet."""

from __future__ import annotations

import shlex
import subprocess
from datetime import datetime

import pytest

from probes import logs
from probes.errors import InventoryError, ParseError
from probes.inventory import Release, Server
from probes.logs import LogLine, fetch_tail, parse_docker_logs, parse_journal, tail_spec
from probes.ssh import SshSettings, Transport

# journalctl -u api.service -n 5 --no-pager -o short-iso (systemd 252, TZ=UTC).
JOURNAL = """@ok
2024-01-15T10:23:45+00:00 web-1 api[812]: listening on :8080
2024-01-15T10:24:02+00:00 web-1 api[812]: GET /health 200 0.4ms
2024-01-15T10:24:03+00:00 web-1 api[812]: panic: runtime error
                                          goroutine 1 [running]:
-- Boot 3f2c0a8e1d7b4c55a0c1d2e3f4a5b6c7 --
2024-01-15T11:00:00+00:00 web-1 systemd[1]: Started api.service - API.
"""

# systemd 245 (Ubuntu 20.04) prints the offset without a colon, and the journal's start.
JOURNAL_OLD = """@ok
-- Logs begin at Mon 2024-01-01 00:00:01 CET, end at Mon 2024-01-15 11:23:45 CET. --
2024-01-15T11:23:45+0100 web-2 nginx[900]: started
"""

# This machine's journalctl without a journal: rc 0, the reason on stderr.
JOURNAL_NONE = "@ok\n@stderr No journal files were found. \n-- No entries --\n"

DOCKER = (
    "@ok\n"
    '2024-01-15T10:23:45.123456789Z 172.17.0.1 - - "GET / HTTP/1.1" 200 615\n'
    "2024-01-15T10:23:46.5Z 2024/01/15 10:23:46 [error] 29#29: *2 open() failed\n"
    "\n"
)

DOCKER_DOWN = (
    "@unavailable docker logs exited with status 1: Cannot connect to the Docker daemon at "
    "unix:///var/run/docker.sock. Is the docker daemon running? \n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            JOURNAL,
            [
                ("2024-01-15T10:23:45+00:00 web-1 api[812]: listening on :8080", "10:23:45"),
                ("2024-01-15T10:24:02+00:00 web-1 api[812]: GET /health 200 0.4ms", "10:24:02"),
                ("2024-01-15T10:24:03+00:00 web-1 api[812]: panic: runtime error", "10:24:03"),
                ("                                          goroutine 1 [running]:", None),
                ("-- Boot 3f2c0a8e1d7b4c55a0c1d2e3f4a5b6c7 --", None),
                (
                    "2024-01-15T11:00:00+00:00 web-1 systemd[1]: Started api.service - API.",
                    "11:00:00",
                ),
            ],
            id="systemd-252",
        ),
        pytest.param(
            JOURNAL_OLD,
            [("2024-01-15T11:23:45+0100 web-2 nginx[900]: started", "10:23:45")],  # in UTC
            id="systemd-245-offset",
        ),
        pytest.param(JOURNAL_NONE, [], id="no-journal"),
    ],
)
def test_parse_journal(text, expected):
    tail = parse_journal(text)
    assert (tail.source, tail.condition) == ("journal", None)
    got = [
        (line.text, line.logged_at.strftime("%H:%M:%S") if line.logged_at else None)
        for line in tail.lines
    ]
    assert got == expected


def test_the_journal_says_why_it_has_no_entries():
    tail = parse_journal(JOURNAL_NONE)
    assert tail.note == "No journal files were found." and tail.lines == ()


def test_parse_docker_logs():
    tail = parse_docker_logs(DOCKER)
    assert tail.condition is None
    assert tail.lines == (
        LogLine(
            '2024-01-15T10:23:45.123456789Z 172.17.0.1 - - "GET / HTTP/1.1" 200 615',
            datetime(2024, 1, 15, 10, 23, 45, 123456),
        ),
        LogLine(
            "2024-01-15T10:23:46.5Z 2024/01/15 10:23:46 [error] 29#29: *2 open() failed",
            datetime(2024, 1, 15, 10, 23, 46, 500000),
        ),
    )


@pytest.mark.parametrize(
    "parse, text, condition",
    [
        pytest.param(
            parse_docker_logs,
            DOCKER_DOWN,
            "docker: docker logs exited with status 1: Cannot connect to the Docker daemon at "
            "unix:///var/run/docker.sock. Is the docker daemon running?",
            id="no-daemon",
        ),
        pytest.param(
            parse_docker_logs,
            "@missing docker is not installed\n",
            "docker: docker is not installed",
            id="no-docker",
        ),
        pytest.param(
            parse_journal,
            "@missing journalctl is not installed\n",
            "journalctl: journalctl is not installed",
            id="no-journalctl",
        ),
        pytest.param(
            parse_journal,
            "@unavailable journalctl exited with status 1: Failed to add match 'x'\n",
            "journalctl: journalctl exited with status 1: Failed to add match 'x'",
            id="journalctl-failed",
        ),
    ],
)
def test_a_tool_that_cannot_answer_is_a_condition(parse, text, condition):
    tail = parse(text)
    assert (tail.condition, tail.lines) == (condition, ())


@pytest.mark.parametrize("parse", [parse_journal, parse_docker_logs])
@pytest.mark.parametrize("text", ["", "2024-01-15T10:23:45Z no header\n", "@maybe\n"])
def test_output_without_a_tool_header_is_a_parse_error(parse, text):
    with pytest.raises(ParseError, match="expected @ok/@missing/@unavailable"):
        parse(text)


def test_long_lines_are_capped():
    tail = parse_docker_logs("@ok\n2024-01-15T10:23:45Z " + "x" * 10_000 + "\n")
    assert len(tail.lines[0].text) == logs.LINE_CAP


# -- the section command ---------------------------------------------------------


def test_the_unit_wins_then_the_container_and_a_port_alone_has_no_log():
    both = Release(name="api", unit="api.service", container="api", port=80)
    spec = tail_spec(both, 50)
    assert (spec.handle, spec.source, spec.target, spec.lines) == (
        "api",
        "journal",
        "api.service",
        50,
    )
    assert "journalctl -u api.service -n 50 --no-pager -o short-iso" in spec.section.command
    spec = tail_spec(Release(name="web", handle="Web.example", container="web-1"), 7)
    assert (spec.handle, spec.source) == ("web.example", "docker")
    assert "docker logs --tail 7 --timestamps -- web-1 " in spec.section.command
    with pytest.raises(InventoryError, match="'db' declares neither a unit nor a container"):
        tail_spec(Release(name="db", port=5432))


@pytest.mark.parametrize("lines", [0, -1, logs.MAX_LINES + 1, True, 2.5, "10"])
def test_the_line_count_is_bounded(lines):
    with pytest.raises(ValueError, match="1 to 5000 lines"):
        tail_spec(Release(name="api", unit="api.service"), lines)


def test_names_reach_the_command_quoted():
    # The inventory refuses such names; the command quotes them all the same.
    unit = Release.model_construct(name="x", unit="x'; touch /tmp/pwned; '", container=None)
    assert shlex.quote("x'; touch /tmp/pwned; '") in tail_spec(unit).section.command
    box = Release.model_construct(name="y", unit=None, container="$(reboot)")
    assert "-- '$(reboot)' " in tail_spec(box).section.command


@pytest.mark.parametrize(
    "release, condition",
    [
        (Release(name="api", unit="api.service"), "journalctl: journalctl is not installed"),
        (Release(name="web", container="web"), "docker: docker is not installed"),
    ],
)
def test_a_missing_tool_is_reported_by_the_real_shell(release, condition):
    """The section run by sh with no tool on PATH takes its missing branch."""
    spec = tail_spec(release)
    done = subprocess.run(
        ["/bin/sh", "-c", spec.section.command],
        env={"PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert spec.section.parse(done.stdout).condition == condition


# -- against the real fleet ------------------------------------------------------------


def test_the_real_fleet_one_connection_per_fetch(fleet):
    """This machine has journalctl without a journal and docker without a daemon."""
    entry = fleet.server_entries()[0]
    server = Server.model_validate(entry)
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts)))
    for release in (
        Release(name="api", unit="mast-no-such-unit.service"),
        Release(name="web", container="mast-no-such-container"),
    ):
        before = fleet.connections_by_port()
        fetched = fetch_tail(server, tail_spec(release, 20), transport)
        assert fleet.connections_by_port() - before == {entry["port"]: 1}
        assert (fetched.server, fetched.connections, fetched.reason) == (server.name, 1, None)
        tail = fetched.tail
        assert tail.lines == ()  # nothing to read on this machine, either way
        if release.unit:
            # journalctl answers (no entries) or, where it is absent, says so.
            assert tail.condition is None or tail.condition.startswith("journalctl: ")
        else:
            assert tail.condition.startswith("docker: ")
