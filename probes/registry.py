"""The shapes every probe module shares: its sections and its metric metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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
