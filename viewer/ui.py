"""What every page shares: the warehouse file, the empty state, labels and formats."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import streamlit as st

from probes.system import METRICS
from warehouse.db import db_path
from warehouse.errors import WarehouseError, WarehouseLocked

FIRST_TICK = "python -m flows.tick"


def db() -> str:
    """The warehouse file the pages read ($MAST_DB, else ./data/mast.duckdb)."""
    return str(db_path())


@contextmanager
def warehouse_guard() -> Iterator[None]:
    """Show a missing or busy warehouse as a page's state, never as a traceback."""
    try:
        yield
    except WarehouseLocked as e:
        st.info(
            f"The warehouse is busy: a flow has been writing to it for longer than the viewer "
            f"waits. This page reads it again on its next refresh.\n\n{e}",
            icon=":material/hourglass_top:",
        )
    except WarehouseError as e:
        empty_state(str(e))


def empty_state(detail: str | None = None) -> None:
    """No warehouse yet, or one without servers: how to get the first tick in."""
    st.subheader("No fleet data yet")
    st.markdown(
        "Mast has not landed a tick in this warehouse yet. Run the first one from the "
        "repository, with `MAST_INVENTORY` pointing at your `fleet.yaml` and `MAST_DB` at "
        "the file this viewer reads:"
    )
    st.code(f"MAST_INVENTORY=fleet.yaml MAST_DB={db()} .venv/bin/{FIRST_TICK}", language="sh")
    st.markdown(
        "or start the local demo fleet, which ticks every 30 s: `bash .ci/demo`. "
        "This page shows the fleet as soon as a tick has landed."
    )
    if detail:
        st.caption(detail)


def metric_title(metric: str) -> str:
    """A metric's axis title from probes.system.METRICS: label and unit."""
    m = METRICS[metric]
    return f"{m.label} ({m.unit})" if m.unit else m.label


def utc(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "never"


def duration(seconds: float | None) -> str:
    """``3d 4h``, ``5h 12m``, ``42s``: the two largest units."""
    if seconds is None:
        return "unknown"
    s = int(seconds)
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def size(n: float | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def number(value: float | None, fmt: str = "{:.1f}", unit: str = "") -> str:
    return "n/a" if value is None else fmt.format(value) + unit


STATUS_ICONS = {
    "up": ":material/check_circle:",
    "down": ":material/error:",
    "stale": ":material/schedule:",
    "running": ":material/check_circle:",
    "stopped": ":material/stop_circle:",
    "missing": ":material/help:",
    "unknown": ":material/help:",
}
