"""The processes of tests/warehouse/test_concurrency.py, one role each.

``python -m tests.warehouse.concurrency_roles ROLE DB EPOCH STOP`` runs the role
and prints one JSON line of what it did. Sample time runs SPEED times faster
than the wall clock from the wall time EPOCH (the same for every role), so
buckets close while the test runs.

- writer: lands TICKS ticks of synthetic servers (``land_tick``, as a tick
  does), one per 30 s of sample time (300 ms), at once when it falls behind;
  every fourth tick also lands a tick from 20 minutes of sample time before
  (late samples for buckets already closed). Then it exits.
- rollup: ``warehouse.rollup.run`` at the sample time in a loop, as the
  downsample flow does, until the file STOP exists; then one last run. Prints
  ``ready`` after its first run.
- reader: the viewer's queries in turn until STOP exists and it has run each
  at least once; an error is recorded, not raised.

The loops also end after LIMIT_S, so a stuck role cannot hang the test.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from probes.inventory import Server
from tests.warehouse.test_land import result

SERVERS = [Server(name=f"srv-{i}", host=f"10.0.0.{i}") for i in range(1, 6)]
METRICS = ["cpu_pct", "mem_used_pct", "load1", "disk_used_pct"]
RANGES = [timedelta(hours=1), timedelta(days=3), timedelta(days=60)]  # raw, 5m, 1h
# A soak (test_soak_of_two_writers_and_readers) raises these through the environment.
TICKS = int(os.environ.get("MAST_SOAK_TICKS", 12))
SPEED = 100
START = datetime(2026, 3, 2, 9, 58)  # sample time at EPOCH
LIMIT_S = float(os.environ.get("MAST_SOAK_LIMIT_S", 60.0))


def sample_time(epoch: float) -> datetime:
    return START + timedelta(seconds=(time.time() - epoch) * SPEED)


def writer(db: str, epoch: float, stop: Path) -> dict:
    from warehouse.land import land_tick

    samples = late = 0
    at = sample_time(epoch)
    for tick in range(TICKS):
        ahead = (at - sample_time(epoch)).total_seconds() / SPEED
        if ahead > 0:
            time.sleep(ahead)
        batch = [(f"t{tick}", at)]
        if tick % 4 == 3:
            batch.append((f"late{tick}", at - timedelta(minutes=20)))
            late += 1
        for tick_id, ts in batch:
            cpu = (1000 + 100 * tick, 900 + 60 * tick)
            results = [result(s.name, ts, cpu) for s in SERVERS]
            samples += land_tick(tick_id, ts, SERVERS, results, db).samples
        at += timedelta(seconds=30)
    return {"ticks": TICKS, "late_ticks": late, "samples": samples}


def rollup(db: str, epoch: float, stop: Path) -> dict:
    from warehouse.rollup import run

    deadline = time.monotonic() + LIMIT_S
    runs = fresh = late = 0
    last = False
    while True:
        last = stop.exists() or time.monotonic() > deadline
        report = run(db, now=sample_time(epoch))
        runs += 1
        fresh += sum(t.fresh_buckets for t in report.tiers)
        late += sum(t.late_buckets for t in report.tiers)
        if runs == 1:
            print("ready", flush=True)
        if last:
            break
        time.sleep(random.uniform(0.05, 0.2))
    return {"runs": runs, "fresh": fresh, "late": late}


def reader(db: str, epoch: float, stop: Path) -> dict:
    from warehouse.queries import fleet_overview, series

    deadline = time.monotonic() + LIMIT_S
    reads, slowest, errors = [0] * (1 + len(RANGES)), 0.0, []
    i = 0
    while (not stop.exists() or min(reads) == 0) and time.monotonic() < deadline:
        now, kind, t0 = sample_time(epoch), i % len(reads), time.monotonic()
        try:
            if kind == 0:
                overview = fleet_overview(db, now=now)
                assert len(overview) in (0, len(SERVERS)), overview
            else:
                back = RANGES[kind - 1]
                series(SERVERS[i % len(SERVERS)].name, METRICS, now - back, now, db, now=now)
            reads[kind] += 1
        except Exception as e:  # noqa: BLE001 (the test reports every error the reader saw)
            errors.append(f"{type(e).__name__}: {e}")
        slowest = max(slowest, time.monotonic() - t0)
        i += 1
        time.sleep(random.uniform(0, 0.02))
    return {"reads": reads, "slowest_s": round(slowest, 3), "errors": errors}


if __name__ == "__main__":
    role, db, epoch, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])
    roles = {"writer": writer, "rollup": rollup, "reader": reader}
    print(json.dumps(roles[role](db, epoch, stop)), flush=True)
