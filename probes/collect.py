"""Probe one server: the selected probes' sections in ONE command, parsed per section."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType

from probes import TICK_PROBES
from probes.errors import CommandTimedOut, HostUnreachable, ProbeFailure
from probes.inventory import Server
from probes.registry import ProbeContext, ProbeOptions, assemble, section_specs
from probes.script import Section, build_command, new_marker, split_output
from probes.ssh import Transport

RAW_TEXT_KEPT = 2000  # characters of a failed section's text kept with its error


@dataclass(frozen=True)
class ServerResult:
    """One server's outcome of one probe run: its facts, or why there are none."""

    server: str
    started_at: datetime
    wall_ms: float
    connections: int
    reachable: bool
    reason: str | None = None
    error: str | None = None
    facts: Mapping[str, object] = field(default_factory=dict)  # probe name -> record
    section_errors: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def down(cls, failure: ProbeFailure) -> ServerResult:
        return cls(
            server=failure.server,
            started_at=failure.started_at or utcnow(),
            wall_ms=failure.wall_ms,
            connections=failure.connections,
            reachable=False,
            reason=failure.reason,
            error=failure.detail,
        )


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: the warehouse stores naive UTC timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


def sections_of(
    probes: Sequence[ModuleType], context: ProbeContext | None = None
) -> dict[str, str]:
    """{``probe.section``: command} for the given probes, in registry order.

    ``context`` (the server and the run's options) is required when a probe is
    tailored (probes/registry.py).
    """
    return {
        f"{p.NAME}.{name}": spec.command
        for p in probes
        for name, spec in section_specs(p, context).items()
    }


def parse_sections(
    probes: Sequence[ModuleType],
    sections: Mapping[str, Section],
    context: ProbeContext | None = None,
) -> tuple[dict[str, object], dict[str, str]]:
    """Run each section's parser; return (facts per probe, errors per section).

    This is the section boundary: a parser that raises, for any reason, costs
    only its own section, and the error keeps the start of the raw text.
    """
    facts: dict[str, object] = {}
    errors: dict[str, str] = {}
    for probe in probes:
        parsed: dict[str, object] = {}
        for name, spec in section_specs(probe, context).items():
            key = f"{probe.NAME}.{name}"
            section = sections.get(key)
            if section is None:
                errors[key] = "missing: the section never started (output cut short?)"
            elif not section.complete:
                errors[key] = "incomplete: the section did not finish (timeout or output cap)"
            elif section.exit_status != 0:
                errors[key] = f"exit {section.exit_status}: {section.stderr.strip()[:500]}"
            else:
                try:
                    parsed[name] = spec.parse(section.text)
                except Exception as e:  # noqa: BLE001 (the boundary: keep the rest of the probe)
                    errors[key] = (
                        f"parse error: {type(e).__name__}: {e}; "
                        f"text: {section.text[:RAW_TEXT_KEPT]!r}"
                    )
        facts[probe.NAME] = assemble(probe, parsed, context)
    return facts, errors


def probe_server(
    server: Server,
    transport: Transport,
    probes: Sequence[ModuleType] = TICK_PROBES,
    options: ProbeOptions | None = None,
) -> ServerResult:
    """Probe ``server`` over one SSH connection. Raises ProbeFailure when unreachable."""
    started_at, t0 = utcnow(), time.perf_counter()
    marker = new_marker()
    settings = transport.settings
    context = ProbeContext(server, options or ProbeOptions())
    command = build_command(
        sections_of(probes, context),
        marker,
        timeout_s=max(1.0, settings.command_timeout_s - 2),
        output_cap_bytes=settings.output_cap_bytes,
    )
    try:
        try:
            remote = transport.run(server, command)
        except CommandTimedOut as timed_out:
            if not split_output(timed_out.partial.stdout, marker):
                raise
            remote = timed_out.partial  # some sections finished before the deadline: keep them
        sections = split_output(remote.stdout, marker)
        if not sections and remote.cut_short:
            raise HostUnreachable(server.name, _CUT_SHORT[remote.cut_short], remote.cut_short)
        if not sections:
            raise HostUnreachable(
                server.name,
                f"the command printed no sections (exit {remote.exit_status}): "
                f"{remote.stderr.strip()[:500] or 'no stderr'}",
                "exit-status",
            )
    except ProbeFailure as failure:
        failure.started_at = started_at
        failure.wall_ms = (time.perf_counter() - t0) * 1000
        raise
    facts, errors = parse_sections(probes, sections, context)
    return ServerResult(
        server=server.name,
        started_at=started_at,
        wall_ms=remote.wall_ms,
        connections=remote.connections,
        reachable=True,
        reason=remote.cut_short,
        error=_CUT_SHORT.get(remote.cut_short),
        facts=facts,
        section_errors=errors,
    )


_CUT_SHORT = {
    "timeout": "partial: the command timed out; the sections that finished were kept",
    "output-cap": "partial: the output reached MAST_OUTPUT_CAP_BYTES and was cut",
}
