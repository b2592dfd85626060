"""The log tail of one release: ``journalctl -u UNIT`` or ``docker logs --tail``.

A release's log is read from what the inventory says about it: its systemd
unit's journal (``journalctl -u UNIT -n N --no-pager -o short-iso`` under
``TZ=UTC``) or, when it declares no unit, its docker container's log
(``docker logs --tail N --timestamps``, stdout and stderr merged, as people
read it). A release with only a port has no log to read. The tail is one
section of one command, sent over one connection by ``fetch_tail`` (the
on-demand release-logs flow, not the tick).

Like the app probe's tool sections, the section's first line is ``@ok`` (then,
when the tool said something on stderr while answering, ``@stderr <its first
300 bytes>``), or ``@missing <why>`` / ``@unavailable <why>``: a tool that is
not installed or a daemon that does not answer is a readable condition of the
fetch, never a crash. Unit and container names were validated by the
inventory and are shlex-quoted all the same; the line count is an int.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from probes.collect import utcnow
from probes.errors import InventoryError, ParseError, ProbeFailure
from probes.inventory import Release, Server
from probes.registry import SectionSpec
from probes.script import build_command, new_marker, split_output
from probes.ssh import Transport

NAME = "logs"
DEFAULT_LINES = 200
MAX_LINES = 5000
LINE_CAP = 4096  # characters kept of one log line
REMOTE_TIMEOUT_S = 20


@dataclass(frozen=True)
class LogLine:
    """One line as the tool printed it, and its timestamp (naive UTC) when it has one."""

    text: str
    logged_at: datetime | None = None


@dataclass(frozen=True)
class LogTail:
    """What one read of a release's log found.

    ``condition`` says why the tool could not answer (then there are no lines);
    ``note`` is what it printed on stderr while answering ("No journal files
    were found.", a permissions hint).
    """

    source: str  # journal | docker
    condition: str | None = None
    note: str | None = None
    lines: tuple[LogLine, ...] = ()


@dataclass(frozen=True)
class LogFetch:
    """One fetch of a release's log tail: the tail, or why the server was not reached."""

    server: str
    handle: str
    source: str  # journal | docker
    target: str  # the unit or the container
    lines_requested: int
    started_at: datetime
    wall_ms: float
    connections: int
    tail: LogTail | None = None  # None when the server was not reached
    reason: str | None = None  # the unreachable class: refused, auth, host-key, timeout, ...
    error: str | None = None

    @classmethod
    def down(cls, spec: TailSpec, server: str, failure: ProbeFailure) -> LogFetch:
        return cls(
            server=server,
            handle=spec.handle,
            source=spec.source,
            target=spec.target,
            lines_requested=spec.lines,
            started_at=failure.started_at or utcnow(),
            wall_ms=failure.wall_ms,
            connections=failure.connections,
            reason=failure.reason,
            error=failure.detail,
        )


# -- parsers: pure functions of the section's text ----------------------------


def _header(text: str, tool: str) -> tuple[str | None, str | None, str]:
    """Split ``@ok`` [``@stderr ...``] / ``@missing why`` / ``@unavailable why`` off."""
    first, _, rest = text.partition("\n")
    word, _, why = first.strip().partition(" ")
    if word in ("@missing", "@unavailable"):
        return f"{tool}: {why.strip() or word[1:]}", None, ""
    if word != "@ok":
        raise ParseError(
            f"{tool} section starts with {first[:80]!r}, expected @ok/@missing/@unavailable"
        )
    if rest.startswith("@stderr "):
        note, _, rest = rest.partition("\n")
        return None, note.removeprefix("@stderr ").strip() or None, rest
    return None, None, rest


def _line(text: str) -> str:
    return text.rstrip("\r")[:LINE_CAP]


_JOURNAL_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2}) "
)
# journalctl's own lines around the entries that say nothing about the unit.
_JOURNAL_FRAMING = ("-- No entries --", "-- Logs begin at ", "-- Journal begins at ")


def _utc(stamp: str, fraction: str | None, offset: str) -> datetime:
    at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
    if fraction:
        at = at.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    if offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        at -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return at


def parse_journal(text: str) -> LogTail:
    """``journalctl -u UNIT -n N --no-pager -o short-iso`` under a tool header.

    Sample (systemd 252 prints ``+00:00``; older ones ``+0000``)::

        @ok
        2024-01-15T10:23:45+00:00 web-1 api[812]: listening on :8080
        2024-01-15T10:24:02+00:00 web-1 api[812]: GET /health 200 0.4ms
        -- Boot 3f2c0a8e1d7b4c55a0c1d2e3f4a5b6c7 --
        2024-01-15T11:00:00+00:00 web-1 systemd[1]: Started api.service - API.

    Without entries (here with no journal at all)::

        @ok
        @stderr No journal files were found.
        -- No entries --

    The tool's framing lines (no entries, where the journal begins) are not
    log lines; boot separators are kept, without a timestamp, as are the
    indented continuation lines of multi-line messages.
    """
    condition, note, body = _header(text, "journalctl")
    if condition:
        return LogTail("journal", condition)
    lines = []
    for raw in body.splitlines():
        if not raw.strip() or raw.startswith(_JOURNAL_FRAMING):
            continue
        m = _JOURNAL_TIME.match(raw)
        lines.append(LogLine(_line(raw), _utc(*m.groups()) if m else None))
    return LogTail("journal", None, note, tuple(lines))


_DOCKER_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) "
)


def parse_docker_logs(text: str) -> LogTail:
    """``docker logs --tail N --timestamps CONTAINER 2>&1`` under a tool header.

    Sample::

        @ok
        2024-01-15T10:23:45.123456789Z 172.17.0.1 - - "GET / HTTP/1.1" 200 615
        2024-01-15T10:23:46.000000001Z 2024/01/15 10:23:46 [error] 29#29: *2 open() failed

    When the daemon does not answer::

        @unavailable docker logs exited with status 1: Cannot connect to the Docker daemon
    """
    condition, note, body = _header(text, "docker")
    if condition:
        return LogTail("docker", condition)
    lines = []
    for raw in body.splitlines():
        if not raw.strip():
            continue
        m = _DOCKER_TIME.match(raw)
        lines.append(LogLine(_line(raw), _utc(*m.groups()) if m else None))
    return LogTail("docker", None, note, tuple(lines))


# -- the commands ------------------------------------------------------------

_JOURNAL = """\
if ! command -v journalctl >/dev/null 2>&1; then
  echo '@missing journalctl is not installed'; exit 0
fi
o=$(mktemp) || exit 1
e=$(mktemp) || { rm -f "$o"; exit 1; }
TZ=UTC timeout @TIMEOUT@ journalctl -u @UNIT@ -n @LINES@ --no-pager -o short-iso >"$o" 2>"$e"; rc=$?
why=$(head -c 300 "$e" | tr '\\n' ' ')
if [ "$rc" -eq 0 ]; then
  echo '@ok'; [ -n "$why" ] && printf '@stderr %s\\n' "$why"; cat "$o"
else
  printf '@unavailable journalctl exited with status %s: %s\\n' "$rc" "$why"
fi
rm -f "$o" "$e"
exit 0"""

_DOCKER = """\
if ! command -v docker >/dev/null 2>&1; then echo '@missing docker is not installed'; exit 0; fi
o=$(mktemp) || exit 1
timeout @TIMEOUT@ docker logs --tail @LINES@ --timestamps -- @CONTAINER@ >"$o" 2>&1; rc=$?
if [ "$rc" -eq 0 ]; then
  echo '@ok'; cat "$o"
else
  printf '@unavailable docker logs exited with status %s: %s\\n' "$rc" \\
    "$(head -c 300 "$o" | tr '\\n' ' ')"
fi
rm -f "$o"
exit 0"""


@dataclass(frozen=True)
class TailSpec:
    """Where a release's log is read from, and the section that reads it."""

    handle: str
    source: str  # journal | docker
    target: str  # the unit or the container
    lines: int
    section: SectionSpec


def tail_spec(release: Release, lines: int = DEFAULT_LINES) -> TailSpec:
    """The section reading the last ``lines`` lines of ``release``'s log: its unit's
    journal, else its container's log. A release with neither raises InventoryError."""
    if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= MAX_LINES:
        raise ValueError(f"the log tail is 1 to {MAX_LINES} lines, not {lines!r}")
    common = {"@LINES@": str(lines), "@TIMEOUT@": str(REMOTE_TIMEOUT_S)}
    if release.unit is not None:
        command = _fill(_JOURNAL, common | {"@UNIT@": shlex.quote(release.unit)})
        spec = SectionSpec(command, parse_journal)
        return TailSpec(release.effective_handle, "journal", release.unit, lines, spec)
    if release.container is not None:
        command = _fill(_DOCKER, common | {"@CONTAINER@": shlex.quote(release.container)})
        spec = SectionSpec(command, parse_docker_logs)
        return TailSpec(release.effective_handle, "docker", release.container, lines, spec)
    raise InventoryError(
        f"release {release.effective_handle!r} declares neither a unit nor a container: "
        "there is no log to read (add unit: or container: to it in the inventory)"
    )


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def fetch_tail(server: Server, spec: TailSpec, transport: Transport) -> LogFetch:
    """Read the tail ``spec`` describes from ``server`` over ONE connection.

    Raises ProbeFailure when the server cannot be reached. A section that did
    not finish, failed or did not parse is the fetch's condition.
    """
    started_at, t0 = utcnow(), time.perf_counter()
    key = f"{NAME}.{spec.source}"
    marker = new_marker()
    settings = transport.settings
    command = build_command(
        {key: spec.section.command},
        marker,
        timeout_s=max(1.0, settings.command_timeout_s - 2),
        output_cap_bytes=settings.output_cap_bytes,
    )
    try:
        remote = transport.run(server, command)
    except ProbeFailure as failure:
        failure.started_at = started_at
        failure.wall_ms = (time.perf_counter() - t0) * 1000
        raise
    section = split_output(remote.stdout, marker).get(key)
    tool = "journalctl" if spec.source == "journal" else "docker"
    if section is None:
        tail = LogTail(
            spec.source, f"{tool}: the section never started (exit {remote.exit_status})"
        )
    elif not section.complete:
        tail = LogTail(spec.source, f"{tool}: the read did not finish (timeout or output cap)")
    elif section.exit_status != 0:
        why = section.stderr.strip()[:300] or "no stderr"
        tail = LogTail(spec.source, f"{tool}: the section exited {section.exit_status}: {why}")
    else:
        try:
            tail = spec.section.parse(section.text)
        except ParseError as e:
            tail = LogTail(spec.source, f"{tool}: unreadable output: {e}")
    return LogFetch(
        server=server.name,
        handle=spec.handle,
        source=spec.source,
        target=spec.target,
        lines_requested=spec.lines,
        started_at=started_at,
        wall_ms=remote.wall_ms,
        connections=remote.connections,
        tail=tail,
    )
