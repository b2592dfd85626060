"""Release: a release's app and the tail of its log.

Deep link: ``release?release=HANDLE``. "Fetch" starts the release-logs flow
(viewer/logfetch.py: a Prefect deployment run, or a child process without a
Prefect API); the log view, a fragment, then polls until that fetch has
landed. The view keeps the blocks of lines it has shown in the session and,
once per new fetch, reads only the lines past the last one it saw: a fetch
appends one block (an element of its own) below the others, and no rerun
reads the lines already shown again.
"""

from __future__ import annotations

import streamlit as st

from probes.logs import DEFAULT_LINES, MAX_LINES
from viewer import cached, logfetch, ui
from viewer.logfetch import LogBuffer

POLL_S = 1.0
PENDING = "release_page.pending"  # session: {handle: logfetch.Pending}
BUFFERS = "release_page.buffers"  # session: {handle: LogBuffer}
OUTCOME = "release_page.outcome"  # session: {handle: (kind, message)} of the last fetch


def _session(name: str) -> dict:
    return st.session_state.setdefault(name, {})


def app_facts(app: dict) -> None:
    st.title(app["handle"])
    st.markdown(
        f"{ui.STATUS_ICONS.get(app['status'], '')} **{app['status']}**"
        + (f" since {ui.utc(app['since'])}" if app["since"] else "")
        + f" · release `{app['release']}` on"
    )
    st.page_link(
        "views/server.py",
        label=app["server"],
        query_params={"server": app["server"]},
        icon=":material/computer:",
    )
    unit, container, port, pid = st.columns(4)
    unit.metric("Unit", app["unit"] or "none", help=app["unit_state"] or None)
    container.metric("Container", app["container"] or "none", help=app["container_state"] or None)
    listening = {True: "listening", False: "not listening", None: ""}[app["port_listening"]]
    port.metric("Port", f"{app['port']} {listening}".strip() if app["port"] else "none")
    pid.metric("Main PID", app["main_pid"] if app["main_pid"] is not None else "n/a")
    if app["conditions"]:
        st.caption(f"Could not tell: {app['conditions']}")
    st.caption(f"Checked {ui.utc(app['checked_at'])}.")


def fetch_controls(db: str, app: dict) -> None:
    handle = app["handle"]
    pending = _session(PENDING).get(handle)
    count, button, _ = st.columns([1, 1, 4], vertical_alignment="bottom")
    lines = count.number_input(
        "Lines", min_value=10, max_value=MAX_LINES, value=DEFAULT_LINES, step=50, key="log_lines"
    )
    source = f"journalctl -u {app['unit']}" if app["unit"] else f"docker logs {app['container']}"
    if button.button(
        "Fetching..." if pending else "Fetch",
        key="fetch_logs",
        disabled=pending is not None,
        help=f"Read the last lines over one SSH connection to {app['server']} ({source})",
        icon=":material/download:",
    ):
        try:
            started = logfetch.start(handle, int(lines), logfetch.prefect_api())
        except logfetch.FetchNotStarted as e:
            _session(OUTCOME)[handle] = ("warning", f"The fetch did not start: {e}")
        else:
            _session(PENDING)[handle] = started
            _session(OUTCOME).pop(handle, None)
        st.rerun()
    kind, message = _session(OUTCOME).get(handle, (None, None))
    if kind == "warning":
        st.warning(message, icon=":material/warning:")
    last = cached.log_fetches(db, handle)
    if last:
        st.caption(_describe(last[0]))


def _describe(fetch: dict) -> str:
    when = ui.utc(fetch["fetched_at"])
    if not fetch["reachable"]:
        return f"Last fetch {when}: {fetch['server']} was not reached ({fetch['reason']}): " + (
            fetch["error"] or ""
        )
    said = f" {fetch['condition']}." if fetch["condition"] else ""
    note = f" ({fetch['note']})" if fetch["note"] else ""
    gap = " Some lines between the last two fetches may be missing." if fetch["gap"] else ""
    return (
        f"Last fetch {when} from {fetch['source']} {fetch['target']}: "
        f"{fetch['lines_read']} lines read, {fetch['lines_new']} new.{said}{note}{gap}"
    )


def log_view(db: str, handle: str) -> None:
    polling = handle in _session(PENDING)

    @st.fragment(run_every=POLL_S if polling else None)
    def view() -> None:
        buffer = _session(BUFFERS).setdefault(handle, LogBuffer())
        pending = _session(PENDING).get(handle)
        if pending is not None:
            if cached.log_fetch(db, pending.fetch_id) is not None:
                # Landed: refresh the fetches (the summary, and the view's cue), stop polling.
                cached.log_fetches.clear(db, handle)
                _done(handle, pending)
                st.rerun()
            why = logfetch.problem(pending)
            if why:
                _session(OUTCOME)[handle] = ("warning", f"The fetch failed: {why}")
                _done(handle, pending)
                st.rerun()
        # Lines land only with a fetch: read past the last line seen once per new fetch.
        fetches = cached.log_fetches(db, handle)
        latest = fetches[0]["fetch_id"] if fetches else None
        if latest != buffer.through:
            buffer.add(cached.log_lines(db, handle, buffer.after, latest))
            buffer.through = latest
        with st.container(height=460, border=True, autoscroll=True):
            if not buffer.blocks:
                st.caption("No lines stored yet: Fetch reads the latest ones.")
            for caption, text, _ in buffer.blocks:
                st.caption(caption)
                st.code(text, language=None, wrap_lines=True)
        if pending is not None:
            st.caption(f"Fetching the last {pending.lines} lines ({pending.via})...")

    view()


def _done(handle: str, pending: logfetch.Pending) -> None:
    _session(PENDING).pop(handle, None)
    logfetch.finish(pending)


def render() -> None:
    db = ui.db()
    releases = cached.apps(db)
    if releases.empty:
        st.title("Releases")
        st.info(
            "No releases are declared. Add `releases:` (a name and a unit, container or port) "
            "to the servers of your inventory; the next tick lands them.",
            icon=":material/deployed_code:",
        )
        return
    by_handle = {r["handle"]: r for r in cached.records(releases)}
    picker, _ = st.columns([2, 5])
    handle = picker.selectbox(
        "Release",
        list(by_handle),
        key="release",
        bind="query-params",
        help="Releases by handle; the server each runs on is shown below",
    )
    app = by_handle[handle]
    app_facts(app)
    st.subheader("Log")
    if not (app["unit"] or app["container"]):
        st.info(
            "This release declares neither a unit nor a container: there is no log to read.",
            icon=":material/article:",
        )
        return
    fetch_controls(db, app)
    log_view(db, handle)


if __name__ == "__main__":
    render()
