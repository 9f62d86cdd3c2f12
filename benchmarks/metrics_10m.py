"""Time and peak RSS of the engagement metrics (rates + device breakdown) over N events.

    .venv/bin/python benchmarks/metrics_10m.py --events 10000000 [--activities 20] [--lake DIR]

Writes (once, reused when present) a synthetic lake in the real layout and with the real
schemas (cc_assets/constant_contact/schemas.py): N tracking events over the sends, bounces, opens,
clicks, forwards and optouts reports of `--activities` activities. Then computes
activity_engagement and activity_device_breakdown for every activity in one DuckDB pass, in a
child process so its peak RSS is the metrics' own. Target: ≤ 10 s at 10M on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.lake.paths import DUCKDB_THREADS

# events per send, by report (sums to ~1.8: every send, then opens, clicks, ...)
MIX = {
    "sends": 1.0,
    "bounces": 0.05,
    "opens": 0.6,
    "clicks": 0.12,
    "forwards": 0.01,
    "optouts": 0.01,
}
DEVICES = "['computer', 'mobile', 'tablet', 'other', NULL]"


def _report_sql(report: str, activity: int, sends: int) -> str:
    """One activity's rows of one report, generated in DuckDB (deterministic)."""
    n = max(int(sends * MIX[report]), 1)
    index = "i" if report == "sends" else f"(hash(i, 1) % {sends})"
    contact = f"printf('%08x-0000-4000-8000-%012x', {activity}, {index})"
    base = f"""
        SELECT
            printf('%08x-aaaa-4bbb-8ccc-%012x', {activity}, {activity}) AS campaign_activity_id,
            {contact} AS contact_id,
            'em_{report}' AS tracking_activity_type,
            'contact' || i || '@example.com' AS email_address,
            'First' AS first_name,
            'Last' AS last_name,
            TIMESTAMPTZ '2026-11-01 12:00:00+00' + to_seconds(CAST(hash(i, 2) % 864000 AS BIGINT))
                AS created_time,
            CAST(NULL AS DATE) AS deleted_at,
            ({DEVICES})[1 + CAST(hash(i, 3) % 5 AS INTEGER)] AS device_type,
            CAST(1100000000000 + hash(i, 4) % 8 AS VARCHAR) AS url_id,
            'https://example.com/l/' || (hash(i, 4) % 8) AS link_url,
            NULL AS opt_out_reason,
            (['B', 'D', 'F', 'S', 'V', 'X', 'Z'])[1 + CAST(hash(i, 5) % 7 AS INTEGER)]
                AS bounce_code,
            NULL AS current_email_address,
            TIMESTAMPTZ '2026-11-20 00:00:00+00' AS captured_at
        FROM range({n}) AS t(i)
    """
    return base


def build_lake(root: Path, events: int, activities: int) -> int:
    """Writes the lake if its marker is absent; returns the number of events written."""
    marker = root / f"events-{events}-{activities}.json"
    if marker.exists():
        return json.loads(marker.read_text())["events"]
    sends = int(events / sum(MIX.values()) / activities)
    written = 0
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for activity in range(1, activities + 1):
            for report in MIX:
                table = TRACKING_TABLES[report]
                data = con.sql(_report_sql(report, activity, sends)).to_arrow_table()
                data = data.select(table.schema.names).cast(table.schema)
                key = data["campaign_activity_id"][0].as_py()
                folder = root / "constant_contact" / table.name / f"campaign_activity_id={key}"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(data, folder / "part-0.parquet", compression="zstd")
                written += data.num_rows
    marker.write_text(json.dumps({"events": written}))
    return written


def measure(root: Path, threads: int) -> dict[str, float]:
    from upath import UPath  # noqa: PLC0415

    from cc_assets.defs.metrics import compute  # noqa: PLC0415

    start = time.perf_counter()
    metrics = compute.compute_activities(UPath(str(root)), None, datetime.now(UTC), threads=threads)
    elapsed = time.perf_counter() - start
    return {
        "seconds": round(elapsed, 3),
        "activities": metrics.engagement.num_rows,
        "device_rows": metrics.devices.num_rows,
        "curve_rows": metrics.curve.num_rows,
        "link_rows": metrics.links.num_rows,
        "sends": int(sum(metrics.engagement["sends"].to_pylist())),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--activities", type=int, default=20)
    parser.add_argument(
        "--threads", type=int, default=DUCKDB_THREADS, help="DuckDB threads (the lake's: 1)"
    )
    parser.add_argument("--lake", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.lake or Path(tempfile.gettempdir()) / f"cc_assets_bench_lake_{args.events}"
    if args.child:
        print(json.dumps(measure(root, args.threads)))
        return
    start = time.perf_counter()
    events = build_lake(root, args.events, args.activities)
    print(f"lake: {events:,} events in {root} ({time.perf_counter() - start:.1f} s to prepare)")
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--lake",
            str(root),
            "--events",
            str(args.events),
            "--threads",
            str(args.threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"metrics (activity_engagement + device breakdown, {result['activities']} activities, "
        f"{result['device_rows']} device rows): {result['seconds']:.2f} s, "
        f"peak RSS {peak_mb:.0f} MB, {events / result['seconds']:,.0f} events/s "
        f"(target ≤ 10 s at 10M)"
    )


if __name__ == "__main__":
    main()
