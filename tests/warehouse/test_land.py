"""Landing ticks into a real DuckDB file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from probes import system
from probes.collect import ServerResult, parse_sections, utcnow
from probes.errors import HostUnreachable
from probes.inventory import Server
from probes.script import Section
from warehouse.db import reader
from warehouse.land import land_patch_scan, land_tick

DF = (
    "Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
    "/dev/sda2         20000000 5000000  15000000      25% /\n"
    "/dev/sda2         20000000 5000000  15000000      25% /\n"  # listed twice (bind mount)
)


def result(
    name: str, at, cpu: tuple[int, int], section_overrides: dict | None = None
) -> ServerResult:
    texts = {
        "os_release": 'PRETTY_NAME="Test OS 1"\nID=test\nVERSION_ID=1\n',
        "uname": "Linux 6.1.0-test x86_64\n",
        "stat": f"cpu  {cpu[0] - cpu[1]} 0 0 {cpu[1]} 0 0 0 0 0 0\n",
        "meminfo": "MemTotal: 1000 kB\nMemAvailable: 250 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
        "loadavg": "0.50 0.40 0.30 1/99 123\n",
        "uptime": "100.5 50.0\n",
        "nproc": "4\n",
        "df": DF,
        "df_inodes": "Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sda2 100 10 90 10% /\n",
    } | (section_overrides or {})
    facts, errors = parse_sections(
        [system], {f"system.{k}": Section(0, v) for k, v in texts.items()}
    )
    return ServerResult(name, at, 12.5, 1, True, facts=facts, section_errors=errors)


SERVERS = [Server(name="a", host="10.0.0.1", tags=("web",)), Server(name="b", host="10.0.0.2")]


def status(path, server: str) -> dict:
    with reader(path) as con:
        cur = con.execute("SELECT * FROM server_status WHERE server = ?", [server])
        cols = [d[0] for d in cur.description]
        return dict(zip(cols, cur.fetchone(), strict=True))


def test_first_tick_lands_status_without_cpu_rate(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    landed = land_tick(
        "t1", t0, SERVERS, [result("a", t0, (1000, 900)), result("b", t0, (10, 5))], path
    )
    assert (landed.servers, landed.reachable) == (2, 2)
    a = status(path, "a")
    assert a["reachable"] and a["os_name"] == "Test OS 1" and a["kernel"] == "6.1.0-test"
    assert (a["ncpu"], a["mem_total_bytes"], a["mem_available_bytes"]) == (4, 1024000, 256000)
    assert (a["load1"], a["load5"], a["load15"], a["uptime_s"]) == (0.5, 0.4, 0.3, 100.5)
    assert a["cpu_pct"] is None
    assert a["disk_used_pct"] == pytest.approx(25.0)
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM filesystems").fetchone() == (2,)
        assert con.execute("SELECT tags FROM servers WHERE name='a'").fetchone() == (["web"],)
        metrics = dict(
            con.execute("SELECT metric, value FROM metric_samples WHERE server='a'").fetchall()
        )
    assert metrics["mem_used_pct"] == pytest.approx(75.0)
    assert "cpu_pct" not in metrics


def test_second_tick_fills_cpu_rate_and_down_server_keeps_last_figures(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    land_tick("t1", t0, SERVERS, [result("a", t0, (1000, 900)), result("b", t0, (10, 5))], path)
    down = HostUnreachable("b", "connection refused", "refused")
    down.started_at = t0 + timedelta(seconds=30)
    land_tick(
        "t2",
        t0 + timedelta(seconds=30),
        SERVERS,
        [result("a", t0 + timedelta(seconds=30), (1200, 1050)), ServerResult.down(down)],
        path,
    )
    a, b = status(path, "a"), status(path, "b")
    assert a["cpu_pct"] == pytest.approx(25.0)
    assert not b["reachable"] and b["reason"] == "refused" and b["error"] == "connection refused"
    assert b["os_name"] == "Test OS 1" and b["last_ok_at"] == t0  # last known figures kept
    with reader(path) as con:
        runs = con.execute(
            "SELECT tick_id, server, ok, reason FROM probe_runs ORDER BY 1, 2"
        ).fetchall()
        cpu = con.execute("SELECT value FROM metric_samples WHERE metric='cpu_pct'").fetchall()
    assert runs == [
        ("t1", "a", True, None),
        ("t1", "b", True, None),
        ("t2", "a", True, None),
        ("t2", "b", False, "refused"),
    ]
    assert cpu == [(pytest.approx(25.0),)]


def test_a_section_error_lands_with_the_rest(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    land_tick("t1", t0, SERVERS[:1], [result("a", t0, (10, 5), {"meminfo": "garbage"})], path)
    a = status(path, "a")
    assert a["mem_total_bytes"] is None and a["ncpu"] == 4
    with reader(path) as con:
        (errors,) = con.execute("SELECT section_errors FROM probe_runs").fetchone()
    assert "system.meminfo" in errors and "parse error" in errors


def test_the_same_tick_cannot_land_twice(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    land_tick("t1", t0, SERVERS[:1], [result("a", t0, (10, 5))], path)
    with pytest.raises(Exception, match="(?i)duplicate key|constraint"):
        land_tick("t1", t0, SERVERS[:1], [result("a", t0, (20, 6))], path)
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM metric_samples").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM probe_runs").fetchone() == (1,)


# -- releases, apps and the patch scan --------------------------------------------

SS_8080 = "@ok\nLISTEN 0 128 0.0.0.0:8080 0.0.0.0:*\n"


def with_apps(base: ServerResult, server: Server, ss: str = SS_8080) -> ServerResult:
    from probes import apps
    from probes.registry import ProbeContext

    facts, errors = parse_sections([apps], {"apps.ports": Section(0, ss)}, ProbeContext(server))
    assert errors == {}
    return ServerResult(base.server, base.started_at, 1.0, 1, True, facts={**base.facts, **facts})


def released(name: str, *releases: dict) -> Server:
    return Server(name=name, host="10.0.0.9", releases=releases)


def app_status(path) -> list[dict]:
    with reader(path) as con:
        cur = con.execute("SELECT * FROM app_status ORDER BY handle")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def test_apps_land_and_the_written_rows_come_back_from_memory(tmp_path):
    path = tmp_path / "w.duckdb"
    a = released(
        "a", {"name": "api", "handle": "API.example.com", "port": 8080}, {"name": "x", "port": 9}
    )
    t0 = utcnow()
    landed = land_tick("t1", t0, [a], [with_apps(result("a", t0, (10, 5)), a)], path)
    rows = app_status(path)
    assert [(r["handle"], r["release"], r["server"], r["status"], r["running"]) for r in rows] == [
        ("api.example.com", "api", "a", "running", True),
        ("x", "x", "a", "stopped", False),
    ]
    assert [(r["handle"], r["status"], r["port_listening"]) for r in landed.apps] == [
        ("api.example.com", "running", True),
        ("x", "stopped", False),
    ]
    for written, stored in zip(landed.apps, rows, strict=True):
        assert {k: stored[k] for k in ("handle", "server", "checked_at", "status")} == {
            k: written[k] for k in ("handle", "server", "checked_at", "status")
        }


def test_the_warehouse_refuses_a_handle_declared_twice(tmp_path):
    from warehouse.db import writer

    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    # Server records made one by one skip the inventory's fleet-wide check.
    a = released("a", {"name": "api", "port": 1})
    b = released("b", {"name": "API", "port": 2})
    with pytest.raises(Exception, match="(?i)same row twice|duplicate key|constraint"):
        land_tick("t1", t0, [a, b], [result("a", t0, (10, 5)), result("b", t0, (10, 5))], path)
    land_tick("t2", t0, [a], [result("a", t0, (10, 5))], path)
    with reader(path) as con:
        assert con.execute("SELECT tick_id FROM ticks").fetchall() == [("t2",)]  # t1 left nothing
    with pytest.raises(Exception, match="(?i)duplicate key|constraint"), writer(path) as con:
        con.execute("INSERT INTO releases VALUES ('api', 'API', 'b', NULL, NULL, 2, now(), now())")
    with pytest.raises(Exception, match="(?i)constraint"), writer(path) as con:
        con.execute(
            "INSERT INTO releases VALUES ('Shop', 'Shop', 'b', NULL, NULL, 2, now(), now())"
        )
    assert [(r["handle"], r["server"]) for r in app_status(path)] == [("api", "a")]


def test_a_release_follows_its_handle_and_undeclared_ones_are_forgotten(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    a = released("a", {"name": "api", "port": 8080}, {"name": "old", "port": 8080})
    b = Server(name="b", host="10.0.0.2")
    land_tick(
        "t1", t0, [a, b], [with_apps(result("a", t0, (10, 5)), a), result("b", t0, (1, 1))], path
    )
    assert [r["handle"] for r in app_status(path)] == ["api", "old"]
    a2 = Server(name="a", host="10.0.0.9")
    b2 = released("b", {"name": "api", "port": 8080})
    land_tick(
        "t2", t0, [a2, b2], [result("a", t0, (20, 6)), with_apps(result("b", t0, (2, 1)), b2)], path
    )
    rows = app_status(path)
    assert [(r["handle"], r["server"], r["status"]) for r in rows] == [("api", "b", "running")]
    with reader(path) as con:
        assert con.execute("SELECT count(*) FROM app_latest").fetchone() == (1,)


def packages_result(name: str, at, texts: dict[str, str]) -> ServerResult:
    from probes import packages
    from probes.registry import ProbeContext

    base = {
        "manager": "apt-get\n",
        "refresh": "ok 1000\n",
        "apt_upgradable": "Listing...\n",
        "dnf_updates": "",
        "dnf_security": "",
        "reboot": "not-required\n",
        "lists": "now 1000\n400 /var/lib/apt/lists\n",
    }
    sections = {f"packages.{k}": Section(0, v) for k, v in (base | texts).items()}
    facts, errors = parse_sections([packages], sections, ProbeContext(Server(name=name, host="h")))
    return ServerResult(name, at, 5.0, 1, True, facts=facts, section_errors=errors)


APT_TWO = (
    "Listing...\n"
    "openssl/bookworm-updates,bookworm-security 3.0.15-1~deb12u1 amd64"
    " [upgradable from: 3.0.11-1~deb12u2]\n"
    "libcap2/bookworm 1:2.66-4+deb12u3 amd64 [upgradable from: 1:2.66-4+deb12u2]\n"
)


def patch_status(path) -> dict[str, dict]:
    with reader(path) as con:
        cur = con.execute("SELECT * FROM patch_status")
        cols = [d[0] for d in cur.description]
        return {row[0]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


def upgradable(path) -> list[tuple]:
    with reader(path) as con:
        return con.execute(
            "SELECT server, package, current_version, candidate_version, origin, security"
            " FROM upgradable_packages ORDER BY server, package"
        ).fetchall()


def test_a_patch_scan_lands_status_and_the_upgradable_list(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    landed = land_patch_scan(
        "p1",
        t0,
        SERVERS,
        [
            packages_result("a", t0, {"apt_upgradable": APT_TWO, "reboot": "required\nlibc6\n"}),
            packages_result("b", t0, {"manager": "zypper\n", "refresh": "unsupported 1\n"}),
        ],
        path,
    )
    assert (landed.servers, landed.reachable, landed.upgradable, landed.security) == (2, 2, 2, 1)
    assert upgradable(path) == [
        ("a", "libcap2", "1:2.66-4+deb12u2", "1:2.66-4+deb12u3", "bookworm", False),
        (
            "a",
            "openssl",
            "3.0.11-1~deb12u2",
            "3.0.15-1~deb12u1",
            "bookworm-updates,bookworm-security",
            True,
        ),
    ]
    status = patch_status(path)
    a, b = status["a"], status["b"]
    assert (a["manager"], a["refresh"], a["upgradable_count"], a["security_count"]) == (
        "apt",
        "ok",
        2,
        1,
    )
    assert (a["reboot_required"], a["reboot_packages"], a["lists_age_s"]) == (
        True,
        '["libc6"]',
        0.0,
    )
    assert (b["manager"], b["note"], b["upgradable_count"]) == (
        "zypper",
        "unsupported: zypper",
        None,
    )
    with reader(path) as con:
        assert con.execute("SELECT flow FROM ticks").fetchall() == [("patch-scan",)]
        assert con.execute("SELECT count(*) FROM probe_runs").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM server_status").fetchone() == (0,)


def test_a_failed_listing_or_an_unreachable_server_keeps_the_last_list(tmp_path):
    path = tmp_path / "w.duckdb"
    t0 = utcnow()
    land_patch_scan(
        "p1", t0, SERVERS[:1], [packages_result("a", t0, {"apt_upgradable": APT_TWO})], path
    )
    t1 = t0 + timedelta(hours=6)
    broken = packages_result("a", t1, {"apt_upgradable": "garbage\n", "refresh": "needs-sudo 9\n"})
    assert "packages.apt_upgradable" in broken.section_errors
    land_patch_scan("p2", t1, SERVERS[:1], [broken], path)
    a = patch_status(path)["a"]
    assert (a["scanned_at"], a["refresh"], a["upgradable_count"], a["security_count"]) == (
        t1,
        "needs-sudo",
        2,
        1,
    )
    assert len(upgradable(path)) == 2
    t2 = t1 + timedelta(hours=6)
    gone = HostUnreachable("a", "connection refused", "refused")
    gone.started_at = t2
    land_patch_scan("p3", t2, SERVERS[:1], [ServerResult.down(gone)], path)
    a = patch_status(path)["a"]
    assert (a["reachable"], a["reason"], a["last_ok_at"], a["upgradable_count"]) == (
        False,
        "refused",
        t1,
        2,
    )
    t3 = t2 + timedelta(hours=6)
    land_patch_scan("p4", t3, SERVERS[:1], [packages_result("a", t3, {})], path)
    assert upgradable(path) == [] and patch_status(path)["a"]["upgradable_count"] == 0
