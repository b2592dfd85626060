"""The named errors of the probing side, in one place.

paramiko, Fabric and socket exceptions are translated into these at the
transport boundary (probes/ssh.py); flows turn them into Prefect states and
warehouse rows. Each unreachable-server error carries a short ``reason`` class
that lands in the warehouse and that people filter on.
"""

from __future__ import annotations


class MastError(Exception):
    """Base of every error Mast raises on purpose."""


class InventoryError(MastError):
    """The inventory file is missing or one of its entries is invalid."""


class ParseError(MastError):
    """A section's text is not in the format its parser reads."""


class ProbeFailure(MastError):
    """A server could not be probed; ``reason`` is the class that lands in the warehouse."""

    reason = "error"
    transient = False
    # Filled in by the transport and probe_server, for the probe_runs row.
    started_at = None
    wall_ms = 0.0
    connections = 0

    def __init__(self, server: str, detail: str):
        super().__init__(f"{server}: {detail}")
        self.server = server
        self.detail = detail

    def __reduce__(self):
        # Pickled by Prefect's states and by distributed runners: keep every field,
        # although __init__ takes other arguments than Exception.args holds.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type, args: tuple, state: dict) -> ProbeFailure:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class HostUnreachable(ProbeFailure):
    """The TCP connection or the SSH handshake did not complete."""

    def __init__(self, server: str, detail: str, reason: str = "network", transient: bool = False):
        super().__init__(server, detail)
        self.reason = reason
        self.transient = transient


class AuthFailed(ProbeFailure):
    """The server refused every key we offered."""

    reason = "auth"


class HostKeyRejected(ProbeFailure):
    """The server's host key is unknown or differs from known_hosts."""

    reason = "host-key"


class CommandTimedOut(ProbeFailure):
    """The combined command did not finish within the command timeout."""

    reason = "timeout"


class ProbeLost(ProbeFailure):
    """The task runner lost the probe before it reported (e.g. its worker died)."""

    reason = "runner"


class KeyLoadError(MastError):
    """A private key file could not be read or decrypted."""
