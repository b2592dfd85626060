"""Read models: the only queries the viewer and the CLIs run against the warehouse.

Each opens one short read-only connection (warehouse.db.reader) and returns
plain frames or frozen records that a cache can keep.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from probes.collect import utcnow
from warehouse.db import load_sql, reader
from warehouse.rollup import RollupSettings, Tier

DEFAULT_STALE_AFTER_S = 90.0
MAX_POINTS = 1000
MAX_PAGE = 1000


def stale_after_s() -> float:
    """Seconds after which a server's latest check is stale ($MAST_STALE_AFTER, default 90)."""
    return float(os.environ.get("MAST_STALE_AFTER", DEFAULT_STALE_AFTER_S))


def server_status(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The public ``server_status`` view, one row per server, by name."""
    with reader(path) as con:
        return con.execute("SELECT * FROM server_status ORDER BY server").df()


def fleet_overview(
    path: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
    stale_after: float | None = None,
) -> pd.DataFrame:
    """One row per server, by name: ``status`` (``up``, ``down``, or ``stale`` when the
    latest check is older than ``stale_after`` seconds), the check's time and error,
    ``staleness_s``, the current CPU, memory, swap, disk and load figures (those of the
    latest successful check, ``last_ok_at``), and the latest patch scan's
    ``upgradable_count``, ``security_count`` and ``reboot_required``: ``fleet_table``
    without filters."""
    return fleet_table(path=path, now=now, stale_after=stale_after)


@dataclass(frozen=True)
class Series:
    """Points of a server's metrics over a time range, from one tier.

    ``points`` has one row per metric and bucket start ``ts``: ``avg`` (sum / count
    of the samples in it), ``min``, ``max``, ``count``. ``tier`` is ``raw`` (each
    sample its own point, ``width_s`` None) or the rollup tier read; ``width_s`` is
    the bucket width, wider than the tier's only when even the coarsest tier would
    give more than ``max_points``.
    """

    server: str
    tier: str
    width_s: int | None
    points: pd.DataFrame


def series(
    server: str,
    metrics: Sequence[str],
    start: datetime,
    end: datetime,
    path: str | os.PathLike[str] | None = None,
    max_points: int = MAX_POINTS,
    settings: RollupSettings | None = None,
    now: datetime | None = None,
) -> Series:
    """``metrics`` of ``server`` in [start, end), from the finest tier that still holds
    the range (by retention) and gives at most ``max_points`` points per metric."""
    span_s = (end - start).total_seconds()
    if span_s <= 0:
        raise ValueError(f"the series range is empty: {start} is not before {end}")
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    settings = settings or RollupSettings.from_env()
    now = now or utcnow()
    base = {"server": server, "metrics": list(metrics), "start": start, "end": end}

    def holds(retention_s: int | None) -> bool:
        return retention_s is None or (now - start).total_seconds() <= retention_s

    with reader(path) as con:
        if holds(settings.raw_retention_s):
            (most,) = con.execute(load_sql("count_series_samples"), base).fetchone()
            if most <= max_points:
                points = con.execute(load_sql("select_series_samples"), base).df()
                return Series(server, "raw", None, points)
        tier, width_s = _pick_tier(settings.tiers, span_s, max_points, holds)
        params = base | {"tier": tier.name, "tier_width_s": tier.width_s, "width_s": width_s}
        points = con.execute(load_sql("select_series_rollups"), params).df()
    return Series(server, tier.name, width_s, points)


def _pick_tier(
    tiers: Sequence[Tier], span_s: float, max_points: int, holds: Callable[[int | None], bool]
) -> tuple[Tier, int]:
    """The finest tier that holds the range and fits; else the coarsest, regrouped to fit."""
    for tier in tiers:
        if holds(tier.retention_s) and math.ceil(span_s / tier.width_s) <= max_points:
            return tier, tier.width_s
    coarsest = tiers[-1]
    factor = max(1, math.ceil(span_s / (max_points * coarsest.width_s)))
    return coarsest, coarsest.width_s * factor


def audit_events(
    server: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
    path: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """One page of the audit feed (migration 003), newest first, optionally of one server
    and/or one kind (``server.down``, ...): event_id, occurred_at, server, kind, subject
    (the release of app events), before, after, detail, and ``total`` (matching events)."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ValueError(f"a page is 1 to {MAX_PAGE} events from an offset of 0 or more")
    params = {"server": server, "kind": kind, "limit": limit, "offset": offset}
    with reader(path) as con:
        return con.execute(load_sql("select_audit_events"), params).df()


# -- the dashboard's read models (viewer/) ------------------------------------------


def fleet_table(
    text: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    server: str | None = None,
    path: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
    stale_after: float | None = None,
) -> pd.DataFrame:
    """The fleet overview (see ``fleet_overview``), by name; only the servers matching
    every filter given: ``text`` (a case-insensitive substring of
    the name, host, OS or a tag), ``tag``, ``status`` (up, down, stale), ``server``."""
    params = {
        "now": now or utcnow(),
        "stale_after_s": stale_after_s() if stale_after is None else stale_after,
        "text": text or None,
        "tag": tag or None,
        "status": status or None,
        "server": server or None,
    }
    with reader(path) as con:
        return con.execute(load_sql("select_fleet_table"), params).df()


def fleet_stats(
    path: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
    stale_after: float | None = None,
) -> dict:
    """The fleet's figures: ``servers``, ``up``, ``down``, ``stale``, ``pending_updates``,
    ``security_updates``, ``servers_with_security_updates``, ``reboots_required`` and
    ``latest_check`` (None on an empty warehouse)."""
    params = {
        "now": now or utcnow(),
        "stale_after_s": stale_after_s() if stale_after is None else stale_after,
    }
    with reader(path) as con:
        cur = con.execute(load_sql("select_fleet_stats"), params)
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def fleet_tags(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Every tag a server of the fleet carries, sorted."""
    with reader(path) as con:
        return [tag for (tag,) in con.execute(load_sql("select_fleet_tags")).fetchall()]


def audit_kinds(path: str | os.PathLike[str] | None = None) -> dict[str, int]:
    """{kind: events} of the audit feed, by kind."""
    with reader(path) as con:
        return dict(con.execute(load_sql("select_audit_kinds")).fetchall())


def bench_history(limit: int = 1000, path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Rows of ``bench_runs`` (one per bench run, probe and strategy), newest run first."""
    with reader(path) as con:
        return con.execute(load_sql("select_bench_history"), {"limit": limit}).df()


def release_log_lines(
    handle: str,
    after_id: int = 0,
    limit: int = 1000,
    path: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The newest ``limit`` stored log lines of release ``handle`` past ``line_id``
    ``after_id``, oldest first: line_id, fetch_id, fetched_at, source, logged_at, line."""
    params = {"handle": handle, "after_id": after_id, "limit": limit}
    with reader(path) as con:
        return con.execute(load_sql("select_release_log_lines"), params).df()


def release_log_fetches(
    handle: str | None = None,
    fetch_id: str | None = None,
    limit: int = 20,
    path: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Fetches of release logs (``release_log_fetches``), newest first, of one release
    and/or the one fetch ``fetch_id``."""
    params = {"handle": handle, "fetch_id": fetch_id, "limit": limit}
    with reader(path) as con:
        return con.execute(load_sql("select_release_log_fetches"), params).df()


# -- the patch scan and the releases ----------------------------------------


def patch_overview(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per server of the ``patch_status`` view, most security updates first:
    the latest scan (reachable, refresh, lists age, reboot flag) and its counts."""
    with reader(path) as con:
        return con.execute(load_sql("select_patch_overview")).df()


def upgradable_packages(
    server: str | None = None,
    security_only: bool = False,
    path: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The ``upgradable_packages`` view, optionally of one server and/or security
    updates only; security first, then by server and package."""
    params = {"server": server, "security_only": security_only}
    with reader(path) as con:
        return con.execute(load_sql("select_upgradable_packages"), params).df()


def app_status(
    server: str | None = None, path: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """The ``app_status`` view (one row per release), optionally of one server; releases
    that are not running first."""
    with reader(path) as con:
        return con.execute(load_sql("select_app_status"), {"server": server}).df()
