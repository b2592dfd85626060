"""The read models, on real DuckDB files filled by landing and by the rollup."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from probes.collect import ServerResult
from probes.errors import HostUnreachable
from probes.inventory import Server
from tests.warehouse.test_land import result
from tests.warehouse.test_rollup import bucket
from warehouse.db import reader, writer
from warehouse.queries import audit_events, fleet_overview, series, server_status
from warehouse.rollup import RollupSettings, Tier, run

NOW = datetime(2026, 6, 1, 12, 0)
SERVERS = [
    Server(name="a", host="10.0.0.1", tags=("web",)),
    Server(name="b", host="10.0.0.2"),
    Server(name="c", host="10.0.0.3", tags=("db",)),
]


@pytest.fixture(scope="module")
def fleet_db(tmp_path_factory):
    """a: up; b: up, then refused; c: last checked ten minutes ago."""
    from warehouse.land import land_tick

    path = tmp_path_factory.mktemp("fleet") / "w.duckdb"
    t1, t2 = NOW - timedelta(minutes=10), NOW - timedelta(seconds=60)
    land_tick("t1", t1, SERVERS, [result(s.name, t1, (1000, 900)) for s in SERVERS], path)
    down = HostUnreachable("b", "connection refused", "refused")
    down.started_at = t2
    land_tick("t2", t2, SERVERS[:2], [result("a", t2, (1200, 1050)), ServerResult.down(down)], path)
    return path


def test_fleet_overview_has_one_row_per_server_with_status_and_staleness(fleet_db):
    rows = {r["server"]: r for r in fleet_overview(fleet_db, now=NOW).to_dict("records")}
    assert list(rows) == ["a", "b", "c"]
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["status"], b["status"], c["status"]) == ("up", "down", "stale")
    assert (a["staleness_s"], b["staleness_s"], c["staleness_s"]) == (60.0, 60.0, 600.0)
    assert (a["stale"], b["stale"], c["stale"]) == (False, False, True)
    assert a["cpu_pct"] == pytest.approx(25.0)  # the rate between the two ticks
    assert a["mem_used_pct"] == pytest.approx(75.0) and a["disk_used_pct"] == pytest.approx(25.0)
    assert (a["load1"], a["load5"], a["load15"], a["ncpu"]) == (0.5, 0.4, 0.3, 4)
    assert (a["host"], list(a["tags"])) == ("10.0.0.1", ["web"])
    # Pending and security updates come with it (no patch scan has run here).
    assert {"upgradable_count", "security_count", "reboot_required"} <= set(a)
    # b did not answer: the reason, and the figures of its last good check.
    assert (b["reachable"], b["reason"], b["error"]) == (False, "refused", "connection refused")
    assert b["last_ok_at"] == NOW - timedelta(minutes=10) and b["mem_used_pct"] == 75.0
    # The threshold is a parameter (and $MAST_STALE_AFTER).
    strict = fleet_overview(fleet_db, now=NOW, stale_after=30)
    assert list(strict["status"]) == ["stale", "stale", "stale"]


def test_fleet_overview_stale_threshold_from_the_environment(fleet_db, monkeypatch):
    monkeypatch.setenv("MAST_STALE_AFTER", "700")
    assert list(fleet_overview(fleet_db, now=NOW)["status"]) == ["up", "down", "up"]


def test_server_status_still_lists_every_server(fleet_db):
    frame = server_status(fleet_db)
    assert list(frame["server"]) == ["a", "b", "c"]
    assert list(frame["reachable"]) == [True, False, True]


END = datetime(2026, 6, 1)  # a Monday, midnight
DAYS = 100
KEEP_RAW = RollupSettings(RollupSettings.from_env({}).tiers, None)
DEFAULT = RollupSettings.from_env({})


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """100 days of 30 s samples of two metrics of server a, rolled up at END with the
    default tier retentions (5m: 30 d) but every raw sample kept."""
    path = tmp_path_factory.mktemp("history") / "w.duckdb"
    with writer(path) as con:
        con.execute(
            "INSERT INTO metric_samples (server, metric, ts, value) "
            "SELECT 'a', m, $start::TIMESTAMP + to_seconds(i * 30), "
            "CASE m WHEN 'cpu_pct' THEN (i * 13) % 100 ELSE (i % 7) / 2 END "
            "FROM range($n) t(i), (VALUES ('cpu_pct'), ('load1')) v(m)",
            {"start": END - timedelta(days=DAYS), "n": DAYS * 2880},
        )
    run(path, KEEP_RAW, END)
    with reader(path) as con:
        (oldest,) = con.execute(
            "SELECT min(bucket) FROM metric_rollups WHERE tier = '5m'"
        ).fetchone()
    assert oldest == END - timedelta(days=30)  # older 5m buckets are past retention
    return path


def raw_stats(path, metric: str, start: datetime, end: datetime) -> tuple:
    with reader(path) as con:
        return con.execute(
            "SELECT avg(value), min(value), max(value), count(*) FROM metric_samples "
            "WHERE server = 'a' AND metric = ? AND ts >= ? AND ts < ?",
            [metric, start, end],
        ).fetchone()


def points_per_metric(s) -> dict:
    return s.points.groupby("metric").size().to_dict()


@pytest.mark.parametrize(
    ("span", "ago", "settings", "tier", "width_s", "points"),
    [
        pytest.param(timedelta(hours=6), timedelta(0), KEEP_RAW, "raw", None, 720, id="6h-raw"),
        pytest.param(timedelta(days=2), timedelta(0), KEEP_RAW, "5m", 300, 576, id="2d-5m"),
        pytest.param(timedelta(days=20), timedelta(0), KEEP_RAW, "1h", 3600, 480, id="20d-1h"),
        pytest.param(timedelta(days=90), timedelta(0), KEEP_RAW, "1d", 86400, 90, id="90d-1d"),
        # The 5m tier would fit, but it keeps 30 days only: its buckets are gone.
        pytest.param(timedelta(days=2), timedelta(days=35), KEEP_RAW, "1h", 3600, 48, id="old-2d"),
        # Raw samples would fit, but raw retention (2 d) no longer covers them.
        pytest.param(timedelta(hours=6), timedelta(days=3), DEFAULT, "5m", 300, 72, id="old-6h"),
    ],
)
def test_series_picks_the_finest_tier_that_fits(
    history, span, ago, settings, tier, width_s, points
):
    end = END - ago
    s = series("a", ["cpu_pct", "load1"], end - span, end, history, settings=settings, now=END)
    assert (s.server, s.tier, s.width_s) == ("a", tier, width_s)
    assert points_per_metric(s) == {"cpu_pct": points, "load1": points}
    assert list(s.points.columns) == ["metric", "ts", "avg", "min", "max", "count"]
    assert s.points["count"].sum() == 2 * span.total_seconds() / 30  # every sample, once
    for _, one in s.points.groupby("metric"):
        assert one["ts"].is_monotonic_increasing and one["ts"].is_unique


def test_series_points_are_exact_sums_over_counts_not_averages_of_averages(history):
    start, end = END - timedelta(days=90), END
    s = series("a", ["cpu_pct"], start, end, history, settings=KEEP_RAW, now=END)
    assert s.tier == "1d"
    for day in (start, start + timedelta(days=41), end - timedelta(days=1)):
        row = s.points[s.points["ts"] == day].iloc[0]
        avg, mn, mx, n = raw_stats(history, "cpu_pct", day, day + timedelta(days=1))
        assert (row["min"], row["max"], row["count"]) == (mn, mx, n)
        assert row["avg"] == pytest.approx(avg, rel=1e-12)
    hour = (END - timedelta(hours=1), END)
    raw = series("a", ["load1"], *hour, history, settings=KEEP_RAW, now=END)
    assert raw.tier == "raw" and (raw.points["avg"] == raw.points["min"]).all()
    assert (raw.points["max"] == raw.points["avg"]).all() and (raw.points["count"] == 1).all()


def test_series_wider_than_the_coarsest_tier_allows_is_regrouped(history):
    start = END - timedelta(days=3650)
    s = series("a", ["load1"], start, END, history, settings=KEEP_RAW, now=END)
    assert (s.tier, s.width_s) == ("1d", 4 * 86400)  # 3650 days / 1000 points, rounded up
    days = [END - timedelta(days=d) for d in range(1, DAYS + 1)]
    assert len(s.points) == len({bucket(d, 4 * 86400) for d in days})
    assert s.points["count"].sum() == DAYS * 2880
    avg, mn, mx, n = raw_stats(history, "load1", start, END)
    total = (s.points["avg"] * s.points["count"]).sum()
    assert total / s.points["count"].sum() == pytest.approx(avg, rel=1e-12)


def test_series_never_exceeds_max_points(history):
    for hours in (1, 7, 49, 24 * 31, 24 * 99):
        start = END - timedelta(hours=hours)
        s = series(
            "a", ["cpu_pct"], start, END, history, max_points=100, settings=KEEP_RAW, now=END
        )
        assert 0 < len(s.points) <= 100, (hours, s.tier)


def test_series_of_an_unknown_metric_or_empty_range(history):
    empty = series("a", ["nope"], END - timedelta(hours=1), END, history, now=END)
    assert empty.tier == "raw" and empty.points.empty
    with pytest.raises(ValueError, match="range is empty"):
        series("a", ["cpu_pct"], END, END, history)


def test_tiers_with_other_widths_are_read_by_their_names(tmp_path):
    path = tmp_path / "w.duckdb"
    settings = RollupSettings((Tier(600), Tier(7200)), None)
    with writer(path) as con:
        con.execute(
            "INSERT INTO metric_samples (server, metric, ts, value) "
            "SELECT 'a', 'load1', $start::TIMESTAMP + to_seconds(i * 30), i FROM range(2880) t(i)",
            {"start": END - timedelta(days=1)},
        )
    run(path, settings, END)
    s = series("a", ["load1"], END - timedelta(days=1), END, path, settings=settings, now=END)
    assert (s.tier, s.width_s, len(s.points)) == ("10m", 600, 144)
    assert s.points["count"].sum() == 2880


@pytest.fixture(scope="module")
def audit_db(tmp_path_factory, fleet_db):
    """The fleet's own events (b went down) and a few more, two at the same instant."""
    import shutil

    path = tmp_path_factory.mktemp("audit") / "w.duckdb"
    shutil.copy(fleet_db, path)
    at = NOW - timedelta(hours=1)
    rows = [
        ("t0", "a", "server.rebooted", at, None, "100 s up", "5 s up", None),
        ("t0", "c", "app.stopped", at, "web", "running", "stopped", "exit 1"),
        ("t0", "a", "os.changed", at + timedelta(minutes=1), None, "6.1", "6.2", "kernel"),
        ("t0", "c", "app.started", at + timedelta(minutes=2), "web", "stopped", "running", None),
        ("t0", "a", "server.down", at - timedelta(days=1), None, "up", "down (timeout)", "t/o"),
    ]
    with writer(path) as con:
        con.executemany(
            "INSERT INTO audit_events "
            "(tick_id, server, kind, occurred_at, subject, before, after, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return path


def feed(path, **kw) -> list[tuple]:
    frame = audit_events(path=path, **kw)
    return list(frame[["server", "kind", "occurred_at"]].itertuples(index=False, name=None))


def test_audit_feed_is_newest_first_with_filters(audit_db):
    everything = audit_events(path=audit_db, limit=100)
    assert list(everything.columns) == [
        "event_id",
        "occurred_at",
        "server",
        "kind",
        "subject",
        "before",
        "after",
        "detail",
        "total",
    ]
    at = NOW - timedelta(hours=1)
    down_b = NOW - timedelta(seconds=60)  # landed by the fleet's second tick
    assert feed(audit_db, limit=100) == [
        ("b", "server.down", down_b),
        ("c", "app.started", at + timedelta(minutes=2)),
        ("a", "os.changed", at + timedelta(minutes=1)),
        ("c", "app.stopped", at),  # same instant as the reboot, inserted after it
        ("a", "server.rebooted", at),
        ("a", "server.down", at - timedelta(days=1)),
    ]
    assert set(everything["total"]) == {6}
    b = everything.iloc[0]
    assert (b["before"], b["after"]) == ("up", "down") and "refused" in b["detail"]
    assert everything.iloc[1]["subject"] == "web"
    assert [k for _, k, _ in feed(audit_db, server="a")] == [
        "os.changed",
        "server.rebooted",
        "server.down",
    ]
    assert [s for s, _, _ in feed(audit_db, kind="server.down")] == ["b", "a"]
    only = audit_events(server="a", kind="server.down", path=audit_db)
    assert len(only) == 1 and only.iloc[0]["total"] == 1 and only.iloc[0]["detail"] == "t/o"
    assert audit_events(server="nobody", path=audit_db).empty


def test_audit_feed_pages_cover_everything_once(audit_db):
    everything = feed(audit_db, limit=100)
    pages = [feed(audit_db, limit=4, offset=o) for o in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 2, 0]
    assert pages[0] + pages[1] == everything
    with pytest.raises(ValueError, match="a page is 1 to 1000 events"):
        audit_events(limit=0, path=audit_db)
    with pytest.raises(ValueError, match="a page is 1 to 1000 events"):
        audit_events(offset=-1, path=audit_db)
