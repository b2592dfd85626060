"""Every warehouse query the dashboard runs, each behind ``st.cache_data``.

The pages call only these and arrange what they return. A function's
arguments are the warehouse file and everything its query depends on (a
filter, a range, a page), so they are its cache key: a rerun that changes
none of them is a cache hit and runs no SQL, and changing a filter reruns
only the queries that take it. TTLs follow how often the data changes (a
tick lands every 30 s, a patch scan every 6 h).

``QUERIES`` counts the bodies that ran, by function name: a body runs only on
a cache miss, and each one is one read model of warehouse/queries.py (one
short read-only connection). The tests read it across reruns.

Errors are not cached: a missing warehouse raises WarehouseError on every
call until the first tick has created it (the pages show how to run one).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pandas as pd
import streamlit as st

from probes.collect import utcnow
from viewer import charts
from warehouse import queries

LIVE_TTL_S = 10  # latest status, apps, events: a tick lands every 30 s
HISTORY_TTL_S = 30  # metric series
SLOW_TTL_S = 120  # patch scans (every 6 h), bench history, tags

RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
}
DEFAULT_RANGE = "24h"
CHART_METRICS = ("cpu_pct", "mem_used_pct", "disk_used_pct", "load1")
EVENTS_PER_PAGE = 50
LOG_LINES_SHOWN = 1000  # lines read when a release's log is first shown

QUERIES: Counter[str] = Counter()
_counting = threading.Lock()


def _ran(name: str) -> None:
    with _counting:
        QUERIES[name] += 1


def records(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as dicts, missing values (NaN, NaT, NA) as None."""
    return [{k: None if _missing(v) else v for k, v in r.items()} for r in frame.to_dict("records")]


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists (tags) and other containers
        return False


def server_url(name: str) -> str:
    """The server page of ``name``, relative to the app's root (a shareable deep link)."""
    return f"server?server={quote(name)}"


def release_url(handle: str) -> str:
    return f"release?release={quote(handle)}"


# -- fleet ----------------------------------------------------------------------------


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=16)
def fleet_stats(db: str) -> dict:
    """Servers up / down / stale, pending and security updates, reboots required."""
    _ran("fleet_stats")
    return queries.fleet_stats(db)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=64)
def fleet_table(
    db: str, text: str | None = None, tag: str | None = None, status: str | None = None
) -> pd.DataFrame:
    """The fleet table, filtered in SQL; ``page`` is each row's server page link."""
    _ran("fleet_table")
    rows = queries.fleet_table(text=text, tag=tag, status=status, path=db)
    rows["page"] = [server_url(name) for name in rows["server"]]
    return rows


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False, max_entries=16)
def fleet_tags(db: str) -> list[str]:
    _ran("fleet_tags")
    return queries.fleet_tags(db)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=16)
def server_names(db: str) -> list[str]:
    """Every server's name (derived from the unfiltered fleet table: no query of its own)."""
    return list(fleet_table(db)["server"])


# -- one server -------------------------------------------------------------------------


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=256)
def server_detail(db: str, server: str) -> dict | None:
    """The server's fleet-table row (facts, current figures, patch counts), or None."""
    _ran("server_detail")
    found = records(queries.fleet_table(server=server, path=db))
    return found[0] if found else None


@dataclass(frozen=True)
class History:
    """A server's chart metrics over a range: the tier read, and one chart spec per metric."""

    tier: str  # raw, or the rollup tier
    width_s: int | None  # bucket width (None: raw samples)
    points: int  # points per metric, at most
    specs: dict[str, dict]  # metric -> Vega-Lite spec, data inline


@st.cache_data(ttl=HISTORY_TTL_S, show_spinner=False, max_entries=256)
def history(db: str, server: str, range_key: str) -> History:
    """The chart metrics of ``server`` over the last ``range_key`` (a key of RANGES); the
    read model picks the tier. The charts are built here, once per result."""
    _ran("series")
    end = utcnow()
    found = queries.series(server, CHART_METRICS, end - RANGES[range_key], end, path=db)
    points = found.points
    if points.empty:
        return History(found.tier, found.width_s, 0, {})
    points["at"] = points["ts"].dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    most = int(points.groupby("metric").size().max())
    span_s = RANGES[range_key].total_seconds()
    specs = {
        m: charts.metric_spec(points, m, span_s)
        for m in CHART_METRICS
        if (points["metric"] == m).any()
    }
    return History(found.tier, found.width_s, most, specs)


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False, max_entries=256)
def patch_status(db: str, server: str) -> dict | None:
    """The server's latest patch scan (``patch_status``), or None before its first."""
    _ran("patch_status")
    found = [r for r in records(queries.patch_overview(db)) if r["server"] == server]
    return found[0] if found else None


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False, max_entries=256)
def upgradable(db: str, server: str) -> pd.DataFrame:
    """The server's upgradable packages, security updates first."""
    _ran("upgradable")
    return queries.upgradable_packages(server=server, path=db)


# -- releases -----------------------------------------------------------------------


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=256)
def apps(db: str, server: str | None = None) -> pd.DataFrame:
    """``app_status`` rows (one per release), of one server or all; ``page`` links each
    release's page."""
    _ran("apps")
    rows = queries.app_status(server=server, path=db)
    rows["page"] = [release_url(handle) for handle in rows["handle"]]
    return rows


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=256)
def log_fetches(db: str, handle: str) -> list[dict]:
    """The release's latest log fetches, newest first (the page clears its entry when a
    fetch it started lands)."""
    _ran("log_fetches")
    return records(queries.release_log_fetches(handle=handle, limit=10, path=db))


@st.cache_data(ttl=1, show_spinner=False, max_entries=256)
def log_fetch(db: str, fetch_id: str) -> dict | None:
    """One fetch by id, or None while it has not landed."""
    _ran("log_fetch")
    found = records(queries.release_log_fetches(fetch_id=fetch_id, limit=1, path=db))
    return found[0] if found else None


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False, max_entries=256)
def log_lines(db: str, handle: str, after_id: int, through_fetch: str | None) -> pd.DataFrame:
    """The release's stored lines past ``after_id`` as of its latest fetch
    ``through_fetch`` (lines land only with a fetch, so the pair names one result): the
    newest LOG_LINES_SHOWN on a first read (after_id 0), every new one after that."""
    _ran("log_lines")
    limit = LOG_LINES_SHOWN if after_id == 0 else 5000
    return queries.release_log_lines(handle, after_id=after_id, limit=limit, path=db)


# -- activity and bench ----------------------------------------------------------------


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=256)
def audit_page(db: str, server: str | None, kind: str | None, page: int) -> pd.DataFrame:
    """Page ``page`` (from 1) of the audit feed, newest first; ``total`` counts matches."""
    _ran("audit_page")
    offset = (page - 1) * EVENTS_PER_PAGE
    return queries.audit_events(server, kind, EVENTS_PER_PAGE, offset, path=db)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False, max_entries=16)
def audit_kinds(db: str) -> dict[str, int]:
    _ran("audit_kinds")
    return queries.audit_kinds(db)


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False, max_entries=16)
def bench(db: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict]]:
    """(history, latest, specs): every bench row, newest first; the latest run of each
    server side by side per probe (median ms and SSH calls, combined vs separate); and
    one chart spec per probe of the median times over the runs."""
    _ran("bench")
    history = queries.bench_history(path=db)
    if history.empty:
        return history, history, {}
    newest = history.sort_values("ran_at").groupby("server", as_index=False).last()
    latest = history[history["bench_id"].isin(newest["bench_id"])]
    wide = latest.pivot_table(
        index=["server", "probe"],
        columns="strategy",
        values=["median_ms", "ssh_calls"],
        aggfunc="first",
    )
    wide.columns = [f"{value}_{strategy}" for value, strategy in wide.columns]
    wide = wide.reset_index()
    if {"median_ms_combined", "median_ms_separate"} <= set(wide.columns):
        wide["ratio"] = wide["median_ms_combined"] / wide["median_ms_separate"]
    ran = latest.groupby(["server", "probe"], as_index=False)[["ran_at", "rtt_ms"]].first()
    specs = {p: charts.bench_spec(history, p) for p in dict.fromkeys(history["probe"])}
    return history, wide.merge(ran, on=["server", "probe"]), specs
