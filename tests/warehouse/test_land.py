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
from warehouse.land import land_tick

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
