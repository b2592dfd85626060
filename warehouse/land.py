"""Landing: one tick's results into the warehouse, in ONE transaction.

The inputs are the typed records that probes produce (ServerResult and the
probe records inside it); nothing here knows how they were fetched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from probes.collect import ServerResult, utcnow
from probes.inventory import Server
from probes.system import CpuTimes, SystemFacts, cpu_percent, metric_values
from warehouse.db import load_sql, writer


@dataclass(frozen=True)
class LandedTick:
    tick_id: str
    servers: int
    reachable: int
    samples: int


def _frame(con: duckdb.DuckDBPyConnection, view: str, rows: list[dict], sql: str, **params) -> None:
    """Expose ``rows`` as the view ``view`` and run the named SQL that reads it."""
    if not rows:
        return
    con.register(view, pd.DataFrame(rows))
    try:
        con.execute(load_sql(sql), params or None)
    finally:
        con.unregister(view)


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
                "reachable": len(ok),
            },
        )
        _frame(con, "incoming_runs", [_run_row(tick_id, r) for r in results], "insert_probe_runs")

        status = [_status_row(r) for r in ok]
        if status:
            con.register("incoming_status", pd.DataFrame(status)[["server"]])
            previous = {
                server: CpuTimes(int(total), int(idle))
                for server, total, idle in con.execute(load_sql("previous_cpu_counters")).fetchall()
            }
            con.unregister("incoming_status")
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
    return LandedTick(tick_id, len(results), len(ok), len(samples))


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
