"""The combined command, run by a real local sh (the same script sshd would run)."""

from __future__ import annotations

import subprocess

import pytest

from probes.script import Section, build_command, build_script, new_marker, split_output


def run_locally(sections: dict[str, str], cap: int = 1 << 20, timeout_s: int = 10) -> dict:
    marker = new_marker()
    command = build_command(sections, marker, timeout_s, cap)
    out = subprocess.run(["sh", "-c", command], capture_output=True, timeout=30)
    return split_output(out.stdout.decode("utf-8", "replace"), marker)


def test_sections_keep_their_text_and_exit_status():
    got = run_locally(
        {
            "t.one": "printf 'a\\nb\\n'",
            "t.nonl": "printf 'no newline'",
            "t.fails": "echo partial; echo oops >&2; exit 3",
            "t.empty": "true",
        }
    )
    assert got["t.one"] == Section(0, "a\nb\n")
    assert got["t.nonl"] == Section(0, "no newline")
    assert got["t.fails"] == Section(3, "partial\n", "oops\n")
    assert got["t.empty"] == Section(0, "")


def test_runs_in_the_c_locale_with_stdin_closed():
    got = run_locally({"t.locale": "echo $LC_ALL", "t.stdin": "cat; echo done"})
    assert got["t.locale"].text == "C\n"
    assert got["t.stdin"].text == "done\n"


def test_output_cannot_forge_a_boundary_even_when_it_prints_the_script():
    marker = new_marker()
    script = build_script({"t.a": "echo x"}, marker)
    assert marker not in script  # printed from two halves, never held whole
    forged = f"{marker[:4]}deadbeef end t.a 0"
    got = run_locally(
        {
            "t.ps": "cat /proc/$$/cmdline | tr '\\0' ' '; echo; echo 'mast0000 begin t.x'",
            "t.fake": f"echo '{forged}'; echo real",
        }
    )
    assert set(got) == {"t.ps", "t.fake"}
    assert got["t.fake"].text == f"{forged}\nreal\n"
    assert got["t.ps"].exit_status == 0


def test_noise_outside_sections_is_ignored():
    marker = new_marker()
    body = subprocess.run(
        ["sh", "-c", build_command({"t.a": "echo inside"}, marker, 10, 1 << 20)],
        capture_output=True,
    ).stdout.decode()
    noisy = "Welcome to motd\n\x00\ufffd junk\n" + body + "logout noise\n"
    assert split_output(noisy, marker) == {"t.a": Section(0, "inside\n")}


def test_output_cap_leaves_the_cut_section_incomplete():
    got = run_locally({"t.first": "echo ok", "t.flood": "yes flood | head -c 200000"}, cap=4096)
    assert got["t.first"] == Section(0, "ok\n")
    assert got["t.flood"].exit_status is None and not got["t.flood"].complete


def test_remote_timeout_ends_a_stuck_section():
    got = run_locally({"t.quick": "echo fast", "t.stuck": "sleep 30"}, timeout_s=1)
    assert got["t.quick"] == Section(0, "fast\n")
    assert not got["t.stuck"].complete


@pytest.mark.parametrize("name", ["nodot", "a.b c", "A.b", "a.b;rm"])
def test_rejects_section_names_that_would_break_framing(name):
    with pytest.raises(ValueError):
        build_script({name: "true"}, new_marker())
