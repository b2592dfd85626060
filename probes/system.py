"""The system probe: OS, kernel, CPU, memory, filesystems, load, uptime.

It reads the kernel's own files instead of screen-scraping tools: /proc/stat
counters (the CPU rate comes from the delta between two ticks, no sleep, no
``top``), /proc/meminfo, /proc/loadavg, /proc/uptime, /etc/os-release, and
``df -P -l`` (POSIX format, local filesystems, under a remote ``timeout``
because df hangs on a dead NFS mount).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from probes.errors import ParseError
from probes.registry import Metric, SectionSpec

NAME = "system"


@dataclass(frozen=True)
class OsRelease:
    pretty_name: str | None
    id: str | None
    version_id: str | None
    fields: Mapping[str, str]


@dataclass(frozen=True)
class CpuTimes:
    """Aggregate jiffies since boot from the ``cpu`` line of /proc/stat."""

    total: int
    idle: int  # idle + iowait


@dataclass(frozen=True)
class Memory:
    total_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_free_bytes: int


@dataclass(frozen=True)
class LoadAvg:
    load1: float
    load5: float
    load15: float


@dataclass(frozen=True)
class Filesystem:
    mount: str
    device: str
    size_bytes: int
    used_bytes: int
    avail_bytes: int
    inodes_total: int | None = None
    inodes_used: int | None = None

    @property
    def used_pct(self) -> float | None:
        usable = self.used_bytes + self.avail_bytes
        return 100.0 * self.used_bytes / usable if usable else None

    @property
    def is_block_device(self) -> bool:
        return self.device.startswith("/dev/") and not self.device.startswith("/dev/loop")


@dataclass(frozen=True)
class SystemFacts:
    """Everything the system probe learnt; a field is None when its section failed."""

    os: OsRelease | None = None
    kernel: str | None = None
    cpu: CpuTimes | None = None
    memory: Memory | None = None
    load: LoadAvg | None = None
    uptime_s: float | None = None
    ncpu: int | None = None
    filesystems: tuple[Filesystem, ...] = ()

    @property
    def disk_used_pct(self) -> float | None:
        """Use of the fullest local block-device filesystem."""
        pcts = [f.used_pct for f in self.filesystems if f.is_block_device and f.size_bytes]
        pcts = [p for p in pcts if p is not None]
        return max(pcts) if pcts else None


# -- parsers: pure functions of the section's text ----------------------------


def parse_os_release(text: str) -> OsRelease:
    """Parse /etc/os-release (shell-style KEY=value lines, optionally quoted).

    Sample::

        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        NAME="Debian GNU/Linux"
        VERSION_ID="12"
        ID=debian
    """
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().lower()
        if not re.fullmatch(r"[a-z0-9_]+", key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key] = re.sub(r"\\(.)", r"\1", value)
    if not fields:
        raise ParseError("os-release has no KEY=value lines")
    return OsRelease(
        pretty_name=fields.get("pretty_name") or fields.get("name"),
        id=fields.get("id"),
        version_id=fields.get("version_id"),
        fields=fields,
    )


def parse_uname(text: str) -> str:
    """``uname -srm``, e.g. ``Linux 6.1.0-18-amd64 x86_64``; returns the release."""
    parts = text.split()
    if len(parts) < 2:
        raise ParseError(f"uname printed {text.strip()!r}, expected 'Linux <release> <arch>'")
    return parts[1]


def parse_proc_stat(text: str) -> CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat.

    Sample: ``cpu  6002 152 8398 3444436 448 0 1174 0 0 0``
    (user nice system idle iowait irq softirq steal guest guest_nice). guest
    time is already counted in user, so the total is the first eight fields.
    """
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            if len(values) < 4:
                raise ParseError(f"/proc/stat cpu line has {len(values)} fields, expected >= 4")
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            return CpuTimes(total=sum(values[:8]), idle=idle)
    raise ParseError("/proc/stat has no aggregate 'cpu ' line")


def cpu_percent(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """Busy share of the CPU between two samples, 0..100; None if not comparable."""
    if before is None or after is None:
        return None
    d_total = after.total - before.total
    d_idle = after.idle - before.idle
    if d_total <= 0 or d_idle < 0 or d_idle > d_total:  # no time passed, or a reboot
        return None
    return 100.0 * (d_total - d_idle) / d_total


def parse_meminfo(text: str) -> Memory:
    """/proc/meminfo (``MemTotal:  3997272 kB``). MemAvailable is estimated on
    kernels older than 3.14, which lack it, as MemFree + Buffers + Cached."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?\s*$", line)
        if m:
            values[m.group(1)] = int(m.group(2)) * 1024
    if "MemTotal" not in values:
        raise ParseError("/proc/meminfo has no MemTotal line")
    available = values.get("MemAvailable")
    if available is None:
        available = sum(values.get(k, 0) for k in ("MemFree", "Buffers", "Cached"))
    return Memory(
        total_bytes=values["MemTotal"],
        available_bytes=available,
        swap_total_bytes=values.get("SwapTotal", 0),
        swap_free_bytes=values.get("SwapFree", 0),
    )


def parse_loadavg(text: str) -> LoadAvg:
    """/proc/loadavg: ``0.00 0.01 0.03 2/111 2039``."""
    parts = text.split()
    try:
        return LoadAvg(float(parts[0]), float(parts[1]), float(parts[2]))
    except (IndexError, ValueError):
        raise ParseError(f"/proc/loadavg is {text.strip()!r}, expected three numbers") from None


def parse_uptime(text: str) -> float:
    """/proc/uptime: ``46901.13 46856.66`` (seconds up, seconds idle)."""
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        raise ParseError(f"/proc/uptime is {text.strip()!r}, expected a number") from None


def parse_nproc(text: str) -> int:
    """``getconf _NPROCESSORS_ONLN``: the number of online CPUs, e.g. ``8``."""
    try:
        n = int(text.strip())
    except ValueError:
        raise ParseError(f"nproc printed {text.strip()!r}, expected a number") from None
    if n < 1:
        raise ParseError(f"nproc printed {n}")
    return n


_DF_UNITS = {"1k-blocks": 1024, "1024-blocks": 1024, "512-blocks": 512, "inodes": 1}


def parse_df_table(text: str) -> tuple[int, list[dict[str, str]]]:
    """Rows of a df table as {column: value}, keyed by lowercased header names.

    Handles ``df -P`` and plain ``df`` (whose long device names wrap onto the
    next line), device names and mount points containing spaces (the mount is
    the absolute path that ends the line). Returns (block size, rows).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("Filesystem"):
        raise ParseError("df output does not start with a 'Filesystem' header")
    header = lines[0].replace("Mounted on", "Mounted_on").split()
    columns = [c.lower() for c in header[1:-1]]
    if header[-1] != "Mounted_on" or not columns:
        raise ParseError(f"df header {lines[0]!r} does not end with 'Mounted on'")
    unit = next((_DF_UNITS[c] for c in columns if c in _DF_UNITS), None)
    if unit is None:
        raise ParseError(f"df header {lines[0]!r} names no block size column")
    row = re.compile(r"^(.+?)" + r"\s+(\S+)" * len(columns) + r"\s+(/.*)$")
    rows, pending = [], ""
    for line in lines[1:]:
        m = row.match(pending + line)
        if m is None and not pending and len(line.split()) == 1:
            pending = line.strip() + " "  # wrapped device name
            continue
        if m is None:
            raise ParseError(f"df line {line!r} does not match its header")
        pending = ""
        values = dict(zip(columns, m.groups()[1:-1], strict=True))
        values["filesystem"], values["mounted_on"] = m.group(1), m.group(len(columns) + 2)
        rows.append(values)
    return unit, rows


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def parse_df(text: str) -> tuple[Filesystem, ...]:
    """``df -P -l -k``: bytes of each local filesystem.

    Sample::

        Filesystem     1024-blocks    Used Available Capacity Mounted on
        /dev/sda2         20508240 5748028  13695408      30% /
    """
    unit, rows = parse_df_table(text)
    size_col = next(c for c in rows[0] if c in _DF_UNITS) if rows else None
    out = []
    for r in rows:
        size, used, avail = _int(r[size_col]), _int(r.get("used", "")), _int(r.get("available", ""))
        if size is None or used is None or avail is None:
            raise ParseError(f"df row for {r['mounted_on']} has non-numeric sizes")
        out.append(
            Filesystem(r["mounted_on"], r["filesystem"], size * unit, used * unit, avail * unit)
        )
    return tuple(out)


def parse_df_inodes(text: str) -> dict[str, tuple[int | None, int | None]]:
    """``df -P -l -i``: {mount: (inodes, inodes used)}; ``-`` (no inodes) is None.

    Sample::

        Filesystem      Inodes  IUsed   IFree IUse% Mounted on
        /dev/sda2      1310720 250193 1060527   20% /
    """
    _, rows = parse_df_table(text)
    return {r["mounted_on"]: (_int(r.get("inodes", "")), _int(r.get("iused", ""))) for r in rows}


SECTIONS: Mapping[str, SectionSpec] = {
    "os_release": SectionSpec(
        "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release", parse_os_release
    ),
    "uname": SectionSpec("uname -srm", parse_uname),
    "stat": SectionSpec("head -n 1 /proc/stat", parse_proc_stat),
    "meminfo": SectionSpec("cat /proc/meminfo", parse_meminfo),
    "loadavg": SectionSpec("cat /proc/loadavg", parse_loadavg),
    "uptime": SectionSpec("cat /proc/uptime", parse_uptime),
    # The machine's online CPUs; plain nproc would report the login's CPU affinity.
    "nproc": SectionSpec("getconf _NPROCESSORS_ONLN 2>/dev/null || nproc --all", parse_nproc),
    "df": SectionSpec("timeout 10 df -P -l -k", parse_df),
    "df_inodes": SectionSpec("timeout 10 df -P -l -i", parse_df_inodes),
}


def assemble(parsed: Mapping[str, object]) -> SystemFacts:
    """Combine the parsed sections that succeeded into one SystemFacts."""
    inodes = parsed.get("df_inodes") or {}
    filesystems = tuple(
        Filesystem(
            f.mount,
            f.device,
            f.size_bytes,
            f.used_bytes,
            f.avail_bytes,
            *inodes.get(f.mount, (None, None)),
        )
        for f in parsed.get("df", ())
    )
    return SystemFacts(
        os=parsed.get("os_release"),
        kernel=parsed.get("uname"),
        cpu=parsed.get("stat"),
        memory=parsed.get("meminfo"),
        load=parsed.get("loadavg"),
        uptime_s=parsed.get("uptime"),
        ncpu=parsed.get("nproc"),
        filesystems=filesystems,
    )


METRICS: Mapping[str, Metric] = {
    "cpu_pct": Metric("CPU busy", "%", "Share of CPU time not idle since the previous tick"),
    "mem_used_pct": Metric("Memory used", "%", "100 - MemAvailable / MemTotal"),
    "mem_available_bytes": Metric("Memory available", "bytes", "MemAvailable from /proc/meminfo"),
    "swap_used_pct": Metric("Swap used", "%", "Share of swap in use"),
    "load1": Metric("Load (1 min)", "", "1-minute load average"),
    "load5": Metric("Load (5 min)", "", "5-minute load average"),
    "load15": Metric("Load (15 min)", "", "15-minute load average"),
    "disk_used_pct": Metric("Disk used", "%", "Use of the fullest local block-device filesystem"),
}


def metric_values(facts: SystemFacts, cpu_pct: float | None) -> dict[str, float]:
    """The sampled metrics of one probe run (names as in METRICS); missing ones left out."""
    values: dict[str, float | None] = {"cpu_pct": cpu_pct, "disk_used_pct": facts.disk_used_pct}
    if facts.memory is not None:
        m = facts.memory
        values["mem_available_bytes"] = float(m.available_bytes)
        values["mem_used_pct"] = (
            100.0 * (1 - m.available_bytes / m.total_bytes) if m.total_bytes else None
        )
        values["swap_used_pct"] = (
            100.0 * (1 - m.swap_free_bytes / m.swap_total_bytes) if m.swap_total_bytes else None
        )
    if facts.load is not None:
        values.update(load1=facts.load.load1, load5=facts.load.load5, load15=facts.load.load15)
    return {k: v for k, v in values.items() if v is not None}
