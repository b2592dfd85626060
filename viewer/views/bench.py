"""Bench: the history of ``python -m bench``, probe by probe, combined vs separate."""

from __future__ import annotations

import streamlit as st

from viewer import cached, ui


def render() -> None:
    db = ui.db()
    st.title("Bench")
    history, latest, specs = cached.bench(db)
    if history.empty:
        st.info(
            "No bench runs yet: `python -m bench` (or the `bench/on-demand` deployment) "
            "measures each probe over SSH, combined in one command vs one connection per "
            "section, and stores the result here.",
            icon=":material/speed:",
        )
        return
    st.subheader("Latest run per server")
    st.dataframe(
        latest,
        hide_index=True,
        column_order=[
            "server",
            "probe",
            "median_ms_combined",
            "median_ms_separate",
            "ratio",
            "ssh_calls_combined",
            "ssh_calls_separate",
            "rtt_ms",
            "ran_at",
        ],
        column_config={
            "server": "Server",
            "probe": "Probe",
            "median_ms_combined": st.column_config.NumberColumn(
                "Combined ms", help="median wall time per run, one connection", format="%.1f"
            ),
            "median_ms_separate": st.column_config.NumberColumn(
                "Separate ms",
                help="median wall time per run, one connection per section",
                format="%.1f",
            ),
            "ratio": st.column_config.NumberColumn("Combined / separate", format="%.2f"),
            "ssh_calls_combined": st.column_config.NumberColumn("SSH calls combined"),
            "ssh_calls_separate": st.column_config.NumberColumn("SSH calls separate"),
            "rtt_ms": st.column_config.NumberColumn("RTT ms", format="%.2f"),
            "ran_at": st.column_config.DatetimeColumn("Ran (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    st.subheader("History")
    for col, spec in zip(st.columns(len(specs)), specs.values(), strict=True):
        with col:
            st.vega_lite_chart(spec, width="stretch")
    with st.expander(f"All {len(history)} rows"):
        st.dataframe(history, hide_index=True)


if __name__ == "__main__":
    render()
