"""The app probe: is each release the inventory declares on a server running?

A release is found by what the inventory says about it: a systemd unit
(``systemctl show``), a docker container (``docker ps -a`` and ``docker
inspect``) and/or a TCP port (``ss -ltnH``). Only the tools a server's releases
need are asked, and a server without releases adds nothing to the tick's
command. A tool that is missing or cannot answer (no systemd as PID 1, no
docker daemon, no ``ss``) is a readable condition of the releases that needed
it, never a crash: each tool section prints a first line ``@ok``, or
``@missing <why>`` / ``@unavailable <why>``, then the tool's output.

Every value that reaches the command (unit and container names) was validated
by the inventory and is shlex-quoted all the same.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from probes.errors import ParseError
from probes.inventory import Release
from probes.registry import ProbeContext, SectionSpec

NAME = "apps"

RUNNING, STOPPED, MISSING, UNKNOWN = "running", "stopped", "missing", "unknown"
UNIT_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "MainPID",
    "ActiveEnterTimestamp",
    "InactiveEnterTimestamp",
)


@dataclass(frozen=True)
class UnitState:
    """One unit's block of ``systemctl show``."""

    id: str
    load_state: str  # loaded, not-found, masked, ...
    active_state: str  # active, inactive, failed, activating, ...
    sub_state: str
    main_pid: int | None
    active_since: datetime | None
    inactive_since: datetime | None


@dataclass(frozen=True)
class SystemdReport:
    condition: str | None  # why systemd could not answer; None when it did
    units: tuple[UnitState, ...] = ()


@dataclass(frozen=True)
class Container:
    """One line of ``docker ps -a --format '{{json .}}'``."""

    names: tuple[str, ...]
    id: str
    image: str
    state: str  # running, exited, created, paused, restarting, dead
    status: str  # "Up 3 hours", "Exited (0) 2 days ago"


@dataclass(frozen=True)
class DockerReport:
    condition: str | None
    containers: tuple[Container, ...] = ()


@dataclass(frozen=True)
class ContainerTimes:
    """One line of ``docker inspect``: the container's main PID and start/finish times."""

    name: str
    pid: int | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class PortsReport:
    condition: str | None
    listening: frozenset[int] = frozenset()


@dataclass(frozen=True)
class AppState:
    """What the probe found of one release."""

    release: str
    handle: str
    status: str  # running | stopped | missing | unknown
    since: datetime | None = None  # when it entered that state, where the tool says
    main_pid: int | None = None
    unit: str | None = None
    unit_state: str | None = None  # "active/running", "not-found", ...
    container: str | None = None
    container_state: str | None = None  # docker's Status: "Up 3 hours"
    port: int | None = None
    port_listening: bool | None = None
    conditions: tuple[str, ...] = ()  # tools that could not answer, and why

    @property
    def running(self) -> bool | None:
        return None if self.status == UNKNOWN else self.status == RUNNING


@dataclass(frozen=True)
class AppFacts:
    apps: tuple[AppState, ...] = ()


# -- parsers: pure functions of the section's text ----------------------------


def _tool_output(text: str, tool: str) -> tuple[str | None, str]:
    """Split the ``@ok`` / ``@missing why`` / ``@unavailable why`` first line off."""
    first, _, rest = text.partition("\n")
    word, _, why = first.strip().partition(" ")
    if word == "@ok":
        return None, rest
    if word in ("@missing", "@unavailable"):
        return f"{tool}: {why.strip() or word[1:]}", rest
    raise ParseError(
        f"{tool} section starts with {first[:80]!r}, expected @ok/@missing/@unavailable"
    )


def _systemd_time(value: str) -> datetime | None:
    """``Mon 2024-01-15 10:23:45 UTC`` (systemctl under TZ=UTC); empty or n/a is None."""
    value = value.strip()
    if not value or value == "n/a":
        return None
    m = re.fullmatch(r"\w{3} (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? UTC", value)
    if m is None:
        raise ParseError(f"timestamp {value!r} is not 'Day YYYY-MM-DD HH:MM:SS UTC'")
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")


def parse_systemctl_show(text: str) -> SystemdReport:
    """``systemctl show --property=...`` of several units, under a tool header.

    One block of KEY=value lines per unit, in the order asked, separated by blank
    lines. Sample::

        @ok
        Id=nginx.service
        LoadState=loaded
        ActiveState=active
        SubState=running
        MainPID=812
        ActiveEnterTimestamp=Mon 2024-01-15 10:23:45 UTC
        InactiveEnterTimestamp=

        Id=nope.service
        LoadState=not-found
        ActiveState=inactive
        SubState=dead
        MainPID=0
        ActiveEnterTimestamp=
        InactiveEnterTimestamp=
    """
    condition, body = _tool_output(text, "systemd")
    if condition:
        return SystemdReport(condition)
    units = []
    for block in re.split(r"\n\s*\n", body.strip()):
        if not block.strip():
            continue
        values: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z]+", key):
                raise ParseError(f"systemctl show line {line!r} is not KEY=value")
            values[key] = value
        missing = [k for k in ("Id", "LoadState", "ActiveState") if k not in values]
        if missing:
            raise ParseError(f"systemctl show block lacks {', '.join(missing)}: {block[:200]!r}")
        pid = values.get("MainPID", "0").strip()
        if not pid.isdigit():
            raise ParseError(f"MainPID {pid!r} is not a number")
        units.append(
            UnitState(
                id=values["Id"],
                load_state=values["LoadState"],
                active_state=values["ActiveState"],
                sub_state=values.get("SubState", ""),
                main_pid=int(pid) or None,
                active_since=_systemd_time(values.get("ActiveEnterTimestamp", "")),
                inactive_since=_systemd_time(values.get("InactiveEnterTimestamp", "")),
            )
        )
    return SystemdReport(None, tuple(units))


def parse_docker_ps(text: str) -> DockerReport:
    """``docker ps -a --no-trunc --format '{{json .}}'``: one JSON object per container.

    Sample::

        @ok
        {"Command":"\\"nginx -g 'daemon of…\\"","ID":"4c01db0b339c","Image":"nginx:1.25",
         "Names":"web","State":"running","Status":"Up 3 hours"}

    (one line per container in the real output). Docker older than 20.10 has no
    ``State`` field; it is then derived from ``Status`` ("Up ..." is running).
    """
    condition, body = _tool_output(text, "docker")
    if condition:
        return DockerReport(condition)
    containers = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ParseError(f"docker ps line is not JSON ({e.msg}): {line[:200]!r}") from None
        if not isinstance(row, dict) or "Names" not in row or "Status" not in row:
            raise ParseError(f"docker ps line lacks Names or Status: {line[:200]!r}")
        status = str(row["Status"])
        state = str(row.get("State") or ("running" if status.startswith("Up") else "exited"))
        containers.append(
            Container(
                names=tuple(n for n in str(row["Names"]).split(",") if n),
                id=str(row.get("ID", "")),
                image=str(row.get("Image", "")),
                state=state,
                status=status,
            )
        )
    return DockerReport(None, tuple(containers))


_ZERO_TIME = "0001-01-01T00:00:00Z"


def _docker_time(value: str) -> datetime | None:
    """RFC 3339 with nanoseconds, in UTC: ``2024-01-15T10:23:45.123456789Z``."""
    if value == _ZERO_TIME:
        return None
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z", value)
    if m is None:
        raise ParseError(f"docker time {value!r} is not RFC 3339 UTC")
    at = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    return at.replace(microsecond=int((m.group(2) or "0")[:6].ljust(6, "0")))


def parse_docker_inspect(text: str) -> tuple[ContainerTimes, ...]:
    """``docker inspect --format '{{.Name}} {{.State.Pid}} {{.State.StartedAt}}
    {{.State.FinishedAt}}'`` of the declared containers (missing ones print nothing).

    Sample::

        /web 2412 2024-01-15T10:23:45.123456789Z 0001-01-01T00:00:00Z
        /worker 0 2024-01-10T08:00:00.5Z 2024-01-14T22:10:03.000000001Z
    """
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4 or not parts[1].isdigit():
            raise ParseError(f"docker inspect line {line!r} is not 'name pid started finished'")
        out.append(
            ContainerTimes(
                name=parts[0].lstrip("/"),
                pid=int(parts[1]) or None,
                started_at=_docker_time(parts[2]),
                finished_at=_docker_time(parts[3]),
            )
        )
    return tuple(out)


def parse_ss_listening(text: str) -> PortsReport:
    """``ss -ltnH``: the TCP ports something listens on, any address.

    Sample::

        @ok
        LISTEN 0      128          0.0.0.0:22        0.0.0.0:*
        LISTEN 0      4096      127.0.0.53%lo:53      0.0.0.0:*
        LISTEN 0      511             [::]:443          [::]:*
    """
    condition, body = _tool_output(text, "ss")
    if condition:
        return PortsReport(condition)
    ports = set()
    for line in body.splitlines():
        parts = line.split()
        if not parts or parts[0] == "State":  # an ss too old for -H prints a header
            continue
        if len(parts) < 5:
            raise ParseError(f"ss line {line!r} has fewer than 5 columns")
        local = parts[3]
        _, sep, port = local.rpartition(":")
        if not sep or not port.isdigit():
            raise ParseError(f"ss local address {local!r} does not end in :port")
        ports.add(int(port))
    return PortsReport(None, frozenset(ports))


# -- the commands ------------------------------------------------------------


_SYSTEMD = """\
if ! command -v systemctl >/dev/null 2>&1; then echo '@missing systemctl is not installed'
elif [ ! -d /run/systemd/system ]; then
  echo '@missing not running as the init system (no /run/systemd/system)'
else
  echo '@ok'; TZ=UTC timeout 10 systemctl show --property=@PROPERTIES@ -- @UNITS@
fi"""

_DOCKER_PS = """\
if ! command -v docker >/dev/null 2>&1; then echo '@missing docker is not installed'; exit 0; fi
t=$(mktemp) || exit 1
out=$(timeout 10 docker ps -a --no-trunc --format '{{json .}}' 2>"$t"); rc=$?
if [ "$rc" -eq 0 ]; then
  echo '@ok'; [ -n "$out" ] && printf '%s\\n' "$out"
else
  why=$(head -c 300 "$t" | tr '\\n' ' ')
  printf '@unavailable docker ps exited with status %s: %s\\n' "$rc" "$why"
fi
rm -f "$t"
exit 0"""

_DOCKER_INSPECT = """\
command -v docker >/dev/null 2>&1 || exit 0
timeout 10 docker inspect --type container \\
  --format '{{.Name}} {{.State.Pid}} {{.State.StartedAt}} {{.State.FinishedAt}}' \\
  -- @CONTAINERS@ 2>/dev/null
exit 0"""

_SS = """\
if command -v ss >/dev/null 2>&1; then echo '@ok'; ss -ltnH
else echo '@missing ss is not installed (iproute2)'; fi"""


def _quoted(values: list[str]) -> str:
    return " ".join(shlex.quote(v) for v in values)


def _unique(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v is not None))


def sections(context: ProbeContext) -> Mapping[str, SectionSpec]:
    """Only the sections this server's releases need; none without releases."""
    releases = context.server.releases
    units = _unique([r.unit for r in releases])
    containers = _unique([r.container for r in releases])
    out: dict[str, SectionSpec] = {}
    if units:
        command = _SYSTEMD.replace("@PROPERTIES@", ",".join(UNIT_PROPERTIES))
        out["systemd"] = SectionSpec(
            command.replace("@UNITS@", _quoted(units)), parse_systemctl_show
        )
    if containers:
        out["docker"] = SectionSpec(_DOCKER_PS, parse_docker_ps)
        inspect = _DOCKER_INSPECT.replace("@CONTAINERS@", _quoted(containers))
        out["docker_times"] = SectionSpec(inspect, parse_docker_inspect)
    if any(r.port is not None for r in releases):
        out["ports"] = SectionSpec(_SS, parse_ss_listening)
    return out


# -- assembly ------------------------------------------------------------------

_FAILED = "the {tool} section failed (see the probe run's section errors)"


def _unit_of(report: SystemdReport, units: list[str], unit: str) -> UnitState | None:
    """The block of ``unit``: by position when every unit answered (aliases keep
    their position), else by Id."""
    if len(report.units) == len(units):
        return report.units[units.index(unit)]
    wanted = {unit, f"{unit}.service"}
    return next((u for u in report.units if u.id in wanted), None)


def _state_of(
    release: Release,
    parsed: Mapping[str, object],
    units: list[str],
) -> AppState:
    conditions: list[str] = []
    verdicts: list[tuple[str, datetime | None, int | None]] = []  # by priority: unit, container
    fields: dict[str, object] = {}

    if release.unit is not None:
        report = parsed.get("systemd")
        if not isinstance(report, SystemdReport):
            conditions.append(_FAILED.format(tool="systemd"))
        elif report.condition:
            conditions.append(report.condition)
        else:
            unit = _unit_of(report, units, release.unit)
            if unit is None:
                conditions.append(f"systemd: no block for {release.unit}")
            elif unit.load_state == "not-found":
                fields["unit_state"] = "not-found"
                verdicts.append((MISSING, None, None))
            else:
                fields["unit_state"] = f"{unit.active_state}/{unit.sub_state}"
                if unit.active_state in ("active", "reloading"):
                    verdicts.append((RUNNING, unit.active_since, unit.main_pid))
                else:
                    verdicts.append((STOPPED, unit.inactive_since, None))

    if release.container is not None:
        report = parsed.get("docker")
        if not isinstance(report, DockerReport):
            conditions.append(_FAILED.format(tool="docker"))
        elif report.condition:
            conditions.append(report.condition)
        else:
            found = next((c for c in report.containers if release.container in c.names), None)
            times = next(
                (t for t in parsed.get("docker_times", ()) if t.name == release.container), None
            )
            if found is None:
                fields["container_state"] = "absent"
                verdicts.append((MISSING, None, None))
            else:
                fields["container_state"] = found.status
                if found.state == "running":
                    verdicts.append(
                        (RUNNING, times.started_at if times else None, times.pid if times else None)
                    )
                else:
                    verdicts.append((STOPPED, times.finished_at if times else None, None))

    if release.port is not None:
        report = parsed.get("ports")
        if not isinstance(report, PortsReport):
            conditions.append(_FAILED.format(tool="ss"))
        elif report.condition:
            conditions.append(report.condition)
        else:
            fields["port_listening"] = release.port in report.listening
            verdicts.append((RUNNING if fields["port_listening"] else STOPPED, None, None))

    # The first locator that answered decides (unit, then container, then port);
    # the others stay visible in their own fields.
    status, since, pid = verdicts[0] if verdicts else (UNKNOWN, None, None)
    return AppState(
        release=release.name,
        handle=release.effective_handle,
        status=status,
        since=since,
        main_pid=pid,
        unit=release.unit,
        container=release.container,
        port=release.port,
        conditions=tuple(conditions),
        **fields,
    )


def assemble(parsed: Mapping[str, object], context: ProbeContext) -> AppFacts:
    """One AppState per release the inventory declares on this server, in its order."""
    releases = context.server.releases
    units = _unique([r.unit for r in releases])
    return AppFacts(tuple(_state_of(r, parsed, units) for r in releases))
