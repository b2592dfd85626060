"""Landing of release-log fetches (probes/logs.py LogFetch) in ONE transaction.

A fetch brings the last N lines of a release's log, and most of them are
usually the ones the previous fetch brought. Only the new ones are stored:
the longest run of stored lines that the fetched lines start with is the
overlap (``overlap``), the rest are appended after it. So a release's
``release_log_lines``, by ``line_id``, are its log in order, and a reader
that has seen up to some id only ever needs the lines past it. A fetch that
does not overlap the stored lines at all (the log moved on by more than N
lines, or was rotated) is appended whole and flagged ``gap``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from probes.logs import LogFetch
from warehouse.db import load_sql, writer

MAX_STORED_LINES = 5000  # per release; older lines are deleted as newer ones land


@dataclass(frozen=True)
class LandedLogs:
    fetch_id: str
    handle: str
    lines_read: int
    lines_new: int
    gap: bool
    condition: str | None
    reason: str | None


def overlap(stored: Sequence[str], fetched: Sequence[str]) -> int:
    """How many of ``fetched`` (oldest first) the ``stored`` lines already end with:
    the longest prefix of ``fetched`` that is a suffix of ``stored``.

    >>> overlap(["a", "b", "c"], ["b", "c", "d"])
    2
    """
    if not stored or not fetched:
        return 0
    first = fetched[0]
    start = max(0, len(stored) - len(fetched))
    for i in range(start, len(stored)):  # the earliest match is the longest overlap
        if stored[i] == first and list(stored[i:]) == list(fetched[: len(stored) - i]):
            return len(stored) - i
    return 0


def land_release_logs(
    fetch_id: str, fetched: LogFetch, path: str | os.PathLike[str] | None = None
) -> LandedLogs:
    """Store one fetch and the lines it adds; keep each release's newest lines only."""
    tail = fetched.tail
    lines = tail.lines if tail is not None else ()
    texts = [line.text for line in lines]
    with writer(path) as con:
        stored = [
            text
            for (text,) in con.execute(
                load_sql("select_release_log_tail"),
                {"handle": fetched.handle, "limit": max(1, len(texts))},
            ).fetchall()
        ]
        seen = overlap(stored, texts)
        new = lines[seen:]
        gap = bool(stored) and bool(texts) and seen == 0
        row = {
            "fetch_id": fetch_id,
            "handle": fetched.handle,
            "server": fetched.server,
            "source": fetched.source,
            "target": fetched.target,
            "lines_requested": fetched.lines_requested,
            "fetched_at": fetched.started_at,
            "wall_ms": fetched.wall_ms,
            "connections": fetched.connections,
            "reachable": tail is not None,
            "reason": fetched.reason,
            "error": fetched.error,
            "condition": tail.condition if tail else None,
            "note": tail.note if tail else None,
            "lines_read": len(lines),
            "lines_new": len(new),
            "gap": gap,
        }
        con.register("incoming_fetch", pd.DataFrame([row]))
        con.execute(load_sql("insert_release_log_fetch"))
        con.unregister("incoming_fetch")
        if new:
            frame = pd.DataFrame(
                {
                    "seq": range(len(new)),
                    "handle": fetched.handle,
                    "fetch_id": fetch_id,
                    "logged_at": pd.Series([line.logged_at for line in new], dtype="object"),
                    "line": [line.text for line in new],
                }
            )
            frame["logged_at"] = pd.to_datetime(frame["logged_at"])
            con.register("incoming_lines", frame)
            con.execute(load_sql("insert_release_log_lines"))
            con.unregister("incoming_lines")
            con.execute(
                load_sql("prune_release_log_lines"),
                {"handle": fetched.handle, "keep": MAX_STORED_LINES},
            )
    return LandedLogs(
        fetch_id,
        fetched.handle,
        len(lines),
        len(new),
        gap,
        row["condition"],
        fetched.reason,
    )
