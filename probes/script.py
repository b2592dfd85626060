"""The combined command: every section of every selected probe in ONE remote script.

A probe run costs one SSH connection however many sections it has, so all the
commands a server is asked for travel together. Each section runs in its own
subshell with stdin closed and stderr kept apart; its exit status is printed
after it, so one failing section is a per-section error, not a failed server.

Sections are framed by lines that start with a random per-run marker. The
script never holds the marker as one literal string (it is printed from two
halves), so a section that lists processes or echoes its command line cannot
print a boundary; nothing a server prints before, between or after the
sections (motd, shell noise) is taken into a section.

Framing, one block per section::

    <marker> begin system.meminfo
    ...stdout of the section...
    <marker> end system.meminfo 0
    <marker> stderr system.meminfo        (only when stderr was not empty)
    ...first 2 KiB of its stderr...
    <marker> stderr-end system.meminfo
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

SECTION_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
STDERR_CAP = 2048


@dataclass(frozen=True)
class Section:
    """What one section printed. ``exit_status`` is None when its end never arrived."""

    exit_status: int | None
    text: str
    stderr: str = ""

    @property
    def complete(self) -> bool:
        return self.exit_status is not None


def new_marker() -> str:
    """A fresh 128-bit marker for one run; never reuse it across runs."""
    return "mast" + secrets.token_hex(16)


def build_script(sections: Mapping[str, str], marker: str) -> str:
    """The POSIX sh script that runs ``sections`` ({name: shell command}) in order."""
    half = len(marker) // 2
    lines = [
        f"A={marker[:half]}",
        f"B={marker[half:]}",
        'E=$(mktemp 2>/dev/null) || E=""',
        'trap \'[ -n "$E" ] && rm -f "$E"\' EXIT',
    ]
    for name, command in sections.items():
        if not SECTION_NAME.fullmatch(name):
            raise ValueError(f"invalid section name {name!r}")
        errfile = '"${E:-/dev/null}"'
        lines += [
            f'printf \'\\n%s%s begin {name}\\n\' "$A" "$B"',
            f"( {command}\n) </dev/null 2>{errfile}",
            "rc=$?",
            f'printf \'\\n%s%s end {name} %d\\n\' "$A" "$B" "$rc"',
            f'if [ -n "$E" ] && [ -s "$E" ]; then'
            f' printf \'%s%s stderr {name}\\n\' "$A" "$B";'
            f' head -c {STDERR_CAP} "$E";'
            f' printf \'\\n%s%s stderr-end {name}\\n\' "$A" "$B"; fi',
        ]
    return "\n".join(lines) + "\n"


def build_command(
    sections: Mapping[str, str], marker: str, timeout_s: float, output_cap_bytes: int
) -> str:
    """The one command line sent over SSH.

    ``env LC_ALL=C`` makes every tool print the C locale's format whatever the
    login shell is; ``timeout`` ends the script on the server side even if the
    client has gone; ``head -c`` caps what a flooding server can send.
    """
    script = build_script(sections, marker)
    return (
        f"env LC_ALL=C LANG=C timeout -k 2 {max(1, int(timeout_s))} sh -c {shlex.quote(script)}"
        f" | head -c {int(output_cap_bytes)}"
    )


def split_output(output: str, marker: str) -> dict[str, Section]:
    """Cut the command's stdout back into {section name: Section}.

    Only lines that start with this run's marker frame sections. A section whose
    end line never came (timeout, output cap) is returned with exit_status None
    and the text received so far.
    """
    frame = re.compile(
        rf"^{re.escape(marker)} (begin|end|stderr|stderr-end) ([a-z0-9_.]+)(?: (-?\d+))?$"
    )
    sections: dict[str, Section] = {}
    current: str | None = None  # section whose stdout is being read
    in_stderr: str | None = None
    buf: list[str] = []

    def text_of(lines: list[str]) -> str:
        # The framing adds one newline before every marker line; take it back.
        joined = "".join(lines)
        return joined[:-1] if joined.endswith("\n") else joined

    for line in output.splitlines(keepends=True):
        m = frame.match(line.rstrip("\r\n"))
        if not m:
            if current is not None or in_stderr is not None:
                buf.append(line)
            continue
        kind, name, status = m.groups()
        if kind == "begin":
            if current is not None:  # previous section never ended
                sections[current] = Section(None, text_of(buf))
            current, in_stderr, buf = name, None, []
        elif kind == "end" and name == current:
            sections[name] = Section(int(status), text_of(buf))
            current, buf = None, []
        elif kind == "stderr" and name in sections and current is None:
            in_stderr, buf = name, []
        elif kind == "stderr-end" and name == in_stderr:
            prev = sections[name]
            sections[name] = Section(prev.exit_status, prev.text, text_of(buf))
            in_stderr, buf = None, []
    if current is not None:
        sections[current] = Section(None, text_of(buf))
    return sections
