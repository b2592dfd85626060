"""Release logs, on demand: the last N lines of one release's log, over one SSH connection.

``python -m flows.release_logs HANDLE [-n 200]`` fetches them now (against
$PREFECT_API_URL, or an ephemeral Prefect server when none is set) and prints
the release's last N stored lines; the dashboard's release page triggers the same flow (the
``release-logs/on-demand`` deployment). The release is found by its handle in
$MAST_INVENTORY; its unit's journal is read (``journalctl -u``), else its
container's log (``docker logs --tail``). The lines land in $MAST_DB
(``release_log_lines``, only those not stored yet; ``release_log_fetches``
has one row per fetch, also when the server or the tool could not answer).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.fanout import current_run_id, transient
from probes.errors import InventoryError, ProbeFailure
from probes.inventory import Inventory, Release, Server, load_inventory
from probes.logs import DEFAULT_LINES, LogFetch, TailSpec, fetch_tail, tail_spec
from probes.ssh import SshSettings, Transport
from warehouse.land_logs import land_release_logs


def find_release(inventory: Inventory, handle: str) -> tuple[Server, Release]:
    """The server and release whose effective handle is ``handle`` (case-insensitive)."""
    wanted = handle.lower()
    for server in inventory.servers:
        for release in server.releases:
            if release.effective_handle == wanted:
                return server, release
    known = sorted(r.effective_handle for s in inventory.servers for r in s.releases)
    raise InventoryError(
        f"unknown release handle {handle!r}; the inventory declares "
        f"{', '.join(known) or 'no releases'}"
    )


@task(
    task_run_name="tail {spec.handle} on {server.name}",
    retries=2,
    retry_delay_seconds=[1, 3],
    retry_jitter_factor=0.5,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)
def tail(server: Server, spec: TailSpec, known_hosts: str | None) -> LogFetch:
    """One connection to the release's server; raises ProbeFailure when unreachable."""
    return fetch_tail(server, spec, Transport(SshSettings.from_env(known_hosts=known_hosts)))


@task(cache_policy=NO_CACHE)
def land(fetch_id: str, fetched: LogFetch) -> dict:
    return dataclasses.asdict(land_release_logs(fetch_id, fetched))


@flow(name="release-logs", log_prints=False)
def release_logs(release: str, lines: int = DEFAULT_LINES, fetch_id: str | None = None) -> dict:
    """Fetch the last ``lines`` lines of the log of release ``release`` (its handle) and land
    the new ones; ``fetch_id`` (default: the flow run's id) names the fetch in the warehouse."""
    logger = get_run_logger()
    inventory = load_inventory()
    server, found = find_release(inventory, release)
    spec = tail_spec(found, lines)  # no log source, or a bad count: fails before connecting
    fetch_id = fetch_id or current_run_id()
    try:
        fetched = tail(server, spec, inventory.known_hosts)
    except ProbeFailure as failure:
        logger.warning("%s unreachable (%s): %s", server.name, failure.reason, failure.detail)
        fetched = LogFetch.down(spec, server.name, failure)
    landed = land(fetch_id, fetched)
    logger.info(
        "%s on %s (%s %s): %d lines read, %d new%s",
        spec.handle,
        server.name,
        spec.source,
        spec.target,
        landed["lines_read"],
        landed["lines_new"],
        f"; {landed['condition']}" if landed["condition"] else "",
    )
    return landed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.release_logs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("handle", help="the release's handle (lower(handle or name))")
    parser.add_argument("-n", "--lines", type=int, default=DEFAULT_LINES, help="lines (200)")
    parser.add_argument("--fetch-id", help="the fetch's id in the warehouse (default: run id)")
    args = parser.parse_args(argv)
    try:
        landed = release_logs(release=args.handle, lines=args.lines, fetch_id=args.fetch_id)
    except (InventoryError, ValueError) as e:
        print(f"mast: {e}", file=sys.stderr)
        return 2
    from warehouse.queries import release_log_lines

    if landed["reason"]:
        print(f"mast: the server was not reached ({landed['reason']})", file=sys.stderr)
        return 1
    for line in release_log_lines(landed["handle"], limit=args.lines)["line"]:
        print(line)
    print(
        f"release-logs {landed['fetch_id']}: {landed['lines_read']} lines read, "
        f"{landed['lines_new']} new" + (f"; {landed['condition']}" if landed["condition"] else ""),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
