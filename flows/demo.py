"""``python -m flows.demo``: Mast on one machine, on the embedded defaults.

Starts a demo fleet of real sshd servers on loopback (generated keys, under
./demo), writes its inventory, runs one tick over it and prints what landed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.localfleet import LocalFleet


def print_status(console: Console) -> None:
    from warehouse.queries import server_status

    table = Table(title="server_status")
    for col in (
        "server",
        "reachable",
        "os_name",
        "ncpu",
        "cpu_pct",
        "mem_available",
        "load1",
        "error",
    ):
        table.add_column(col)
    for row in server_status().itertuples():
        table.add_row(
            row.server,
            "yes" if row.reachable else f"no ({row.reason})",
            row.os_name or "",
            str(row.ncpu),
            "" if row.cpu_pct != row.cpu_pct or row.cpu_pct is None else f"{row.cpu_pct:.1f} %",
            f"{row.mem_available_bytes / 2**30:.1f} GiB" if row.mem_available_bytes else "",
            f"{row.load1:.2f}",
            row.error or "",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--servers", type=int, default=5, help="demo fleet size (default 5)")
    parser.add_argument("--dir", default="demo", help="where the demo keeps its files")
    args = parser.parse_args(argv)
    root = Path(args.dir).resolve()
    console = Console()
    with LocalFleet(root / "fleet", count=args.servers, prefix="demo") as fleet:
        inventory = fleet.write_inventory(root / "fleet.yaml")
        os.environ["MAST_INVENTORY"] = str(inventory)
        os.environ.setdefault("MAST_DB", str(root / "mast.duckdb"))
        console.print(
            f"demo fleet: {args.servers} sshd servers on 127.0.0.1, inventory {inventory}"
        )
        from flows.tick import tick

        tick()
        print_status(console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
