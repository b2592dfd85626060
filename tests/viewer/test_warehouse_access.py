"""How the viewer uses the warehouse: only to read, briefly, waiting out writers, and an
empty state instead of a traceback when there is nothing to read yet."""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.viewer.conftest import APP

PAGES = ["fleet", "server", "release", "activity", "bench"]
HOLD = """
import sys, time
from pathlib import Path
from warehouse.db import reader, writer
path, role, flag, seconds = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
with (writer if role == "writer" else reader)(path) as con:
    con.execute("SELECT count(*) FROM servers").fetchone()
    flag.write_text("held")
    time.sleep(seconds)
"""


def hold(path: Path, role: str, seconds: float, tmp_path: Path) -> subprocess.Popen:
    """Another process holding the warehouse open (a tick landing, another reader)."""
    flag = tmp_path / f"{role}.held"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), role, str(flag), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not flag.exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "the holder never opened the warehouse"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("page", PAGES)
def test_a_missing_warehouse_says_how_to_run_the_first_tick(page, open_page, tmp_path, monkeypatch):
    missing = tmp_path / "nothing-yet" / "mast.duckdb"
    monkeypatch.setenv("MAST_DB", str(missing))
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value == "No fleet data yet"
    assert "python -m flows.tick" in at.code[0].value and str(missing) in at.code[0].value
    assert "does not exist yet" in at.caption[-1].value
    assert not missing.exists()  # the viewer never creates it


def test_a_warehouse_without_servers_shows_the_empty_state(open_page, tmp_path, monkeypatch):
    from warehouse.db import writer

    empty = tmp_path / "empty.duckdb"
    with writer(empty):  # created and migrated, nothing landed
        pass
    monkeypatch.setenv("MAST_DB", str(empty))
    for page in ("fleet", "server"):
        at = open_page(page)
        assert not at.exception and at.subheader[0].value == "No fleet data yet"
    at = open_page("release")
    assert "No releases are declared" in at.info[0].value
    assert "No bench runs yet" in open_page("bench").info[0].value


def test_a_tick_writing_meanwhile_delays_the_page_and_shows_no_error(open_page, seeded, tmp_path):
    writer_proc = hold(seeded.path, "writer", 2.0, tmp_path)
    t0 = time.monotonic()
    at = open_page("fleet")  # caches empty: every query waits for the writer
    waited = time.monotonic() - t0
    assert writer_proc.wait(10) == 0
    assert not at.exception and not at.error and not at.warning and not at.info
    assert {m.label: m.value for m in at.metric}["Up"] == "2 / 4"
    assert waited > 1.0  # it did wait for the writer (about 2 s), then read


def test_the_viewer_only_reads(open_page, seeded, tmp_path, monkeypatch):
    """With another process reading the file throughout (a shared lock, which any
    writer would fail to get), every page and widget works, and the file is unchanged."""
    monkeypatch.setenv("MAST_DB_LOCK_WAIT", "1")  # a write attempt would fail fast
    before = hashlib.sha256(seeded.path.read_bytes()).hexdigest()
    reader_proc = hold(seeded.path, "reader", 60, tmp_path)
    try:
        at = open_page("fleet")
        at.text_input(key="q").set_value("web").run()
        at.segmented_control(key="status").set_value("up").run()
        seen = [at]
        seen.append(open_page("server", server="web-1"))
        seen[-1].segmented_control(key="range").set_value("30d").run()
        seen.append(open_page("release", release="api.example.test"))
        seen[-1].number_input(key="log_lines").set_value(500).run()
        seen.append(open_page("activity"))
        seen[-1].selectbox(key="kind").set_value("app.stopped").run()
        seen.append(open_page("bench"))
        for at in seen:
            assert not at.exception, [e.value for e in at.exception]
            assert not [i for i in at.info if "busy" in i.value]
    finally:
        reader_proc.kill()
        reader_proc.wait()
    assert hashlib.sha256(seeded.path.read_bytes()).hexdigest() == before


def test_no_viewer_module_can_open_the_warehouse_for_writing():
    """The viewer reaches the warehouse only through the read models (and the flows it
    triggers run elsewhere): no import of writer(), a landing module or duckdb."""
    viewer = APP.parent
    for path in sorted(viewer.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {a.name for a in node.names}
                assert not (node.module == "warehouse.db" and "writer" in names), path
                assert not (node.module or "").startswith("warehouse.land"), path
                assert node.module not in ("duckdb", "warehouse.rollup", "warehouse.bench"), path
            elif isinstance(node, ast.Import):
                assert not {a.name for a in node.names} & {"duckdb", "warehouse.land"}, path
