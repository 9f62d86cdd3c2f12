"""Wall time and peak RSS of `dbt build` (every model, test and unit test) over N events.

    .venv/bin/python benchmarks/dbt_10m.py --events 10000000 [--activities 20] [--lake DIR]

Uses the same synthetic lake as benchmarks/metrics_10m.py (written once, reused), copied into
a temporary folder with its email_metrics tables (which the marts read) computed and written
first, untimed; builds into a fresh DuckDB warehouse there, on the default 2 dbt threads.
Then adds `--new-events` events (a new activity's reports, captured a day later, and its
metrics, untimed) and builds again: the incremental build. Targets: ≤ 60 s at 10M events,
≤ 15 s after 100,000 new ones, peak RSS ≤ 400 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from datetime import UTC, datetime

import pyarrow.compute as pc
from metrics_10m import MIX, build_lake, write_activity
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
from cc_assets.lake.paths import RAW_PREFIX
from cc_assets.lake.writer import write_partition

NEW_CAPTURE = "2026-11-21 00:00:00+00"
"""When the new events of the incremental build were captured: after the lake's."""


def write_metrics(root: Path, activity_ids: list[str] | None = None) -> None:
    """The email_metrics tables of the activities (all of the lake's when None), one partition
    per activity, and campaign_engagement, as the metric assets would write them."""
    lake, now = UPath(str(root.resolve())), datetime.now(UTC)
    metrics = compute.compute_activities(lake, activity_ids, now)
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


def dbt_build(root: Path, scratch: Path) -> float:
    """`dbt build` of every model, test and unit test into the warehouse in `scratch`, on the
    default 2 dbt threads; returns its wall time (fails loudly when dbt does) and prints its
    CPU time too (on a machine shared with other work, the wall time is inflated by it)."""
    env = os.environ | {
        "CC_ASSETS_STORAGE": str(root.resolve()),
        "CC_ASSETS_WAREHOUSE": str(scratch / "warehouse.duckdb"),
        "CC_ASSETS_DBT_TARGET": "duckdb",
    }
    command = [DBT_EXECUTABLE, "build", "--project-dir", str(PROJECT_DIR)]
    command += ["--profiles-dir", str(PROJECT_DIR), "--target-path", str(scratch / "target")]
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    print(f"  dbt's CPU time: {children_cpu() - cpu:.1f} s (user + system)")
    summary = [line for line in done.stdout.splitlines() if "Done." in line or "ERROR" in line]
    print("\n".join(summary[-10:]))
    if done.returncode != 0:
        print(done.stdout[-4000:])
        raise SystemExit(f"dbt build failed ({done.returncode})")
    print_slowest(scratch / "target" / "run_results.json")
    return elapsed


def print_slowest(run_results: Path, count: int = 8) -> None:
    """The build's slowest models and tests (dbt's own timings): where its time went."""
    run = json.loads(run_results.read_text())
    results = run["results"]
    print(
        f"  dbt's run phase {run['elapsed_time']:.1f} s (the rest of the wall time is dbt's "
        f"start and parse), {len(results)} nodes, "
        f"{sum(r['execution_time'] for r in results):.1f} s of node time"
    )
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:count]
    for result in slowest:
        print(f"  {result['execution_time']:6.1f} s  {result['unique_id']}")


def children_cpu() -> float:
    """CPU seconds of the child processes ended so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def peak_mb() -> float:
    """The largest peak RSS of the dbt processes run so far."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--activities", type=int, default=20)
    parser.add_argument("--new-events", type=int, default=100_000)
    parser.add_argument("--lake", type=Path, default=None)
    args = parser.parse_args()
    shared = args.lake or Path(tempfile.gettempdir()) / f"cc_assets_bench_lake_{args.events}"
    events = build_lake(shared, args.events, args.activities)
    print(f"lake: {events:,} events in {shared}")
    with tempfile.TemporaryDirectory(prefix="cc_assets-dbt-bench-") as folder:
        scratch = Path(folder)
        root = scratch / "lake"  # a copy: the new events must not change the shared lake
        shutil.copytree(shared / RAW_PREFIX, root / RAW_PREFIX)
        write_metrics(root)
        elapsed = dbt_build(root, scratch)
        print(
            f"dbt build over {events:,} events: {elapsed:.1f} s, peak RSS {peak_mb():.0f} MB "
            "(target ≤ 60 s at 10M)"
        )
        sends = max(int(args.new_events / sum(MIX.values())), 1)
        new_id, added = write_activity(root, args.activities + 1, sends, NEW_CAPTURE)
        write_metrics(root, [new_id])
        elapsed = dbt_build(root, scratch)
        print(
            f"incremental dbt build after {added:,} new events (a new activity's reports): "
            f"{elapsed:.1f} s, peak RSS of both builds {peak_mb():.0f} MB "
            "(target ≤ 15 s after 100,000)"
        )


if __name__ == "__main__":
    main()
