"""Secrets stay secret: a passphrase from a Prefect Secret block unlocks the key, and
neither it nor the private key nor the environment appears anywhere Mast writes."""

from __future__ import annotations

import asyncio
import logging

import duckdb
import pytest

from bench.localfleet import LocalFleet

pytestmark = pytest.mark.usefixtures("prefect_server")

PASSPHRASE = "correct-horse-7Xq!battery"
SENTINEL = "env-sentinel-3f9a1c"  # stands for any other secret in the environment


@pytest.fixture(scope="module")
def locked_fleet(tmp_path_factory):
    with LocalFleet(
        tmp_path_factory.mktemp("locked"), count=2, prefix="locked", passphrase=PASSPHRASE
    ) as f:
        yield f


async def everything_prefect_kept(flow_run_ids: list) -> str:
    """Logs, parameters, artifacts and task runs of the given flow runs, as one text."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids))
        )
        runs = [await client.read_flow_run(i) for i in flow_run_ids]
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids))
        )
        tasks = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids))
        )
    parts = [log.message for log in logs]
    parts += [repr(r.parameters) + repr(r.state) for r in runs]
    parts += [repr(a.data) + repr(a.description) for a in artifacts]
    parts += [repr(t.task_inputs) + repr(t.state) + t.name for t in tasks]
    assert logs and tasks, "nothing to search: the runs were not recorded"
    return "\n".join(parts)


def warehouse_text(db) -> str:
    con = duckdb.connect(str(db), read_only=True)
    tables = [
        t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    ]
    text = "\n".join(repr(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
    con.close()
    return text


def test_passphrase_from_a_secret_block_and_nothing_leaks(locked_fleet, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret
    from prefect.logging.handlers import APILogHandler

    from bench.flow import bench
    from flows.tick import tick

    Secret(value=PASSPHRASE).save("mast-test-passphrase", overwrite=True)
    inventory = locked_fleet.write_inventory(tmp_path / "fleet.yaml")
    monkeypatch.delenv("MAST_SSH_KEY_PASSPHRASE", raising=False)
    monkeypatch.setenv("MAST_SSH_KEY_PASSPHRASE_BLOCK", "mast-test-passphrase")
    monkeypatch.setenv("MAST_INVENTORY", str(inventory))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    monkeypatch.setenv("MAST_TEST_SENTINEL", SENTINEL)

    for name in ("prefect.flow_runs", "prefect.task_runs"):  # send INFO logs to the API too
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "level", logging.INFO)
        logger.manager._clear_cache()  # isEnabledFor() answers are cached per logger
    tick_state = tick(return_state=True)
    assert tick_state.result()["reachable"] == 2  # the block's passphrase unlocked the key
    bench_state = bench(n=1, probes=["system"], return_state=True)
    assert bench_state.is_completed()

    APILogHandler().flush()
    private_key = locked_fleet.client_key.read_text().splitlines()[1]  # a line of the key body
    kept = asyncio.run(
        everything_prefect_kept(
            [tick_state.state_details.flow_run_id, bench_state.state_details.flow_run_id]
        )
    )
    stored = warehouse_text(tmp_path / "mast.duckdb")
    assert "locked-1" in kept and "locked-1" in stored  # the searches do see the runs
    for secret in (PASSPHRASE, private_key, SENTINEL):
        assert secret not in kept
        assert secret not in stored
    assert PASSPHRASE not in inventory.read_text()


def test_an_encrypted_key_without_its_passphrase_is_a_clear_auth_failure(
    locked_fleet, tmp_path, monkeypatch
):
    from flows.tick import tick

    monkeypatch.delenv("MAST_SSH_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("MAST_SSH_KEY_PASSPHRASE_BLOCK", raising=False)
    monkeypatch.setenv("MAST_INVENTORY", str(locked_fleet.write_inventory(tmp_path / "fleet.yaml")))
    monkeypatch.setenv("MAST_DB", str(tmp_path / "mast.duckdb"))
    landed = tick()
    assert landed["reachable"] == 0
    import duckdb as db

    con = db.connect(str(tmp_path / "mast.duckdb"), read_only=True)
    rows = con.execute("SELECT reason, error FROM server_status").fetchall()
    con.close()
    assert {r for r, _ in rows} == {"auth"}
    assert all("MAST_SSH_KEY_PASSPHRASE" in e for _, e in rows)
