"""``python -m flows.demo``: all of Mast on one machine, on the embedded defaults.

Starts, in order, and stops all of them on Ctrl-C (or SIGTERM):

1. a demo fleet of real sshd servers on loopback with generated keys (./demo/fleet);
2. a local Prefect server (``prefect server start``, its embedded SQLite
   database under ./demo/prefect), since ephemeral mode cannot run schedules;
3. the ``mast`` process work pool, the deployments of prefect.yaml
   (``prefect deploy --all``) and a worker that runs them on their schedules;
4. the Streamlit viewer, bound to 127.0.0.1;

then asks for a first tick at once and prints the two URLs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.localfleet import LocalFleet

REPO = Path(__file__).resolve().parent.parent


class Services:
    """Child processes, each in its own session, stopped together (whole process groups)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (lives as long as the child)
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def dead(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def stop(self, grace_s: float = 10.0) -> None:
        for proc in reversed(list(self.procs.values())):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            _signal_group(proc, signal.SIGKILL)  # stragglers the group left behind
            proc.wait()
        self.procs.clear()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(command)}):\n{done.stdout}{done.stderr}")


def wait_for(url: str, timeout_s: float, services: Services, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if services.dead():
            raise RuntimeError(f"{', '.join(services.dead())} exited; see {services.logs}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"{what} did not answer at {url} within {timeout_s:g} s; see {services.logs}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--servers", type=int, default=5, help="demo fleet size (default 5)")
    parser.add_argument("--dir", default="demo", help="where the demo keeps its files (./demo)")
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--viewer-port", type=int, default=8501)
    args = parser.parse_args(argv)
    root = Path(args.dir).resolve()
    bin_dir = Path(sys.executable).parent
    prefect, streamlit = str(bin_dir / "prefect"), str(bin_dir / "streamlit")

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    fleet = LocalFleet(root / "fleet", count=args.servers, prefix="demo")
    services = Services(root / "logs")
    try:
        fleet.start()
        inventory = fleet.write_inventory(root / "fleet.yaml")
        api = f"http://127.0.0.1:{args.prefect_port}/api"
        env = dict(
            os.environ,
            MAST_INVENTORY=str(inventory),
            MAST_DB=os.environ.get("MAST_DB", str(root / "mast.duckdb")),
            PREFECT_HOME=str(root / "prefect"),
            PREFECT_API_URL=api,
            DO_NOT_TRACK="1",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        print(f"demo fleet: {args.servers} sshd servers on 127.0.0.1 ({inventory})", flush=True)
        services.start(
            "prefect-server",
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(args.prefect_port)],
            env,
        )
        wait_for(f"{api}/health", 90, services, "the Prefect server")
        run(
            [prefect, "work-pool", "create", "mast", "--type", "process", "--overwrite"],
            env,
            "work pool",
        )
        run([prefect, "--no-prompt", "deploy", "--all"], env, "prefect deploy --all")
        services.start("worker", [prefect, "worker", "start", "--pool", "mast"], env)
        services.start(
            "viewer",
            [
                streamlit,
                "run",
                "viewer/app.py",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(args.viewer_port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            env,
        )
        wait_for(f"http://127.0.0.1:{args.viewer_port}/_stcore/health", 60, services, "the viewer")
        run([prefect, "deployment", "run", "tick/fleet"], env, "the first tick")
        print(
            f"Prefect UI: http://127.0.0.1:{args.prefect_port}\n"
            f"Mast viewer: http://127.0.0.1:{args.viewer_port}\n"
            f"logs: {services.logs}\nready: Ctrl-C stops everything",
            flush=True,
        )
        while not stop_requested:
            if services.dead():
                print(
                    f"stopped: {', '.join(services.dead())} exited; see {services.logs}", flush=True
                )
                return 1
            time.sleep(0.5)
        return 0
    except RuntimeError as e:
        print(f"mast demo: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("stopping the demo...", flush=True)
        services.stop()
        fleet.stop()


if __name__ == "__main__":
    sys.exit(main())
