"""The audit trail: every change becomes one event, written with the state it leads to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from probes import apps, packages, system
from probes.collect import ServerResult, parse_sections, utcnow
from probes.errors import HostKeyRejected, HostUnreachable
from probes.inventory import Server
from probes.registry import ProbeContext
from probes.script import Section
from warehouse import audit
from warehouse.db import reader
from warehouse.land import land_patch_scan, land_tick

T0 = utcnow().replace(microsecond=0)

SYSTEM = {
    "os_release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID=12\n',
    "uname": "Linux 6.1.0-18-amd64 x86_64\n",
    "stat": "cpu  100 0 0 900 0 0 0 0 0 0\n",
    "meminfo": "MemTotal: 1000 kB\nMemAvailable: 500 kB\n",
    "loadavg": "0.1 0.1 0.1 1/1 1\n",
    "uptime": "1000.0 1.0\n",
    "nproc": "2\n",
    "df": "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 50 50 50% /\n",
    "df_inodes": "Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sda1 10 1 9 10% /\n",
}

SERVER = Server(
    name="web-1",
    host="10.0.0.1",
    releases=[
        {"name": "api", "handle": "api.example.com", "port": 8080},
        {"name": "web", "container": "web"},
    ],
)
OTHER = Server(name="db-1", host="10.0.0.2")


def docker(*containers: tuple[str, str]) -> str:
    lines = [
        f'{{"Names":"{name}","ID":"1","Image":"x","State":"{state}","Status":"{state}"}}'
        for name, state in containers
    ]
    return "@ok\n" + "\n".join(lines) + "\n"


def up(
    server: Server,
    at_s: float,
    *,
    uptime: float | None = None,
    pretty: str | None = None,
    kernel: str | None = None,
    listening: tuple[int, ...] = (8080,),
    web: str | None = "running",
) -> ServerResult:
    """A reachable server at T0 + at_s, with its system and app sections."""
    at = T0 + timedelta(seconds=at_s)
    texts = dict(SYSTEM)
    texts["uptime"] = f"{uptime if uptime is not None else 1000 + at_s} 1.0\n"
    if pretty:
        texts["os_release"] = f'PRETTY_NAME="{pretty}"\n'
    if kernel:
        texts["uname"] = f"Linux {kernel} x86_64\n"
    sections = {f"system.{k}": Section(0, v) for k, v in texts.items()}
    ss = "@ok\n" + "".join(f"LISTEN 0 128 0.0.0.0:{p} 0.0.0.0:*\n" for p in listening)
    sections |= {
        "apps.ports": Section(0, ss),
        "apps.docker": Section(0, docker(*([("web", web)] if web else []))),
        "apps.docker_times": Section(0, ""),
    }
    facts, errors = parse_sections([system, apps], sections, ProbeContext(server))
    assert errors == {}
    return ServerResult(server.name, at, 10.0, 1, True, facts=facts)


def down(server: Server, at_s: float, failure=None) -> ServerResult:
    failure = failure or HostUnreachable(server.name, "connection refused", "refused")
    failure.started_at = T0 + timedelta(seconds=at_s)
    return ServerResult.down(failure)


def feed(path) -> list[tuple]:
    with reader(path) as con:
        return con.execute(
            "SELECT tick_id, server, kind, subject, before, after FROM audit_feed ORDER BY event_id"
        ).fetchall()


def kinds(events) -> list[tuple]:
    return [(e.server, e.kind, e.subject, e.before, e.after) for e in events]


def test_first_look_at_healthy_servers_is_a_silent_baseline_and_repeats_stay_silent(tmp_path):
    path = tmp_path / "w.duckdb"
    servers = [SERVER, OTHER]
    assert land_tick("t1", T0, servers, [up(SERVER, 0), up(OTHER, 0)], path).events == ()
    for i in range(2, 4):
        landed = land_tick(f"t{i}", T0, servers, [up(SERVER, 30 * i), up(OTHER, 30 * i)], path)
        assert landed.events == ()
    assert feed(path) == []


def test_down_up_with_the_reason(tmp_path):
    path = tmp_path / "w.duckdb"
    land_tick("t1", T0, [SERVER], [up(SERVER, 0)], path)
    landed = land_tick("t2", T0, [SERVER], [down(SERVER, 30)], path)
    assert kinds(landed.events) == [("web-1", "server.down", None, "up", "down")]
    assert landed.events[0].detail == "refused: connection refused"
    assert land_tick("t3", T0, [SERVER], [down(SERVER, 60)], path).events == ()  # still down
    landed = land_tick("t4", T0, [SERVER], [up(SERVER, 90)], path)
    assert kinds(landed.events) == [("web-1", "server.up", None, "down (refused)", "up")]
    assert [row[:3] for row in feed(path)] == [
        ("t2", "web-1", "server.down"),
        ("t4", "web-1", "server.up"),
    ]


def test_a_server_first_seen_down_is_an_alarm(tmp_path):
    landed = land_tick("t1", T0, [OTHER], [down(OTHER, 0)], tmp_path / "w.duckdb")
    assert kinds(landed.events) == [("db-1", "server.down", None, "up", "down")]


def test_host_key_changed_once_on_a_server_known_before(tmp_path):
    path = tmp_path / "w.duckdb"
    land_tick("t1", T0, [SERVER], [up(SERVER, 0)], path)
    changed = HostKeyRejected("web-1", "host key CHANGED: the server offered ssh-ed25519 SHA256:x")
    landed = land_tick("t2", T0, [SERVER], [down(SERVER, 30, changed)], path)
    assert [e.kind for e in landed.events] == ["server.down", "host-key.changed"]
    assert landed.events[1].detail.startswith("host key CHANGED")
    again = HostKeyRejected("web-1", "host key CHANGED: the server offered ssh-ed25519 SHA256:x")
    assert land_tick("t3", T0, [SERVER], [down(SERVER, 60, again)], path).events == ()
    # A host never reached before: an unknown key is not a change.
    unknown = HostKeyRejected("db-1", "host key of db-1 is not in known_hosts")
    landed = land_tick("t4", T0, [OTHER], [down(OTHER, 0, unknown)], path)
    assert [e.kind for e in landed.events] == ["server.down"]


def test_reboot_is_uptime_going_backwards(tmp_path):
    path = tmp_path / "w.duckdb"
    land_tick("t1", T0, [SERVER], [up(SERVER, 0, uptime=5000)], path)
    assert land_tick("t2", T0, [SERVER], [up(SERVER, 30, uptime=5030)], path).events == ()
    landed = land_tick("t3", T0, [SERVER], [up(SERVER, 60, uptime=12)], path)
    (event,) = landed.events
    assert (event.kind, event.before, event.after) == ("server.rebooted", "up 5030 s", "up 12 s")
    booted = T0 + timedelta(seconds=48)
    assert event.detail == f"booted at about {booted:%Y-%m-%d %H:%M:%S} UTC"


def test_os_changed_names_the_field(tmp_path):
    path = tmp_path / "w.duckdb"
    land_tick("t1", T0, [SERVER], [up(SERVER, 0)], path)
    landed = land_tick(
        "t2",
        T0,
        [SERVER],
        [up(SERVER, 30, pretty="Debian GNU/Linux 13 (trixie)", kernel="6.12.0-1-amd64")],
        path,
    )
    assert [(e.kind, e.detail, e.before, e.after) for e in landed.events] == [
        (
            "os.changed",
            "PRETTY_NAME",
            "Debian GNU/Linux 12 (bookworm)",
            "Debian GNU/Linux 13 (trixie)",
        ),
        ("os.changed", "kernel", "6.1.0-18-amd64", "6.12.0-1-amd64"),
    ]


def test_app_started_stopped_appeared_vanished(tmp_path):
    path = tmp_path / "w.duckdb"
    land_tick("t1", T0, [SERVER], [up(SERVER, 0)], path)  # both running: baseline
    steps = [
        (dict(listening=()), [("api.example.com", "app.stopped", "running", "stopped")]),
        (dict(listening=(8080,)), [("api.example.com", "app.started", "stopped", "running")]),
        (dict(web=None), [("web", "app.vanished", "running", "missing")]),
        (dict(web=None), []),
        (dict(web="exited"), [("web", "app.appeared", "missing", "stopped")]),
        (dict(web="running"), [("web", "app.started", "stopped", "running")]),
    ]
    for i, (state, expected) in enumerate(steps, start=2):
        landed = land_tick(f"t{i}", T0, [SERVER], [up(SERVER, 30 * i, **state)], path)
        assert [(e.subject, e.kind, e.before, e.after) for e in landed.events] == expected, i
    assert len(feed(path)) == 5


def test_apps_first_seen_stopped_or_missing_are_alarms_and_unknown_is_silent(tmp_path):
    path = tmp_path / "w.duckdb"
    landed = land_tick("t1", T0, [SERVER], [up(SERVER, 0, listening=(), web=None)], path)
    assert [(e.subject, e.kind, e.before, e.detail) for e in landed.events] == [
        ("api.example.com", "app.stopped", None, "first look"),
        ("web", "app.vanished", None, "first look"),
    ]
    # the docker daemon goes away: nothing can be seen, so nothing changed
    result = up(SERVER, 30, listening=())
    unknown = apps.AppFacts(
        (result.facts["apps"].apps[0], apps.AppState("web", "web", apps.UNKNOWN, conditions=("x",)))
    )
    result = ServerResult(
        result.server, result.started_at, 1.0, 1, True, facts={**result.facts, "apps": unknown}
    )
    assert land_tick("t2", T0, [SERVER], [result], path).events == ()


def test_an_unreachable_server_keeps_its_apps_and_raises_no_app_events(tmp_path):
    path = tmp_path / "w.duckdb"
    land_tick("t1", T0, [SERVER], [up(SERVER, 0)], path)
    land_tick("t2", T0, [SERVER], [down(SERVER, 30)], path)
    landed = land_tick("t3", T0, [SERVER], [up(SERVER, 60)], path)
    assert [e.kind for e in landed.events] == ["server.up"]
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM app_latest").fetchone() == (2,)


# -- the patch scan's events ---------------------------------------------------

APT_LINE = "{name}/{suite} 2.0 amd64 [upgradable from: 1.0]\n"


def scanned(server: Server, at_s: float, *lines: tuple[str, str]) -> ServerResult:
    apt = "Listing...\n" + "".join(APT_LINE.format(name=n, suite=s) for n, s in lines)
    texts = {
        "manager": "apt-get\n",
        "refresh": "skipped 1\n",
        "apt_upgradable": apt,
        "dnf_updates": "",
        "dnf_security": "",
        "reboot": "not-required\n",
        "lists": "now 100\n40 /var/lib/apt/lists\n",
    }
    facts, errors = parse_sections(
        [packages], {f"packages.{k}": Section(0, v) for k, v in texts.items()}, ProbeContext(server)
    )
    assert errors == {}
    return ServerResult(server.name, T0 + timedelta(seconds=at_s), 10.0, 1, True, facts=facts)


def test_security_updates_appeared_and_cleared(tmp_path):
    path = tmp_path / "w.duckdb"
    plain = ("vim", "bookworm")
    ssl = ("openssl", "bookworm-updates,bookworm-security")
    libc = ("libc6", "bookworm-security")
    landed = land_patch_scan("p1", T0, [SERVER], [scanned(SERVER, 0, plain)], path)
    assert landed.events == ()  # nothing for security
    landed = land_patch_scan("p2", T0, [SERVER], [scanned(SERVER, 10, plain, ssl)], path)
    assert [(e.kind, e.before, e.after, e.detail) for e in landed.events] == [
        ("security-updates.appeared", "0", "1", "openssl 2.0")
    ]
    assert land_patch_scan("p3", T0, [SERVER], [scanned(SERVER, 20, ssl, plain)], path).events == ()
    landed = land_patch_scan("p4", T0, [SERVER], [scanned(SERVER, 30, ssl, libc)], path)
    assert [(e.kind, e.detail) for e in landed.events] == [
        ("security-updates.appeared", "libc6 2.0")
    ]
    assert land_patch_scan("p5", T0, [SERVER], [scanned(SERVER, 40, libc)], path).events == ()
    landed = land_patch_scan("p6", T0, [SERVER], [scanned(SERVER, 50, plain)], path)
    assert [(e.kind, e.before, e.after) for e in landed.events] == [
        ("security-updates.cleared", "1", "0")
    ]
    assert [row[2] for row in feed(path)] == [
        "security-updates.appeared",
        "security-updates.appeared",
        "security-updates.cleared",
    ]


def test_security_updates_pending_at_the_first_scan_are_an_alarm():
    events = audit.security_events(
        "a",
        T0,
        set(),
        packages.parse_apt_upgradable(APT_LINE.format(name="openssl", suite="x-security")),
    )
    assert [(e.kind, e.before, e.after) for e in events] == [
        ("security-updates.appeared", "0", "1")
    ]


def test_a_landing_that_fails_writes_no_event(tmp_path):
    path = tmp_path / "w.duckdb"
    land_tick("t1", T0, [SERVER], [up(SERVER, 0)], path)
    with pytest.raises(Exception, match="(?i)duplicate key|constraint"):
        land_tick("t1", T0, [SERVER], [down(SERVER, 30)], path)  # same tick id: refused
    assert feed(path) == []
    with reader(path) as con:
        assert con.execute("SELECT reachable FROM server_status").fetchone() == (True,)


def test_every_kind_is_named_once():
    assert len(set(audit.KINDS)) == len(audit.KINDS) == 11
