"""Data-quality measurements of a written partition, for the raw assets' checks.

Plain functions over Parquet files so they are testable without Dagster; the assets turn them
into asset-check results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.lake.paths import asset_dir, lake_root
from cc_assets.lake.schemas import EMAIL_CAMPAIGN_ACTIVITY_STATS, AssetTable

# tracking report -> [(stats key, SQL aggregate over the report)]
STATS_OF_REPORT: dict[str, list[tuple[str, str]]] = {
    "sends": [("em_sends", "count(DISTINCT contact_id)")],
    "opens": [("em_opens", "count(DISTINCT contact_id)"), ("em_opens_all", "count(*)")],
    "clicks": [("em_clicks", "count(DISTINCT contact_id)"), ("em_clicks_all", "count(*)")],
    "bounces": [("em_bounces", "count(DISTINCT contact_id)")],
    "optouts": [("em_optouts", "count(DISTINCT contact_id)")],
    "forwards": [("em_forwards", "count(DISTINCT contact_id)")],
}


@dataclass
class Finding:
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def schema_matches(table: AssetTable, path: UPath) -> Finding:
    with path.open("rb") as handle:
        actual = pq.read_schema(handle)
    same = actual.equals(table.schema)
    return Finding(same, {"expected": str(table.schema.names), "actual": str(actual.names)})


def duplicate_keys(table: AssetTable, path: UPath) -> Finding:
    keys = ", ".join(table.natural_key)
    query = (
        f"SELECT count(*) FROM (SELECT {keys} FROM read_parquet(?) "
        f"GROUP BY {keys} HAVING count(*) > 1)"
    )
    with duckdb.connect() as con:
        (duplicates,) = con.execute(query, [str(path.path)]).fetchone()
    return Finding(duplicates == 0, {"duplicate_keys": int(duplicates), "natural_key": keys})


def counts_match_stats(
    report: str, activity_id: str, path: UPath, root: UPath | None = None
) -> Finding:
    """Events counted from the report vs CC's own activity stats (latest snapshot), counting
    only events up to the stats' `last_refresh_time` since stats lag the reports."""
    wanted = STATS_OF_REPORT.get(report)
    if not wanted:
        return Finding(True, {"compared": False, "reason": f"{report} has no stats counterpart"})
    stats_glob = asset_dir(EMAIL_CAMPAIGN_ACTIVITY_STATS, root or lake_root())
    files = list(stats_glob.glob("*/part-*.parquet")) if stats_glob.exists() else []
    if not files:
        return Finding(True, {"compared": False, "reason": "no activity stats snapshot yet"})
    keys = ", ".join(k for k, _ in wanted)
    with duckdb.connect() as con:
        stats = con.execute(
            f"SELECT last_refresh_time, {keys} FROM read_parquet(?) WHERE campaign_activity_id = ? "
            "ORDER BY captured_at DESC LIMIT 1",
            [[str(f.path) for f in files], activity_id],
        ).fetchone()
        if stats is None:
            return Finding(
                True, {"compared": False, "reason": "activity not in the stats snapshot"}
            )
        # a count the API does not report (v2 has no all-events counts) is not compared
        wanted = [pair for pair, value in zip(wanted, stats[1:], strict=True) if value is not None]
        stats = (stats[0], *(value for value in stats[1:] if value is not None))
        if not wanted:
            return Finding(True, {"compared": False, "reason": "the stats have no such count"})
        aggregates = ", ".join(expr for _, expr in wanted)
        counted = con.execute(
            f"SELECT {aggregates} FROM read_parquet(?) WHERE created_time <= ?",
            [str(path.path), stats[0]],
        ).fetchone()
    expected = dict(zip((k for k, _ in wanted), stats[1:], strict=True))
    actual = dict(zip((k for k, _ in wanted), counted, strict=True))
    metadata = {"compared": True, "stats_last_refresh_time": str(stats[0])}
    metadata |= {f"stats_{k}": int(v) for k, v in expected.items()}
    metadata |= {f"events_{k}": int(v) for k, v in actual.items()}
    return Finding(expected == actual, metadata)
