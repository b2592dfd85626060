"""Landing: one tick's results into the warehouse, in ONE transaction.

The inputs are the typed records that probes produce (ServerResult and the
probe records inside it); nothing here knows how they were fetched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from probes.apps import AppFacts
from probes.collect import ServerResult, utcnow
from probes.inventory import Server
from probes.packages import PackageFacts
from probes.system import CpuTimes, SystemFacts, cpu_percent, metric_values
from warehouse.audit import (
    AuditEvent,
    PreviousServer,
    app_events,
    security_events,
    server_events,
)
from warehouse.db import load_sql, writer


@dataclass(frozen=True)
class LandedTick:
    tick_id: str
    servers: int
    reachable: int
    samples: int
    apps: tuple[dict, ...] = ()  # the app_latest rows written, as written
    events: tuple[AuditEvent, ...] = ()  # the audit events written, in order


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, **frames: pd.DataFrame) -> Iterator[None]:
    """Expose each frame as a view for the statements inside.

    An error inside is never masked by the clean-up: DuckDB refuses even
    ``unregister`` in an aborted transaction, and the writer rolls back anyway.
    """
    for view, frame in frames.items():
        con.register(view, frame)
    try:
        yield
    except BaseException:
        for view in frames:
            with suppress(duckdb.Error):
                con.unregister(view)
        raise
    for view in frames:
        con.unregister(view)


def _frame(con: duckdb.DuckDBPyConnection, view: str, rows: list[dict], sql: str, **params) -> None:
    """Expose ``rows`` as the view ``view`` and run the named SQL that reads it."""
    if not rows:
        return
    with _registered(con, **{view: pd.DataFrame(rows)}):
        con.execute(load_sql(sql), params or None)


def _frame_always(
    con: duckdb.DuckDBPyConnection, view: str, rows: list[dict], columns: Sequence[str], sql: str
) -> None:
    """Like _frame, also when ``rows`` is empty (for SQL that deletes what is not listed)."""
    with _registered(con, **{view: pd.DataFrame(rows, columns=list(columns), dtype=object)}):
        con.execute(load_sql(sql))


def _previous(
    con: duckdb.DuckDBPyConnection, servers: list[str]
) -> tuple[dict[str, PreviousServer], dict[str, str]]:
    """The stored state the audit compares against: server_latest and app statuses."""
    if not servers:
        return {}, {}
    with _registered(con, incoming_checked=pd.DataFrame({"server": servers})):
        previous = {
            server: PreviousServer(bool(reachable), reason, last_ok_at, os_name, kernel, uptime)
            for server, reachable, reason, last_ok_at, os_name, kernel, uptime in con.execute(
                load_sql("previous_server_state")
            ).fetchall()
        }
        apps = dict(con.execute(load_sql("previous_app_status")).fetchall())
    return previous, apps


def insert_events(
    con: duckdb.DuckDBPyConnection, tick_id: str, events: Sequence[AuditEvent]
) -> None:
    """Write ``events`` to audit_events, in order, inside the caller's transaction."""
    _frame(
        con,
        "incoming_events",
        [{"tick_id": tick_id, "seq": i, **e.__dict__} for i, e in enumerate(events)],
        "insert_audit_events",
    )


def _land_run(
    con: duckdb.DuckDBPyConnection,
    tick_id: str,
    flow: str,
    started_at: datetime,
    now: datetime,
    servers: Sequence[Server],
    results: Sequence[ServerResult],
) -> None:
    """What every flow's landing writes: inventory entries, the run's row, one row per server."""
    _frame(
        con,
        "incoming_servers",
        [
            {
                "name": s.name,
                "host": s.host,
                "port": s.port,
                "login_user": s.user,
                "tags": list(s.tags),
            }
            for s in servers
        ],
        "upsert_servers",
        now=now,
    )
    con.execute(
        load_sql("insert_tick"),
        {
            "tick_id": tick_id,
            "flow": flow,
            "started_at": started_at,
            "landed_at": now,
            "servers": len(results),
            "reachable": sum(r.reachable for r in results),
        },
    )
    _frame(con, "incoming_runs", [_run_row(tick_id, r) for r in results], "insert_probe_runs")


def land_tick(
    tick_id: str,
    started_at: datetime,
    servers: Sequence[Server],
    results: Sequence[ServerResult],
    path: str | os.PathLike[str] | None = None,
    flow: str = "tick",
) -> LandedTick:
    """Land one tick: inventory entries, probe runs, latest status, filesystems, samples."""
    now = utcnow()
    ok = [r for r in results if r.reachable]
    down = [r for r in results if not r.reachable]
    samples: list[dict] = []
    with writer(path) as con:
        previous, previous_apps = _previous(con, [r.server for r in results])
        events: list[AuditEvent] = []
        for r in results:
            events += server_events(previous.get(r.server), r)
            apps = r.facts.get("apps")
            if r.reachable and isinstance(apps, AppFacts):
                events += app_events(r.server, r.started_at, previous_apps, apps.apps)
        _land_run(con, tick_id, flow, started_at, now, servers, results)

        status = [_status_row(r) for r in ok]
        if status:
            with _registered(con, incoming_status=pd.DataFrame(status)[["server"]]):
                previous = {
                    server: CpuTimes(int(total), int(idle))
                    for server, total, idle in con.execute(
                        load_sql("previous_cpu_counters")
                    ).fetchall()
                }
            for row, result in zip(status, ok, strict=True):
                facts: SystemFacts = result.facts["system"]
                row["cpu_pct"] = cpu_percent(previous.get(result.server), facts.cpu)
                samples += [
                    {"server": result.server, "metric": k, "ts": result.started_at, "value": v}
                    for k, v in metric_values(facts, row["cpu_pct"]).items()
                ]
        _frame(con, "incoming_status", status, "upsert_status_reachable")
        _frame(
            con,
            "incoming_down",
            [
                {
                    "server": r.server,
                    "checked_at": r.started_at,
                    "reason": r.reason,
                    "error": r.error,
                }
                for r in down
            ],
            "upsert_status_unreachable",
        )
        _frame(con, "incoming_filesystems", _filesystem_rows(ok), "replace_filesystems")
        _frame(con, "incoming_samples", samples, "insert_samples")
        _frame_always(
            con,
            "incoming_declared",
            [{"server": s.name, "handle": None} for s in servers]
            + [
                {"server": s.name, "handle": r.effective_handle}
                for s in servers
                for r in s.releases
            ],
            ["server", "handle"],
            "delete_undeclared_releases",
        )
        first_seen = dict(con.execute(load_sql("select_release_first_seen")).fetchall())
        _frame(
            con, "incoming_releases", _release_rows(servers, first_seen, now), "replace_releases"
        )
        app_rows = _app_rows(ok)
        _frame(con, "incoming_apps", app_rows, "upsert_apps")
        insert_events(con, tick_id, events)
    return LandedTick(tick_id, len(results), len(ok), len(samples), tuple(app_rows), tuple(events))


def _release_rows(
    servers: Sequence[Server], first_seen: dict[str, datetime], now: datetime
) -> list[dict]:
    return [
        {
            "handle": r.effective_handle,
            "name": r.name,
            "server": s.name,
            "unit": r.unit,
            "container": r.container,
            "port": r.port,
            "first_seen": first_seen.get(r.effective_handle, now),
            "updated_at": now,
        }
        for s in servers
        for r in s.releases
    ]


def _app_rows(results: Sequence[ServerResult]) -> list[dict]:
    rows = []
    for r in results:
        facts = r.facts.get("apps")
        if not isinstance(facts, AppFacts):
            continue
        for app in facts.apps:
            rows.append(
                {
                    "handle": app.handle,
                    "server": r.server,
                    "checked_at": r.started_at,
                    "status": app.status,
                    "since": app.since,
                    "main_pid": app.main_pid,
                    "unit_state": app.unit_state,
                    "container_state": app.container_state,
                    "port_listening": app.port_listening,
                    "conditions": "; ".join(app.conditions) or None,
                }
            )
    return rows


def _run_row(tick_id: str, r: ServerResult) -> dict:
    return {
        "tick_id": tick_id,
        "server": r.server,
        "started_at": r.started_at,
        "wall_ms": r.wall_ms,
        "connections": r.connections,
        "ok": r.reachable,
        "reason": r.reason,
        "error": r.error,
        "section_errors": json.dumps(dict(r.section_errors)),
    }


def _status_row(r: ServerResult) -> dict:
    f: SystemFacts = r.facts["system"]
    mem, load, os_ = f.memory, f.load, f.os
    return {
        "server": r.server,
        "checked_at": r.started_at,
        "os_name": os_.pretty_name if os_ else None,
        "os_id": os_.id if os_ else None,
        "os_version": os_.version_id if os_ else None,
        "kernel": f.kernel,
        "ncpu": f.ncpu,
        "mem_total_bytes": mem.total_bytes if mem else None,
        "mem_available_bytes": mem.available_bytes if mem else None,
        "swap_total_bytes": mem.swap_total_bytes if mem else None,
        "swap_free_bytes": mem.swap_free_bytes if mem else None,
        "load1": load.load1 if load else None,
        "load5": load.load5 if load else None,
        "load15": load.load15 if load else None,
        "uptime_s": f.uptime_s,
        "cpu_pct": None,
        "cpu_total_jiffies": f.cpu.total if f.cpu else None,
        "cpu_idle_jiffies": f.cpu.idle if f.cpu else None,
        "disk_used_pct": f.disk_used_pct,
        "section_errors": json.dumps(dict(r.section_errors)),
    }


def _filesystem_rows(results: Sequence[ServerResult]) -> list[dict]:
    rows: dict[tuple[str, str], dict] = {}
    for r in results:
        for fs in r.facts["system"].filesystems:
            # A mount point listed twice (bind mounts) keeps its last line.
            rows[(r.server, fs.mount)] = {
                "server": r.server,
                "mount": fs.mount,
                "device": fs.device,
                "size_bytes": fs.size_bytes,
                "used_bytes": fs.used_bytes,
                "avail_bytes": fs.avail_bytes,
                "inodes_total": fs.inodes_total,
                "inodes_used": fs.inodes_used,
                "checked_at": r.started_at,
            }
    return list(rows.values())


@dataclass(frozen=True)
class LandedScan:
    scan_id: str
    servers: int
    reachable: int
    upgradable: int  # packages listed by the servers whose listing was read
    security: int
    events: tuple[AuditEvent, ...] = ()


def land_patch_scan(
    scan_id: str,
    started_at: datetime,
    servers: Sequence[Server],
    results: Sequence[ServerResult],
    path: str | os.PathLike[str] | None = None,
    flow: str = "patch-scan",
) -> LandedScan:
    """Land one patch scan in one transaction: the run (in ticks and probe_runs, flow
    ``patch-scan``), each server's patch_latest row, the upgradable list of each
    server whose listing was read, and the security-update events."""
    now = utcnow()
    ok = [r for r in results if r.reachable]
    down = [r for r in results if not r.reachable]
    with writer(path) as con:
        previous = _previous_security(con, [r.server for r in ok])
        _land_run(con, scan_id, flow, started_at, now, servers, results)
        events: list[AuditEvent] = []
        rows, listed, packages = [], [], []
        for r in ok:
            facts: PackageFacts = r.facts["packages"]
            rows.append(_patch_row(r, facts))
            if facts.upgradable is not None or facts.note is not None:
                listed.append({"server": r.server})
                for u in facts.upgradable or ():
                    packages.append(
                        {
                            "server": r.server,
                            "package": u.name,
                            "architecture": u.architecture,
                            "current_version": u.current_version,
                            "candidate_version": u.candidate_version,
                            "origin": u.origin,
                            "security": u.security,
                            "scanned_at": r.started_at,
                        }
                    )
            if facts.upgradable is not None:
                events += security_events(
                    r.server, r.started_at, previous.get(r.server, set()), facts.upgradable
                )
        _frame(con, "incoming_patch", rows, "upsert_patch_reachable")
        _frame(
            con,
            "incoming_down",
            [
                {
                    "server": r.server,
                    "scanned_at": r.started_at,
                    "reason": r.reason,
                    "error": r.error,
                }
                for r in down
            ],
            "upsert_patch_unreachable",
        )
        if listed:
            with _registered(
                con,
                incoming_listed=pd.DataFrame(listed),
                incoming_upgradable=pd.DataFrame(packages, columns=_UPGRADABLE_COLUMNS),
            ):
                con.execute(load_sql("replace_upgradable"))
        insert_events(con, scan_id, events)
    return LandedScan(
        scan_id,
        len(results),
        len(ok),
        len(packages),
        sum(p["security"] for p in packages),
        tuple(events),
    )


_UPGRADABLE_COLUMNS = (
    "server",
    "package",
    "architecture",
    "current_version",
    "candidate_version",
    "origin",
    "security",
    "scanned_at",
)


def _previous_security(
    con: duckdb.DuckDBPyConnection, servers: list[str]
) -> dict[str, set[tuple[str, str, str]]]:
    """{server: {(package, architecture, candidate)}} of the stored security updates."""
    if not servers:
        return {}
    found: dict[str, set[tuple[str, str, str]]] = {}
    with _registered(con, incoming_checked=pd.DataFrame({"server": servers})):
        for server, package, arch, candidate in con.execute(
            load_sql("previous_security_updates")
        ).fetchall():
            found.setdefault(server, set()).add((package, arch, candidate))
    return found


def _patch_row(r: ServerResult, f: PackageFacts) -> dict:
    listed = f.upgradable is not None
    return {
        "server": r.server,
        "scanned_at": r.started_at,
        "manager": f.manager,
        "note": f.note,
        "refresh": f.refresh.status if f.refresh else None,
        "refresh_detail": (f.refresh.detail or None) if f.refresh else None,
        "lists_age_s": f.lists_age_s,
        "lists_source": f.lists_source,
        "upgradable_count": len(f.upgradable) if listed else None,
        "security_count": f.security_count,
        "reboot_required": f.reboot.required if f.reboot else None,
        "reboot_packages": json.dumps(list(f.reboot.packages)) if f.reboot else None,
        "section_errors": json.dumps(dict(r.section_errors)),
    }
