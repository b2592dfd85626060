"""Server: one server's facts, current figures, history, patches, releases and events.

Deep link: ``server?server=NAME&range=7d``. The range picks the series' tier in
the read model (raw samples, 5 m, 1 h or 1 d buckets), and is the only thing
the series query depends on besides the server: changing it reruns that query
alone.
"""

from __future__ import annotations

import streamlit as st

from probes.system import METRICS
from viewer import cached, ui

FIGURES = cached.CHART_METRICS
EVENTS_SHOWN = 10


def header(d: dict) -> None:
    st.title(d["server"])
    where = f"{d['login_user'] or ''}{'@' if d['login_user'] else ''}{d['host'] or '?'}"
    where += f":{d['port']}" if d["port"] else ""
    tags = " ".join(f"`{t}`" for t in (d["tags"] if d["tags"] is not None else []))
    st.markdown(
        f"{ui.STATUS_ICONS[d['status']]} **{d['status']}** · {where} · "
        f"checked {ui.utc(d['checked_at'])} ({ui.duration(d['staleness_s'])} ago) {tags}"
    )
    if d["status"] != "up":
        why = f"{d['reason']}: {d['error']}" if d["reason"] else (d["error"] or "")
        st.warning(
            f"Latest check: {why or 'no answer'}. The figures below are from the last check "
            f"that answered ({ui.utc(d['last_ok_at'])}).",
            icon=":material/warning:",
        )


def facts(d: dict) -> None:
    cpus = d["ncpu"] if d["ncpu"] is not None else "n/a"
    st.markdown(
        "| OS | Kernel | CPUs | Memory | Swap | Uptime |\n|---|---|---|---|---|---|\n"
        f"| {d['os_name'] or 'unknown'} | {d['kernel'] or 'unknown'} | {cpus} "
        f"| {ui.size(d['mem_total_bytes'])} | {ui.size(d['swap_total_bytes'])} "
        f"| {ui.duration(d['uptime_s'])} |"
    )


def figures(d: dict) -> None:
    for col, metric in zip(st.columns(len(FIGURES)), FIGURES, strict=True):
        m = METRICS[metric]
        fmt = "{:.2f}" if not m.unit else "{:.1f}"
        col.metric(
            ui.metric_title(metric), ui.number(d[metric], fmt), help=m.description, border=True
        )


def history(db: str, server: str) -> None:
    head, picker = st.columns([3, 2], vertical_alignment="bottom")
    head.subheader("History")
    range_key = picker.segmented_control(
        "Range",
        list(cached.RANGES),
        default=cached.DEFAULT_RANGE,
        required=True,
        key="range",
        bind="query-params",
        label_visibility="collapsed",
    )
    found = cached.history(db, server, range_key)  # charts built once per result
    if not found.specs:
        st.info(f"No samples of {server} in the last {range_key}.", icon=":material/timeline:")
        return
    source = "raw samples" if found.tier == "raw" else f"{ui.duration(found.width_s)} buckets"
    st.caption(
        f"Last {range_key}: {source} (tier {found.tier}), up to {found.points} points per "
        "metric; line: average, band: min to max."
    )
    left, right = st.columns(2)
    for i, metric in enumerate(m for m in FIGURES if m in found.specs):
        with left if i % 2 == 0 else right:
            st.vega_lite_chart(found.specs[metric], width="stretch")


def patches(db: str, server: str) -> None:
    st.subheader("Patches")
    scan = cached.patch_status(db, server)
    if scan is None:
        st.caption("No patch scan yet: `python -m flows.patch_scan`.")
        return
    reboot = "reboot required" if scan["reboot_required"] else "no reboot required"
    st.markdown(
        f"**{scan['upgradable_count'] or 0}** updates, **{scan['security_count'] or 0}** "
        f"security · {reboot} · {scan['manager'] or 'no manager'}, refresh "
        f"{scan['refresh'] or 'n/a'} · scanned {ui.utc(scan['scanned_at'])}"
    )
    if scan["note"]:
        st.caption(scan["note"])
    rows = cached.upgradable(db, server)
    if rows.empty:
        return
    st.dataframe(
        rows,
        hide_index=True,
        column_order=["security", "package", "current_version", "candidate_version", "origin"],
        column_config={
            "security": st.column_config.CheckboxColumn("Security", width="small"),
            "package": "Package",
            "current_version": "Installed",
            "candidate_version": "Candidate",
            "origin": "Origin",
        },
        height=min(400, 38 + 35 * len(rows)),
    )


def releases(db: str, server: str) -> None:
    st.subheader("Releases")
    rows = cached.apps(db, server)
    if rows.empty:
        st.caption("No releases declared on this server (inventory `releases:`).")
        return
    st.dataframe(
        rows,
        hide_index=True,
        column_order=["page", "release", "status", "since", "unit", "container", "port"],
        column_config={
            "page": st.column_config.LinkColumn(
                "Release", display_text=r"release=(.*)$", help="Open the release's page"
            ),
            "release": "Name",
            "status": "Status",
            "since": st.column_config.DatetimeColumn("Since (UTC)", format="YYYY-MM-DD HH:mm"),
            "unit": "Unit",
            "container": "Container",
            "port": st.column_config.NumberColumn("Port", format="%d"),
        },
    )
    for app in cached.records(rows):
        if app["conditions"]:
            st.caption(f"{app['handle']}: {app['conditions']}")


def activity(db: str, server: str) -> None:
    st.subheader("Recent events")
    events = cached.audit_page(db, server, None, 1)
    if events.empty:
        st.caption("No events yet.")
        return
    st.dataframe(
        events.head(EVENTS_SHOWN),
        hide_index=True,
        column_order=["occurred_at", "kind", "subject", "before", "after", "detail"],
        column_config={
            "occurred_at": st.column_config.DatetimeColumn(
                "When (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "kind": "Kind",
            "subject": "Release",
            "before": "Before",
            "after": "After",
            "detail": "Detail",
        },
    )
    st.page_link(
        "views/activity.py",
        label=f"All {int(events['total'].iloc[0])} events of {server}",
        query_params={"srv": server},
        icon=":material/history:",
    )


def render() -> None:
    db = ui.db()
    names = cached.server_names(db)
    if not names:
        ui.empty_state()
        return
    picker, _ = st.columns([2, 5])
    server = picker.selectbox("Server", names, key="server", bind="query-params")
    detail = cached.server_detail(db, server)
    if detail is None:  # gone since the list was read
        st.info(f"{server} is no longer in the warehouse.")
        return
    header(detail)
    facts(detail)
    figures(detail)
    history(db, server)
    left, right = st.columns(2)
    with left:
        patches(db, server)
    with right:
        releases(db, server)
    activity(db, server)


if __name__ == "__main__":
    render()
