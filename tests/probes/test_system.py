"""Parsers of the system probe, over real output captured from real systems."""

from __future__ import annotations

import json

import pytest

from probes import system
from probes.collect import parse_sections
from probes.errors import ParseError
from probes.script import Section
from probes.system import CpuTimes, cpu_percent
from tests.corpora import CORPORA

OS_RELEASES = sorted((CORPORA / "os-release").glob("*.os-release"))
DF_OUTPUTS = sorted((CORPORA / "commands").glob("*/df.out")) + [
    CORPORA / "commands/generic/df-long-filesystem.out"
]


# The reference reading of these fixtures was taken from another file of the same
# system (Ubuntu's /usr/lib/os-release under KDE neon), so it cannot match this text.
REFERENCE_OF_ANOTHER_FILE = {"kde_neon_16.04"}


def test_corpora_are_there(corpora):
    assert len(OS_RELEASES) >= 50
    assert len(DF_OUTPUTS) >= 5


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in OS_RELEASES])
def test_os_release_matches_the_reference_reading(path):
    expected = json.loads(path.with_suffix(".expected.json").read_text())["os_release_info"]
    text = path.read_text()
    try:
        got = system.parse_os_release(text)
    except ParseError:
        assert "=" not in text, "only a file with no KEY=value line may fail"
        return
    if path.stem in REFERENCE_OF_ANOTHER_FILE:
        expected = {}
        assert f'PRETTY_NAME="{got.pretty_name}"' in text
    for key, value in expected.items():
        if key in got.fields:
            assert got.fields[key] == value, key
    if "pretty_name" in got.fields:
        assert got.pretty_name == got.fields["pretty_name"]
    assert got.pretty_name  # PRETTY_NAME, else NAME: every real file has one


def test_os_release_fallback_and_escapes():
    got = system.parse_os_release('NAME="Foo \\"OS\\""\n# comment\nID=foo\n\nVERSION_ID=\'1.2\'\n')
    assert got.pretty_name == 'Foo "OS"'
    assert (got.id, got.version_id) == ("foo", "1.2")


def test_meminfo(corpora):
    mem = system.parse_meminfo((corpora / "commands/linux-proc/meminfo").read_text())
    assert mem.total_bytes == 3997272 * 1024
    assert mem.available_bytes == 3386876 * 1024


def test_meminfo_without_memavailable_estimates_it():
    mem = system.parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 5 kB\n")
    assert mem.available_bytes == 115 * 1024 and mem.swap_total_bytes == 0


@pytest.mark.parametrize("name", ["stat", "stat2"])
def test_proc_stat(corpora, name):
    text = (corpora / "commands/linux-proc" / name).read_text()
    first = text.splitlines()[0].split()[1:]
    cpu = system.parse_proc_stat(text)
    assert cpu.total == sum(int(v) for v in first[:8])
    assert cpu.idle == int(first[3]) + int(first[4])


def test_cpu_percent_is_the_rate_between_two_samples():
    assert cpu_percent(CpuTimes(1000, 900), CpuTimes(1200, 1050)) == pytest.approx(25.0)
    assert cpu_percent(None, CpuTimes(1, 1)) is None
    assert cpu_percent(CpuTimes(5000, 4000), CpuTimes(100, 90)) is None  # rebooted
    assert cpu_percent(CpuTimes(100, 90), CpuTimes(100, 90)) is None  # no time passed


def test_loadavg_and_uptime(corpora):
    load = system.parse_loadavg((corpora / "commands/linux-proc/loadavg").read_text())
    assert (load.load1, load.load5, load.load15) == (0.0, 0.01, 0.03)
    assert system.parse_uptime((corpora / "commands/linux-proc/uptime").read_text()) == 46901.13


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.parent.name + "-" + p.stem) for p in DF_OUTPUTS]
)
def test_df_against_the_reference_reading(path):
    reference = json.loads(path.with_suffix(".json").read_text())
    filesystems = system.parse_df(path.read_text())
    assert [f.mount for f in filesystems] == [r["mounted_on"] for r in reference]
    for fs, ref in zip(filesystems, reference, strict=True):
        assert fs.device == ref["filesystem"]
        used = ref.get("used")
        if used is not None:
            unit = 512 if "512_blocks" in ref else 1024
            assert fs.used_bytes == used * unit


def test_df_posix_with_inodes_merges_by_mount():
    df = (
        "Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
        "/dev/sda2         20508240 5748028  13695408      30% /\n"
        "/dev/sdb1             1000     900       100      90% /srv/my data\n"
        "tmpfs                 5120       0      5120       0% /run/lock\n"
    )
    inodes = (
        "Filesystem      Inodes  IUsed   IFree IUse% Mounted on\n"
        "/dev/sda2      1310720 250193 1060527   20% /\n"
        "/dev/sdb1            -      -       -     - /srv/my data\n"
    )
    facts = system.assemble(
        {"df": system.parse_df(df), "df_inodes": system.parse_df_inodes(inodes)}
    )
    by_mount = {f.mount: f for f in facts.filesystems}
    assert by_mount["/"].inodes_total == 1310720 and by_mount["/"].inodes_used == 250193
    assert by_mount["/srv/my data"].inodes_total is None
    assert by_mount["/srv/my data"].size_bytes == 1000 * 1024
    assert facts.disk_used_pct == pytest.approx(90.0)  # the fullest block device


@pytest.mark.parametrize(
    "section, text",
    [
        pytest.param("meminfo", "garbage\n", id="meminfo-garbage"),
        pytest.param("stat", "intr 1 2 3\n", id="stat-no-cpu"),
        pytest.param("loadavg", "", id="loadavg-empty"),
        pytest.param("df", "Filesystem 1K-blocks Used\nnonsense", id="df-bad-header"),
        pytest.param(
            "df",
            "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/x a b c d% /\n",
            id="df-text-sizes",
        ),
        pytest.param("nproc", "many\n", id="nproc-word"),
        pytest.param("os_release", "\x00\x01binary", id="os-release-binary"),
    ],
)
def test_malformed_sections_are_recorded_not_raised(section, text):
    sections = {f"system.{name}": Section(0, "") for name in system.SECTIONS}
    sections["system.loadavg"] = Section(0, "0.5 0.4 0.3 1/100 42\n")
    sections[f"system.{section}"] = Section(0, text)
    facts, errors = parse_sections([system], sections)
    assert f"system.{section}" in errors
    assert "parse error" in errors[f"system.{section}"]
    if section != "loadavg":  # a good section next to a bad one still lands
        assert facts["system"].load.load1 == 0.5


def test_failed_and_missing_sections_are_per_section_errors():
    sections = {
        "system.nproc": Section(0, "4\n"),
        "system.uptime": Section(2, "", "No such file\n"),
    }
    facts, errors = parse_sections([system], sections)
    assert facts["system"].ncpu == 4
    assert errors["system.uptime"].startswith("exit 2: No such file")
    assert errors["system.meminfo"].startswith("missing")
