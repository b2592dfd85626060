"""The packages probe (the patch scan): what upgrades are pending, which are security fixes.

One command per server does everything, in order: detect the package manager;
refresh the package lists (``apt-get update``, ``dnf makecache``) under a remote
``timeout``, as root or through ``sudo -n`` (which never prompts: a refused
sudo reports ``needs-sudo`` and the scan goes on with the lists the server
has); list the upgradable packages (``apt list --upgradable``, ``dnf
check-update`` and ``dnf updateinfo list --security``); read whether a reboot
is required; and how old the package lists are.

Security updates, on apt, are those whose candidate comes from a suite ending
in ``-security`` (``bookworm-security``, ``jammy-security``), the way
unattended-upgrades and Nagios' check_apt classify them; on dnf and yum, those
``updateinfo`` lists as security advisories. A server with another manager
(zypper, apk, pacman) reports ``unsupported: <manager>``, not an error.

Sections run under ``LC_ALL=C`` (probes/script.py), so the tools print their
untranslated formats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from probes.errors import ParseError
from probes.registry import ProbeContext, SectionSpec

NAME = "packages"

SUPPORTED = ("apt", "dnf", "yum")
KNOWN_MANAGERS = ("apt-get", "dnf", "yum", "zypper", "apk", "pacman")
REFRESH_STATUSES = ("ok", "needs-sudo", "failed", "timeout", "skipped", "unsupported")


@dataclass(frozen=True)
class Upgradable:
    """One package with a newer candidate version."""

    name: str
    architecture: str
    current_version: str | None  # None where the tool does not say (dnf check-update)
    candidate_version: str
    origin: str  # apt: the suites, comma-separated; dnf: the repository
    security: bool


@dataclass(frozen=True)
class Refresh:
    """How the refresh of the package lists went."""

    status: str  # one of REFRESH_STATUSES
    at_epoch: int | None  # the server's clock when it ended
    detail: str = ""


@dataclass(frozen=True)
class ListsAge:
    """The server's clock and the newest mtime among the package lists' stamps."""

    now_epoch: int
    updated_epoch: int | None
    source: str | None  # the file that gave updated_epoch


@dataclass(frozen=True)
class RebootState:
    required: bool | None  # None: the server cannot tell
    packages: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class PackageFacts:
    """Everything the patch scan learnt of one server; None where a section failed."""

    manager: str | None = None  # apt, dnf, yum, zypper, apk, pacman, or none
    note: str | None = None  # "unsupported: zypper"
    refresh: Refresh | None = None
    upgradable: tuple[Upgradable, ...] | None = None
    reboot: RebootState | None = None
    lists_age_s: float | None = None
    lists_source: str | None = None

    @property
    def supported(self) -> bool:
        return self.manager in SUPPORTED

    @property
    def security_count(self) -> int | None:
        return None if self.upgradable is None else sum(u.security for u in self.upgradable)


# -- parsers: pure functions of the section's text ----------------------------


def parse_manager(text: str) -> str:
    """The first package manager found on the PATH: ``apt-get`` (reported as
    ``apt``), ``dnf``, ``yum``, ``zypper``, ``apk``, ``pacman``, or ``none``."""
    word = text.strip()
    if word == "apt-get":
        return "apt"
    if word in KNOWN_MANAGERS or word == "none":
        return word
    raise ParseError(f"package manager {word[:80]!r} is none of {', '.join(KNOWN_MANAGERS)}")


def parse_refresh(text: str) -> Refresh:
    """The refresh step's report: ``<status> <epoch>`` then detail lines.

    Sample::

        needs-sudo 1717000000
        passwordless sudo is refused for: apt-get update
    """
    first, _, rest = text.strip().partition("\n")
    parts = first.split()
    if not parts or parts[0] not in REFRESH_STATUSES:
        raise ParseError(f"refresh report {first[:80]!r} names no known status")
    epoch = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return Refresh(parts[0], epoch, rest.strip())


_APT_LINE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9+.\-]*)(?::[a-z0-9\-]+)?/(?P<suites>\S+)"
    r" (?P<candidate>\S+) (?P<arch>\S+) \[upgradable from: (?P<current>[^\]\s]+)\]$"
)


def is_security_origin(suites: str) -> bool:
    """True when one of the comma-separated suites ends in ``-security``."""
    return any(s.endswith("-security") for s in suites.split(","))


def parse_apt_upgradable(text: str) -> tuple[Upgradable, ...]:
    """``apt list --upgradable`` (C locale). Versions may carry an epoch (``1:``),
    the origin may list several suites.

    Sample::

        Listing...
        openssl/bookworm-updates,bookworm-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.11-1~deb12u2]
        libcap2/oldstable 1:2.66-4+deb12u3+b1 amd64 [upgradable from: 1:2.66-4+deb12u2+b2]
    """  # noqa: E501 (a real line)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("Listing..."):
            continue
        m = _APT_LINE.match(line)
        if m is None:
            raise ParseError(
                f"apt list line {line[:200]!r} is not 'name/suites version arch [...]'"
            )
        out.append(
            Upgradable(
                name=m["name"],
                architecture=m["arch"],
                current_version=m["current"],
                candidate_version=m["candidate"],
                origin=m["suites"],
                security=is_security_origin(m["suites"]),
            )
        )
    return tuple(out)


def parse_dnf_check_update(text: str) -> tuple[Upgradable, ...]:
    """``dnf -q check-update`` (or yum's): ``name.arch  [epoch:]version-release  repo``.

    A name too long for its column wraps the rest onto the next line; the
    ``Obsoleting Packages`` part that may follow is not an upgrade list. The
    installed version is not printed, so ``current_version`` is None; the
    security flag comes from ``updateinfo`` (see ``with_security``).

    Sample::

        kernel.x86_64                    6.5.6-300.fc39               updates
        openssl-libs.x86_64              1:3.1.1-4.fc39               updates
        python3-a-very-long-package-name.noarch
                                         1.2.3-1.fc39                 updates
    """
    out = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("Last metadata expiration check"):
            continue
        if line.startswith("Obsoleting Packages"):
            break
        parts = (pending + line).split()
        if len(parts) == 1 and not pending:
            pending = line + " "
            continue
        pending = ""
        if len(parts) != 3 or "." not in parts[0]:
            raise ParseError(f"dnf check-update line {raw[:200]!r} is not 'name.arch version repo'")
        name, _, arch = parts[0].rpartition(".")
        out.append(Upgradable(name, arch, None, parts[1], parts[2], False))
    if pending:
        raise ParseError(f"dnf check-update ends inside a wrapped line: {pending.strip()!r}")
    return tuple(out)


def _nevra_name_arch(nevra: str) -> tuple[str, str]:
    """``openssl-libs-1:3.1.1-4.fc39.x86_64`` -> (``openssl-libs``, ``x86_64``)."""
    rest, dot, arch = nevra.rpartition(".")
    parts = rest.rsplit("-", 2)
    if not dot or len(parts) != 3 or not parts[0]:
        raise ParseError(f"{nevra!r} is not name-[epoch:]version-release.arch")
    return parts[0], arch


def parse_dnf_security(text: str) -> frozenset[tuple[str, str]]:
    """``dnf -q updateinfo list --security``: the (name, arch) of packages that
    security advisories fix.

    Sample::

        FEDORA-2023-7a4ec4eb5b Important/Sec.  openssl-libs-1:3.1.1-4.fc39.x86_64
        RHSA-2024:0310         Moderate/Sec.   kernel-5.14.0-362.18.1.el9_3.x86_64
    """
    found = set()
    for line in text.splitlines():
        parts = line.split()
        if not parts or line.startswith("Last metadata expiration check"):
            continue
        if len(parts) != 3 or ("/Sec." not in parts[1] and parts[1] != "security"):
            raise ParseError(f"updateinfo line {line[:200]!r} is not 'advisory type package'")
        found.add(_nevra_name_arch(parts[2]))
    return frozenset(found)


def with_security(
    updates: tuple[Upgradable, ...], security: frozenset[tuple[str, str]]
) -> tuple[Upgradable, ...]:
    """dnf's update list with the security flags that updateinfo gives."""
    return tuple(
        Upgradable(
            u.name,
            u.architecture,
            u.current_version,
            u.candidate_version,
            u.origin,
            (u.name, u.architecture) in security,
        )
        for u in updates
    )


def parse_reboot(text: str) -> RebootState:
    """``required`` (then the packages of /var/run/reboot-required.pkgs, one a
    line), ``not-required``, or ``unknown <why>``.

    Sample::

        required
        linux-image-6.1.0-18-amd64
        libc6
    """
    first, _, rest = text.strip().partition("\n")
    word, _, why = first.strip().partition(" ")
    if word == "required":
        pkgs = tuple(dict.fromkeys(p.strip() for p in rest.splitlines() if p.strip()))
        return RebootState(True, pkgs)
    if word == "not-required":
        return RebootState(False)
    if word == "unknown":
        return RebootState(None, detail=why.strip())
    raise ParseError(f"reboot report {first[:80]!r} is none of required/not-required/unknown")


def parse_lists_age(text: str) -> ListsAge:
    """``now <epoch>`` then ``<epoch> <path>`` for each stamp that exists.

    Sample::

        now 1717000000
        1716990000 /var/lib/apt/lists
        1716999000 /var/lib/apt/periodic/update-success-stamp
    """
    lines = [ln.split(maxsplit=1) for ln in text.strip().splitlines() if ln.strip()]
    if not lines or len(lines[0]) != 2 or lines[0][0] != "now" or not lines[0][1].isdigit():
        raise ParseError(f"lists report starts with {text[:80]!r}, expected 'now <epoch>'")
    stamps = []
    for parts in lines[1:]:
        if len(parts) != 2 or not parts[0].isdigit():
            raise ParseError(f"lists report line {' '.join(parts)!r} is not '<epoch> <path>'")
        stamps.append((int(parts[0]), parts[1]))
    newest = max(stamps, default=(None, None))
    return ListsAge(int(lines[0][1]), newest[0], newest[1])


# -- the commands ------------------------------------------------------------

_MANAGER = (
    f"for m in {' '.join(KNOWN_MANAGERS)}; do"
    ' if command -v "$m" >/dev/null 2>&1; then echo "$m"; exit 0; fi; done; echo none'
)


_REFRESH = """\
if command -v apt-get >/dev/null 2>&1; then C="apt-get update"
elif command -v dnf >/dev/null 2>&1; then C="dnf -q makecache"
elif command -v yum >/dev/null 2>&1; then C="yum -q makecache"
else echo "unsupported $(date +%s)"; exit 0; fi
if [ "$(id -u)" = 0 ]; then S=""
elif ! command -v sudo >/dev/null 2>&1; then
  echo "needs-sudo $(date +%s)"
  echo "the login user is not root and sudo is not installed"; exit 0
elif sudo -n true 2>/dev/null || sudo -n -l $C >/dev/null 2>&1; then S="sudo -n"
else
  echo "needs-sudo $(date +%s)"
  echo "passwordless sudo is refused for: $C"; exit 0
fi
o=$(timeout -k 5 @TIMEOUT@ $S $C 2>&1 >/dev/null); rc=$?
case $rc in
  0) echo "ok $(date +%s)";;
  124|137) echo "timeout $(date +%s)"; echo "$C did not finish within @TIMEOUT@ s";;
  *) echo "failed $(date +%s)"; echo "$C exited with status $rc";;
esac
[ -n "$o" ] && printf '%s\\n' "$o" | tail -n 5
exit 0"""


def _refresh_command(timeout_s: int) -> str:
    """Refresh as root, else through ``sudo -n`` when sudo allows it, bounded by ``timeout``.

    ``timeout`` wraps sudo (not the reverse) so that a sudoers rule for the plain
    ``apt-get update`` matches; its stdout is dropped, its stderr's tail kept.
    """
    return _REFRESH.replace("@TIMEOUT@", str(max(1, int(timeout_s))))


_SKIPPED = 'echo "skipped $(date +%s)"'

# apt warns on stderr that its CLI is not stable; the C-locale format is what we read.
_APT_UPGRADABLE = """\
command -v apt-get >/dev/null 2>&1 || exit 0
timeout 60 apt list --upgradable"""

# dnf check-update exits 100 when updates are available, 0 when there are none.
_DNF_UPDATES = """\
command -v apt-get >/dev/null 2>&1 && exit 0
if command -v dnf >/dev/null 2>&1; then D=dnf
elif command -v yum >/dev/null 2>&1; then D=yum
else exit 0; fi
timeout 120 $D -q -C check-update; rc=$?
[ "$rc" = 100 ] && exit 0
exit $rc"""

_DNF_SECURITY = """\
command -v apt-get >/dev/null 2>&1 && exit 0
if command -v dnf >/dev/null 2>&1; then timeout 120 dnf -q -C updateinfo list --security
elif command -v yum >/dev/null 2>&1; then timeout 120 yum -q -C updateinfo list security
fi"""

_REBOOT = """\
if [ -e /var/run/reboot-required ]; then
  echo required; cat /var/run/reboot-required.pkgs 2>/dev/null
elif command -v needs-restarting >/dev/null 2>&1; then
  timeout 30 needs-restarting -r >/dev/null 2>&1; rc=$?
  case $rc in
    0) echo not-required;;
    1) echo required;;
    *) echo "unknown needs-restarting exited with status $rc";;
  esac
elif command -v apt-get >/dev/null 2>&1; then echo not-required
else echo 'unknown no /var/run/reboot-required and no needs-restarting'
fi
exit 0"""

# Ansible's apt module reads the same stamps: apt's update-success-stamp when the
# periodic job keeps it, else the mtime of the lists directory.
_LISTS = """\
echo "now $(date +%s)"
for f in /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists \\
    /var/cache/apt/pkgcache.bin /var/cache/dnf /var/cache/yum; do
  [ -e "$f" ] && echo "$(stat -c %Y "$f") $f"
done
exit 0"""


def sections(context: ProbeContext) -> Mapping[str, SectionSpec]:
    options = context.options
    refresh = _refresh_command(options.refresh_timeout_s) if options.refresh_packages else _SKIPPED
    return {
        "manager": SectionSpec(_MANAGER, parse_manager),
        "refresh": SectionSpec(refresh, parse_refresh),
        "apt_upgradable": SectionSpec(_APT_UPGRADABLE, parse_apt_upgradable),
        "dnf_updates": SectionSpec(_DNF_UPDATES, parse_dnf_check_update),
        "dnf_security": SectionSpec(_DNF_SECURITY, parse_dnf_security),
        "reboot": SectionSpec(_REBOOT, parse_reboot),
        "lists": SectionSpec(_LISTS, parse_lists_age),
    }


# -- assembly ------------------------------------------------------------------


def assemble(parsed: Mapping[str, object], context: ProbeContext) -> PackageFacts:
    """Combine the sections that parsed; an unsupported manager is a note, not an error."""
    manager = parsed.get("manager")
    refresh: Refresh | None = parsed.get("refresh")
    note = None
    upgradable = None
    if manager == "none":
        note = "unsupported: no package manager found (" + ", ".join(KNOWN_MANAGERS) + ")"
    elif manager is not None and manager not in SUPPORTED:
        note = f"unsupported: {manager}"
    elif manager == "apt":
        upgradable = parsed.get("apt_upgradable")
    elif manager in ("dnf", "yum") and "dnf_updates" in parsed:
        upgradable = with_security(parsed["dnf_updates"], parsed.get("dnf_security", frozenset()))

    lists: ListsAge | None = parsed.get("lists")
    age = source = None
    if lists is not None:
        if refresh is not None and refresh.status == "ok" and refresh.at_epoch is not None:
            age, source = max(0, lists.now_epoch - refresh.at_epoch), "refresh"
        elif lists.updated_epoch is not None:
            age, source = max(0, lists.now_epoch - lists.updated_epoch), lists.source
    return PackageFacts(
        manager=manager,
        note=note,
        refresh=refresh,
        upgradable=upgradable,
        reboot=parsed.get("reboot"),
        lists_age_s=None if age is None else float(age),
        lists_source=source,
    )
