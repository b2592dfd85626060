"""Downsampling: roll metric samples up into the history tiers, then apply retention.

``python -m flows.downsample`` runs it once now (against $PREFECT_API_URL, or an
ephemeral Prefect server when none is set) on $MAST_DB, with the tiers of
$MAST_ROLLUP_TIERS and $MAST_RAW_RETENTION. Deployed every 5 minutes.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from warehouse import rollup


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10)
def roll_up() -> dict:
    """One rollup run in one transaction (warehouse.rollup.run): safe to retry."""
    return rollup.run().as_dict()


@flow(name="downsample", log_prints=False)
def downsample() -> dict:
    """Fold closed buckets and late samples into every tier; delete what retention allows."""
    report = roll_up()
    get_run_logger().info(
        "downsampled: %s; %d raw samples past retention deleted",
        ", ".join(
            f"{t['tier']} +{t['fresh_buckets']} closed, {t['late_buckets']} late, "
            f"-{t['pruned']} expired"
            for t in report["tiers"]
        ),
        report["raw_pruned"],
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.downsample", description=__doc__.split("\n")[0]
    )
    parser.parse_args(argv)
    report = downsample()
    for t in report["tiers"]:
        print(
            f"{t['tier']}: closed until {t['closed_until']:%Y-%m-%d %H:%M}, "
            f"{t['fresh_buckets']} buckets written, {t['late_buckets']} with late samples, "
            f"{t['pruned']} expired"
        )
    print(f"raw: {report['raw_pruned']} samples past retention deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
