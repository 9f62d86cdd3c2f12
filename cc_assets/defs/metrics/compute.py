"""Engagement metrics as DuckDB SQL over the Parquet lake. No Dagster in here.

The same SQL serves one activity partition (the assets) and a whole lake (the benchmark): the
tracking reports are exposed as views `t_<report>` over whichever files are in scope, and the
activities to compute as the table `wanted`. Formulas are Constant Contact's (DESIGN §6):
rates are percents at full precision, null when their denominator is 0. Device splits are
null, not zero, when no event has a device type (a v2 account's events carry none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
from upath import UPath

from cc_assets.defs.metrics.tables import (
    ACTIVITY_DEVICE_BREAKDOWN,
    ACTIVITY_ENGAGEMENT,
    CAMPAIGN_ENGAGEMENT,
    COUNT_COLUMNS,
    METRICS_PREFIX,
    PERCENT_OF_RATE,
)
from cc_assets.lake.paths import PART_GLOB, asset_dir, partition_file
from cc_assets.lake.schemas import (
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGNS,
    TRACKING_TABLES,
    AssetTable,
)

REPORTS: dict[str, tuple[str, ...]] = {
    "sends": ("campaign_activity_id", "contact_id", "created_time"),
    "bounces": ("campaign_activity_id", "contact_id", "created_time"),
    "opens": ("campaign_activity_id", "contact_id", "created_time", "device_type"),
    "clicks": ("campaign_activity_id", "contact_id", "created_time", "device_type"),
    "forwards": ("campaign_activity_id", "contact_id", "created_time"),
    "optouts": ("campaign_activity_id", "contact_id", "created_time"),
}
"""The tracking reports the metrics read, and the columns they need from each."""

MOBILE_DEVICES = ("mobile", "tablet")


def _pct(numerator: str, denominator: str) -> str:
    """A percent, cast before dividing, null on a zero denominator."""
    return f"100.0 * CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0)"


RATES_SQL = ",\n".join(
    [
        f"{_pct('opens', 'delivered')} AS open_rate",
        f"{_pct('clicks', 'opens')} AS click_rate",
        f"{_pct('clicks', 'delivered')} AS click_through_rate",
        f"{_pct('bounces', 'sends')} AS bounce_rate",
        f"{_pct('not_opened', 'delivered')} AS did_not_open_rate",
        f"{_pct('optouts', 'delivered')} AS unsubscribe_rate",
        f"{_pct('mobile_opens_all', 'opens_all')} AS mobile_open_rate",
        f"{_pct('opens_all - mobile_opens_all', 'opens_all')} AS desktop_open_rate",
        f"{_pct('mobile_clicks_all', 'clicks_all')} AS mobile_click_rate",
        f"{_pct('clicks_all - mobile_clicks_all', 'clicks_all')} AS desktop_click_rate",
    ]
)
"""Every rate from the count columns of the row (`sends`, `delivered`, `opens`, ...)."""

_MOBILE = ", ".join(f"'{d}'" for d in MOBILE_DEVICES)

ENGAGEMENT_SQL = f"""
WITH
sends AS (
    SELECT campaign_activity_id, count(DISTINCT contact_id) AS sends,
           min(created_time) AS first_send_time, max(created_time) AS last_time
    FROM t_sends GROUP BY 1),
bounces AS (
    SELECT campaign_activity_id, count(DISTINCT contact_id) AS bounces,
           max(created_time) AS last_time
    FROM t_bounces GROUP BY 1),
opens AS (
    SELECT campaign_activity_id, count(DISTINCT contact_id) AS opens, count(*) AS opens_all,
           CASE WHEN count(device_type) > 0
                THEN count(*) FILTER (WHERE device_type IN ({_MOBILE})) END AS mobile_opens_all,
           min(created_time) AS first_open_time, max(created_time) AS last_time
    FROM t_opens GROUP BY 1),
clicks AS (
    SELECT campaign_activity_id, count(DISTINCT contact_id) AS clicks, count(*) AS clicks_all,
           CASE WHEN count(device_type) > 0
                THEN count(*) FILTER (WHERE device_type IN ({_MOBILE})) END AS mobile_clicks_all,
           max(created_time) AS last_time
    FROM t_clicks GROUP BY 1),
forwards AS (
    SELECT campaign_activity_id, count(DISTINCT contact_id) AS forwards,
           max(created_time) AS last_time
    FROM t_forwards GROUP BY 1),
optouts AS (
    SELECT campaign_activity_id, count(DISTINCT contact_id) AS optouts,
           max(created_time) AS last_time
    FROM t_optouts GROUP BY 1),
counted AS (
    SELECT
        w.campaign_activity_id,
        ac.campaign_id,
        coalesce(s.sends, 0) AS sends,
        coalesce(b.bounces, 0) AS bounces,
        coalesce(s.sends, 0) - coalesce(b.bounces, 0) AS delivered,
        coalesce(o.opens, 0) AS opens,
        coalesce(o.opens_all, 0) AS opens_all,
        if(o.opens_all IS NULL, 0, o.mobile_opens_all) AS mobile_opens_all,
        coalesce(c.clicks, 0) AS clicks,
        coalesce(c.clicks_all, 0) AS clicks_all,
        if(c.clicks_all IS NULL, 0, c.mobile_clicks_all) AS mobile_clicks_all,
        coalesce(f.forwards, 0) AS forwards,
        coalesce(u.optouts, 0) AS optouts,
        greatest(coalesce(s.sends, 0) - coalesce(o.opens, 0) - coalesce(b.bounces, 0), 0)
            AS not_opened,
        s.first_send_time,
        o.first_open_time,
        greatest(s.last_time, b.last_time, o.last_time, c.last_time, f.last_time, u.last_time)
            AS last_event_time
    FROM wanted AS w
    LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)
    LEFT JOIN sends AS s USING (campaign_activity_id)
    LEFT JOIN bounces AS b USING (campaign_activity_id)
    LEFT JOIN opens AS o USING (campaign_activity_id)
    LEFT JOIN clicks AS c USING (campaign_activity_id)
    LEFT JOIN forwards AS f USING (campaign_activity_id)
    LEFT JOIN optouts AS u USING (campaign_activity_id))
SELECT
    *,
    {RATES_SQL},
    CAST(date_diff('second', first_send_time, first_open_time) AS BIGINT)
        AS seconds_to_first_open,
    CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM counted
ORDER BY campaign_activity_id
"""

DEVICE_SQL = """
WITH events AS (
    SELECT campaign_activity_id, 'open' AS event_type,
           coalesce(device_type, 'none') AS device_type,
           count(*) AS events, count(DISTINCT contact_id) AS contacts
    FROM t_opens WHERE campaign_activity_id IN (SELECT campaign_activity_id FROM wanted)
    GROUP BY ALL
    UNION ALL
    SELECT campaign_activity_id, 'click' AS event_type,
           coalesce(device_type, 'none') AS device_type,
           count(*) AS events, count(DISTINCT contact_id) AS contacts
    FROM t_clicks WHERE campaign_activity_id IN (SELECT campaign_activity_id FROM wanted)
    GROUP BY ALL)
SELECT
    e.campaign_activity_id,
    ac.campaign_id,
    e.event_type,
    e.device_type,
    e.events,
    e.contacts,
    100.0 * CAST(e.events AS DOUBLE)
        / NULLIF(sum(e.events) OVER (PARTITION BY e.campaign_activity_id, e.event_type), 0)
        AS share_percent,
    CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM events AS e
LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)
ORDER BY 1, 3, 4
"""

_SUMMED = [c for c in COUNT_COLUMNS if c != "not_opened"]  # not_opened is derived, floored

CAMPAIGN_SQL = f"""
WITH activities AS (
    SELECT coalesce(ac.campaign_id, ae.campaign_id) AS campaign_id, ae.*
        EXCLUDE (campaign_id)
    FROM t_activity_engagement AS ae
    LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)),
summed AS (
    SELECT
        campaign_id,
        count(DISTINCT campaign_activity_id) AS activities,
        {", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in _SUMMED)},
        CAST(greatest(sum(sends) - sum(opens) - sum(bounces), 0) AS BIGINT) AS not_opened,
        min(first_send_time) AS first_send_time,
        min(first_open_time) AS first_open_time,
        max(last_event_time) AS last_event_time
    FROM activities
    WHERE campaign_id IS NOT NULL
    GROUP BY campaign_id)
SELECT
    *,
    {RATES_SQL},
    CAST(date_diff('second', first_send_time, first_open_time) AS BIGINT)
        AS seconds_to_first_open,
    CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM summed
ORDER BY campaign_id
"""


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _local(path: UPath) -> str:
    return str(path.path) if path.protocol in {"", "file", "local"} else str(path)


def _files(table: AssetTable, root: UPath, keys: Sequence[str] | None) -> list[str]:
    if keys is None:
        folder = asset_dir(table, root)
        return sorted(_local(p) for p in folder.glob(f"*/{PART_GLOB}")) if folder.exists() else []
    files = [partition_file(table, key, root) for key in keys]
    return [_local(f) for f in files if f.exists()]


def _view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: list[str],
    columns: Sequence[str],
    schema: pa.Schema,
) -> None:
    """`name` as a view over `files` (the partition column is read from inside the files), or
    an empty table of the same columns and types when there are none yet."""
    if files:
        listed = ", ".join(f"'{f}'" for f in files)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {', '.join(columns)} "
            f"FROM read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"
        )
    else:
        empty = pa.schema([schema.field(c) for c in columns]).empty_table()
        con.register(f"{name}_empty", empty)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_empty")


def latest_snapshot(table: AssetTable, root: UPath) -> str | None:
    """The file of the newest daily snapshot of `table`, if any."""
    folder = asset_dir(table, root)
    if not folder.exists():
        return None
    files = sorted(folder.glob(f"snapshot_date=*/{PART_GLOB}"), key=lambda p: p.parent.name)
    return _local(files[-1]) if files else None


def prepare(
    con: duckdb.DuckDBPyConnection, root: UPath, activity_ids: Sequence[str] | None = None
) -> None:
    """Expose the tracking reports (of `activity_ids`, or of every activity when None), the
    activities to compute (`wanted`) and the activity -> campaign map (`activity_campaign`)."""
    for report, columns in REPORTS.items():
        table = TRACKING_TABLES[report]
        _view(con, f"t_{report}", _files(table, root, activity_ids), columns, table.schema)
    if activity_ids is not None:
        con.register("wanted_ids", pa.table({"campaign_activity_id": list(activity_ids)}))
        con.execute("CREATE OR REPLACE TEMP VIEW wanted AS SELECT * FROM wanted_ids")
    else:
        union = " UNION ".join(f"SELECT campaign_activity_id FROM t_{r}" for r in REPORTS)
        con.execute(f"CREATE OR REPLACE TEMP VIEW wanted AS {union}")
    register_campaign_map(con, root)


def register_campaign_map(con: duckdb.DuckDBPyConnection, root: UPath) -> str:
    """`activity_campaign(campaign_activity_id, campaign_id)`: from the newest email_campaigns
    snapshot, else the newest activity stats snapshot, else empty. Returns where it came from."""
    for table in (EMAIL_CAMPAIGNS, EMAIL_CAMPAIGN_ACTIVITY_STATS):
        file = latest_snapshot(table, root)
        if file is not None:
            con.execute(
                "CREATE OR REPLACE TEMP VIEW activity_campaign AS "
                "SELECT campaign_activity_id, any_value(campaign_id) AS campaign_id "
                f"FROM read_parquet('{file}', hive_partitioning = false) "
                "WHERE campaign_activity_id IS NOT NULL GROUP BY 1"
            )
            return table.name
    con.register(
        "activity_campaign_empty",
        pa.table({"campaign_activity_id": pa.array([], pa.string()), "campaign_id": []}),
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW activity_campaign AS "
        "SELECT campaign_activity_id, CAST(campaign_id AS VARCHAR) AS campaign_id "
        "FROM activity_campaign_empty"
    )
    return "none"


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, table: AssetTable, computed_at: datetime
) -> pa.Table:
    stamp = computed_at.replace(microsecond=computed_at.microsecond // 1000 * 1000)
    result = con.sql(sql, params={"computed_at": stamp}).to_arrow_table()
    return result.select(table.schema.names).cast(table.schema)


def activity_engagement(con: duckdb.DuckDBPyConnection, computed_at: datetime) -> pa.Table:
    """One row per wanted activity (after `prepare`)."""
    return _run(con, ENGAGEMENT_SQL, ACTIVITY_ENGAGEMENT, computed_at)


def device_breakdown(con: duckdb.DuckDBPyConnection, computed_at: datetime) -> pa.Table:
    """One row per wanted activity x event type (open, click) x device type."""
    return _run(con, DEVICE_SQL, ACTIVITY_DEVICE_BREAKDOWN, computed_at)


def campaign_engagement(
    con: duckdb.DuckDBPyConnection, root: UPath, computed_at: datetime
) -> pa.Table:
    """One row per campaign from every written activity_engagement partition."""
    folder = root / METRICS_PREFIX / ACTIVITY_ENGAGEMENT.name
    found = sorted(_local(p) for p in folder.glob(f"*/{PART_GLOB}")) if folder.exists() else []
    _view(
        con,
        "t_activity_engagement",
        found,
        ACTIVITY_ENGAGEMENT.schema.names,
        ACTIVITY_ENGAGEMENT.schema,
    )
    register_campaign_map(con, root)
    return _run(con, CAMPAIGN_SQL, CAMPAIGN_ENGAGEMENT, computed_at)


def compute_activities(
    root: UPath,
    activity_ids: Sequence[str] | None,
    computed_at: datetime | None = None,
    threads: int | None = None,
) -> tuple[pa.Table, pa.Table]:
    """(activity_engagement, activity_device_breakdown) of the activities, in one connection."""
    computed_at = computed_at or datetime.now(UTC)
    with connect(threads) as con:
        prepare(con, root, activity_ids)
        return activity_engagement(con, computed_at), device_breakdown(con, computed_at)


# --- reconciliation with Constant Contact's own stats --------------------------------------


@dataclass
class Reconciliation:
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


ACTIVITY_STATS_OF_COUNT: dict[str, str] = {
    "sends": "em_sends",
    "opens": "em_opens",
    "opens_all": "em_opens_all",
    "clicks": "em_clicks",
    "clicks_all": "em_clicks_all",
    "bounces": "em_bounces",
    "optouts": "em_optouts",
    "forwards": "em_forwards",
}


def _all_snapshots(table: AssetTable, root: UPath) -> list[str]:
    folder = asset_dir(table, root)
    if not folder.exists():
        return []
    return sorted(_local(p) for p in folder.glob(f"snapshot_date=*/{PART_GLOB}"))


def reconcile_activity(row: dict[str, Any], root: UPath) -> Reconciliation:
    """Counts from the events vs the newest `email_campaign_activity_stats` row of the activity.

    Compared only when CC's stats were refreshed after the newest event we hold; otherwise the
    difference is CC's refresh lag, not an error, and the check passes with a note."""
    files = _all_snapshots(EMAIL_CAMPAIGN_ACTIVITY_STATS, root)
    activity_id = row["campaign_activity_id"]
    if not files:
        return Reconciliation(True, {"compared": False, "note": "no activity stats snapshot yet"})
    keys = ", ".join(ACTIVITY_STATS_OF_COUNT.values())
    with connect() as con:
        found = con.execute(
            f"SELECT snapshot_date, last_refresh_time, {keys} "
            "FROM read_parquet($files, hive_partitioning = false, union_by_name = true) "
            "WHERE campaign_activity_id = $id "
            "ORDER BY snapshot_date DESC, captured_at DESC NULLS LAST LIMIT 1",
            {"files": files, "id": activity_id},
        ).fetchone()
    if found is None:
        return Reconciliation(
            True, {"compared": False, "note": "activity not in any activity stats snapshot"}
        )
    snapshot_date, refreshed, *values = found
    stats = dict(zip(ACTIVITY_STATS_OF_COUNT.values(), values, strict=True))
    metadata: dict[str, Any] = {
        "stats_snapshot_date": str(snapshot_date),
        "stats_last_refresh_time": str(refreshed),
        "last_event_time": str(row["last_event_time"]),
    }
    newest = row["last_event_time"]
    if newest is not None and (refreshed is None or refreshed < newest):
        metadata |= {"compared": False, "note": "stats lag: refreshed before the newest event"}
        return Reconciliation(True, metadata)
    mismatched = {
        ours: f"events {row[ours]} vs stats {stats[theirs]}"
        for ours, theirs in ACTIVITY_STATS_OF_COUNT.items()
        if int(row[ours]) != int(stats[theirs] or 0)
    }
    metadata |= {"compared": True, "mismatches": len(mismatched)}
    metadata |= {f"mismatch_{k}": v for k, v in mismatched.items()}
    return Reconciliation(not mismatched, metadata)


def reconcile_campaigns(campaigns: pa.Table, root: UPath) -> Reconciliation:
    """Our campaign rates, rounded to one decimal, vs the newest `percents_*` of
    `email_campaign_stats` (a zero denominator: our null vs CC's 0). Campaigns whose stats
    were refreshed before their newest event are skipped as lagging."""
    files = _all_snapshots(EMAIL_CAMPAIGN_STATS, root)
    if not files or campaigns.num_rows == 0:
        return Reconciliation(True, {"compared": 0, "note": "nothing to compare yet"})
    ours_cols = ", ".join(f"round(coalesce(o.{r}, 0), 1) AS o_{r}" for r in PERCENT_OF_RATE)
    theirs_cols = ", ".join(
        f"round(coalesce(s.percents_{p}, 0), 1) AS s_{r}" for r, p in PERCENT_OF_RATE.items()
    )
    with connect() as con:
        con.register("ours", campaigns)
        rows = con.execute(
            f"""
            WITH stats AS (
                SELECT * FROM read_parquet($files, hive_partitioning = false,
                                           union_by_name = true)
                QUALIFY row_number() OVER (PARTITION BY campaign_id
                    ORDER BY snapshot_date DESC, captured_at DESC NULLS LAST) = 1)
            SELECT o.campaign_id, s.last_refresh_time >= o.last_event_time
                   OR o.last_event_time IS NULL AS fresh, {ours_cols}, {theirs_cols}
            FROM ours AS o JOIN stats AS s USING (campaign_id)
            """,
            {"files": files},
        ).fetchall()
    compared, lagging, mismatches = 0, 0, []
    for campaign_id, fresh, *values in rows:
        if not fresh:
            lagging += 1
            continue
        compared += 1
        n = len(PERCENT_OF_RATE)
        for rate, ours, theirs in zip(PERCENT_OF_RATE, values[:n], values[n:], strict=True):
            if abs(float(ours) - float(theirs)) > 1e-9:
                mismatches.append(f"{campaign_id} {rate}: {ours} vs CC {theirs}")
    metadata: dict[str, Any] = {
        "compared": compared,
        "lagging": lagging,
        "mismatches": len(mismatches),
    }
    if lagging:
        metadata["note"] = f"stats lag: {lagging} campaign(s) refreshed before their newest event"
    if mismatches:
        metadata["first_mismatches"] = "\n".join(mismatches[:10])
    return Reconciliation(not mismatches, metadata)
