"""Fleet (the landing page): the fleet's figures, then one row per server.

Filters (text, tag, status) are bound to the URL (``?q=web&tag=prod&status=down``)
and are query parameters of the cached fleet table, so changing one reruns
that query only. The table alone is a fragment that reruns on a timer
($MAST_VIEWER_REFRESH seconds, default 15): live status without rerunning
the rest of the page. Each row links to its server page (``server?server=``).
Columns sort by clicking their header.
"""

from __future__ import annotations

import os

import streamlit as st

from probes.system import METRICS
from viewer import cached, ui

STATUSES = ["up", "down", "stale"]
DEFAULT_REFRESH_S = 15.0
COLUMNS = [
    "page",
    "status",
    "cpu_pct",
    "mem_used_pct",
    "disk_used_pct",
    "load1",
    "upgradable_count",
    "security_count",
    "reboot_required",
    "last_ok_at",
    "os_name",
    "tags",
    "reason",
]


def refresh_s() -> float:
    """Seconds between the fleet table's refreshes ($MAST_VIEWER_REFRESH, default 15)."""
    return float(os.environ.get("MAST_VIEWER_REFRESH", DEFAULT_REFRESH_S))


def _pct(metric: str) -> st.column_config.ProgressColumn:
    m = METRICS[metric]
    return st.column_config.ProgressColumn(
        m.label, help=m.description, format="%.0f%%", min_value=0, max_value=100, width="small"
    )


def column_config() -> dict:
    return {
        "page": st.column_config.LinkColumn(
            "Server", help="Open the server's page", display_text=r"server=(.*)$", pinned=True
        ),
        "status": st.column_config.TextColumn("Status", width="small"),
        "os_name": st.column_config.TextColumn("OS"),
        "cpu_pct": _pct("cpu_pct"),
        "mem_used_pct": _pct("mem_used_pct"),
        "disk_used_pct": _pct("disk_used_pct"),
        "load1": st.column_config.NumberColumn(
            METRICS["load1"].label, help=METRICS["load1"].description, format="%.2f"
        ),
        "last_ok_at": st.column_config.DatetimeColumn(
            "Last seen (UTC)", format="YYYY-MM-DD HH:mm:ss", help="The latest check that answered"
        ),
        "upgradable_count": st.column_config.NumberColumn(
            "Updates", help="Pending package updates (latest patch scan)"
        ),
        "security_count": st.column_config.NumberColumn(
            "Security", help="Pending security updates (latest patch scan)"
        ),
        "reboot_required": st.column_config.CheckboxColumn("Reboot", help="Reboot required"),
        "tags": st.column_config.ListColumn("Tags"),
        "reason": st.column_config.TextColumn("Why down", help="Why the latest check failed"),
    }


def figures(stats: dict) -> None:
    up, down, stale, pending, security, reboots = st.columns(6)
    up.metric("Up", f"{stats['up']} / {stats['servers']}", border=True)
    down.metric("Down", stats["down"], border=True)
    stale.metric(
        "Stale",
        stats["stale"],
        help="The latest check is older than MAST_STALE_AFTER (90 s): the ticks stopped?",
        border=True,
    )
    pending.metric("Pending updates", stats["pending_updates"], border=True)
    security.metric(
        "Security updates",
        stats["security_updates"],
        help=f"on {stats['servers_with_security_updates']} servers",
        border=True,
    )
    reboots.metric("Reboots required", stats["reboots_required"], border=True)


def filters(db: str) -> tuple[str | None, str | None, str | None]:
    text_col, tag_col, status_col = st.columns([4, 2, 3], vertical_alignment="bottom")
    text = text_col.text_input(
        "Search", key="q", bind="query-params", placeholder="name, host, OS or tag"
    )
    tag = tag_col.selectbox(
        "Tag",
        cached.fleet_tags(db),
        index=None,
        placeholder="All tags",
        key="tag",
        bind="query-params",
    )
    status = status_col.segmented_control("Status", STATUSES, key="status", bind="query-params")
    return (text.strip() or None), tag, status


@st.fragment(run_every=refresh_s())
def table(db: str, text: str | None, tag: str | None, status: str | None) -> None:
    with ui.warehouse_guard():
        rows = cached.fleet_table(db, text, tag, status)
        if rows.empty:
            st.info("No server matches these filters.", icon=":material/filter_alt_off:")
            return
        st.dataframe(
            rows,
            hide_index=True,
            column_order=COLUMNS,
            column_config=column_config(),
            key="fleet_table",
        )
        st.caption(
            f"{len(rows)} servers. Times in UTC; the table refreshes every {refresh_s():g} s. "
            "Click a column header to sort, a server to open its page."
        )


def render() -> None:
    db = ui.db()
    st.title("Fleet")
    stats = cached.fleet_stats(db)
    if not stats["servers"]:
        ui.empty_state()
        return
    figures(stats)
    table(db, *filters(db))


if __name__ == "__main__":
    render()
