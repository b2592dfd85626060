"""Probing: transport, the combined command, and one module per probe.

The registry is explicit: tuples of probe modules, no folder scanning or
derived names. The combined command and the dispatch of its sections to
parsers are both built from the tuple a flow passes.

- ``TICK_PROBES``: what every tick runs on every server, in ONE command
  (the system probe, and the app probe for the releases the server declares).
- ``PATCH_PROBES``: what the patch scan runs, in ONE command of its own
  (``apt-get update`` is too heavy for every tick).
"""

from probes import apps, packages, system

TICK_PROBES = (system, apps)
PATCH_PROBES = (packages,)
