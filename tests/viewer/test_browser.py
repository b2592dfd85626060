"""The real app in a real browser: ``streamlit run viewer/app.py`` against a seeded
warehouse, driven by Playwright with Debian's chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.localfleet import free_ports
from probes.collect import utcnow
from tests.viewer.seed import SERVERS, down
from warehouse.land import land_tick

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REFRESH_S = 2  # the fleet table's timer in this test
ROW_PX = 35  # Streamlit's dataframe row (and header) height

pytestmark = pytest.mark.slow


@pytest.fixture
def served(seeded, tmp_path):
    """The app on a free loopback port, as flows/demo.py starts it."""
    port = free_ports(1)[0]
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 (lives as long as the child)
    env = dict(os.environ, MAST_VIEWER_REFRESH=str(REFRESH_S))
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "streamlit"),
            "run",
            "viewer/app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "streamlit did not answer in 60 s"
        time.sleep(0.3)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """$MAST_SCREENSHOTS, else viewer-screenshots under pytest's base temp directory
    (pytest keeps only the last three of those)."""
    chosen = os.environ.get("MAST_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "viewer-screenshots"


def column(page, col: int) -> list[str]:
    """Column ``col`` of the fleet table, from the grid's accessible table."""
    return page.locator(
        f'[data-testid="stDataFrame"] td[id^="glide-cell-{col}-"]'
    ).all_inner_texts()


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout_s:g} s"
        time.sleep(0.25)


def click_link(context, page, row: int):
    """Click the server link of fleet table row ``row``; the page it opens. The table
    redraws on its timer, so a click that lands mid-redraw is tried again."""
    for _ in range(5):
        canvas = page.locator('[data-testid="data-grid-canvas"]').bounding_box()
        x, y = canvas["x"] + 18, canvas["y"] + ROW_PX * (row + 1) + ROW_PX / 2
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        try:
            with context.expect_page(timeout=5_000) as opened:
                page.mouse.click(x, y)
            return opened.value
        except PlaywrightTimeout:
            continue
    raise AssertionError("clicking the server link opened no page")


def test_fleet_table_live_status_and_click_through_to_a_server(served, seeded, screenshots):
    from playwright.sync_api import sync_playwright

    screenshots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.goto(served + "/")
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
        figures = page.locator('[data-testid="stMetricValue"]')
        wait_until(lambda: figures.count() == 6, 30, "the fleet figures rendered")
        assert figures.all_inner_texts() == ["2 / 4", "1", "1", "2", "1", "1"]
        wait_until(lambda: len(column(page, 0)) == 4, 30, "the table's rows rendered")
        links = column(page, 0)
        assert links == [f"server?server={n}" for n in ("db-1", "old-1", "web-1", "web-2")]
        assert column(page, 1) == ["down", "stale", "up", "up"]

        # A tick lands web-2 as down: the table's timer shows it, the rest stays as it was.
        land_tick("t-live", utcnow(), SERVERS[1:2], [down("web-2", utcnow())], seeded.path)
        wait_until(
            lambda: column(page, 1) == ["down", "stale", "up", "down"],
            REFRESH_S + 10 + 15,  # the timer, the query's TTL, a slow machine
            "the fleet table showed web-2 down",
        )
        assert figures.all_inner_texts()[1] == "1"  # the figures did not rerun
        page.screenshot(path=str(screenshots / "fleet.png"))

        # The row's link opens the server's page (in a new tab, as link columns do). The
        # grid is a canvas: click where the row's link is drawn.
        server = click_link(context, page, links.index("server?server=web-1"))
        server.set_viewport_size({"width": 1600, "height": 2000})
        assert server.url == f"{served}/server?server=web-1"
        server.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=60_000)
        charts = server.locator('[data-testid="stVegaLiteChart"]')
        wait_until(lambda: charts.count() == 4, 30, "four charts rendered")
        assert server.locator("h1").first.inner_text() == "web-1"
        shown = {
            m.split("\n")[0]: m.split("\n")[-1]
            for m in server.locator('[data-testid="stMetric"]').all_inner_texts()
        }
        assert shown == {
            "CPU busy (%)": "25.0",
            "Memory used (%)": "75.0",
            "Disk used (%)": "25.0",
            "Load (1 min)": "0.50",
        }
        body = server.locator('[data-testid="stMain"]').inner_text()
        assert "Debian GNU/Linux 12 (bookworm)" in body and "6.1.0-18-amd64" in body
        assert "(tier 5m)" in body
        cells = server.locator('[data-testid="stDataFrame"] td')
        wait_until(lambda: "openssl" in cells.all_inner_texts(), 30, "the patches listed")
        assert "release?release=api.example.test" in cells.all_inner_texts()  # its releases
        drawn = server.locator('[data-testid="stVegaLiteChart"] svg.marks')
        wait_until(lambda: drawn.count() == 4, 30, "the charts drawn")
        axes = server.locator('svg.marks [aria-roledescription="axis"]')
        labels = " ".join(a.get_attribute("aria-label") or "" for a in axes.all())
        for title in ("CPU busy (%)", "Memory used (%)", "Disk used (%)", "Load (1 min)"):
            assert f"Y-axis titled '{title}'" in labels  # from probes.system.METRICS
        assert "X-axis titled 'time (UTC)' for a utc scale" in labels
        lines = server.locator('svg.marks path[aria-roledescription="line mark"]')
        assert lines.count() == 4 and all(
            len(p.get_attribute("d") or "") > 100 for p in lines.all()
        )
        time.sleep(1)  # let the charts finish their first draw
        server.screenshot(path=str(screenshots / "server.png"))
        browser.close()
    print(f"\nscreenshots: {screenshots / 'fleet.png'} {screenshots / 'server.png'}")
    assert (screenshots / "server.png").stat().st_size > 10_000
