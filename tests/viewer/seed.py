"""A seeded warehouse for the viewer's tests: real landings of synthetic probe output.

Four servers, landed through warehouse.land (ticks and a patch scan), history
through warehouse.rollup, release logs through warehouse.land_logs, bench runs
through warehouse.bench:

- web-1 (web, prod): up, CPU 25 %, memory 75 %, disk 25 %, load 0.50; releases
  ``api`` (unit api.service, running) and ``shop`` (container shop, stopped);
  2 upgradable packages (1 security), reboot required; 2 days of samples.
- web-2 (web): up, CPU 50 %, memory 50 %, disk 60 %, load 1.50; no patches; release
  ``edge`` (port 443 only: no log to read, never probed here).
- db-1 (db, prod): up at first, then refused (down).
- old-1 (db): its only check 30 minutes ago (stale).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.measure import BenchRow
from probes import apps, packages, system
from probes.collect import ServerResult, parse_sections, utcnow
from probes.errors import HostUnreachable
from probes.inventory import Server
from probes.logs import LogFetch, parse_journal
from probes.registry import ProbeContext
from probes.script import Section
from warehouse.bench import land_bench_runs
from warehouse.db import writer
from warehouse.land import land_patch_scan, land_tick
from warehouse.land_logs import land_release_logs
from warehouse.rollup import run as roll_up

SERVERS = [
    Server(
        name="web-1",
        host="10.0.0.11",
        port=2201,
        user="deploy",
        tags=("web", "prod"),
        releases=(
            {"name": "api", "handle": "api.example.test", "unit": "api.service"},
            {"name": "shop", "container": "shop"},
        ),
    ),
    Server(
        name="web-2", host="10.0.0.12", tags=("web",), releases=({"name": "edge", "port": 443},)
    ),
    Server(name="db-1", host="10.0.0.21", tags=("db", "prod")),
    Server(name="old-1", host="10.0.0.31", tags=("db",)),
]
FIGURES = {  # server: (MemAvailable of 4000000 kB, load1, df used of 100 blocks, CPU busy %)
    "web-1": (1_000_000, 0.50, 25, 25.0),
    "web-2": (2_000_000, 1.50, 60, 50.0),
    "db-1": (3_000_000, 0.10, 10, 10.0),
    "old-1": (3_000_000, 0.20, 10, 10.0),
}
SYSTEMCTL = """@ok
Id=api.service
LoadState=loaded
ActiveState=active
SubState=running
MainPID=812
ActiveEnterTimestamp=Mon 2024-01-15 10:23:45 UTC
InactiveEnterTimestamp=
"""
DOCKER_PS = (
    '@ok\n{"ID":"4c01db0b339c","Image":"shop:2","Names":"shop","State":"exited",'
    '"Status":"Exited (1) 2 hours ago"}\n'
)
APT_TWO = (
    "Listing...\n"
    "openssl/bookworm-updates,bookworm-security 3.0.15-1~deb12u1 amd64"
    " [upgradable from: 3.0.11-1~deb12u2]\n"
    "libcap2/bookworm 1:2.66-4+deb12u3 amd64 [upgradable from: 1:2.66-4+deb12u2]\n"
)
JOURNAL = "@ok\n" + "".join(
    f"2024-01-15T10:00:{i:02d}+00:00 web-1 api[812]: request {i} served\n" for i in range(5)
)
HISTORY = """
INSERT INTO metric_samples (server, metric, ts, value, landed_at)
SELECT $server, m.metric, $start::TIMESTAMP + to_seconds(i * 30),
       m.base + (i % 10), $start::TIMESTAMP + to_seconds(i * 30 + 5)
FROM range($samples) t(i),
     (VALUES ('cpu_pct', 20.0), ('mem_used_pct', 70.0), ('disk_used_pct', 20.0),
             ('load1', 0.0)) m(metric, base)
"""


def system_result(name: str, at: datetime, tick: int) -> ServerResult:
    """The system probe's sections as a Debian server prints them, parsed for real."""
    avail, load1, used, busy = FIGURES[name]
    idle = 1000 * tick
    total = idle + round(idle * busy / (100 - busy))
    texts = {
        "os_release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
        "uname": "Linux 6.1.0-18-amd64 x86_64\n",
        "stat": f"cpu  {total - idle} 0 0 {idle} 0 0 0 0 0 0\n",
        "meminfo": (
            f"MemTotal: 4000000 kB\nMemAvailable: {avail} kB\n"
            "SwapTotal: 1000000 kB\nSwapFree: 1000000 kB\n"
        ),
        "loadavg": f"{load1:.2f} 0.40 0.30 1/99 123\n",
        "uptime": "86400.5 50.0\n",
        "nproc": "4\n",
        "df": (
            "Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
            f"/dev/vda1              100 {used:7d} {100 - used:9d}      {used}% /\n"
        ),
        "df_inodes": "Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/vda1 100 10 90 10% /\n",
    }
    sections = {f"system.{k}": Section(0, v) for k, v in texts.items()}
    facts, errors = parse_sections([system], sections)
    assert not errors, errors
    if name == "web-1":
        server = SERVERS[0]
        app_sections = {
            "apps.systemd": Section(0, SYSTEMCTL),
            "apps.docker": Section(0, DOCKER_PS),
            "apps.docker_times": Section(0, ""),
        }
        more, errors = parse_sections([apps], app_sections, ProbeContext(server))
        assert not errors, errors
        facts = {**facts, **more}
    return ServerResult(name, at, 12.5, 1, True, facts=facts)


def down(name: str, at: datetime) -> ServerResult:
    failure = HostUnreachable(name, "[Errno 111] Connection refused", "refused")
    failure.started_at = at
    return ServerResult.down(failure)


def patch_result(name: str, at: datetime, upgradable: str) -> ServerResult:
    base = {
        "manager": "apt-get\n",
        "refresh": "ok 1000\n",
        "apt_upgradable": upgradable,
        "dnf_updates": "",
        "dnf_security": "",
        "reboot": "required\nlibc6\n" if upgradable != "Listing...\n" else "not-required\n",
        "lists": "now 1000\n400 /var/lib/apt/lists\n",
    }
    sections = {f"packages.{k}": Section(0, v) for k, v in base.items()}
    server = next(s for s in SERVERS if s.name == name)
    facts, errors = parse_sections([packages], sections, ProbeContext(server))
    assert not errors, errors
    return ServerResult(name, at, 5.0, 1, True, facts=facts)


def journal_fetch(text: str, at: datetime) -> LogFetch:
    return LogFetch(
        "web-1", "api.example.test", "journal", "api.service", 200, at, 4.0, 1, parse_journal(text)
    )


@dataclass(frozen=True)
class Seeded:
    path: Path
    now: datetime


def seed(path: Path, now: datetime | None = None) -> Seeded:
    now = now or utcnow()
    old = SERVERS[3]
    then = now - timedelta(minutes=30)
    land_tick("t-old", then, [old], [system_result("old-1", then, 1)], path)
    live = SERVERS[:3]
    for tick, ago in enumerate((60, 30, 5), start=1):
        at = now - timedelta(seconds=ago)
        results = [
            down("db-1", at)
            if (s.name == "db-1" and tick == 3)
            else system_result(s.name, at, tick)
            for s in live
        ]
        land_tick(f"t{tick}", at, live, results, path)
    land_patch_scan(
        "p1",
        now - timedelta(minutes=20),
        SERVERS[:2],
        [patch_result("web-1", now, APT_TWO), patch_result("web-2", now, "Listing...\n")],
        path,
    )
    with writer(path) as con:  # two days of history before the ticks
        con.execute(
            HISTORY,
            {"server": "web-1", "start": now - timedelta(days=2), "samples": 2 * 2880 - 10},
        )
    roll_up(path, now=now)
    land_release_logs("fetch-1", journal_fetch(JOURNAL, now - timedelta(minutes=5)), path)
    rows = [
        BenchRow("system", "combined", 10, 1, 120.0, 125.7, 160.0, 7.2, 0.10),
        BenchRow("system", "separate", 10, 9, 1090.0, 1231.5, 1390.0, 71.7),
        BenchRow("packages", "combined", 10, 1, 790.0, 936.7, 1010.0, 13.4, 0.44),
        BenchRow("packages", "separate", 10, 7, 1850.0, 2152.9, 3250.0, 93.7),
    ]
    land_bench_runs("bench-1", "web-1", [asdict(r) for r in rows], 0.35, path)
    return Seeded(Path(path), now)
