"""The inventory: which servers Mast watches, read from one YAML file.

```yaml
known_hosts: ~/.ssh/known_hosts      # optional
servers:
  - name: web-1
    host: 10.0.0.5
    port: 22                         # optional: ~/.ssh/config, then 22
    user: deploy                     # optional: ~/.ssh/config, then the local user
    identity_file: ~/.ssh/id_ed25519 # optional: ~/.ssh/config, then the agent
    tags: [web, prod]                # optional
    releases:                        # optional: what is deployed there
      - name: api                    # the deployment's name
        handle: api.example.com      # optional: the public name; default: the name
        unit: api.service            # how to find it: a systemd unit,
        container: api               #   a docker container name,
        port: 8080                   #   and/or a TCP port (at least one)
```

Everything is validated at load; a bad entry raises InventoryError naming it,
before anything connects or writes. Values that later reach a remote command or
an SSH connection are restricted to characters that need no quoting (and are
shlex-quoted all the same where a command is built). A release's effective
handle, ``lower(handle or name)``, must be unique across the whole fleet.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from probes.errors import InventoryError

DEFAULT_INVENTORY = "fleet.yaml"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Host names, IPv4 and IPv6 literals and ~/.ssh/config aliases: nothing a shell interprets.
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:%-]{0,252}$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,31}$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
# A public name: host-name-like (api.example.com), no shell metacharacters.
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
# systemd unit names (foo.service, getty@tty1.service); escapes such as \x2d are refused.
_UNIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,254}$")
# Docker container names, as the daemon accepts them.
_CONTAINER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _check(
    pattern: re.Pattern[str],
    what: str,
    value: str,
    allowed: str = "letters, digits and . _ - (and : % in hosts)",
) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not accepted: use {allowed}, starting with a letter or digit"
        )
    return value


class Release(BaseModel):
    """A named deployment of an application on one server, and how to find it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    handle: str | None = None
    unit: str | None = None
    container: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check(_NAME, "release name", v, "letters, digits and . _ -")

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str | None) -> str | None:
        return None if v is None else _check(_HANDLE, "handle", v, "letters, digits and . _ -")

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str | None) -> str | None:
        return None if v is None else _check(_UNIT, "unit", v, "letters, digits and . _ - @ :")

    @field_validator("container")
    @classmethod
    def _container(cls, v: str | None) -> str | None:
        return (
            None if v is None else _check(_CONTAINER, "container", v, "letters, digits and . _ -")
        )

    @model_validator(mode="after")
    def _locatable(self) -> Release:
        if self.unit is None and self.container is None and self.port is None:
            raise ValueError(
                f"release {self.name!r} says nothing about how to find it: "
                "give a unit, a container and/or a port"
            )
        return self

    @property
    def effective_handle(self) -> str:
        """The handle people reach it by, lowercased; the release name when none is given."""
        return (self.handle or self.name).lower()


class Server(BaseModel):
    """One server of the fleet, as the inventory declares it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    identity_file: str | None = None
    tags: tuple[str, ...] = ()
    releases: tuple[Release, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check(_NAME, "name", v)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        return _check(_HOST, "host", v)

    @field_validator("user")
    @classmethod
    def _user(cls, v: str | None) -> str | None:
        return None if v is None else _check(_USER, "user", v)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check(_TAG, "tag", t) for t in v)

    @field_validator("identity_file")
    @classmethod
    def _identity(cls, v: str | None) -> str | None:
        return None if v is None else os.path.expanduser(v)


class Inventory(BaseModel):
    """The whole inventory file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    known_hosts: str | None = None
    servers: tuple[Server, ...]

    @model_validator(mode="after")
    def _unique_handles(self) -> Inventory:
        problems = duplicate_handles(self.servers)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def select(
        self,
        names: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        shard: str | None = None,
    ) -> list[Server]:
        """The servers named (all when None) that carry every tag given, in ``shard``.

        Unknown names raise InventoryError listing them, so an on-demand run with
        a typo fails loudly instead of probing nothing. ``shard`` is ``"k/n"``:
        the servers whose name hashes to k of n (see ``in_shard``).
        """
        chosen = list(self.servers)
        if names:
            wanted = list(dict.fromkeys(names))
            by_name = {s.name: s for s in self.servers}
            unknown = [n for n in wanted if n not in by_name]
            if unknown:
                raise InventoryError(
                    f"unknown server name(s): {', '.join(unknown)}; "
                    f"the inventory has {', '.join(sorted(by_name)) or 'no servers'}"
                )
            chosen = [by_name[n] for n in wanted]
        if tags:
            required = set(tags)
            chosen = [s for s in chosen if required <= set(s.tags)]
        if shard:
            k, n = parse_shard(shard)
            chosen = [s for s in chosen if in_shard(s.name, k, n)]
        return chosen


def parse_shard(shard: str) -> tuple[int, int]:
    """``"k/n"`` -> (k, n), with 0 <= k < n; anything else raises InventoryError."""
    match = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
    if not match or not int(match.group(1)) < int(match.group(2)):
        raise InventoryError(f"shard {shard!r}: write k/n with 0 <= k < n, e.g. 0/2 and 1/2")
    return int(match.group(1)), int(match.group(2))


def in_shard(name: str, k: int, n: int) -> bool:
    """Whether server ``name`` belongs to shard k of n: a hash of the name that is the
    same in every process and on every machine (Python's hash() is not)."""
    return zlib.crc32(name.encode()) % n == k


def duplicate_handles(servers: Iterable[Server]) -> list[str]:
    """One message per effective release handle that is declared more than once."""
    owners: dict[str, list[str]] = {}
    for server in servers:
        for release in server.releases:
            owners.setdefault(release.effective_handle, []).append(
                f"{server.name} ({release.name})"
            )
    return [
        f"release handle {handle!r} is declared more than once: {', '.join(where)}; "
        "a handle (the handle, else the release name, lowercased) must be unique across the fleet"
        for handle, where in sorted(owners.items())
        if len(where) > 1
    ]


def inventory_path() -> Path:
    """The inventory file: $MAST_INVENTORY, else ./fleet.yaml."""
    return Path(os.environ.get("MAST_INVENTORY", DEFAULT_INVENTORY))


def load_inventory(path: str | os.PathLike[str] | None = None) -> Inventory:
    """Read and validate the inventory; raise InventoryError naming the bad entry."""
    path = Path(path) if path is not None else inventory_path()
    try:
        text = path.read_text()
    except OSError as e:
        raise InventoryError(
            f"cannot read the inventory {path}: {e.strerror}; set MAST_INVENTORY to your fleet.yaml"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InventoryError(f"{path} is not valid YAML: {e}") from None
    return parse_inventory(data, source=str(path))


def parse_inventory(data: object, source: str = "inventory") -> Inventory:
    """Validate already-loaded YAML data (a mapping with a ``servers`` list)."""
    if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
        raise InventoryError(f"{source}: expected a mapping with a 'servers' list")
    problems = []
    valid: list[Server] = []
    for i, entry in enumerate(data["servers"]):
        label = entry.get("name") if isinstance(entry, dict) else None
        label = f"server #{i + 1}" + (f" ({label!r})" if label else "")
        try:
            valid.append(Server.model_validate(entry))
        except ValidationError as e:
            for err in e.errors():
                field = ".".join(str(p) for p in err["loc"]) or "entry"
                problems.append(f"{label}: {field}: {err['msg'].removeprefix('Value error, ')}")
    names = [s.get("name") for s in data["servers"] if isinstance(s, dict)]
    for dup in sorted({n for n in names if n is not None and names.count(n) > 1}):
        problems.append(f"server name {dup!r} is used more than once; names must be unique")
    problems += duplicate_handles(valid)
    if problems:
        raise InventoryError(f"{source} has invalid entries:\n  " + "\n  ".join(problems))
    try:
        return Inventory.model_validate(data)
    except ValidationError as e:
        raise InventoryError(f"{source}: {e}") from None
