"""Metric history: raw samples rolled up into coarser tiers, in SQL, and retention.

Tiers default to 5 minutes, 1 hour and 1 day ($MAST_ROLLUP_TIERS); each one's
buckets store min, max, sum, count and the last sample, and each coarser tier is
built from the one below, so every average (sum / count) is exact.

One run, in ONE write transaction (``run``):

1. For each tier, in order: the buckets that closed since the previous run
   (from ``closed_until`` to the start of the bucket ``now`` falls in) are
   aggregated whole from the tier below (raw samples for the first tier) and
   upserted. Samples that landed since the previous run (``landed_at`` past its
   ``landed_until``) for buckets that were already closed are late: they are
   merged into those buckets of every tier (min/max/sum/count/last merge
   exactly), so they are folded in even when the tier below no longer holds
   the rest of the bucket.
2. The watermarks move to what this run saw.
3. Retention deletes what is older than each tier's retention, but never past
   what the tier above has rolled up (raw samples not yet rolled up stay).

A second run right after changes nothing; a crash rolls the whole run back.
Samples land with ``landed_at`` = the start of their landing transaction and
writers are serialised by the file lock, so a sample committed after a run
always landed after every sample that run saw.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import duckdb

from probes.collect import utcnow
from warehouse.db import load_sql, writer

DEFAULT_TIERS = "5m:30d,1h:400d,1d"
DEFAULT_RAW_RETENTION = "2d"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_FOREVER = {"", "forever", "none", "never"}


class RollupSettingsError(ValueError):
    """$MAST_ROLLUP_TIERS or $MAST_RAW_RETENTION cannot be used; the message says why."""


@dataclass(frozen=True)
class Tier:
    """One rollup tier: its bucket width and how long its buckets are kept (None: forever)."""

    width_s: int
    retention_s: int | None = None

    @property
    def name(self) -> str:
        """The width as the tier's name: ``5m``, ``1h``, ``1d``, ``90m``."""
        return format_duration(self.width_s)


@dataclass(frozen=True)
class RollupSettings:
    tiers: tuple[Tier, ...]
    raw_retention_s: int | None

    def __post_init__(self) -> None:
        if not self.tiers:
            raise RollupSettingsError("MAST_ROLLUP_TIERS names no tier")
        for below, above in zip(self.tiers, self.tiers[1:], strict=False):
            if above.width_s <= below.width_s or above.width_s % below.width_s:
                raise RollupSettingsError(
                    f"MAST_ROLLUP_TIERS: the {above.name} tier must be a larger multiple of "
                    f"the {below.name} tier below it, so its buckets are whole buckets of it"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RollupSettings:
        """From $MAST_ROLLUP_TIERS (``WIDTH[:RETENTION],...``, default ``5m:30d,1h:400d,1d``)
        and $MAST_RAW_RETENTION (default ``2d``); ``forever`` or no retention keeps all."""
        env = os.environ if environ is None else environ
        tiers_spec = env.get("MAST_ROLLUP_TIERS") or DEFAULT_TIERS
        tiers = []
        for part in tiers_spec.split(","):
            width, _, retention = part.partition(":")
            tiers.append(
                Tier(
                    parse_duration(width, "MAST_ROLLUP_TIERS"),
                    parse_retention(retention, "MAST_ROLLUP_TIERS"),
                )
            )
        raw = env.get("MAST_RAW_RETENTION", DEFAULT_RAW_RETENTION)
        return cls(tuple(tiers), parse_retention(raw, "MAST_RAW_RETENTION"))


def parse_duration(text: str, setting: str) -> int:
    """Seconds of ``30s``, ``5m``, ``1h``, ``2d``, ``1w``."""
    m = _DURATION.match(text)
    if not m or int(m.group(1)) == 0:
        raise RollupSettingsError(
            f"{setting}: {text.strip()!r} is not a duration such as 5m, 1h, 2d or 1w"
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


def parse_retention(text: str, setting: str) -> int | None:
    """Seconds of a retention, or None for ``forever`` (or nothing)."""
    return None if text.strip().lower() in _FOREVER else parse_duration(text, setting)


def format_duration(seconds: int) -> str:
    """The shortest exact spelling: 300 -> ``5m``, 5400 -> ``90m``, 86400 -> ``1d``."""
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class TierReport:
    tier: str
    closed_until: datetime
    fresh_buckets: int  # rows written from the tier below for newly closed buckets
    late_buckets: int  # rows that late samples were merged into (or created)
    pruned: int  # rows deleted by this tier's retention


@dataclass(frozen=True)
class RollupReport:
    now: datetime
    landed_until: datetime | None
    tiers: tuple[TierReport, ...]
    raw_pruned: int

    def as_dict(self) -> dict:
        return asdict(self)


def run(
    path: str | os.PathLike[str] | None = None,
    settings: RollupSettings | None = None,
    now: datetime | None = None,
) -> RollupReport:
    """Roll up and apply retention in one write transaction; returns what changed."""
    settings = settings or RollupSettings.from_env()
    now = now or utcnow()
    with writer(path) as con:
        return prune(con, settings, now, roll_up(con, settings, now))


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def roll_up(
    con: duckdb.DuckDBPyConnection, settings: RollupSettings, now: datetime
) -> RollupReport:
    """Steps 1 and 2 of a run, inside the caller's transaction (``run`` opens it)."""
    marks = {
        tier: (closed, landed)
        for tier, closed, landed in con.execute(load_sql("rollup_read_watermarks")).fetchall()
    }
    (seen,) = con.execute(load_sql("rollup_landed_until")).fetchone()
    reports = []
    for i, tier in enumerate(settings.tiers):
        closed_from, landed_from = marks.get(tier.name, (None, None))
        # Never backwards (retention may have deleted the latest landed rows); None:
        # nothing had landed yet, so whatever lands later is new to this tier.
        landed_until = max((t for t in (seen, landed_from) if t is not None), default=None)
        (closed_until,) = con.execute(
            load_sql("rollup_closed_until"), {"width_s": tier.width_s, "now": now}
        ).fetchone()
        if closed_from is not None and closed_until < closed_from:
            closed_until = closed_from  # the clock went back: never reopen closed buckets
        common = {"tier": tier.name, "width_s": tier.width_s}
        window = {"closed_from": closed_from, "closed_until": closed_until}
        con.execute(load_sql("rollup_clear_window"), {"tier": tier.name} | window)
        if i == 0:
            fresh = _count(con.execute(load_sql("rollup_fresh_from_samples"), common | window))
        else:
            source = {"source": settings.tiers[i - 1].name}
            fresh = _count(
                con.execute(load_sql("rollup_fresh_from_tier"), common | window | source)
            )
        late = 0
        if closed_from is not None:
            late = _count(
                con.execute(
                    load_sql("rollup_fold_late"),
                    common | {"closed_from": closed_from, "landed_from": landed_from},
                )
            )
        con.execute(
            load_sql("rollup_set_watermark"),
            common | {"closed_until": closed_until, "landed_until": landed_until, "now": now},
        )
        reports.append(TierReport(tier.name, closed_until, fresh, late, 0))
    return RollupReport(now, seen, tuple(reports), 0)


def prune(
    con: duckdb.DuckDBPyConnection, settings: RollupSettings, now: datetime, rolled: RollupReport
) -> RollupReport:
    """Step 3 of a run: retention, never past what the tier above has rolled up."""
    closed = [t.closed_until for t in rolled.tiers]
    raw_pruned = 0
    if settings.raw_retention_s is not None:
        before = min(now - timedelta(seconds=settings.raw_retention_s), closed[0])
        raw_pruned = _count(con.execute(load_sql("rollup_prune_samples"), {"before": before}))
    reports = []
    for i, (tier, report) in enumerate(zip(settings.tiers, rolled.tiers, strict=True)):
        pruned = 0
        if tier.retention_s is not None:
            before = now - timedelta(seconds=tier.retention_s)
            if i + 1 < len(closed):
                before = min(before, closed[i + 1])
            pruned = _count(
                con.execute(load_sql("rollup_prune_tier"), {"tier": tier.name, "before": before})
            )
        reports.append(replace(report, pruned=pruned))
    return RollupReport(rolled.now, rolled.landed_until, tuple(reports), raw_pruned)
