"""Read models of the patch scan and the releases, for the viewer (to merge into queries.py).

Each opens one short read-only connection (warehouse.db.reader) and returns a
plain frame a cache can keep.
"""

from __future__ import annotations

import os

import pandas as pd

from warehouse.db import load_sql, reader


def patch_overview(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per server of the ``patch_status`` view, most security updates first:
    the latest scan (reachable, refresh, lists age, reboot flag) and its counts."""
    with reader(path) as con:
        return con.execute(load_sql("select_patch_overview")).df()


def upgradable_packages(
    server: str | None = None,
    security_only: bool = False,
    path: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The ``upgradable_packages`` view, optionally of one server and/or security
    updates only; security first, then by server and package."""
    params = {"server": server, "security_only": security_only}
    with reader(path) as con:
        return con.execute(load_sql("select_upgradable_packages"), params).df()


def app_status(
    server: str | None = None, path: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """The ``app_status`` view (one row per release), optionally of one server; releases
    that are not running first."""
    with reader(path) as con:
        return con.execute(load_sql("select_app_status"), {"server": server}).df()
