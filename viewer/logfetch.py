"""Starting a release-logs fetch from the release page, and telling when it is over.

The viewer never writes the warehouse: a fetch is a run of the release-logs
flow somewhere else, and the page waits for its row (named by a ``fetch_id``
the page chose) to land.

- With a Prefect API configured (PREFECT_API_URL, or the active Prefect
  profile): ``run_deployment('release-logs/on-demand', ..., timeout=0)``; a
  worker of the ``mast`` pool runs it, as every other Mast flow.
- Without one: a child process, ``python -m flows.release_logs HANDLE -n N
  --fetch-id ID``, whose flow run starts an ephemeral Prefect server (several
  seconds before the SSH connection).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

DEPLOYMENT = "release-logs/on-demand"
TIMEOUT_S = 180.0
LINES_KEPT = 2000  # lines a log view keeps shown, oldest blocks dropped first


class FetchNotStarted(Exception):
    """The fetch could not be handed to Prefect; the message says what to do."""


@dataclass
class Pending:
    """A fetch that was started and has not landed yet."""

    fetch_id: str
    handle: str
    lines: int
    via: str  # prefect | process
    started: float = field(default_factory=time.monotonic)
    flow_run_id: str | None = None
    process: subprocess.Popen | None = None
    log: Path | None = None


def prefect_api() -> str | None:
    """The Prefect API the viewer's environment points at, if any."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def start(handle: str, lines: int, api: str | None) -> Pending:
    """Start fetching the last ``lines`` lines of release ``handle``'s log."""
    fetch_id = str(uuid.uuid4())
    if api:
        return _start_deployment(fetch_id, handle, lines)
    fd, name = tempfile.mkstemp(prefix="mast-release-logs-", suffix=".log")
    with os.fdopen(fd, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.release_logs",
                handle,
                "-n",
                str(lines),
                "--fetch-id",
                fetch_id,
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Pending(fetch_id, handle, lines, "process", process=process, log=Path(name))


def _start_deployment(fetch_id: str, handle: str, lines: int) -> Pending:
    import httpx
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    parameters = {"release": handle, "lines": lines, "fetch_id": fetch_id}
    try:
        run = run_deployment(DEPLOYMENT, parameters=parameters, timeout=0)
    except ObjectNotFound:
        raise FetchNotStarted(
            f"the Prefect server has no deployment {DEPLOYMENT}: run `prefect deploy --all` "
            "from the repository (and a worker: `prefect worker start --pool mast`)"
        ) from None
    except httpx.HTTPError as e:
        raise FetchNotStarted(f"the Prefect API did not answer: {e}") from None
    return Pending(fetch_id, handle, lines, "prefect", flow_run_id=str(run.id))


def problem(pending: Pending) -> str | None:
    """Why ``pending`` will never land (its run ended otherwise, or it took too long);
    None while it may still land."""
    if pending.via == "process" and pending.process is not None:
        status = pending.process.poll()
        if status not in (None, 0):
            tail = pending.log.read_text(errors="replace")[-600:].strip() if pending.log else ""
            return f"the fetch exited with status {status}: {tail or 'no output'}"
    elif pending.flow_run_id is not None:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            state = client.read_flow_run(uuid.UUID(pending.flow_run_id)).state
        if state is not None and state.is_final() and not state.is_completed():
            return f"the flow run ended {state.name}: {state.message or 'no message'}"
    if time.monotonic() - pending.started > TIMEOUT_S:
        where = "in the Prefect UI" if pending.via == "prefect" else f"in {pending.log}"
        return f"no result after {TIMEOUT_S:g} s; see the run {where}"
    return None


def finish(pending: Pending) -> None:
    """Drop a fetch that landed or failed: its child's output file (the child, still
    finishing, keeps writing to the unlinked file) and, if it has exited, the child."""
    if pending.log is not None:
        pending.log.unlink(missing_ok=True)
    if pending.process is not None:
        pending.process.poll()


@dataclass
class LogBuffer:
    """The blocks of lines a session has shown of one release: the last line id seen, and
    the latest fetch it has read through."""

    after: int = 0
    through: str | None = None
    blocks: list[tuple[str, str, int]] = field(default_factory=list)  # (caption, text, lines)

    def add(self, lines: pd.DataFrame) -> int:
        """Append ``lines`` (past ``after``, oldest first) as one block per fetch."""
        if lines.empty:
            return 0
        for fetch_id, group in lines.groupby("fetch_id", sort=False):
            first = group.iloc[0]
            fetched = first["fetched_at"]
            when = "" if pd.isna(fetched) else fetched.strftime(" %Y-%m-%d %H:%M:%S UTC")
            caption = (
                f"{len(group)} lines from {first['source'] or 'the log'}, "
                f"fetched{when} ({str(fetch_id)[:8]})"
            )
            self.blocks.append((caption, "\n".join(group["line"]), len(group)))
        self.after = int(lines["line_id"].max())
        while sum(n for _, _, n in self.blocks) > LINES_KEPT and len(self.blocks) > 1:
            self.blocks.pop(0)
        return len(lines)
