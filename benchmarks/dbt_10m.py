"""Wall time and peak RSS of `dbt build` (every model, test and unit test) over N events.

    .venv/bin/python benchmarks/dbt_10m.py --events 10000000 [--activities 20] [--lake DIR]

Uses the same synthetic lake as benchmarks/metrics_10m.py (written once, reused), with its
email_metrics tables (which the marts read) computed and written first, untimed; builds into
a fresh DuckDB warehouse in a temporary folder, on the default 2 dbt threads. Target:
≤ 60 s at 10M events.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from datetime import UTC, datetime

import pyarrow.compute as pc
from metrics_10m import build_lake
from upath import UPath

from cc_assets.defs.analytics.project import DBT_EXECUTABLE, PROJECT_DIR
from cc_assets.defs.metrics import compute
from cc_assets.defs.metrics.tables import (
    ACTIVITY_DEVICE_BREAKDOWN,
    ACTIVITY_ENGAGEMENT,
    ACTIVITY_ENGAGEMENT_CURVE,
    ACTIVITY_LINK_CLICKS,
    CAMPAIGN_ENGAGEMENT,
    METRICS_PREFIX,
)
from cc_assets.lake.writer import write_partition


def write_metrics(root: Path) -> None:
    """The email_metrics tables of the whole lake, one partition per activity, as the metric
    assets would write them."""
    lake, now = UPath(str(root.resolve())), datetime.now(UTC)
    metrics = compute.compute_activities(lake, None, now)
    tables = (
        (ACTIVITY_ENGAGEMENT, metrics.engagement),
        (ACTIVITY_DEVICE_BREAKDOWN, metrics.devices),
        (ACTIVITY_ENGAGEMENT_CURVE, metrics.curve),
        (ACTIVITY_LINK_CLICKS, metrics.links),
    )
    for activity_id in metrics.engagement["campaign_activity_id"].to_pylist():
        for table, rows in tables:
            mine = rows.filter(pc.equal(rows["campaign_activity_id"], activity_id))
            write_partition(
                table,
                activity_id,
                mine.to_batches(),
                captured_at=now,
                root=lake,
                prefix=METRICS_PREFIX,
            )
    campaigns = compute.campaign_engagement(lake, now)
    write_partition(
        CAMPAIGN_ENGAGEMENT,
        None,
        campaigns.to_batches(),
        captured_at=now,
        root=lake,
        prefix=METRICS_PREFIX,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--activities", type=int, default=20)
    parser.add_argument("--lake", type=Path, default=None)
    args = parser.parse_args()
    root = args.lake or Path(tempfile.gettempdir()) / f"cc_assets_bench_lake_{args.events}"
    events = build_lake(root, args.events, args.activities)
    print(f"lake: {events:,} events in {root}")
    write_metrics(root)
    with tempfile.TemporaryDirectory() as scratch:
        env = os.environ | {
            "CC_ASSETS_STORAGE": str(root.resolve()),
            "CC_ASSETS_WAREHOUSE": str(Path(scratch) / "warehouse.duckdb"),
            "CC_ASSETS_DBT_TARGET": "duckdb",
        }
        command = [
            DBT_EXECUTABLE,
            "build",
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(Path(scratch) / "target"),
        ]
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = [line for line in done.stdout.splitlines() if "Done." in line or "ERROR" in line]
    print("\n".join(summary[-10:]))
    if done.returncode != 0:
        print(done.stdout[-4000:])
        raise SystemExit(f"dbt build failed ({done.returncode})")
    print(
        f"dbt build over {events:,} events: {elapsed:.1f} s, peak RSS {peak_mb:.0f} MB "
        "(target ≤ 60 s at 10M)"
    )


if __name__ == "__main__":
    main()
