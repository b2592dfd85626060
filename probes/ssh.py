"""SSH transport over Fabric: one call = one fresh connection = one full handshake.

There is no connection cache. Every ``Transport.run`` opens a new TCP
connection, does the whole SSH key exchange and authentication, runs ONE
command and closes. That costs ~125 ms of wall time on loopback and far more
across a WAN, so batching is the caller's rule: build one combined command
(probes/script.py) per server per probe run, never one call per shell command.

What this module guarantees:

- Host keys are verified against known_hosts (parsed once per Transport).
  Fabric's default of accepting any key is replaced: an unknown or changed key
  raises HostKeyRejected. ``accept-new`` mode records unknown keys on first
  contact (like OpenSSH's StrictHostKeyChecking=accept-new) and still refuses
  changed ones.
- Connect, banner and auth timeouts and a command timeout are enforced, and
  what a server may send back is capped: Fabric opens and configures the
  connection, the command runs on a paramiko channel read by our own loop
  (Fabric's ``run`` would buffer a flood of output in memory whole).
- At most ``max_handshakes`` (5) handshakes are in flight at once per Transport:
  sshd's default ``MaxStartups 10:30:100`` drops connections past 10
  unauthenticated ones, which a bastion serving many aliases would see.
- Private keys are read and decrypted once per Transport (once per flow run),
  then handed to paramiko as ``pkey``; ``~/.ssh/config`` (Host aliases, User,
  Port, IdentityFile, ProxyJump) is honoured as Fabric reads it.
- Every connection opened, ProxyJump hops included, is counted in
  ``CONNECTIONS``, so tests and the bench can assert how many were made.
- paramiko, Fabric and socket exceptions become the named errors of
  probes/errors.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import fabric
import paramiko

from probes.errors import (
    AuthFailed,
    CommandTimedOut,
    HostKeyRejected,
    HostUnreachable,
    KeyLoadError,
    ProbeFailure,
)
from probes.inventory import Server

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
PASSPHRASE_ENV = "MAST_SSH_KEY_PASSPHRASE"
STDERR_CAP = 64 * 1024


class ConnectionCounter:
    """A thread-safe count of SSH connections opened by this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._count += n

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


CONNECTIONS = ConnectionCounter()


@dataclass(frozen=True)
class SshSettings:
    """Transport settings; ``from_env`` reads the MAST_SSH_* variables."""

    connect_timeout_s: float = 10.0
    command_timeout_s: float = 30.0
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    host_key_policy: str = "strict"  # or "accept-new"
    output_cap_bytes: int = 8 * 1024 * 1024
    # Half sshd's default MaxStartups of 10: sshd frees a slot only when its child has
    # reported the login, a moment after the client is done, longer on a busy host.
    max_handshakes: int = 5
    ssh_config: str | None = None  # None: ~/.ssh/config and /etc/ssh/ssh_config
    passphrase: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.host_key_policy not in ("strict", "accept-new"):
            raise ValueError(
                f"host key policy {self.host_key_policy!r}: use 'strict' or 'accept-new'"
            )

    @classmethod
    def from_env(cls, known_hosts: str | None = None) -> SshSettings:
        env = os.environ
        return cls(
            connect_timeout_s=float(env.get("MAST_SSH_CONNECT_TIMEOUT", cls.connect_timeout_s)),
            command_timeout_s=float(env.get("MAST_SSH_COMMAND_TIMEOUT", cls.command_timeout_s)),
            known_hosts=env.get("MAST_KNOWN_HOSTS") or known_hosts or DEFAULT_KNOWN_HOSTS,
            host_key_policy=env.get("MAST_HOST_KEY_POLICY", cls.host_key_policy),
            output_cap_bytes=int(env.get("MAST_OUTPUT_CAP_BYTES", cls.output_cap_bytes)),
            max_handshakes=int(env.get("MAST_MAX_HANDSHAKES", cls.max_handshakes)),
            ssh_config=env.get("MAST_SSH_CONFIG"),
            passphrase=env.get(PASSPHRASE_ENV),
        )


@dataclass(frozen=True)
class RemoteResult:
    """What one command printed, and what the connection cost."""

    stdout: str
    stderr: str
    exit_status: int | None  # None when cut short
    wall_ms: float
    connections: int
    cut_short: str | None = None  # "output-cap" or "timeout": the output is incomplete


@dataclass(frozen=True)
class KeyMaterial:
    """Private key files and known_hosts files handed to this process in memory.

    A process that probes for another (a distributed runner's worker) gets them
    this way instead of from its own disk: contents by expanded path, as the
    files hold them (an encrypted key stays encrypted), and the passphrase.
    """

    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    known_hosts: Mapping[str, str] = field(default_factory=dict, repr=False)
    passphrase: str | None = field(default=None, repr=False)

    @classmethod
    def read(
        cls, key_paths: Iterable[str], known_hosts: str, passphrase: str | None
    ) -> KeyMaterial:
        """The contents of these files, read now (missing files are left out)."""
        keys = {}
        for path in map(os.path.expanduser, key_paths):
            with contextlib.suppress(OSError):
                keys[path] = Path(path).read_bytes()
        hosts_path = os.path.expanduser(known_hosts)
        hosts = {hosts_path: Path(hosts_path).read_text()} if os.path.exists(hosts_path) else {}
        return cls(keys, hosts, passphrase)


_installed = KeyMaterial()


def install_key_material(material: KeyMaterial) -> None:
    """Use ``material`` instead of the disk for the keys and known_hosts it holds."""
    global _installed
    _installed = material


def installed_key_material() -> KeyMaterial:
    return _installed


def _load_key(path: str, passphrase: bytes | None) -> paramiko.PKey:
    data = _installed.keys.get(path)
    if data is None:
        return paramiko.PKey.from_path(path, passphrase)
    errors = []
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(data.decode()), passphrase)
        except paramiko.PasswordRequiredException:
            raise
        except (paramiko.SSHException, ValueError) as e:
            errors.append(str(e))
    raise paramiko.SSHException(f"not a private key Mast can read: {'; '.join(errors)}")


class KeyRing:
    """Private keys, each read and decrypted once, shared by every connection."""

    def __init__(self, passphrase: str | None = None) -> None:
        self._passphrase = passphrase if passphrase is not None else _installed.passphrase
        self._keys: dict[str, paramiko.PKey] = {}
        self._lock = threading.Lock()
        self.decrypts = 0

    def load(self, path: str) -> paramiko.PKey:
        path = os.path.expanduser(path)
        with self._lock:
            if path not in self._keys:
                try:
                    self._keys[path] = _load_key(
                        path, self._passphrase.encode() if self._passphrase else None
                    )
                except (paramiko.PasswordRequiredException, TypeError) as e:
                    # paramiko >= 3.2 lets cryptography's TypeError through for this
                    if isinstance(e, TypeError) and "password" not in str(e):
                        raise
                    raise KeyLoadError(
                        f"{path} is encrypted: set {PASSPHRASE_ENV} to its passphrase"
                    ) from None
                except (OSError, paramiko.SSHException, ValueError) as e:
                    raise KeyLoadError(f"cannot load private key {path}: {e}") from None
                self.decrypts += 1
            return self._keys[path]


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko only for hosts that known_hosts does not list."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def missing_host_key(self, client, hostname, key) -> None:  # noqa: ANN001 (paramiko API)
        self._transport._unknown_host_key(hostname, key)


class Transport:
    """Runs one command per connection on servers of the inventory."""

    def __init__(self, settings: SshSettings | None = None) -> None:
        self.settings = settings or SshSettings.from_env()
        self.keys = KeyRing(self.settings.passphrase)
        # Reads ~/.ssh/config (or MAST_SSH_CONFIG) once, for every connection.
        self._config = fabric.Config(runtime_ssh_path=self.settings.ssh_config)
        self._config_lock = threading.Lock()
        self._local = threading.local()
        self._known_hosts_path = Path(os.path.expanduser(self.settings.known_hosts))
        self._known = paramiko.HostKeys()
        shipped = _installed.known_hosts.get(str(self._known_hosts_path))
        if shipped is not None:
            for line in shipped.splitlines():
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
                for name in entry.hostnames if entry is not None else ():
                    self._known.add(name, entry.key.get_name(), entry.key)
        elif self._known_hosts_path.exists():
            self._known.load(str(self._known_hosts_path))
        self._known_lock = threading.Lock()
        self._policy = _HostKeyPolicy(self)
        self._handshakes = threading.BoundedSemaphore(self.settings.max_handshakes)

    # -- host keys --------------------------------------------------------
    def _unknown_host_key(self, hostname: str, key: paramiko.PKey) -> None:
        if self.settings.host_key_policy != "accept-new":
            raise _UnknownHostKey(
                f"host key of {hostname} is not in {self._known_hosts_path}; "
                f"verify it and add it (ssh-keyscan), or set MAST_HOST_KEY_POLICY=accept-new"
            )
        with self._known_lock:
            known = self._known.lookup(hostname)
            if known is not None:  # another thread recorded it meanwhile
                if known.get(key.get_name()) != key:
                    raise _UnknownHostKey(f"host key of {hostname} changed during the run")
                return
            self._known.add(hostname, key.get_name(), key)
            self._known_hosts_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._known_hosts_path, "a") as f:
                f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")

    def _identities(self, server: Server | None, ssh_config: Mapping[str, object]) -> list[str]:
        """Key files for a connection: the inventory's, else ~/.ssh/config's, else ~/.ssh/id_*."""
        if server is not None and server.identity_file:
            return [server.identity_file]
        from_config = list(ssh_config.get("identityfile", []))
        return from_config or [
            p for p in DEFAULT_IDENTITIES if os.path.exists(os.path.expanduser(p))
        ]

    def _connect_kwargs(self, identities: list[str]) -> dict:
        """paramiko connect() arguments: our timeouts, and a pre-loaded key as ``pkey``."""
        timeout = self.settings.connect_timeout_s
        kwargs: dict = {"banner_timeout": timeout, "auth_timeout": timeout}
        if identities:
            kwargs.update(pkey=self.keys.load(identities[0]), look_for_keys=False)
        return kwargs

    def _verify_host_keys(self, conn: fabric.Connection) -> int:
        """Hand paramiko the known keys of ``conn``'s host (and of its ProxyJump hops, whose
        keys we also load once); return the number of connections a run opens."""
        name = conn.host if conn.port == 22 else f"[{conn.host}]:{conn.port}"
        conn.client.set_missing_host_key_policy(self._policy)
        known = self._known.lookup(name)
        if known is not None:
            for keytype, key in known.items():
                conn.client.get_host_keys().add(name, keytype, key)
        # Fabric merges ~/.ssh/config's IdentityFile into key_filename, which paramiko
        # would decrypt again on every connection: we pass the loaded key instead.
        conn.connect_kwargs.pop("key_filename", None)
        if isinstance(conn.gateway, fabric.Connection):
            hop = conn.gateway
            hop.connect_timeout = conn.connect_timeout
            hop.connect_kwargs.update(self._connect_kwargs(self._identities(None, hop.ssh_config)))
            return 1 + self._verify_host_keys(hop)
        return 1

    def key_material(self, servers: Iterable[Server]) -> KeyMaterial:
        """What another process needs in memory to probe ``servers`` with our settings:
        their private key files (read, not decrypted), known_hosts and the passphrase."""
        paths: set[str] = set()
        for server in servers:
            paths.update(self._identities(server, self._config.base_ssh_config.lookup(server.host)))
        return KeyMaterial.read(sorted(paths), self.settings.known_hosts, self.settings.passphrase)

    def _thread_config(self) -> fabric.Config:
        """This thread's copy of the Fabric config.

        invoke's Config is not thread-safe, and Fabric writes into the config of
        every Connection it builds (``inline_ssh_env``), which re-merges the whole
        config: shared across a tick's threads, readers saw it empty midway. The
        base config is only ever cloned, under a lock; each thread keeps its clone.
        """
        config = getattr(self._local, "config", None)
        if config is None:
            with self._config_lock:
                config = self._local.config = self._config.clone()
        return config

    # -- running ----------------------------------------------------------
    def connection(self, server: Server) -> tuple[fabric.Connection, int]:
        """A configured, unopened Connection to ``server`` and how many hops it will open."""
        config = self._thread_config()
        lookup = config.base_ssh_config.lookup(server.host)
        # A connect_kwargs dict of our own: given none, Fabric would hand out the
        # config's, and every connection's key and settings would be written into it.
        conn = fabric.Connection(
            server.host,
            user=server.user,
            port=server.port,
            config=config,
            connect_timeout=max(1, round(self.settings.connect_timeout_s)),
            connect_kwargs=self._connect_kwargs(self._identities(server, lookup)),
        )
        return conn, self._verify_host_keys(conn)

    def run(self, server: Server, command: str, timeout_s: float | None = None) -> RemoteResult:
        """Open a connection, run ``command``, close. Raises a ProbeFailure subclass.

        At most ``max_handshakes`` connections of this Transport are in their
        handshake at once (sshd's MaxStartups drops the excess), the command is
        read for at most ``timeout_s`` and ``output_cap_bytes``; a command cut
        short by the cap returns with ``cut_short="output-cap"``, one cut by the
        timeout raises CommandTimedOut carrying what arrived (``partial``).
        """
        timeout_s = timeout_s or self.settings.command_timeout_s
        started = time.perf_counter()
        try:
            conn, hops = self.connection(server)
        except KeyLoadError as e:
            raise AuthFailed(server.name, str(e)) from None
        CONNECTIONS.add(hops)
        try:
            try:
                with self._handshakes:
                    conn.open()
            except Exception as e:  # translated here, at the boundary, and only here
                raise translate_connect_error(server.name, e) from e
            try:
                stdout, stderr, status, cut_short = self._exec(conn, command, timeout_s)
            except (paramiko.SSHException, OSError, EOFError) as e:
                raise HostUnreachable(
                    server.name, f"connection lost during the command: {e}", "reset", True
                ) from e
            result = RemoteResult(
                stdout=stdout,
                stderr=stderr,
                exit_status=status,
                wall_ms=(time.perf_counter() - started) * 1000,
                connections=hops,
                cut_short=cut_short,
            )
            if cut_short == "timeout":
                timed_out = CommandTimedOut(
                    server.name, f"command did not finish within {timeout_s:g} s"
                )
                timed_out.partial = result
                raise timed_out
        except ProbeFailure as failure:
            failure.connections = hops
            raise
        finally:
            conn.close()
        return result

    def _exec(
        self, conn: fabric.Connection, command: str, timeout_s: float
    ) -> tuple[str, str, int | None, str | None]:
        """Run ``command`` on an open connection with stdin closed, reading both streams
        until it exits, the deadline passes or stdout reaches the cap."""
        deadline = time.monotonic() + timeout_s
        cap = self.settings.output_cap_bytes
        channel = conn.client.get_transport().open_session(timeout=self.settings.connect_timeout_s)
        try:
            channel.exec_command(command)
            channel.shutdown_write()
            out, err = bytearray(), bytearray()
            cut_short = None
            while True:
                if time.monotonic() > deadline:
                    cut_short = "timeout"
                    break
                if channel.recv_ready():
                    out += channel.recv(65536)
                    if len(out) > cap:
                        del out[cap:]
                        cut_short = "output-cap"
                        break
                elif channel.recv_stderr_ready():
                    data = channel.recv_stderr(65536)
                    err += data[: max(0, STDERR_CAP - len(err))]
                elif channel.eof_received or channel.closed:
                    break  # all output has arrived (the exit status may come before it)
                else:
                    select.select([channel], [], [], 0.05)
            status = None
            while cut_short is None and status is None:
                if channel.exit_status_ready():
                    status = channel.recv_exit_status()
                elif channel.closed or time.monotonic() > deadline:
                    break  # closed without an exit status (e.g. killed by a signal)
                else:
                    time.sleep(0.01)
        finally:
            channel.close()
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), status, cut_short


class _UnknownHostKey(paramiko.SSHException):
    """Raised inside paramiko's connect by our host key policy."""


def translate_connect_error(server: str, e: BaseException) -> ProbeFailure:
    """The named error for an exception raised while connecting to ``server``."""
    if isinstance(e, ProbeFailure):
        return e
    if isinstance(e, _UnknownHostKey):
        return HostKeyRejected(server, str(e))
    if isinstance(e, paramiko.BadHostKeyException):
        return HostKeyRejected(
            server,
            f"host key CHANGED: the server offered {e.key.get_name()} {e.key.fingerprint}, "
            "known_hosts has another; if the server was rebuilt, replace its known_hosts line",
        )
    if isinstance(e, paramiko.AuthenticationException):
        return AuthFailed(server, f"authentication refused: {e}")
    if isinstance(e, socket.gaierror):
        return HostUnreachable(server, f"cannot resolve host name: {e.strerror}", "dns")
    if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
        return HostUnreachable(server, f"connection refused: {e}", "refused")
    if isinstance(e, ConnectionRefusedError):
        return HostUnreachable(server, "connection refused", "refused")
    if isinstance(e, socket.timeout | TimeoutError):
        return HostUnreachable(server, "connect timed out", "timeout", transient=True)
    # A banner that never comes surfaces either as the banner error or, when the
    # transport thread gives up first, as paramiko's "No existing session".
    if isinstance(e, paramiko.SSHException) and (
        "banner" in str(e).lower() or "No existing session" in str(e)
    ):
        return HostUnreachable(
            server, f"the SSH handshake did not complete (no banner): {e}", "banner", transient=True
        )
    if isinstance(e, ConnectionResetError | EOFError | BrokenPipeError):
        return HostUnreachable(server, f"connection reset: {e}", "reset", transient=True)
    if isinstance(e, OSError):
        return HostUnreachable(server, f"network error: {e.strerror or e}", "network")
    if isinstance(e, paramiko.SSHException):
        return HostUnreachable(server, f"SSH error: {e}", "ssh")
    return HostUnreachable(server, f"{type(e).__name__}: {e}", "error")
