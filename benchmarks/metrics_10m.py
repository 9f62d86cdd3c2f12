"""Time and peak RSS of the engagement metrics (rates + device breakdown) over N events.

    .venv/bin/python benchmarks/metrics_10m.py --events 10000000 [--activities 20] [--lake DIR]

Writes (once, reused when present) a synthetic lake in the real layout and with the real
schemas (cc_assets/constant_contact/schemas.py): N tracking events over the sends, bounces, opens,
clicks, forwards and optouts reports of `--activities` activities. Then computes every
per-activity metric table (engagement, device breakdown, curve, link clicks) of every activity
with `compute.compute_activities`, and the same counts with one plain DuckDB query (sends,
bounces, unique and all opens and clicks, forwards, opt-outs, device counts) on a connection of
the same memory limit and threads, each in a child process of its own so its peak RSS is its
own, and prints both and their ratio. The limits are `stage_limits()`'s unless given. Targets:
≤ 10 s at 10M on 2 cores, ≤ 1.3 x the plain query, peak RSS ≤ 400 MB.
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
from typing import Any

import duckdb
import pyarrow.parquet as pq

from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.lake.paths import DuckDBLimits, connect, partition_files, stage_limits

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


CAPTURED_AT = "2026-11-20 00:00:00+00"


def _report_sql(report: str, activity: int, sends: int, captured_at: str = CAPTURED_AT) -> str:
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
            TIMESTAMPTZ '{captured_at}' AS captured_at
        FROM range({n}) AS t(i)
    """
    return base


def build_lake(root: Path, events: int, activities: int) -> int:
    """Writes the lake if its marker is absent; returns the number of events written."""
    marker = root / f"events-{events}-{activities}.json"
    if marker.exists():
        return json.loads(marker.read_text())["events"]
    sends = int(events / sum(MIX.values()) / activities)
    written = sum(write_activity(root, a, sends)[1] for a in range(1, activities + 1))
    marker.write_text(json.dumps({"events": written}))
    return written


def write_activity(
    root: Path, activity: int, sends: int, captured_at: str = CAPTURED_AT
) -> tuple[str, int]:
    """Every report of activity number `activity` (`sends` sends and the `MIX` of the others),
    captured at `captured_at`; returns its id and the events written."""
    written, key = 0, ""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for report in MIX:
            table = TRACKING_TABLES[report]
            data = con.sql(_report_sql(report, activity, sends, captured_at)).to_arrow_table()
            data = data.select(table.schema.names).cast(table.schema)
            key = data["campaign_activity_id"][0].as_py()
            folder = root / "constant_contact" / table.name / f"campaign_activity_id={key}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(data, folder / "part-0.parquet", compression="zstd")
            written += data.num_rows
    return key, written


BASELINE_SQL = """
WITH
sends AS (SELECT campaign_activity_id, count(DISTINCT contact_id) AS sends
          FROM read_parquet({sends}) GROUP BY 1),
bounces AS (SELECT campaign_activity_id, count(DISTINCT contact_id) AS bounces
            FROM read_parquet({bounces}) GROUP BY 1),
opens AS (SELECT campaign_activity_id, count(DISTINCT contact_id) AS opens,
                 count(*) AS opens_all FROM read_parquet({opens}) GROUP BY 1),
clicks AS (SELECT campaign_activity_id, count(DISTINCT contact_id) AS clicks,
                  count(*) AS clicks_all FROM read_parquet({clicks}) GROUP BY 1),
forwards AS (SELECT campaign_activity_id, count(DISTINCT contact_id) AS forwards
             FROM read_parquet({forwards}) GROUP BY 1),
optouts AS (SELECT campaign_activity_id, count(DISTINCT contact_id) AS optouts
            FROM read_parquet({optouts}) GROUP BY 1),
devices AS (
    SELECT campaign_activity_id, count(*) AS device_rows
    FROM (SELECT campaign_activity_id, 'open' AS event_type, device_type, count(*) AS events
          FROM read_parquet({opens}) GROUP BY ALL
          UNION ALL
          SELECT campaign_activity_id, 'click' AS event_type, device_type, count(*) AS events
          FROM read_parquet({clicks}) GROUP BY ALL)
    GROUP BY 1)
SELECT count(*) AS activities, sum(sends) AS sends, sum(bounces) AS bounces, sum(opens) AS opens,
       sum(opens_all) AS opens_all, sum(clicks) AS clicks, sum(clicks_all) AS clicks_all,
       sum(forwards) AS forwards, sum(optouts) AS optouts, sum(device_rows) AS device_rows
FROM sends
LEFT JOIN bounces USING (campaign_activity_id)
LEFT JOIN opens USING (campaign_activity_id)
LEFT JOIN clicks USING (campaign_activity_id)
LEFT JOIN forwards USING (campaign_activity_id)
LEFT JOIN optouts USING (campaign_activity_id)
LEFT JOIN devices USING (campaign_activity_id)
"""
"""DuckDB's own speed for the same per-activity counts: one plain query over the whole lake
(`count(DISTINCT ...)`, no per-contact grouping, no curve or links), on a connection with the
metrics' memory limit and threads."""

TOTALS = ("sends", "bounces", "opens", "opens_all", "clicks", "clicks_all", "forwards", "optouts")


def baseline(root: Path, limits: DuckDBLimits) -> dict[str, Any]:
    from upath import UPath  # noqa: PLC0415

    lake = UPath(str(root))
    files = {
        report: str(partition_files(TRACKING_TABLES[report], lake))
        for report in ("sends", "bounces", "opens", "clicks", "forwards", "optouts")
    }
    start = time.perf_counter()
    with connect(lake, limits) as con:
        row = con.execute(BASELINE_SQL.format(**files)).fetchone()
    elapsed = time.perf_counter() - start
    names = ("activities", *TOTALS, "device_rows")
    return {"seconds": round(elapsed, 3)} | {k: int(v) for k, v in zip(names, row, strict=True)}


def measure(root: Path, limits: DuckDBLimits | None) -> dict[str, Any]:
    from upath import UPath  # noqa: PLC0415

    from cc_assets.defs.metrics import compute  # noqa: PLC0415

    limits = limits or stage_limits()
    start = time.perf_counter()
    metrics = compute.compute_activities(UPath(str(root)), None, datetime.now(UTC), limits)
    elapsed = time.perf_counter() - start
    engagement = metrics.engagement
    return {
        "seconds": round(elapsed, 3),
        "memory_mb": limits.memory_mb,
        "threads": limits.threads,
        "activities": engagement.num_rows,
        "device_rows": metrics.devices.num_rows,
        "curve_rows": metrics.curve.num_rows,
        "link_rows": metrics.links.num_rows,
    } | {k: int(sum(engagement[k].to_pylist())) for k in TOTALS}


def run_child(root: Path, events: int, what: str, limits: DuckDBLimits | None) -> dict[str, Any]:
    """`what` ("metrics" or "baseline") in a process of its own: its peak RSS is its own."""
    command = [sys.executable, __file__, "--child", what, "--lake", str(root)]
    command += ["--events", str(events)]
    if limits is not None:
        command += ["--memory-mb", str(limits.memory_mb), "--threads", str(limits.threads)]
    child = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--activities", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="default: stage_limits()")
    parser.add_argument("--memory-mb", type=int, default=None, help="default: stage_limits()")
    parser.add_argument("--lake", type=Path, default=None)
    parser.add_argument("--child", choices=("metrics", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.lake or Path(tempfile.gettempdir()) / f"cc_assets_bench_lake_{args.events}"
    limits = None
    if args.threads is not None or args.memory_mb is not None:
        default = stage_limits()
        limits = DuckDBLimits(args.memory_mb or default.memory_mb, args.threads or default.threads)
    if args.child:
        found = measure(root, limits) if args.child == "metrics" else baseline(root, limits)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(found | {"peak_mb": round(peak)}))
        return
    start = time.perf_counter()
    events = build_lake(root, args.events, args.activities)
    print(f"lake: {events:,} events in {root} ({time.perf_counter() - start:.1f} s to prepare)")
    result = run_child(root, args.events, "metrics", limits)
    chosen = DuckDBLimits(result["memory_mb"], result["threads"])
    plain = run_child(root, args.events, "baseline", chosen)
    same = all(result[k] == plain[k] for k in ("activities", *TOTALS))
    print(
        f"metrics (engagement, device breakdown, curve, link clicks; {result['activities']} "
        f"activities, {result['device_rows']} device rows) at {chosen.memory_mb}MB on "
        f"{chosen.threads} thread(s): {result['seconds']:.2f} s, peak RSS {result['peak_mb']} MB, "
        f"{events / result['seconds']:,.0f} events/s (target ≤ 10 s at 10M)"
    )
    print(
        f"plain DuckDB, the same counts in one query, same limits: {plain['seconds']:.2f} s, "
        f"peak RSS {plain['peak_mb']} MB; counts equal to the metrics': {'yes' if same else 'NO'}"
    )
    print(
        f"ratio metrics / plain DuckDB: {result['seconds'] / plain['seconds']:.2f} (target ≤ 1.3)"
    )


if __name__ == "__main__":
    main()
