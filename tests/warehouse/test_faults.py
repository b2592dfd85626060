"""Faults on our side: a writer killed mid-transaction, a warehouse that cannot be used."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from probes.collect import utcnow
from tests.warehouse.test_land import SERVERS, result
from warehouse.db import reader, writer
from warehouse.errors import WarehouseError
from warehouse.land import land_tick

REPO = Path(__file__).resolve().parents[2]
BIG = 3000


def counts(db) -> tuple[int, int, int]:
    with reader(db) as con:
        return tuple(
            con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("ticks", "probe_runs", "server_latest")
        )


@pytest.mark.parametrize("delay_s", [0.05, 0.2, 0.5])
def test_sigkill_in_the_middle_of_landing_leaves_all_or_nothing(tmp_path, delay_s):
    db = tmp_path / "w.duckdb"
    land_tick("before", utcnow(), SERVERS[:1], [result("a", utcnow(), (10, 5))], db)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.warehouse.kill_landing", str(db), str(BIG)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "landing"
    time.sleep(delay_s)
    child.send_signal(signal.SIGKILL)
    rest = child.communicate()[0]
    assert child.returncode == -signal.SIGKILL or "landed" in rest
    ticks, runs, latest = counts(db)  # the file opens cleanly after the kill
    if "landed" in rest:  # the kill came too late: the whole tick is there
        assert (ticks, runs, latest) == (2, 1 + BIG, 1 + BIG)
    else:
        assert (ticks, runs, latest) in ((1, 1, 1), (2, 1 + BIG, 1 + BIG))
    if delay_s == 0.05:  # landing 3000 servers takes far longer: killed mid-transaction
        assert "landed" not in rest and (ticks, runs, latest) == (1, 1, 1)
    with writer(db) as con:  # and takes the next tick
        con.execute("SELECT 1")


def test_warehouse_whose_directory_cannot_be_made_names_the_file(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(WarehouseError, match=r"not-a-dir/w\.duckdb"), writer(blocker / "w.duckdb"):
        pass
    assert blocker.read_text() == "a file where the directory should be"


def test_warehouse_on_a_read_only_filesystem_names_the_file_and_the_fix():
    target = Path("/proc/mast-test/w.duckdb")  # /proc refuses new files, even to root
    with pytest.raises(WarehouseError, match=r"/proc/mast-test/w\.duckdb.*MAST_DB"), writer(target):
        pass
