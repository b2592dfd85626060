"""The tick: probe every selected server over one SSH connection each, land the results.

``python -m flows.tick`` runs one tick now (against $PREFECT_API_URL, or an
ephemeral Prefect server when none is set). Servers come from $MAST_INVENTORY,
results go to $MAST_DB.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.fanout import (
    add_selection_arguments,
    collect,
    current_run_id,
    emit_audit_events,
    make_task_runner,
    share_key_material,
    ssh_settings,
    summary,
    transient,
    transport_for,
)
from probes.collect import ServerResult, probe_server, utcnow
from probes.errors import InventoryError
from probes.inventory import Server, load_inventory
from probes.ssh import Transport
from warehouse.land import land_tick


@task(
    task_run_name="probe {server.name}",
    retries=2,
    retry_delay_seconds=[1, 3],
    retry_jitter_factor=0.5,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)
def probe(server: Server, run_id: str, known_hosts: str | None) -> ServerResult:
    """One server, one connection; raises ProbeFailure (a Failed task) when unreachable."""
    transport = transport_for(run_id, lambda: Transport(ssh_settings(known_hosts)))
    return probe_server(server, transport)


@task(cache_policy=NO_CACHE)
def land(tick_id: str, started_at, servers: list[Server], results: list[ServerResult]) -> dict:
    return summary(land_tick(tick_id, started_at, servers, results))


@flow(name="tick", task_runner=make_task_runner(), log_prints=False)
def tick(
    servers: list[str] | None = None, tags: list[str] | None = None, shard: str | None = None
) -> dict:
    """Probe the inventory's servers: all, or only ``servers``, those with all ``tags``,
    and/or those of ``shard`` ("k/n": n deployments with 0/n..n-1/n cover the fleet once)."""
    logger = get_run_logger()
    inventory = load_inventory()
    selected = inventory.select(servers, tags, shard)
    run_id = current_run_id()
    transport = transport_for(run_id, lambda: Transport(ssh_settings(inventory.known_hosts)))
    share_key_material(transport, selected)
    started_at = utcnow()
    results = collect(run_id, selected, lambda s: probe.submit(s, run_id, inventory.known_hosts))
    landed = land(run_id, started_at, selected, results)
    emit_audit_events(landed["events"])
    down = [r.server for r in results if not r.reachable]
    logger.info(
        "tick landed: %d servers, %d reachable%s",
        len(results),
        len(results) - len(down),
        f", unreachable: {', '.join(down)}" if down else "",
    )
    return landed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.tick", description=__doc__.split("\n")[0]
    )
    add_selection_arguments(parser, "probe")
    parser.add_argument("--shard", help="probe only shard k/n of the fleet, e.g. 0/2")
    args = parser.parse_args(argv)
    try:
        landed = tick(servers=args.servers, tags=args.tags, shard=args.shard)
    except InventoryError as e:
        print(f"mast: {e}", file=sys.stderr)
        return 2
    print(
        f"tick {landed['tick_id']}: {landed['reachable']}/{landed['servers']} servers reachable, "
        f"{landed['samples']} samples landed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
