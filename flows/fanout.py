"""What the tick and the patch scan share: the fan-out over servers and its edges.

- One Transport per flow run, so each private key is decrypted once per run.
  Tasks look it up by run id instead of receiving it as a parameter: Prefect
  inspects task parameters (and a distributed runner would pickle them), and a
  Transport holds decrypted keys and an invoke Config that survive neither.
- Retries only for failures a second try can cure (``ProbeFailure.transient``).
- Each server is one task; a task that raises ProbeFailure is a Failed task in
  the Prefect UI and a down ServerResult for the warehouse.
- The audit events a landing wrote become Prefect events, for automations.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any

from prefect import get_run_logger
from prefect.events import emit_event
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from probes.collect import ServerResult
from probes.errors import ProbeFailure, ProbeLost
from probes.inventory import Server
from probes.ssh import SshSettings, Transport

DEFAULT_MAX_PARALLEL = 32
PASSPHRASE_BLOCK_ENV = "MAST_SSH_KEY_PASSPHRASE_BLOCK"

# Audit event kinds whose Prefect event names are part of Mast's contract;
# every other kind is emitted as mast.<kind>.
EVENT_NAMES = {
    "server.down": "mast.server.down",
    "server.up": "mast.server.up",
    "security-updates.appeared": "mast.security-updates.pending",
}

_TRANSPORTS: dict[str, Transport] = {}
_TRANSPORTS_LOCK = threading.Lock()


def max_parallel() -> int:
    """Servers probed at once ($MAST_MAX_PARALLEL, default 32)."""
    return int(os.environ.get("MAST_MAX_PARALLEL", DEFAULT_MAX_PARALLEL))


def current_run_id() -> str:
    """The flow run's id (a fresh one outside a run): the tick id in the warehouse."""
    from prefect.runtime import flow_run

    return str(flow_run.id or uuid.uuid4())


def ssh_settings(known_hosts: str | None = None) -> SshSettings:
    """The MAST_SSH_* settings; the key passphrase from $MAST_SSH_KEY_PASSPHRASE or,
    when unset, from the Prefect Secret block named by $MAST_SSH_KEY_PASSPHRASE_BLOCK."""
    settings = SshSettings.from_env(known_hosts=known_hosts)
    block = os.environ.get(PASSPHRASE_BLOCK_ENV)
    if settings.passphrase is None and block:
        from prefect.blocks.system import Secret

        settings = dataclasses.replace(settings, passphrase=Secret.load(block).get())
    return settings


def transport_for(run_id: str, make: Callable[[], Transport]) -> Transport:
    """The Transport of flow run ``run_id``, made by ``make()`` on first use."""
    with _TRANSPORTS_LOCK:
        if run_id not in _TRANSPORTS:
            _TRANSPORTS[run_id] = make()
        return _TRANSPORTS[run_id]


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """retry_condition_fn: retry a dropped banner or a reset, never auth or host keys."""
    try:
        state.result()
    except ProbeFailure as e:
        return e.transient
    except Exception:  # noqa: BLE001 (anything else is a bug: do not retry it)
        return False
    return False


def make_task_runner() -> TaskRunner:
    """The task runner of the fan-out, from the environment (read when a flow is imported).

    ``MAST_TASK_RUNNER=threads`` (default): a thread pool of MAST_MAX_PARALLEL.
    ``MAST_TASK_RUNNER=dask``: Prefect's Dask runner (the ``dask`` extra), on the
    scheduler at ``MAST_DASK_ADDRESS``, or on a local cluster of
    ``MAST_DASK_WORKERS`` processes (default 2) sharing MAST_MAX_PARALLEL threads.
    """
    kind = os.environ.get("MAST_TASK_RUNNER", "threads")
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=max_parallel())
    if kind != "dask":
        raise ValueError(f"MAST_TASK_RUNNER={kind!r}: use 'threads' or 'dask'")
    return dask_task_runner(
        os.environ.get("MAST_DASK_ADDRESS"), int(os.environ.get("MAST_DASK_WORKERS", 2))
    )


def dask_task_runner(address: str | None = None, workers: int = 2) -> TaskRunner:
    """Prefect's Dask runner on an existing scheduler, or on a local cluster it starts."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ValueError("the Dask runner needs the dask extra: pip install 'mast[dask]'") from None
    if address:
        return DaskTaskRunner(address=address)
    threads = max(1, max_parallel() // workers)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "threads_per_worker": threads, "processes": True}
    )


def share_key_material(transport: Transport, servers: Sequence[Server]) -> None:
    """On a Dask runner, hand every worker the keys and known_hosts in memory.

    They travel as a worker plugin over Dask's own connections: not as task
    parameters (which Prefect records) and never to a worker's disk. The thread
    runner shares this process's Transport and needs nothing.
    """
    from prefect.context import FlowRunContext

    runner = FlowRunContext.get().task_runner
    client = getattr(runner, "client", None)  # only the Dask runner has one
    if client is None:
        return
    from flows.dask_keys import KeyMaterialPlugin

    client.register_plugin(KeyMaterialPlugin(transport.key_material(servers)), name="mast-keys")


def collect(
    run_id: str, servers: Sequence[Server], submit: Callable[[Server], PrefectFuture]
) -> list[ServerResult]:
    """Submit one task per server, wait for all; a failed server becomes a down result.

    A task the runner lost (a Dask worker that died and could not be replaced)
    is a down result with reason ``runner``. The run's Transport is dropped at
    the end, with its decrypted keys.
    """
    logger = get_run_logger()
    results = []
    try:
        futures = [submit(s) for s in servers]
        for server, future in zip(servers, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as error:  # noqa: BLE001 (each server's outcome, whatever it is)
                failure = (
                    error
                    if isinstance(error, ProbeFailure)
                    else ProbeLost(server.name, f"{type(error).__name__}: {error}")
                )
                logger.warning(
                    "%s unreachable (%s): %s", server.name, failure.reason, failure.detail
                )
                results.append(ServerResult.down(failure))
    finally:
        with _TRANSPORTS_LOCK:
            _TRANSPORTS.pop(run_id, None)
    return results


def add_selection_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """The command line's --server and --tag, shared by ``python -m flows.tick`` and
    ``python -m flows.patch_scan`` (``verb``: what the flow does to a server)."""
    parser.add_argument(
        "--server", action="append", dest="servers", help=f"{verb} only this server (repeatable)"
    )
    parser.add_argument(
        "--tag", action="append", dest="tags", help=f"{verb} only servers with this tag"
    )


def summary(landed: object) -> dict:
    """A landing's result as plain data (what the land tasks return to Prefect)."""
    return dataclasses.asdict(landed)


def emit_audit_events(events: Iterable[Mapping[str, Any]]) -> int:
    """One Prefect event per audit event, on resource ``mast.server.<name>``."""
    count = 0
    for e in events:
        emit_event(
            event=EVENT_NAMES.get(e["kind"], f"mast.{e['kind']}"),
            resource={
                "prefect.resource.id": f"mast.server.{e['server']}",
                "prefect.resource.name": e["server"],
            },
            occurred=e["occurred_at"].replace(tzinfo=UTC),
            payload={k: e[k] for k in ("before", "after", "detail", "subject") if e.get(k)},
        )
        count += 1
    return count
