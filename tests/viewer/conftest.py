"""The dashboard under AppTest, against a seeded DuckDB file (tests/viewer/seed.py)."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.viewer.seed import Seeded, seed

APP = Path(__file__).resolve().parents[2] / "viewer" / "app.py"
STALE_AFTER = "900"  # the seeded ticks stay fresh for 15 minutes; old-1 (30 min) is stale


@pytest.fixture(scope="session")
def seeded_master(tmp_path_factory) -> Seeded:
    return seed(tmp_path_factory.mktemp("seeded") / "mast.duckdb")


@pytest.fixture
def seeded(seeded_master, tmp_path, monkeypatch) -> Seeded:
    """A copy of the seeded warehouse of this test's own, which the viewer reads."""
    path = tmp_path / "mast.duckdb"
    shutil.copy(seeded_master.path, path)
    monkeypatch.setenv("MAST_DB", str(path))
    monkeypatch.setenv("MAST_STALE_AFTER", STALE_AFTER)
    return Seeded(path, seeded_master.now)


@pytest.fixture
def open_page(seeded) -> Callable:
    """open_page("server", server="web-1") -> the AppTest after its first run, caches empty."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()

    def open_(name: str = "fleet", timeout: float = 30, **params: str):
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.query_params.update(params)
        if name != "fleet":
            at.switch_page(f"views/{name}.py")
        return at.run()

    return open_


def queries_during(action: Callable[[], object]) -> Counter:
    """The warehouse queries (cache misses of viewer.cached) that ``action`` ran, by name."""
    from viewer.cached import QUERIES

    before = QUERIES.copy()
    action()
    return QUERIES - before
