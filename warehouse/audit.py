"""The audit trail: what changed between the stored state and a new probe run.

Pure functions of (previous state, new records) -> events; warehouse/land.py
reads the previous state and writes the events in the same transaction as the
new state, so an event and the state it leads to land together or not at all.

Rules:

- No event when nothing changed.
- The state before the first look at a server (or release) is taken to be the
  healthy one: up, no security updates pending, the app running. So a first
  look raises only alarms (server down, security updates pending, app stopped
  or not found) and never "up" or "started".
- What a run could not see (a server that did not answer, a section that
  failed, a tool that is missing) is no change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from probes.apps import MISSING, RUNNING, STOPPED, AppState
from probes.collect import ServerResult
from probes.packages import Upgradable
from probes.system import SystemFacts

SERVER_DOWN = "server.down"
SERVER_UP = "server.up"
REBOOTED = "server.rebooted"
OS_CHANGED = "os.changed"
HOST_KEY_CHANGED = "host-key.changed"
APP_STARTED = "app.started"
APP_STOPPED = "app.stopped"
APP_APPEARED = "app.appeared"
APP_VANISHED = "app.vanished"
SECURITY_APPEARED = "security-updates.appeared"
SECURITY_CLEARED = "security-updates.cleared"

KINDS = (
    SERVER_DOWN,
    SERVER_UP,
    REBOOTED,
    OS_CHANGED,
    HOST_KEY_CHANGED,
    APP_STARTED,
    APP_STOPPED,
    APP_APPEARED,
    APP_VANISHED,
    SECURITY_APPEARED,
    SECURITY_CLEARED,
)
DETAIL_PACKAGES = 20  # security packages named in an event's detail


@dataclass(frozen=True)
class AuditEvent:
    """One change: on ``server`` (and release ``subject``), ``before`` -> ``after``."""

    server: str
    kind: str
    occurred_at: datetime
    before: str | None
    after: str | None
    detail: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class PreviousServer:
    """What server_latest held for a server before this tick."""

    reachable: bool
    reason: str | None
    last_ok_at: datetime | None
    os_name: str | None
    kernel: str | None
    uptime_s: float | None


def _down_text(reason: str | None, error: str | None) -> str:
    return f"{reason or 'error'}: {error or 'no detail'}"


def server_events(prev: PreviousServer | None, result: ServerResult) -> list[AuditEvent]:
    """Down/up, host key changed, reboot and OS change of one server's tick."""
    at, name = result.started_at, result.server
    events: list[AuditEvent] = []
    was_up = prev is None or prev.reachable
    if not result.reachable:
        if was_up:
            events.append(
                AuditEvent(
                    name, SERVER_DOWN, at, "up", "down", _down_text(result.reason, result.error)
                )
            )
        known_before = prev is not None and prev.last_ok_at is not None
        if (
            result.reason == "host-key"
            and known_before
            and (prev.reachable or prev.reason != "host-key")
        ):
            events.append(
                AuditEvent(name, HOST_KEY_CHANGED, at, "accepted", "refused", result.error)
            )
        return events
    if not was_up:
        events.append(
            AuditEvent(name, SERVER_UP, at, f"down ({prev.reason or 'error'})", "up", None)
        )
    facts = result.facts.get("system")
    if prev is None or not isinstance(facts, SystemFacts):
        return events
    if prev.uptime_s is not None and facts.uptime_s is not None and facts.uptime_s < prev.uptime_s:
        booted = at - timedelta(seconds=facts.uptime_s)
        events.append(
            AuditEvent(
                name,
                REBOOTED,
                at,
                f"up {prev.uptime_s:.0f} s",
                f"up {facts.uptime_s:.0f} s",
                f"booted at about {booted:%Y-%m-%d %H:%M:%S} UTC",
            )
        )
    new_os = facts.os.pretty_name if facts.os else None
    for field, old, new in (
        ("PRETTY_NAME", prev.os_name, new_os),
        ("kernel", prev.kernel, facts.kernel),
    ):
        if old is not None and new is not None and old != new:
            events.append(AuditEvent(name, OS_CHANGED, at, old, new, field))
    return events


def app_events(
    server: str, at: datetime, previous: Mapping[str, str], apps: Iterable[AppState]
) -> list[AuditEvent]:
    """Started/stopped/appeared/vanished, from {handle: previous status} to the new states."""
    events = []
    for app in apps:
        before = previous.get(app.handle)
        after = app.status
        if after not in (RUNNING, STOPPED, MISSING):
            continue  # unknown: nothing could be seen
        if before not in (RUNNING, STOPPED, MISSING):
            before = None  # first look (or nothing seen last time): the baseline
        kind = None
        if before == MISSING and after != MISSING:
            kind = APP_APPEARED
        elif after == MISSING and before != MISSING:
            kind = APP_VANISHED
        elif before == STOPPED and after == RUNNING:
            kind = APP_STARTED
        elif before in (RUNNING, None) and after == STOPPED:
            kind = APP_STOPPED
        if kind is not None:
            detail = "first look" if before is None else None
            events.append(
                AuditEvent(server, kind, at, before, after, detail=detail, subject=app.handle)
            )
    return events


def security_key(u: Upgradable) -> tuple[str, str, str]:
    return (u.name, u.architecture, u.candidate_version)


def security_events(
    server: str,
    at: datetime,
    previous: set[tuple[str, str, str]],
    upgradable: Sequence[Upgradable],
) -> list[AuditEvent]:
    """Security updates that appeared since the previous listing, or all cleared.

    ``previous`` holds (package, architecture, candidate) of the security
    updates the previous listing had (empty before the first scan).
    """
    now = {security_key(u) for u in upgradable if u.security}
    new = sorted(now - previous)
    if new:
        names = ", ".join(f"{p} {v}" for p, _, v in new[:DETAIL_PACKAGES])
        more = f" and {len(new) - DETAIL_PACKAGES} more" if len(new) > DETAIL_PACKAGES else ""
        return [
            AuditEvent(
                server, SECURITY_APPEARED, at, str(len(previous)), str(len(now)), names + more
            )
        ]
    if previous and not now:
        return [AuditEvent(server, SECURITY_CLEARED, at, str(len(previous)), "0", None)]
    return []
