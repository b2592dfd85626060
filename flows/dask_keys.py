"""The worker plugin that hands Dask workers the key material in memory (flows/fanout.py)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from probes.ssh import KeyMaterial, install_key_material


class KeyMaterialPlugin(WorkerPlugin):
    """Installs the private keys and known_hosts in the worker process's memory."""

    def __init__(self, material: KeyMaterial) -> None:
        self.material = material

    def setup(self, worker) -> None:  # noqa: ANN001 (distributed's API)
        install_key_material(self.material)
