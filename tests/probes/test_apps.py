"""The app probe: parsers over captured output, assembly per release, and the real fleet."""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path

import pytest

from probes import apps
from probes.apps import (
    AppState,
    ContainerTimes,
    PortsReport,
    parse_docker_inspect,
    parse_docker_ps,
    parse_ss_listening,
    parse_systemctl_show,
)
from probes.collect import parse_sections, probe_server
from probes.errors import ParseError
from probes.inventory import Release, Server
from probes.registry import ProbeContext
from probes.script import Section
from probes.ssh import SshSettings, Transport

SYSTEMCTL = """@ok
Id=nginx.service
LoadState=loaded
ActiveState=active
SubState=running
MainPID=812
ActiveEnterTimestamp=Mon 2024-01-15 10:23:45 UTC
InactiveEnterTimestamp=Mon 2024-01-15 10:23:40 UTC

Id=worker.service
LoadState=loaded
ActiveState=failed
SubState=failed
MainPID=0
ActiveEnterTimestamp=Sun 2024-01-14 08:00:00 UTC
InactiveEnterTimestamp=Mon 2024-01-15 09:00:01 UTC

Id=nope.service
LoadState=not-found
ActiveState=inactive
SubState=dead
MainPID=0
ActiveEnterTimestamp=
InactiveEnterTimestamp=
"""

# docker 24 `docker ps -a --no-trunc --format '{{json .}}'`, one object a line.
DOCKER_PS = (
    "@ok\n"
    '{"Command":"\\"/docker-entrypoint.sh nginx -g \'daemon off;\'\\"","CreatedAt":"2024-01-15 '
    '10:23:40 +0000 UTC","ID":"4c01db0b339c5d0e1f","Image":"nginx:1.25","Labels":"maintainer=NGINX '
    'Docker Maintainers \\u003cdocker-maint@nginx.com\\u003e","LocalVolumes":"0","Mounts":"",'
    '"Names":"web","Networks":"bridge","Ports":"0.0.0.0:8080-\\u003e80/tcp","RunningFor":"3 hours '
    'ago","Size":"1.09kB (virtual 187MB)","State":"running","Status":"Up 3 hours"}\n'
    '{"Command":"\\"python worker.py\\"","CreatedAt":"2024-01-10 08:00:00 +0000 UTC","ID":"9f1e",'
    '"Image":"acme/worker:7","Labels":"","LocalVolumes":"1","Mounts":"data","Names":"worker",'
    '"Networks":"bridge","Ports":"","RunningFor":"5 days ago","Size":"0B","State":"exited",'
    '"Status":"Exited (137) 14 hours ago"}\n'
    # docker 19.03 has no State field
    '{"Command":"\\"redis-server\\"","ID":"77aa","Image":"redis:5","Names":"cache,app/cache",'
    '"Status":"Up 2 days"}\n'
)

DOCKER_INSPECT = (
    "/web 2412 2024-01-15T10:23:45.123456789Z 0001-01-01T00:00:00Z\n"
    "/worker 0 2024-01-10T08:00:00.5Z 2024-01-14T22:10:03.000000001Z\n"
)

SS = """@ok
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*
LISTEN 0      4096   127.0.0.53%lo:53        0.0.0.0:*
LISTEN 0      511             [::]:443          [::]:*
LISTEN 0      128                *:8080            *:*    users:(("java",pid=77,fd=9))
"""


def test_systemctl_show_blocks():
    report = parse_systemctl_show(SYSTEMCTL)
    assert report.condition is None
    nginx, worker, nope = report.units
    assert (nginx.id, nginx.active_state, nginx.sub_state, nginx.main_pid) == (
        "nginx.service",
        "active",
        "running",
        812,
    )
    assert nginx.active_since == datetime(2024, 1, 15, 10, 23, 45)
    assert (worker.active_state, worker.main_pid) == ("failed", None)
    assert worker.inactive_since == datetime(2024, 1, 15, 9, 0, 1)
    assert (nope.load_state, nope.active_since) == ("not-found", None)


def test_docker_ps_json_lines():
    report = parse_docker_ps(DOCKER_PS)
    web, worker, cache = report.containers
    assert (web.names, web.state, web.status, web.image) == (
        ("web",),
        "running",
        "Up 3 hours",
        "nginx:1.25",
    )
    assert (worker.state, worker.status) == ("exited", "Exited (137) 14 hours ago")
    assert (cache.names, cache.state) == (("cache", "app/cache"), "running")


def test_docker_inspect_times_keep_microseconds_and_zero_is_none():
    web, worker = parse_docker_inspect(DOCKER_INSPECT)
    assert web == ContainerTimes("web", 2412, datetime(2024, 1, 15, 10, 23, 45, 123456), None)
    assert worker.pid is None
    assert worker.started_at == datetime(2024, 1, 10, 8, 0, 0, 500000)
    assert worker.finished_at == datetime(2024, 1, 14, 22, 10, 3)


def test_ss_ports_of_every_address_family():
    assert parse_ss_listening(SS).listening == {22, 53, 443, 8080}
    # an ss too old for -H prints its header: skipped
    header = "@ok\nState  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n"
    assert parse_ss_listening(header + "LISTEN 0 128 127.0.0.1:33121 0.0.0.0:*\n").listening == {
        33121
    }
    assert parse_ss_listening("@ok\n") == PortsReport(None, frozenset())


@pytest.mark.parametrize(
    "parse, text, condition",
    [
        pytest.param(
            parse_systemctl_show,
            "@missing not running as the init system (no /run/systemd/system)\n",
            "systemd: not running as the init system (no /run/systemd/system)",
            id="no-systemd",
        ),
        pytest.param(
            parse_docker_ps,
            "@unavailable docker ps exited with status 1: Cannot connect to the Docker daemon\n",
            "docker: docker ps exited with status 1: Cannot connect to the Docker daemon",
            id="no-daemon",
        ),
        pytest.param(
            parse_docker_ps, "@missing docker is not installed\n", "docker: docker is not installed"
        ),
        pytest.param(
            parse_ss_listening,
            "@missing ss is not installed (iproute2)\n",
            "ss: ss is not installed (iproute2)",
        ),
    ],
)
def test_a_missing_tool_is_a_condition(parse, text, condition):
    assert parse(text).condition == condition


@pytest.mark.parametrize(
    "parse, text, message",
    [
        pytest.param(parse_systemctl_show, "Id=x.service\n", "expected @ok", id="no-header"),
        pytest.param(parse_systemctl_show, "@ok\nId=x\nLoadState=loaded\n", "lacks ActiveState"),
        pytest.param(parse_systemctl_show, "@ok\ngarbage\n", "is not KEY=value"),
        pytest.param(
            parse_systemctl_show,
            "@ok\nId=x\nLoadState=loaded\nActiveState=active\n"
            "ActiveEnterTimestamp=Mon 2024-01-15 10:23:45 CET\n",
            "is not 'Day YYYY-MM-DD HH:MM:SS UTC'",
            id="not-utc",
        ),
        pytest.param(parse_docker_ps, "@ok\nnot json\n", "is not JSON", id="docker-not-json"),
        pytest.param(parse_docker_ps, '@ok\n{"ID":"x"}\n', "lacks Names or Status"),
        pytest.param(parse_docker_inspect, "/web abc x y\n", "is not 'name pid started"),
        pytest.param(parse_docker_inspect, "/web 1 yesterday 0\n", "is not RFC 3339"),
        pytest.param(parse_ss_listening, "@ok\nLISTEN 0 128 nowhere *\n", "does not end in :port"),
    ],
)
def test_malformed_output_is_a_parse_error(parse, text, message):
    with pytest.raises(ParseError, match=message):
        parse(text)


def server_with(*releases: dict) -> Server:
    return Server(name="a", host="h", releases=releases)


def assembled(server: Server, texts: dict[str, str]) -> dict[str, AppState]:
    sections = {f"apps.{k}": Section(0, v) for k, v in texts.items()}
    facts, errors = parse_sections([apps], sections, ProbeContext(server))
    assert errors == {}
    return {a.release: a for a in facts["apps"].apps}


def test_each_release_gets_its_state_from_the_first_locator_that_answered():
    server = server_with(
        {"name": "nginx", "unit": "nginx.service", "port": 443},
        {"name": "worker", "unit": "worker"},
        {"name": "gone", "unit": "nope"},
        {"name": "web", "container": "web", "port": 9999},
        {"name": "batch", "container": "worker"},
        {"name": "absent", "container": "nothere"},
        {"name": "java", "port": 8080},
    )
    got = assembled(
        server,
        {"systemd": SYSTEMCTL, "docker": DOCKER_PS, "docker_times": DOCKER_INSPECT, "ports": SS},
    )
    nginx = got["nginx"]
    assert (nginx.status, nginx.since, nginx.main_pid, nginx.unit_state) == (
        "running",
        datetime(2024, 1, 15, 10, 23, 45),
        812,
        "active/running",
    )
    assert nginx.port_listening is True and nginx.running is True
    assert (got["worker"].status, got["worker"].since) == (
        "stopped",
        datetime(2024, 1, 15, 9, 0, 1),
    )
    assert (got["gone"].status, got["gone"].unit_state) == ("missing", "not-found")
    web = got["web"]
    assert (web.status, web.main_pid, web.container_state, web.port_listening) == (
        "running",
        2412,
        "Up 3 hours",
        False,  # the container decides; the port stays visible
    )
    assert (got["batch"].status, got["batch"].since) == (
        "stopped",
        datetime(2024, 1, 14, 22, 10, 3),
    )
    assert (got["absent"].status, got["absent"].container_state) == ("missing", "absent")
    assert (got["java"].status, got["java"].port_listening) == ("running", True)
    assert all(a.conditions == () for a in got.values())


def test_a_tool_that_cannot_answer_leaves_the_next_locator_or_unknown():
    server = server_with({"name": "api", "unit": "api", "port": 22}, {"name": "db", "unit": "db"})
    got = assembled(
        server,
        {
            "systemd": "@missing not running as the init system (no /run/systemd/system)\n",
            "ports": SS,
        },
    )
    assert (got["api"].status, got["api"].port_listening) == ("running", True)
    assert got["db"].status == "unknown" and got["db"].running is None
    assert got["db"].conditions == (
        "systemd: not running as the init system (no /run/systemd/system)",
    )


def test_a_failed_section_is_a_condition_of_the_releases_that_needed_it():
    server = server_with({"name": "api", "container": "api"})
    facts, errors = parse_sections(
        [apps],
        {"apps.docker": Section(0, "@ok\n{broken\n"), "apps.docker_times": Section(0, "")},
        ProbeContext(server),
    )
    assert "parse error" in errors["apps.docker"]
    (app,) = facts["apps"].apps
    assert app.status == "unknown" and "docker section failed" in app.conditions[0]


def test_only_the_tools_the_releases_need_are_asked():
    assert apps.sections(ProbeContext(Server(name="a", host="h"))) == {}
    ports_only = apps.sections(ProbeContext(server_with({"name": "x", "port": 80})))
    assert list(ports_only) == ["ports"]
    both = apps.sections(
        ProbeContext(
            server_with(
                {"name": "x", "unit": "a.service", "container": "c1"},
                {"name": "y", "unit": "a.service", "container": "c2"},
            )
        )
    )
    assert list(both) == ["systemd", "docker", "docker_times"]
    assert both["systemd"].command.count("a.service") == 1  # asked once
    assert "-- c1 c2 " in both["docker_times"].command


def test_values_reaching_the_command_are_quoted_even_past_validation():
    # model_construct skips the inventory's validation: the command must still quote.
    evil = Release.model_construct(
        name="x", handle=None, unit="x'; touch /tmp/pwned; '", container="$(reboot)", port=None
    )
    server = Server.model_construct(name="a", host="h", releases=(evil,))
    specs = apps.sections(ProbeContext(server))
    assert shlex.quote("x'; touch /tmp/pwned; '") in specs["systemd"].command
    assert "-- '$(reboot)' " in specs["docker_times"].command


# -- against the real fleet: a port that listens, tools that cannot answer -------


def test_the_real_fleet(fleet):
    entry = fleet.server_entries()[0]
    entry["releases"] = [
        {"name": "sshd", "handle": "ssh.example.test", "port": entry["port"]},
        {"name": "closed", "port": 1},
        {"name": "api", "unit": "mast-no-such-unit.service"},
        {"name": "web", "container": "mast-no-such-container"},
    ]
    server = Server.model_validate(entry)
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts)))
    before = fleet.connections_by_port()
    result = probe_server(server, transport)
    assert fleet.connections_by_port() - before == {entry["port"]: 1}
    assert result.section_errors == {}
    got = {a.release: a for a in result.facts["apps"].apps}
    assert (got["sshd"].handle, got["sshd"].status, got["sshd"].port_listening) == (
        "ssh.example.test",
        "running",
        True,
    )
    assert (got["closed"].status, got["closed"].port_listening) == ("stopped", False)
    if Path("/run/systemd/system").is_dir():  # the fleet is this machine
        assert (got["api"].status, got["api"].unit_state) == ("missing", "not-found")
    else:
        assert got["api"].status == "unknown"
        assert got["api"].conditions == (
            "systemd: not running as the init system (no /run/systemd/system)",
        )
    web = got["web"]
    if web.conditions:  # no docker, or no daemon the login user may reach
        assert web.status == "unknown" and web.conditions[0].startswith("docker: ")
    else:
        assert (web.status, web.container_state) == ("missing", "absent")


def test_a_tailored_probe_needs_the_server_context():
    from probes.collect import sections_of
    from probes.system import SECTIONS

    with pytest.raises(ValueError, match="the apps probe builds its sections per server"):
        sections_of([apps])
    assert list(sections_of([apps], ProbeContext(server_with({"name": "x", "port": 1})))) == [
        "apps.ports"
    ]
    assert len(sections_of([], None)) == 0 and SECTIONS  # static probes need none
