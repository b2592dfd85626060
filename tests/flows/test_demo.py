"""The README's first command: the demo starts everything, answers, and stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.localfleet import free_ports
from warehouse.db import reader
from warehouse.errors import WarehouseError

REPO = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def ticks_landed(db: Path) -> int:
    try:
        with reader(db) as con:
            return con.execute("SELECT count(*) FROM ticks").fetchone()[0]
    except WarehouseError:
        return 0


@pytest.mark.slow
def test_demo_starts_answers_lands_a_tick_and_stops_everything(tmp_path):
    prefect_port, viewer_port = free_ports(2)
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.pop("MAST_DB", None)
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.demo",
            "--dir",
            str(tmp_path),
            "--servers",
            "2",
            "--prefect-port",
            str(prefect_port),
            "--viewer-port",
            str(viewer_port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("ready") or demo.poll() is not None:
                break
        assert lines and lines[-1].startswith("ready"), "".join(lines)
        assert answers(f"http://127.0.0.1:{prefect_port}/api/health")
        assert answers(f"http://127.0.0.1:{viewer_port}/_stcore/health")
        deadline = time.monotonic() + 120
        while ticks_landed(tmp_path / "mast.duckdb") == 0 and time.monotonic() < deadline:
            time.sleep(2)
        assert ticks_landed(tmp_path / "mast.duckdb") >= 1, "the first tick never landed"
        started = descendants(demo.pid)
        assert len(started) >= 4  # sshd, Prefect server, worker, viewer at least
    finally:
        demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=60)[0]
    assert demo.returncode == 0, "".join(lines) + rest
    time.sleep(0.5)
    assert [pid for pid in started if alive(pid)] == []
    assert not answers(f"http://127.0.0.1:{viewer_port}/_stcore/health")
