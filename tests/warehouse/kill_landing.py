"""``python -m tests.warehouse.kill_landing DB SERVERS``: land one big tick, for
test_faults.py to SIGKILL in the middle. Prints ``landing`` just before, ``landed`` after."""

from __future__ import annotations

import sys

from probes.collect import utcnow
from probes.inventory import Server
from tests.warehouse.test_land import result
from warehouse.land import land_tick

if __name__ == "__main__":
    db, count = sys.argv[1], int(sys.argv[2])
    now = utcnow()
    servers = [Server(name=f"s{i}", host="10.0.0.1") for i in range(count)]
    results = [result(s.name, now, (1000 + i, 900)) for i, s in enumerate(servers)]
    print("landing", flush=True)
    land_tick("big", now, servers, results, db)
    print("landed", flush=True)
