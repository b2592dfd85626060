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

from probes.collect import ServerResult
from probes.errors import ProbeFailure
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


def collect(
    run_id: str, servers: Sequence[Server], submit: Callable[[Server], PrefectFuture]
) -> list[ServerResult]:
    """Submit one task per server, wait for all; a failed server becomes a down result.

    The run's Transport is dropped at the end, with its decrypted keys.
    """
    logger = get_run_logger()
    results = []
    try:
        futures = [submit(s) for s in servers]
        for server, future in zip(servers, futures, strict=True):
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
    return results


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
