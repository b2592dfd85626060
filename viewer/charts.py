"""Charts of metric series and bench runs, built with Altair; titles and units from
probes.system.METRICS.

Building and validating an Altair chart costs tens of milliseconds, so the
cached wrappers (viewer/cached.py) build each chart once per query result and
keep its Vega-Lite spec (data inline); pages hand the spec to
``st.vega_lite_chart``. Times go in as epoch milliseconds, which Vega-Lite
reads as UTC instants, and the time axes use UTC scales.
"""

from __future__ import annotations

import threading

import altair as alt
import pandas as pd

from probes.system import METRICS
from viewer.ui import metric_title

HEIGHT = 200
_altair = threading.Lock()  # alt.theme is process-wide


def _spec(chart: alt.TopLevelMixin) -> dict:
    """The chart's Vega-Lite spec without Altair's default theme (Streamlit themes it)."""
    with _altair, alt.theme.enable("none"):
        return chart.to_dict()


def _epoch_ms(times: pd.Series) -> pd.Series:
    return (times.astype("datetime64[ms]").astype("int64")).astype("int64")


def _time_axis(title: str, fmt: str = "%b %d") -> alt.X:
    # An expression, not format/formatType: Streamlit's chart theme overrides those.
    axis = alt.Axis(labelAngle=0, labelExpr=f"utcFormat(datum.value, '{fmt}')")
    return alt.X("t:T", title=title, scale=alt.Scale(type="utc"), axis=axis)


def metric_spec(points: pd.DataFrame, metric: str, span_s: float) -> dict:
    """One metric of a series over ``span_s`` seconds: the bucket averages as a line over
    the min-max band; hours and minutes on the time axis up to two days, dates beyond."""
    data = points.loc[points["metric"] == metric, ["ts", "at", "avg", "min", "max", "count"]]
    data = data.assign(t=_epoch_ms(data["ts"])).drop(columns="ts")
    unit = METRICS[metric].unit
    fmt = "%H:%M" if span_s <= 2 * 86400 else "%b %d"
    base = alt.Chart(data).encode(x=_time_axis("time (UTC)", fmt))
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("min:Q", title=metric_title(metric), scale=alt.Scale(zero=True)), y2="max:Q"
    )
    line = base.mark_line(interpolate="monotone").encode(
        y="avg:Q",
        tooltip=[
            alt.Tooltip("at:N", title="from"),
            alt.Tooltip("avg:Q", title=f"average {unit}".strip(), format=".2f"),
            alt.Tooltip("min:Q", format=".2f"),
            alt.Tooltip("max:Q", format=".2f"),
            alt.Tooltip("count:Q", title="samples"),
        ],
    )
    return _spec((band + line).properties(title=METRICS[metric].label, height=HEIGHT))


def bench_spec(history: pd.DataFrame, probe: str) -> dict:
    """A probe's median wall time per bench run, one line per strategy."""
    data = history.loc[history["probe"] == probe, ["ran_at", "strategy", "median_ms", "ssh_calls"]]
    data = data.assign(t=_epoch_ms(data["ran_at"])).drop(columns="ran_at")
    chart = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=_time_axis("bench run (UTC)"),
            y=alt.Y("median_ms:Q", title="median wall time per run (ms)"),
            color=alt.Color("strategy:N", title="strategy"),
            tooltip=["strategy:N", "median_ms:Q", "ssh_calls:Q"],
        )
        .properties(title=f"{probe} probe", height=HEIGHT)
    )
    return _spec(chart)
