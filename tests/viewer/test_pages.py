"""Every page under AppTest against a seeded warehouse: what it shows, its filters, deep
links, and the warehouse queries each rerun runs (cache misses of viewer.cached)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta

import pandas as pd

from probes.system import METRICS
from tests.viewer.conftest import queries_during
from tests.viewer.seed import journal_fetch
from warehouse.land_logs import land_release_logs


def no_errors(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at, index: int = 0) -> pd.DataFrame:
    return at.dataframe[index].value


# -- fleet ------------------------------------------------------------------------------


def test_fleet_figures_and_one_linked_row_per_server(open_page):
    at = open_page()
    no_errors(at)
    assert metrics(at) == {
        "Up": "2 / 4",
        "Down": "1",
        "Stale": "1",
        "Pending updates": "2",
        "Security updates": "1",
        "Reboots required": "1",
    }
    rows = table(at).set_index("server")
    assert list(rows.index) == ["db-1", "old-1", "web-1", "web-2"]
    assert rows["status"].to_dict() == {
        "db-1": "down",
        "old-1": "stale",
        "web-1": "up",
        "web-2": "up",
    }
    assert rows.loc["web-1", "page"] == "server?server=web-1"  # the deep link of the row
    assert rows.loc["web-2", "cpu_pct"] == 50.0 and rows.loc["web-2", "disk_used_pct"] == 60.0
    assert (rows.loc["web-1", "security_count"], rows.loc["web-1", "reboot_required"]) == (1, True)
    assert rows.loc["db-1", "reason"] == "refused"


def test_filters_rerun_only_the_table_query(open_page):
    at = open_page()
    assert queries_during(at.run) == Counter()  # nothing changed: no SQL at all
    ran = queries_during(lambda: at.text_input(key="q").set_value("WEB").run())
    assert ran == Counter({"fleet_table": 1})
    assert list(table(at)["server"]) == ["web-1", "web-2"]
    ran = queries_during(lambda: at.selectbox(key="tag").set_value("prod").run())
    assert ran == Counter({"fleet_table": 1})
    assert list(table(at)["server"]) == ["web-1"]
    at.text_input(key="q").set_value("").run()
    ran = queries_during(lambda: at.segmented_control(key="status").set_value("down").run())
    assert ran == Counter({"fleet_table": 1})
    assert list(table(at)["server"]) == ["db-1"]
    assert queries_during(at.run) == Counter()
    assert metrics(at)["Up"] == "2 / 4"  # the figures are of the whole fleet
    no_errors(at)


def test_filters_come_from_the_url(open_page):
    at = open_page(q="10.0.0.3", status="stale")  # by host
    assert list(table(at)["server"]) == ["old-1"]
    at = open_page(tag="db", status="up")
    assert at.info[0].value == "No server matches these filters."
    no_errors(at)


# -- server -----------------------------------------------------------------------------


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_the_server_page_shows_the_chosen_server(open_page):
    at = open_page("server", server="web-2")
    no_errors(at)
    assert at.title[0].value == "web-2"
    shown = metrics(at)
    assert (
        "| Debian GNU/Linux 12 (bookworm) | 6.1.0-18-amd64 | 4 | 3.8 GiB |" in at.markdown[1].value
    )
    assert shown["CPU busy (%)"] == "50.0" and shown["Memory used (%)"] == "50.0"
    assert shown["Disk used (%)"] == "60.0" and shown["Load (1 min)"] == "1.50"
    assert "0** updates" in at.markdown[2].value  # web-2's patch scan found nothing


def test_charts_carry_the_metric_labels_and_the_range_picks_the_tier(open_page):
    at = open_page("server", server="web-1")
    specs = chart_specs(at)
    titles = {s["title"]: s["layer"][0]["encoding"]["y"]["title"] for s in specs}
    assert titles == {
        METRICS[m].label: f"{METRICS[m].label} ({METRICS[m].unit})"
        if METRICS[m].unit
        else METRICS[m].label
        for m in ("cpu_pct", "mem_used_pct", "disk_used_pct", "load1")
    }
    assert all(s["layer"][0]["encoding"]["x"]["scale"]["type"] == "utc" for s in specs)
    # 24 h of 30 s samples: 5-minute buckets, about a day of them (up to 289 when the
    # window's ends fall inside buckets; fewer as the seeded history ages).
    found = re.search(r"\(tier 5m\), up to (\d+) points per metric", at.caption[0].value)
    assert found and 240 <= int(found.group(1)) <= 289, at.caption[0].value
    assert queries_during(at.run) == Counter()
    ran = queries_during(lambda: at.segmented_control(key="range").set_value("1h").run())
    assert ran == Counter({"series": 1})  # nothing else depends on the range
    assert "raw samples (tier raw)" in at.caption[0].value  # at most 120 in an hour
    at.segmented_control(key="range").set_value("7d").run()
    assert "tier 1h" in at.caption[0].value
    no_errors(at)


def test_patches_security_first_releases_and_events(open_page):
    at = open_page("server", server="web-1")
    patches, releases, events = (table(at, i) for i in range(3))
    assert list(patches["package"]) == ["openssl", "libcap2"]
    assert list(patches["security"]) == [True, False]
    assert list(releases["handle"]) == ["shop", "api.example.test"]  # not running first
    assert list(releases["status"]) == ["stopped", "running"]
    assert list(releases["page"]) == ["release?release=shop", "release?release=api.example.test"]
    assert set(events["kind"]) == {"app.stopped", "security-updates.appeared"}
    (link,) = at.get("page_link")
    assert link.proto.label == "All 2 events of web-1"


def test_a_down_server_says_why(open_page):
    at = open_page("server", server="db-1")
    (warning,) = at.warning
    assert "refused: [Errno 111] Connection refused" in warning.value
    no_errors(at)


# -- release ----------------------------------------------------------------------------


def code_blocks(at) -> list[str]:
    return [c.value for c in at.code]


def test_the_release_page_appends_only_new_lines(open_page, seeded):
    at = open_page("release", release="api.example.test")
    no_errors(at)
    assert at.title[0].value == "api.example.test"
    (first,) = code_blocks(at)
    assert first.count("\n") == 4 and "request 4 served" in first
    assert queries_during(at.run) == Counter()
    # A fetch lands: its tail overlaps the stored lines by two.
    text = "@ok\n" + "".join(
        f"2024-01-15T10:00:{i:02d}+00:00 web-1 api[812]: request {i} served\n" for i in range(3, 8)
    )
    land_release_logs(
        "fetch-2", journal_fetch(text, seeded.now - timedelta(minutes=1)), seeded.path
    )
    from viewer import cached

    cached.log_fetches.clear()  # what its TTL does
    ran = queries_during(at.run)
    assert ran == Counter({"log_fetches": 1, "log_lines": 1})
    blocks = code_blocks(at)
    assert blocks[0] == first  # the block shown before is kept as it was
    assert blocks[1].splitlines() == [
        f"2024-01-15T10:0{0}:{i:02d}+00:00 web-1 api[812]: request {i} served" for i in (5, 6, 7)
    ]
    buffer = at.session_state["release_page.buffers"]["api.example.test"]
    assert (buffer.through, buffer.after) == ("fetch-2", 8)
    assert queries_during(at.run) == Counter()
    assert "3 new" in at.caption[1].value
    no_errors(at)


def test_each_release_names_its_log_source_and_a_port_alone_has_none(open_page):
    at = open_page("release", release="shop")
    assert metrics(at)["Container"] == "shop"
    assert "(docker logs shop)" in at.button(key="fetch_logs").help
    at = open_page("release", release="api.example.test")
    assert "(journalctl -u api.service)" in at.button(key="fetch_logs").help
    assert [link.proto.label for link in at.get("page_link")] == ["web-1"]  # its server
    at = open_page("release", release="edge")
    assert "neither a unit nor a container" in at.info[0].value
    assert not at.button and not at.code
    no_errors(at)


# -- activity and bench -----------------------------------------------------------------


def test_activity_filters_by_server_and_kind(open_page):
    at = open_page("activity")
    assert len(table(at)) == 3
    ran = queries_during(lambda: at.selectbox(key="kind").set_value("server.down").run())
    assert ran == Counter({"audit_page": 1})
    assert list(table(at)["server"]) == ["db-1"]
    at = open_page("activity", srv="web-1")
    assert sorted(table(at)["kind"]) == ["app.stopped", "security-updates.appeared"]
    assert queries_during(at.run) == Counter()
    no_errors(at)


def test_activity_pages(open_page, seeded):
    from warehouse.audit import AuditEvent
    from warehouse.db import writer
    from warehouse.land import insert_events

    events = [
        AuditEvent("web-2", "server.rebooted", seeded.now - timedelta(hours=1, seconds=i), "9", "1")
        for i in range(120)
    ]
    with writer(seeded.path) as con:
        insert_events(con, "t-reboots", events)
    at = open_page("activity", srv="web-2")
    assert len(table(at)) == 50 and "Events 1 to 50 of 120" in at.caption[0].value
    ran = queries_during(lambda: at.pagination(key="page").set_value(3).run())
    assert ran == Counter({"audit_page": 1})
    assert len(table(at)) == 20 and "Events 101 to 120 of 120" in at.caption[0].value
    at = open_page("activity", srv="web-2", page="2")  # a shared link to page 2
    assert "Events 51 to 100 of 120" in at.caption[0].value
    no_errors(at)


def test_bench_shows_the_latest_run_probe_by_probe(open_page):
    at = open_page("bench")
    latest = table(at).set_index("probe")
    assert latest.loc["system", "median_ms_combined"] == 125.7
    assert latest.loc["system", "median_ms_separate"] == 1231.5
    assert latest.loc["packages", "ssh_calls_separate"] == 7
    assert round(latest.loc["system", "ratio"], 3) == round(125.7 / 1231.5, 3)
    assert sorted(s["title"] for s in chart_specs(at)) == ["packages probe", "system probe"]
    assert queries_during(at.run) == Counter()
    no_errors(at)
