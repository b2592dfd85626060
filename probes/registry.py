"""The shapes every probe module shares: its sections, its metric metadata, its context.

A probe module has a ``NAME`` and is one of two kinds:

- static: ``SECTIONS`` (a mapping of section name to SectionSpec) and
  ``assemble(parsed)``; every server gets the same commands (the system probe);
- tailored: ``sections(context)`` and ``assemble(parsed, context)``; the
  commands depend on the server (its declared releases) or on the run's
  options (whether the patch scan refreshes the package lists).

``section_specs`` and ``assemble`` below are the only places that tell the two
apart; the command builder and the section dispatch both go through them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from probes.inventory import Server


@dataclass(frozen=True)
class SectionSpec:
    """One section of a probe: the shell command it runs and the pure parser of its output."""

    command: str
    parse: Callable[[str], object]


@dataclass(frozen=True)
class Metric:
    """A sampled metric's label, unit and description, used by the viewer for axes."""

    label: str
    unit: str
    description: str


@dataclass(frozen=True)
class ProbeOptions:
    """Run-wide switches that tailored probes read; the defaults are the production ones."""

    refresh_packages: bool = True  # the patch scan runs apt-get update (dnf makecache) first
    refresh_timeout_s: int = 120  # remote bound of that refresh


@dataclass(frozen=True)
class ProbeContext:
    """What a tailored probe builds its sections from: the server and the run's options."""

    server: Server
    options: ProbeOptions = field(default_factory=ProbeOptions)


def is_tailored(probe: ModuleType) -> bool:
    return not hasattr(probe, "SECTIONS")


def section_specs(probe: ModuleType, context: ProbeContext | None) -> Mapping[str, SectionSpec]:
    """The sections ``probe`` runs in ``context`` (a static probe ignores the context)."""
    if not is_tailored(probe):
        return probe.SECTIONS
    if context is None:
        raise ValueError(f"the {probe.NAME} probe builds its sections per server: pass a context")
    return probe.sections(context)


def assemble(
    probe: ModuleType, parsed: Mapping[str, object], context: ProbeContext | None
) -> object:
    """The probe's record from the sections that parsed."""
    if not is_tailored(probe):
        return probe.assemble(parsed)
    if context is None:
        raise ValueError(f"the {probe.NAME} probe assembles per server: pass a context")
    return probe.assemble(parsed, context)
