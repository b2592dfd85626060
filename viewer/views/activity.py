"""Activity: the audit feed, newest first, filterable by server and kind, paged.

Deep link: ``activity?srv=web-1&kind=server.down&page=2``. Each page of events
is its own cached query (server, kind, page).
"""

from __future__ import annotations

import math

import streamlit as st

from viewer import cached, ui


def _first_page() -> None:
    st.session_state["page"] = 1


def render() -> None:
    db = ui.db()
    st.title("Activity")
    kinds = cached.audit_kinds(db)
    server_col, kind_col = st.columns(2)
    server = server_col.selectbox(
        "Server",
        cached.server_names(db),
        index=None,
        placeholder="All servers",
        key="srv",
        bind="query-params",
        on_change=_first_page,
    )
    kind = kind_col.selectbox(
        "Kind",
        list(kinds),
        index=None,
        placeholder="All kinds",
        key="kind",
        bind="query-params",
        on_change=_first_page,
    )
    total = int(cached.audit_page(db, server, kind, 1)["total"].max() or 0)
    if not total:
        st.info(
            "No events match." if server or kind else "No events yet.", icon=":material/history:"
        )
        return
    pages = max(1, math.ceil(total / cached.EVENTS_PER_PAGE))
    if st.session_state.get("page", 1) > pages:
        st.session_state["page"] = pages
    rows = cached.audit_page(db, server, kind, st.session_state.get("page", 1))
    st.dataframe(
        rows,
        hide_index=True,
        column_order=["occurred_at", "server", "kind", "subject", "before", "after", "detail"],
        column_config={
            "occurred_at": st.column_config.DatetimeColumn(
                "When (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "server": "Server",
            "kind": "Kind",
            "subject": "Release",
            "before": "Before",
            "after": "After",
            "detail": "Detail",
        },
    )
    page = st.pagination(pages, key="page", bind="query-params")
    first = (page - 1) * cached.EVENTS_PER_PAGE + 1
    st.caption(f"Events {first} to {min(total, first + len(rows) - 1)} of {total}, newest first.")


if __name__ == "__main__":
    render()
