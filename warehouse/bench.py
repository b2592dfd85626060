"""Landing of bench results (bench/measure.py rows) into ``bench_runs``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd

from probes.collect import utcnow
from warehouse.db import load_sql, writer


def land_bench_runs(
    bench_id: str,
    server: str,
    rows: Sequence[Mapping[str, object]],
    rtt_ms: float | None,
    path: str | os.PathLike[str] | None = None,
) -> int:
    """Store one bench run's rows (as dicts of BenchRow fields); return how many."""
    frame = pd.DataFrame(
        [
            {**row, "bench_id": bench_id, "ran_at": utcnow(), "server": server, "rtt_ms": rtt_ms}
            for row in rows
        ]
    )
    with writer(path) as con:
        con.register("incoming_bench", frame)
        con.execute(load_sql("insert_bench_runs"))
        con.unregister("incoming_bench")
    return len(frame)
