"""Landing release-log fetches into a real DuckDB file: only new lines are appended."""

from __future__ import annotations

import pytest

from probes.collect import utcnow
from probes.errors import HostUnreachable
from probes.inventory import Release
from probes.logs import LogFetch, parse_journal, tail_spec
from warehouse import land_logs
from warehouse.land_logs import land_release_logs, overlap
from warehouse.queries import release_log_fetches, release_log_lines


@pytest.mark.parametrize(
    "stored, fetched, expected",
    [
        pytest.param([], ["a"], 0, id="nothing-stored"),
        pytest.param(["a", "b"], [], 0, id="nothing-fetched"),
        pytest.param(["a", "b", "c"], ["b", "c", "d"], 2, id="moved-on-by-one"),
        pytest.param(["a", "b", "c"], ["a", "b", "c"], 3, id="unchanged"),
        pytest.param(["a", "b"], ["x", "y"], 0, id="no-overlap"),
        pytest.param(["x", "x", "x"], ["x", "x", "y"], 2, id="repeats-longest-overlap"),
        pytest.param(["a", "b", "c"], ["c"], 1, id="shorter-fetch"),
        pytest.param(["c"], ["a", "b", "c", "d"], 0, id="stored-is-not-a-prefix"),
    ],
)
def test_overlap(stored, fetched, expected):
    assert overlap(stored, fetched) == expected


def journal(*messages: str) -> str:
    return "@ok\n" + "".join(
        f"2024-01-15T10:00:{i:02d}+00:00 web-1 api[1]: {m}\n" for i, m in enumerate(messages)
    )


SPEC = tail_spec(Release(name="api", unit="api.service"), 5)


def fetched(text: str) -> LogFetch:
    return LogFetch(
        "web-1", "api", "journal", "api.service", 5, utcnow(), 3.0, 1, parse_journal(text)
    )


def stored(path) -> list[str]:
    return [line.split(": ", 1)[1] for line in release_log_lines("api", path=path)["line"]]


def test_a_second_fetch_appends_only_the_lines_it_adds(tmp_path):
    path = tmp_path / "w.duckdb"
    first = land_release_logs("f1", fetched(journal("a", "b", "c")), path)
    assert (first.lines_read, first.lines_new, first.gap) == (3, 3, False)
    # The log moved on: the tool's last lines start with what is stored.
    text = "@ok\n" + "".join(
        f"2024-01-15T10:00:{i:02d}+00:00 web-1 api[1]: {m}\n"
        for i, m in [(1, "b"), (2, "c"), (3, "d"), (4, "e")]
    )
    second = land_release_logs("f2", fetched(text), path)
    assert (second.lines_read, second.lines_new, second.gap) == (4, 2, False)
    assert stored(path) == ["a", "b", "c", "d", "e"]
    lines = release_log_lines("api", path=path)
    assert list(lines["fetch_id"]) == ["f1", "f1", "f1", "f2", "f2"]
    assert lines["line_id"].is_monotonic_increasing
    # A reader that saw up to the first fetch gets only the second one's lines.
    after = release_log_lines("api", after_id=int(lines["line_id"].iloc[2]), path=path)
    assert [line.rsplit(" ", 1)[1] for line in after["line"]] == ["d", "e"]
    assert str(after["logged_at"].iloc[0]) == "2024-01-15 10:00:03"
    unchanged = land_release_logs("f3", fetched(text), path)
    assert (unchanged.lines_new, unchanged.gap) == (0, False)
    assert len(release_log_lines("api", path=path)) == 5


def test_a_fetch_that_does_not_overlap_is_appended_whole_and_flagged(tmp_path):
    path = tmp_path / "w.duckdb"
    land_release_logs("f1", fetched(journal("a", "b")), path)
    landed = land_release_logs("f2", fetched(journal("x", "y")), path)
    assert (landed.lines_new, landed.gap) == (2, True)
    fetches = release_log_fetches("api", path=path)
    assert list(fetches.sort_values("fetched_at")["gap"]) == [False, True]


def test_each_release_keeps_its_newest_lines(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    monkeypatch.setattr(land_logs, "MAX_STORED_LINES", 3)
    land_release_logs("f1", fetched(journal("a", "b")), path)
    land_release_logs("f2", fetched(journal("c", "d")), path)
    assert stored(path) == ["b", "c", "d"]


def test_conditions_and_unreachable_servers_land_as_fetches_without_lines(tmp_path):
    path = tmp_path / "w.duckdb"
    failure = HostUnreachable("web-1", "connection refused", "refused")
    failure.connections = 1
    land_release_logs("down", LogFetch.down(SPEC, "web-1", failure), path)
    no_tool = fetched("@missing journalctl is not installed\n")
    land_release_logs("missing", no_tool, path)
    rows = release_log_fetches("api", path=path).set_index("fetch_id")
    assert (rows.loc["down", "reachable"], rows.loc["down", "reason"]) == (False, "refused")
    assert rows.loc["missing", "condition"] == "journalctl: journalctl is not installed"
    assert rows.loc["missing", "reachable"] and rows["lines_read"].tolist() == [0, 0]
    assert release_log_lines("api", path=path).empty
