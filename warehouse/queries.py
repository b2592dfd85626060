"""Read models: the only queries the viewer and the CLIs run against the warehouse."""

from __future__ import annotations

import os

import pandas as pd

from warehouse.db import reader


def server_status(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The public ``server_status`` view, one row per server, by name."""
    with reader(path) as con:
        return con.execute("SELECT * FROM server_status ORDER BY server").df()
