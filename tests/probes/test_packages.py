"""The packages probe: parsers over captured output, assembly, and the real fleet's apt."""

from __future__ import annotations

import subprocess

import pytest

from probes import PATCH_PROBES, packages
from probes.collect import parse_sections, probe_server
from probes.errors import ParseError
from probes.inventory import Server
from probes.packages import (
    ListsAge,
    RebootState,
    Refresh,
    Upgradable,
    is_security_origin,
    parse_apt_upgradable,
    parse_dnf_check_update,
    parse_dnf_security,
    parse_lists_age,
    parse_manager,
    parse_reboot,
    parse_refresh,
    with_security,
)
from probes.registry import ProbeContext, ProbeOptions
from probes.script import Section
from probes.ssh import SshSettings, Transport

APT = """Listing...
openssl/bookworm-updates,bookworm-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.11-1~deb12u2]
base-files/oldstable 12.4+deb12u15 amd64 [upgradable from: 12.4+deb12u11]
libcap2/oldstable 1:2.66-4+deb12u3+b1 amd64 [upgradable from: 1:2.66-4+deb12u2+b2]
libnss3-dev/oldstable-security 2:3.87.1-1+deb12u4 amd64 [upgradable from: 2:3.87.1-1+deb12u2]
krb5-locales/oldstable,oldstable-security 1.20.1-2+deb12u5 all [upgradable from: 1.20.1-2+deb12u3]
libssl3/jammy-updates,jammy-security 3.0.2-0ubuntu1.15 amd64 [upgradable from: 3.0.2-0ubuntu1.14]
libstdc++6/noble-updates 14.2.0-4ubuntu2~24.04 amd64 [upgradable from: 14-20240412-0ubuntu1]
libc6:i386/bookworm-security 2.36-9+deb12u9 i386 [upgradable from: 2.36-9+deb12u7]
"""  # noqa: E501 (real lines)


def test_apt_list_upgradable():
    got = {u.name + "/" + u.architecture: u for u in parse_apt_upgradable(APT)}
    assert got["openssl/amd64"] == Upgradable(
        "openssl",
        "amd64",
        "3.0.11-1~deb12u2",
        "3.0.15-1~deb12u1",
        "bookworm-updates,bookworm-security",
        True,
    )
    assert got["base-files/amd64"].security is False
    libcap = got["libcap2/amd64"]  # epochs stay in both versions
    assert (libcap.current_version, libcap.candidate_version, libcap.security) == (
        "1:2.66-4+deb12u2+b2",
        "1:2.66-4+deb12u3+b1",
        False,
    )
    assert got["libnss3-dev/amd64"].candidate_version == "2:3.87.1-1+deb12u4"
    assert got["libnss3-dev/amd64"].security is True
    assert got["krb5-locales/all"].security is True
    assert got["libssl3/amd64"].security is True
    assert got["libstdc++6/amd64"].security is False
    assert got["libc6/i386"].origin == "bookworm-security"
    assert len(got) == 8


@pytest.mark.parametrize(
    "suites, security",
    [
        ("bookworm-security", True),
        ("bookworm-updates,bookworm-security", True),
        ("oldstable-security", True),
        ("bookworm-updates", False),
        ("stable", False),
        ("security-tools", False),  # the suite must END in -security
    ],
)
def test_security_is_a_suite_ending_in_security(suites, security):
    assert is_security_origin(suites) is security


def test_nothing_upgradable_and_noise_lines():
    assert parse_apt_upgradable("Listing... Done\n") == ()
    assert parse_apt_upgradable("") == ()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("openssl 3.0.15 amd64\n", id="no-suite"),
        pytest.param("openssl/stable 3.0.15 amd64\n", id="no-upgradable-from"),
        pytest.param("E: something went wrong\n", id="error-line"),
    ],
)
def test_a_line_apt_list_never_prints_is_a_parse_error(text):
    with pytest.raises(ParseError, match="apt list line"):
        parse_apt_upgradable(text)


DNF = """
kernel.x86_64                          6.5.6-300.fc39                     updates
openssl-libs.x86_64                    1:3.1.1-4.fc39                     updates
python3-a-very-long-package-name-indeed.noarch
                                       1.2.3-1.fc39                       updates-testing
Obsoleting Packages
grub2-tools.x86_64                     1:2.06-100.fc39                    updates
    grub2-tools.x86_64                 1:2.06-95.fc39                     @updates
"""

DNF_SECURITY = """FEDORA-2023-7a4ec4eb5b Important/Sec.  openssl-libs-1:3.1.1-4.fc39.x86_64
FEDORA-2023-1b2c3d4e5f Moderate/Sec.   kernel-6.5.6-300.fc39.x86_64
"""


def test_dnf_check_update_with_updateinfo_security():
    updates = parse_dnf_check_update(DNF)
    assert [(u.name, u.architecture, u.candidate_version, u.origin) for u in updates] == [
        ("kernel", "x86_64", "6.5.6-300.fc39", "updates"),
        ("openssl-libs", "x86_64", "1:3.1.1-4.fc39", "updates"),
        ("python3-a-very-long-package-name-indeed", "noarch", "1.2.3-1.fc39", "updates-testing"),
    ]
    assert all(u.current_version is None for u in updates)
    security = parse_dnf_security(DNF_SECURITY)
    assert security == {("openssl-libs", "x86_64"), ("kernel", "x86_64")}
    flagged = {u.name: u.security for u in with_security(updates, security)}
    assert flagged == {
        "kernel": True,
        "openssl-libs": True,
        "python3-a-very-long-package-name-indeed": False,
    }


@pytest.mark.parametrize(
    "parse, text, message",
    [
        pytest.param(parse_dnf_check_update, "kernel 6.5 updates\n", "not 'name.arch", id="arch"),
        pytest.param(parse_dnf_check_update, "kernel.x86_64\n", "ends inside a wrapped line"),
        pytest.param(parse_dnf_security, "FEDORA-1 bugfix kernel-1-1.x86_64\n", "advisory type"),
        pytest.param(parse_dnf_security, "FEDORA-1 Important/Sec. kernel\n", "is not name-"),
        pytest.param(parse_manager, "emerge\n", "is none of"),
        pytest.param(parse_refresh, "maybe 123\n", "names no known status"),
        pytest.param(parse_reboot, "perhaps\n", "none of required"),
        pytest.param(parse_lists_age, "1716990000 /var/lib/apt/lists\n", "expected 'now"),
        pytest.param(parse_lists_age, "now 1\nyesterday /x\n", "is not '<epoch> <path>'"),
    ],
)
def test_malformed_output_is_a_parse_error(parse, text, message):
    with pytest.raises(ParseError, match=message):
        parse(text)


def test_small_reports():
    assert parse_manager("apt-get\n") == "apt"
    assert parse_manager("zypper\n") == "zypper"
    assert parse_refresh(
        "needs-sudo 1717000000\npasswordless sudo is refused for: apt-get update\n"
    ) == Refresh("needs-sudo", 1717000000, "passwordless sudo is refused for: apt-get update")
    assert parse_refresh("ok 5\n") == Refresh("ok", 5, "")
    assert parse_reboot("required\nlinux-image-6.1.0-18-amd64\nlibc6\nlibc6\n") == RebootState(
        True, ("linux-image-6.1.0-18-amd64", "libc6")
    )
    assert parse_reboot("not-required\n") == RebootState(False)
    assert parse_reboot("unknown needs-restarting exited with status 2\n") == RebootState(
        None, detail="needs-restarting exited with status 2"
    )
    assert parse_lists_age(
        "now 1717000000\n1716990000 /var/lib/apt/lists\n1716999000 /var/lib/apt/periodic/x\n"
    ) == ListsAge(1717000000, 1716999000, "/var/lib/apt/periodic/x")
    assert parse_lists_age("now 1717000000\n") == ListsAge(1717000000, None, None)


CONTEXT = ProbeContext(Server(name="a", host="h"))


def facts_of(texts: dict[str, str]):
    facts, errors = parse_sections(
        [packages], {f"packages.{k}": Section(0, v) for k, v in texts.items()}, CONTEXT
    )
    return facts["packages"], errors


def test_assembly_apt_and_lists_age():
    common = {"apt_upgradable": APT, "dnf_updates": "", "dnf_security": "", "reboot": "required\n"}
    lists = "now 1000\n400 /var/lib/apt/lists\n"
    refreshed, errors = facts_of(
        {"manager": "apt-get\n", "refresh": "ok 990\n", "lists": lists} | common
    )
    assert errors == {}
    assert (refreshed.manager, refreshed.note, refreshed.supported) == ("apt", None, True)
    assert len(refreshed.upgradable) == 8 and refreshed.security_count == 5
    assert (refreshed.lists_age_s, refreshed.lists_source) == (10.0, "refresh")
    assert refreshed.reboot.required is True
    stale, _ = facts_of(
        {"manager": "apt-get\n", "refresh": "needs-sudo 990\n", "lists": lists} | common
    )
    assert (stale.refresh.status, stale.lists_age_s, stale.lists_source) == (
        "needs-sudo",
        600.0,
        "/var/lib/apt/lists",
    )


@pytest.mark.parametrize(
    "manager, note",
    [
        ("zypper", "unsupported: zypper"),
        ("apk", "unsupported: apk"),
        ("none", "unsupported: no package manager found (apt-get, dnf, yum, zypper, apk, pacman)"),
    ],
)
def test_another_package_manager_is_unsupported_not_an_error(manager, note):
    facts, errors = facts_of(
        {
            "manager": manager + "\n",
            "refresh": "unsupported 5\n",
            "apt_upgradable": "",
            "dnf_updates": "",
            "dnf_security": "",
            "reboot": "unknown no /var/run/reboot-required and no needs-restarting\n",
            "lists": "now 5\n",
        }
    )
    assert errors == {}
    assert (facts.note, facts.supported, facts.upgradable, facts.security_count) == (
        note,
        False,
        None,
        None,
    )


def test_assembly_dnf():
    facts, errors = facts_of(
        {
            "manager": "dnf\n",
            "refresh": "ok 5\n",
            "apt_upgradable": "",
            "dnf_updates": DNF,
            "dnf_security": DNF_SECURITY,
            "reboot": "not-required\n",
            "lists": "now 5\n",
        }
    )
    assert errors == {} and facts.manager == "dnf"
    assert [u.name for u in facts.upgradable if u.security] == ["kernel", "openssl-libs"]


def test_the_refresh_can_be_turned_off_and_has_a_remote_bound():
    on = packages.sections(ProbeContext(CONTEXT.server, ProbeOptions(refresh_timeout_s=77)))
    assert "timeout -k 5 77 $S $C" in on["refresh"].command
    assert "sudo -n" in on["refresh"].command and "sudo -S" not in on["refresh"].command
    off = packages.sections(ProbeContext(CONTEXT.server, ProbeOptions(refresh_packages=False)))
    assert "apt-get update" not in off["refresh"].command
    assert list(on) == list(off)


# -- against the real fleet: this machine's apt, one connection ------------------


def local_upgradable() -> tuple[Upgradable, ...]:
    out = subprocess.run(
        ["apt", "list", "--upgradable"],
        capture_output=True,
        text=True,
        check=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    return parse_apt_upgradable(out.stdout)


def test_the_fleet_lists_what_apt_says_locally_and_needs_sudo_to_refresh(fleet):
    server = Server.model_validate(fleet.server_entries()[1])
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts), command_timeout_s=60))
    before = fleet.connections_by_port()
    result = probe_server(server, transport, PATCH_PROBES)  # refresh on: as mast, no sudo
    assert fleet.connections_by_port() - before == {server.port: 1}
    assert result.section_errors == {}
    facts = result.facts["packages"]
    assert set(facts.upgradable) == set(local_upgradable())
    assert facts.manager == "apt" and facts.note is None
    assert facts.refresh.status == "needs-sudo"
    assert facts.refresh.detail in (
        "the login user is not root and sudo is not installed",
        "passwordless sudo is refused for: apt-get update",
    )
    assert facts.lists_age_s is not None and facts.lists_age_s >= 0
    assert facts.lists_source in (
        "/var/lib/apt/lists",
        "/var/lib/apt/periodic/update-success-stamp",
    )
    assert facts.reboot.required is not None


def test_with_the_refresh_off_it_says_skipped(fleet):
    server = Server.model_validate(fleet.server_entries()[2])
    transport = Transport(SshSettings(known_hosts=str(fleet.known_hosts), command_timeout_s=60))
    result = probe_server(server, transport, PATCH_PROBES, ProbeOptions(refresh_packages=False))
    assert result.facts["packages"].refresh.status == "skipped"
    assert result.section_errors == {}
