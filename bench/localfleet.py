"""A fleet of real OpenSSH servers on loopback, for tests, the demo and benchmarks.

Each "server" is one loopback port; one sshd process listens on up to 16 ports
(its limit of listen sockets), so a fleet of N servers runs ceil(N / 16) sshd
processes. Host and client keys are generated; known_hosts and an inventory
are written for the fleet. sshd logs at VERBOSE, so the connections each port
accepted can be counted on the server side.

Run as root, sshd logs in a dedicated unprivileged user (``mast``, created on
first use, with an empty ~/.bashrc since bash runs it for every SSH command);
run as anyone else, it can only log in that same user. A fleet made with
``root_login=True`` (by root only) logs in root itself, for the privileged
steps of the patch scan.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SSHD = "/usr/sbin/sshd"
PORTS_PER_SSHD = 16
FLEET_USER = "mast"
_CONNECTION_LINE = re.compile(r"Connection from \S+ port \d+ on \S+ port (\d+)")
_ACCEPTED_LINE = re.compile(r"Accepted publickey for (\S+)")


def free_ports(n: int) -> list[int]:
    """n loopback ports that were free a moment ago."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def login_user() -> str:
    """The user the fleet's sshd logs in: ``mast`` when run as root, else ourselves."""
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        home = Path(os.path.expanduser(f"~{FLEET_USER}"))
        if not home.is_absolute():
            raise KeyError(FLEET_USER)
        import pwd

        pwd.getpwnam(FLEET_USER)
    except KeyError:
        # Password '*': no password can log in, yet sshd does not treat the
        # account as locked (useradd's default '!' would refuse key logins too).
        subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/bash", "--password", "*", FLEET_USER],
            check=True,
            capture_output=True,
        )
        home = Path(os.path.expanduser(f"~{FLEET_USER}"))
    bashrc = home / ".bashrc"
    if not bashrc.exists() or bashrc.stat().st_size:
        bashrc.write_text("")
    return FLEET_USER


def keygen(path: Path, passphrase: str = "", comment: str = "mast-test") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
    )
    return path


@dataclass
class Sshd:
    """One sshd process serving several loopback ports."""

    config: Path
    log: Path
    ports: list[int]
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(self.config), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class LocalFleet:
    """``count`` servers named ``{prefix}-1``.. on loopback, started by ``start()``."""

    root: Path
    count: int = 3
    prefix: str = "srv"
    passphrase: str = ""
    max_startups: str = "200:30:400"
    force_command: str | None = None
    root_login: bool = False  # log in as root (only when run as root), for privileged probes
    sshds: list[Sshd] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.root_login and os.geteuid() != 0:
            raise RuntimeError("a root_login fleet must be started by root")
        self.user = "root" if self.root_login else login_user()
        self.client_key = self.root / "id_ed25519"
        self.known_hosts = self.root / "known_hosts"
        self.host_key = self.root / "ssh_host_ed25519_key"
        self.ports: list[int] = []

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout_s: float = 15.0) -> LocalFleet:
        if not os.path.exists(SSHD):
            raise RuntimeError(
                f"{SSHD} is missing: install openssh-server (apt-get install openssh-server)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        if not self.host_key.exists():
            keygen(self.host_key, comment="mast-fleet-host")
        if not self.client_key.exists():
            keygen(self.client_key, self.passphrase)
        # The authorized keys must be readable by the login user: keep them apart
        # from the private keys, in a directory that is only traversable.
        self.auth_dir = Path(tempfile.mkdtemp(prefix="mast-fleet-auth-"))
        self.auth_dir.chmod(0o755)
        authorized = self.auth_dir / "authorized_keys"
        shutil.copy(self.client_key.with_suffix(".pub"), authorized)
        authorized.chmod(0o644)
        self.ports = free_ports(self.count)
        for i in range(0, self.count, PORTS_PER_SSHD):
            ports = self.ports[i : i + PORTS_PER_SSHD]
            n = i // PORTS_PER_SSHD
            config = self.root / f"sshd_{n}.conf"
            config.write_text(self._sshd_config(ports, authorized))
            sshd = Sshd(config, self.root / f"sshd_{n}.log", ports)
            sshd.start()
            self.sshds.append(sshd)
        self._wait_ready(timeout_s)
        host_pub = self.host_key.with_suffix(".pub").read_text().split()
        self.known_hosts.write_text(
            "".join(f"[127.0.0.1]:{p} {host_pub[0]} {host_pub[1]}\n" for p in self.ports)
        )
        return self

    def stop(self) -> None:
        for sshd in self.sshds:
            sshd.stop()
        self.sshds.clear()
        if getattr(self, "auth_dir", None):
            shutil.rmtree(self.auth_dir, ignore_errors=True)

    def rekey(self) -> None:
        """Give every server a new host key, as a rebuilt (or impersonated) host has:
        the sshd processes restart on the same ports; known_hosts is left as it was."""
        for sshd in self.sshds:
            sshd.stop()
        for path in (self.host_key, self.host_key.with_suffix(".pub")):
            path.unlink()
        keygen(self.host_key, comment="mast-fleet-host-rekeyed")
        for sshd in self.sshds:
            sshd.start()
        self._wait_ready(15.0)

    def __enter__(self) -> LocalFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sshd_config(self, ports: list[int], authorized: Path) -> str:
        lines = [f"ListenAddress 127.0.0.1:{p}" for p in ports] + [
            f"HostKey {self.host_key}",
            "PidFile none",
            f"AuthorizedKeysFile {authorized}",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            f"AllowUsers {self.user}",
            "LogLevel VERBOSE",
            f"MaxStartups {self.max_startups}",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
        ]
        if self.force_command:
            lines.append(f"ForceCommand {self.force_command}")
        return "\n".join(lines) + "\n"

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for sshd in self.sshds:
            for port in sshd.ports:
                while True:
                    if sshd.proc.poll() is not None:
                        err = sshd.proc.stderr.read().decode(errors="replace")
                        raise RuntimeError(f"sshd ({sshd.config}) exited: {err.strip()}")
                    try:
                        with socket.create_connection(("127.0.0.1", port), 1) as s:
                            if s.recv(8).startswith(b"SSH-"):
                                break
                    except OSError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"sshd did not answer on port {port} in {timeout_s} s")
                    time.sleep(0.05)
        self._baseline = self.connections_by_port()

    # -- what the fleet looks like from outside ---------------------------
    def names(self) -> list[str]:
        return [f"{self.prefix}-{i + 1}" for i in range(self.count)]

    def server_entries(self) -> list[dict]:
        return [
            {
                "name": name,
                "host": "127.0.0.1",
                "port": port,
                "user": self.user,
                "identity_file": str(self.client_key),
                "tags": ["demo", "even" if i % 2 else "odd"],
            }
            for i, (name, port) in enumerate(zip(self.names(), self.ports, strict=True))
        ]

    def write_inventory(self, path: Path, extra_servers: list[dict] | None = None) -> Path:
        data = {
            "known_hosts": str(self.known_hosts),
            "servers": self.server_entries() + (extra_servers or []),
        }
        Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
        return Path(path)

    def connections_by_port(self) -> Counter[int]:
        """TCP connections each port accepted since start (readiness probes excluded),
        as sshd logged them."""
        seen: Counter[int] = Counter()
        for sshd in self.sshds:
            if sshd.log.exists():
                for m in _CONNECTION_LINE.finditer(sshd.log.read_text(errors="replace")):
                    seen[int(m.group(1))] += 1
        return seen - getattr(self, "_baseline", Counter())

    def logins(self) -> int:
        """Successful public-key logins across the fleet, as sshd logged them."""
        return sum(
            len(_ACCEPTED_LINE.findall(s.log.read_text(errors="replace")))
            for s in self.sshds
            if s.log.exists()
        )
