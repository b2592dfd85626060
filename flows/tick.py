"""The tick: probe every selected server over one SSH connection each, land the results.

``python -m flows.tick`` runs one tick now (against $PREFECT_API_URL, or an
ephemeral Prefect server when none is set). Servers come from $MAST_INVENTORY,
results go to $MAST_DB.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import uuid
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from probes.collect import ServerResult, probe_server, utcnow
from probes.errors import InventoryError, ProbeFailure
from probes.inventory import Server, load_inventory
from probes.ssh import SshSettings, Transport
from warehouse.land import land_tick

DEFAULT_MAX_PARALLEL = 32


def max_parallel() -> int:
    """SSH connections opened at once ($MAST_MAX_PARALLEL, default 32)."""
    return int(os.environ.get("MAST_MAX_PARALLEL", DEFAULT_MAX_PARALLEL))


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only errors a second try can cure (dropped banner, reset), never auth or host keys."""
    try:
        state.result()
    except ProbeFailure as e:
        return e.transient
    except Exception:  # noqa: BLE001 (anything else is a bug: do not retry it)
        return False
    return False


# One Transport per flow run, so private keys are decrypted once per run. Tasks
# look it up by run id instead of receiving it as a parameter: Prefect inspects
# task parameters (and a distributed runner would pickle them), and a Transport
# holds decrypted keys and an invoke Config that do not survive either.
_TRANSPORTS: dict[str, Transport] = {}
_TRANSPORTS_LOCK = threading.Lock()


def transport_for(run_id: str, known_hosts: str | None = None) -> Transport:
    """The Transport of flow run ``run_id``, made on first use from the MAST_SSH_* settings."""
    with _TRANSPORTS_LOCK:
        if run_id not in _TRANSPORTS:
            _TRANSPORTS[run_id] = Transport(SshSettings.from_env(known_hosts=known_hosts))
        return _TRANSPORTS[run_id]


@task(
    task_run_name="probe {server.name}",
    retries=2,
    retry_delay_seconds=[1, 3],
    retry_jitter_factor=0.5,
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
)
def probe(server: Server, run_id: str, known_hosts: str | None) -> ServerResult:
    """One server, one connection; raises ProbeFailure (a Failed task) when unreachable."""
    return probe_server(server, transport_for(run_id, known_hosts))


@task(cache_policy=NO_CACHE)
def land(tick_id: str, started_at, servers: list[Server], results: list[ServerResult]) -> dict:
    landed = land_tick(tick_id, started_at, servers, results)
    return landed.__dict__


@flow(
    name="tick",
    task_runner=ThreadPoolTaskRunner(max_workers=max_parallel()),
    log_prints=False,
)
def tick(servers: list[str] | None = None, tags: list[str] | None = None) -> dict:
    """Probe the inventory's servers (optionally only ``servers`` / those with all ``tags``)."""
    logger = get_run_logger()
    inventory = load_inventory()
    selected = inventory.select(servers, tags)
    run_id = _tick_id()
    started_at = utcnow()
    results = []
    try:
        futures = [probe.submit(s, run_id, inventory.known_hosts) for s in selected]
        for server, future in zip(selected, futures, strict=True):
            try:
                results.append(future.result())
            except ProbeFailure as failure:
                logger.warning(
                    "%s unreachable (%s): %s", server.name, failure.reason, failure.detail
                )
                results.append(ServerResult.down(failure))
    finally:
        with _TRANSPORTS_LOCK:
            _TRANSPORTS.pop(run_id, None)
    landed = land(run_id, started_at, selected, results)
    down = [r.server for r in results if not r.reachable]
    logger.info(
        "tick landed: %d servers, %d reachable%s",
        len(results),
        len(results) - len(down),
        f", unreachable: {', '.join(down)}" if down else "",
    )
    return landed


def _tick_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id or uuid.uuid4())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.tick", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--server", action="append", dest="servers", help="probe only this server (repeatable)"
    )
    parser.add_argument(
        "--tag", action="append", dest="tags", help="probe only servers with this tag"
    )
    args = parser.parse_args(argv)
    try:
        landed = tick(servers=args.servers, tags=args.tags)
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
