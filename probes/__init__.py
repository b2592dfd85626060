"""Probing: transport, the combined command, and one module per probe.

PROBES is the one registry of the probes a tick runs. The combined command and
the dispatch of its sections to parsers are both built from it; nothing scans
folders or derives names.
"""

from probes import system

PROBES = (system,)
