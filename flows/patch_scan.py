"""The patch scan: refresh the package lists and list pending upgrades, one connection per server.

``python -m flows.patch_scan`` runs one scan now (``--no-refresh`` to read the
lists the servers have without ``apt-get update``). It has its own schedule
(every 6 h): refreshing package lists is too heavy for every tick. Servers come
from $MAST_INVENTORY, results go to $MAST_DB (views ``patch_status`` and
``upgradable_packages``, events in ``audit_feed``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
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
from probes import PATCH_PROBES
from probes.collect import ServerResult, probe_server, utcnow
from probes.errors import InventoryError
from probes.inventory import Server, load_inventory
from probes.registry import ProbeOptions
from probes.ssh import SshSettings, Transport
from warehouse.land import land_patch_scan

DEFAULT_REFRESH_TIMEOUT = 120
COMMAND_MARGIN_S = 120  # listing, reboot check and lists age after the refresh


def refresh_timeout_s() -> int:
    """Remote bound of ``apt-get update`` ($MAST_PATCH_REFRESH_TIMEOUT, default 120 s)."""
    return int(os.environ.get("MAST_PATCH_REFRESH_TIMEOUT", DEFAULT_REFRESH_TIMEOUT))


def patch_settings(known_hosts: str | None) -> SshSettings:
    """The MAST_SSH_* settings with the scan's own command timeout
    ($MAST_PATCH_COMMAND_TIMEOUT, default: the refresh bound + 120 s)."""
    settings = ssh_settings(known_hosts)
    refresh = refresh_timeout_s()
    command = float(os.environ.get("MAST_PATCH_COMMAND_TIMEOUT", refresh + COMMAND_MARGIN_S))
    if command < refresh + 10:
        raise ValueError(
            f"MAST_PATCH_COMMAND_TIMEOUT ({command:g} s) must exceed the refresh bound "
            f"MAST_PATCH_REFRESH_TIMEOUT ({refresh} s) by at least 10 s"
        )
    return dataclasses.replace(settings, command_timeout_s=command)


@task(
    task_run_name="scan {server.name}",
    retries=2,
    retry_delay_seconds=[1, 3],
    retry_jitter_factor=0.5,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)
def scan(
    server: Server, run_id: str, known_hosts: str | None, options: ProbeOptions
) -> ServerResult:
    """One server, one connection: refresh, list, reboot flag, lists age."""
    transport = transport_for(run_id, lambda: Transport(patch_settings(known_hosts)))
    return probe_server(server, transport, PATCH_PROBES, options)


@task(cache_policy=NO_CACHE)
def land(scan_id: str, started_at, servers: list[Server], results: list[ServerResult]) -> dict:
    return summary(land_patch_scan(scan_id, started_at, servers, results))


@flow(name="patch-scan", task_runner=make_task_runner(), log_prints=False)
def patch_scan(
    servers: list[str] | None = None, tags: list[str] | None = None, refresh: bool = True
) -> dict:
    """Scan the inventory's servers (optionally only ``servers`` / those with all ``tags``);
    ``refresh=False`` reads the package lists the servers have, without refreshing them."""
    logger = get_run_logger()
    inventory = load_inventory()
    selected = inventory.select(servers, tags)
    run_id = current_run_id()
    options = ProbeOptions(refresh_packages=refresh, refresh_timeout_s=refresh_timeout_s())
    # One Transport for the run (a bad timeout setting fails here, before any connection).
    transport = transport_for(run_id, lambda: Transport(patch_settings(inventory.known_hosts)))
    share_key_material(transport, selected)
    started_at = utcnow()
    results = collect(
        run_id, selected, lambda s: scan.submit(s, run_id, inventory.known_hosts, options)
    )
    landed = land(run_id, started_at, selected, results)
    emit_audit_events(landed["events"])
    logger.info(
        "patch scan landed: %d/%d servers scanned, %d upgradable packages, %d security",
        landed["reachable"],
        landed["servers"],
        landed["upgradable"],
        landed["security"],
    )
    return landed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.patch_scan", description=__doc__.split("\n")[0]
    )
    add_selection_arguments(parser, "scan")
    parser.add_argument(
        "--no-refresh",
        dest="refresh",
        action="store_false",
        help="do not run apt-get update / dnf makecache first",
    )
    args = parser.parse_args(argv)
    try:
        patch_settings(None)
    except ValueError as e:
        print(f"mast: {e}", file=sys.stderr)
        return 2
    try:
        landed = patch_scan(servers=args.servers, tags=args.tags, refresh=args.refresh)
    except InventoryError as e:
        print(f"mast: {e}", file=sys.stderr)
        return 2
    print(
        f"patch scan {landed['scan_id']}: {landed['reachable']}/{landed['servers']} servers "
        f"scanned, {landed['upgradable']} upgradable packages ({landed['security']} security), "
        f"{len(landed['events'])} events"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
