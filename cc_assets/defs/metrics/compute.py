"""Engagement metrics as DuckDB SQL over the Parquet lake. No Dagster in here.

This is the project's one implementation of Constant Contact's formulas: every count, rate,
device share and curve the UI, the checks and the dbt marts show is computed here. The same
SQL serves one activity partition (the assets) and a whole lake (the benchmark): the tracking
reports are exposed as views `t_<report>` over whichever files are in scope, and the
activities to compute as the table `wanted`. Rates are percents at full precision, null when
their denominator is 0. Device counts and shares are null, not zero, when an activity has opens
(clicks) but none of them carries a device type (a v2 account's events carry none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
from upath import UPath

from cc_assets.constant_contact.schemas import (
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGNS,
    EMAIL_LINKS,
    TRACKING_TABLES,
    AssetTable,
)
from cc_assets.defs.metrics.tables import (
    ACTIVITY_DEVICE_BREAKDOWN,
    ACTIVITY_ENGAGEMENT,
    ACTIVITY_ENGAGEMENT_CURVE,
    ACTIVITY_LINK_CLICKS,
    ACTIVITY_STATS_DAILY,
    CAMPAIGN_ENGAGEMENT,
    COUNT_COLUMNS,
    CURVE_HOURS,
    METRICS_PREFIX,
    PERCENT_OF_RATE,
)
from cc_assets.lake.paths import DuckDBLimits, connect, partition_files, partition_key, stage_limits
from cc_assets.pipeline.quality import Finding
from cc_assets.pipeline.stats_match import (
    COUNTS_OF_REPORT,
    ActivityStats,
    lags,
    match_activity,
    match_counts,
)

REPORTS: dict[str, tuple[str, ...]] = {
    "sends": ("campaign_activity_id", "contact_id", "created_time"),
    "bounces": ("campaign_activity_id", "contact_id", "created_time"),
    "opens": ("campaign_activity_id", "contact_id", "created_time", "device_type"),
    "clicks": (
        "campaign_activity_id",
        "contact_id",
        "created_time",
        "device_type",
        "url_id",
        "link_url",
    ),
    "forwards": ("campaign_activity_id", "contact_id", "created_time"),
    "optouts": ("campaign_activity_id", "contact_id", "created_time"),
}
"""The tracking reports the metrics read, and the columns they need from each."""

LINK_COLUMNS = ("campaign_activity_id", "url_id", "link_url", "unique_clicks")
"""The columns of `email_links` the per-link clicks read."""

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
        f"{_pct('mobile_opens_all', 'opens_all')} AS mobile_open_share",
        f"{_pct('opens_all - mobile_opens_all', 'opens_all')} AS desktop_open_share",
        f"{_pct('mobile_clicks_all', 'clicks_all')} AS mobile_click_share",
        f"{_pct('clicks_all - mobile_clicks_all', 'clicks_all')} AS desktop_click_share",
    ]
)
"""Every rate and share from the count columns of the row (`sends`, `delivered`, `opens`, ...):
the one definition of each formula, used for activities, campaigns and CC's daily stats."""

_MOBILE = ", ".join(f"'{d}'" for d in MOBILE_DEVICES)

CONTACT_REPORTS = ("sends", "bounces", "forwards", "optouts")
"""Reports counted only as distinct contacts and times: one row from one scan."""

EVENT_KEYS: dict[str, tuple[str, ...]] = {
    "opens": ("device_type",),
    "clicks": ("device_type", "url_id"),
}
"""Reports whose events feed several tables (counts, device split, curve, links): one scan
groups them per contact x these keys, and every table is derived from that grouping.

All of the statements below run on one activity partition at a time (`prepare`): the views
`t_<report>` hold that activity's rows only, so groups are keyed by contact alone and the
activity's id comes from `wanted` (its one row, or none when the partition has no event)."""


def _hours_since(start: str, end: str) -> str:
    """Whole hours from `start` to `end`, 0 when `end` is earlier: the whole seconds between
    them (as `date_diff('second', ...)` counts them) divided by 3600. From the epoch in
    microseconds: `date_diff` on TIMESTAMPTZ goes through the time zone calendar and took 40x
    as long over every contact's first open."""
    seconds = f"epoch_us({end}) // 1000000 - epoch_us({start}) // 1000000"
    return f"greatest({seconds}, 0) // 3600"


def _contacts_sql(report: str) -> str:
    """`a_<report>`: distinct contacts, first and last event (no row without events). Grouped
    on the contact first and then counted: unlike `count(DISTINCT contact_id)`, which DuckDB
    holds in memory whole, the grouping spills to disk past the connection's memory limit."""
    return f"""
CREATE OR REPLACE TEMP TABLE a_{report} AS
SELECT count(contact_id) AS contacts, min(first_time) AS first_time,
       max(last_time) AS last_time
FROM (SELECT contact_id, min(created_time) AS first_time, max(created_time) AS last_time
      FROM t_{report} GROUP BY contact_id)
HAVING count(*) > 0"""


def _events_sql(report: str) -> str:
    """`p_<report>`: the report's one scan, its events per contact x `EVENT_KEYS` (the device
    as the breakdown names it, `none` when CC captured none; `typed` counts the events that
    carry one), and `a_<report>`: every event, the mobile ones (null when no event carries a
    device type) and the last (no row without events)."""
    keys = ", ".join(k for k in EVENT_KEYS[report] if k != "device_type")
    link = ", any_value(link_url) AS link_url" if keys else ""
    return f"""
CREATE OR REPLACE TEMP TABLE p_{report} AS
SELECT contact_id, coalesce(device_type, 'none') AS device_type{", " + keys if keys else ""},
       count(*) AS events, count(device_type) AS typed,
       min(created_time) AS first_time, max(created_time) AS last_time{link}
FROM t_{report} GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE a_{report} AS
SELECT CAST(sum(events) AS BIGINT) AS events,
       CAST(CASE WHEN sum(typed) > 0
            THEN coalesce(sum(events) FILTER (WHERE device_type IN ({_MOBILE})), 0) END
            AS BIGINT) AS mobile,
       max(last_time) AS last_time
FROM p_{report}
HAVING count(*) > 0"""


FIRSTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE firsts AS
SELECT event_type,
       {_hours_since("(SELECT first_time FROM a_sends)", "first_time")} AS hours_since_send,
       count(contact_id) AS contacts, min(first_time) AS first_time
FROM (SELECT 'open' AS event_type, contact_id, min(first_time) AS first_time
      FROM p_opens GROUP BY contact_id
      UNION ALL
      SELECT 'click' AS event_type, contact_id, min(first_time) AS first_time
      FROM p_clicks GROUP BY contact_id)
GROUP BY 1, 2"""
"""Each contact's first open (click), counted per whole hour since the activity's first send
(null without a send): the unique opens and clicks and the curve, from one grouping."""

EVENTFUL_SQL = " UNION ALL ".join(f"SELECT 1 FROM a_{r}" for r in (*CONTACT_REPORTS, *EVENT_KEYS))
"""A row per report with events: an activity read whole (not asked for by id) is computed
only when it has one, as when the activities were the ids the events name."""

ENGAGEMENT_SQL = f"""
WITH
uniques AS (
    SELECT CAST(sum(contacts) FILTER (WHERE event_type = 'open') AS BIGINT) AS opens,
           CAST(sum(contacts) FILTER (WHERE event_type = 'click') AS BIGINT) AS clicks,
           min(first_time) FILTER (WHERE event_type = 'open') AS first_open_time
    FROM firsts),
counted AS (
    SELECT
        w.campaign_activity_id,
        ac.campaign_id,
        coalesce(s.contacts, 0) AS sends,
        coalesce(b.contacts, 0) AS bounces,
        coalesce(s.contacts, 0) - coalesce(b.contacts, 0) AS delivered,
        coalesce(q.opens, 0) AS opens,
        coalesce(o.events, 0) AS opens_all,
        if(o.events IS NULL, 0, o.mobile) AS mobile_opens_all,
        coalesce(q.clicks, 0) AS clicks,
        coalesce(c.events, 0) AS clicks_all,
        if(c.events IS NULL, 0, c.mobile) AS mobile_clicks_all,
        coalesce(f.contacts, 0) AS forwards,
        coalesce(u.contacts, 0) AS optouts,
        greatest(coalesce(s.contacts, 0) - coalesce(q.opens, 0) - coalesce(b.contacts, 0), 0)
            AS not_opened,
        s.first_time AS first_send_time,
        q.first_open_time,
        greatest(s.last_time, b.last_time, o.last_time, c.last_time, f.last_time, u.last_time)
            AS last_event_time
    FROM wanted AS w
    LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)
    LEFT JOIN a_sends AS s ON true
    LEFT JOIN a_bounces AS b ON true
    LEFT JOIN a_opens AS o ON true
    LEFT JOIN uniques AS q ON true
    LEFT JOIN a_clicks AS c ON true
    LEFT JOIN a_forwards AS f ON true
    LEFT JOIN a_optouts AS u ON true)
SELECT
    *,
    {RATES_SQL},
    CAST(date_diff('second', first_send_time, first_open_time) AS BIGINT)
        AS seconds_to_first_open,
    CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM counted
"""

DEVICE_SQL = """
WITH events AS (  -- p_opens has a row per contact and device already; p_clicks one per link too
    SELECT 'open' AS event_type, device_type, CAST(sum(events) AS BIGINT) AS events,
           count(contact_id) AS contacts
    FROM p_opens GROUP BY device_type
    UNION ALL
    SELECT 'click' AS event_type, device_type, CAST(sum(events) AS BIGINT) AS events,
           count(contact_id) AS contacts
    FROM (SELECT device_type, contact_id, sum(events) AS events
          FROM p_clicks GROUP BY device_type, contact_id)
    GROUP BY device_type)
SELECT
    w.campaign_activity_id,
    ac.campaign_id,
    e.event_type,
    e.device_type,
    e.events,
    e.contacts,
    100.0 * CAST(e.events AS DOUBLE)
        / NULLIF(sum(e.events) OVER (PARTITION BY e.event_type), 0)
        AS share_percent,
    CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM events AS e
CROSS JOIN wanted AS w
LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)
ORDER BY 3, 4
"""

CURVE_SQL = f"""
WITH
grid AS (
    SELECT unnest(range(0, least({CURVE_HOURS},
               {_hours_since("s.first_time", "greatest(s.last_time, o.last_time, c.last_time)")}
               + 1))) AS hours_since_send
    FROM a_sends AS s
    LEFT JOIN a_opens AS o ON true
    LEFT JOIN a_clicks AS c ON true),
per_hour AS (
    SELECT hours_since_send,
           sum(contacts) FILTER (WHERE event_type = 'open') AS opens,
           sum(contacts) FILTER (WHERE event_type = 'click') AS clicks
    FROM firsts WHERE hours_since_send IS NOT NULL
    GROUP BY 1)
SELECT
    w.campaign_activity_id,
    ac.campaign_id,
    g.hours_since_send,
    sum(coalesce(p.opens, 0)) OVER hours AS cumulative_unique_opens,
    sum(coalesce(p.clicks, 0)) OVER hours AS cumulative_unique_clicks,
    CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM grid AS g
CROSS JOIN wanted AS w
LEFT JOIN per_hour AS p USING (hours_since_send)
LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)
WINDOW hours AS (ORDER BY g.hours_since_send)
ORDER BY 3
"""
"""Cumulative unique opens and clicks by whole hours since the activity's first send: a contact
counts from the hour of their first open (click); events before the send count in hour 0. The
hours run to the newest send, open or click."""

LINKS_SQL = """
WITH
links AS (
    SELECT url_id, any_value(link_url) AS link_url,
           max(unique_clicks) AS reported_unique_clicks
    FROM t_links GROUP BY 1),
clicked AS (  -- p_clicks has a row per device too: regrouped per link and contact
    SELECT url_id, any_value(link_url) AS link_url,
           count(contact_id) AS unique_clicks, CAST(sum(events) AS BIGINT) AS clicks_all
    FROM (SELECT url_id, contact_id, any_value(link_url) AS link_url, sum(events) AS events
          FROM p_clicks GROUP BY 1, 2)
    GROUP BY 1)
SELECT
    w.campaign_activity_id,
    ac.campaign_id,
    url_id,
    coalesce(l.link_url, c.link_url) AS link_url,
    coalesce(c.unique_clicks, 0) AS unique_clicks,
    coalesce(c.clicks_all, 0) AS clicks_all,
    l.reported_unique_clicks,
    CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM links AS l
FULL JOIN clicked AS c USING (url_id)
CROSS JOIN wanted AS w
LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)
ORDER BY 3
"""


STATS_DAILY_SQL = f"""
WITH
latest AS (
    SELECT * FROM t_activity_stats
    QUALIFY row_number() OVER (PARTITION BY campaign_activity_id
                               ORDER BY captured_at DESC NULLS LAST) = 1),
counted AS (
    SELECT
        snapshot_date,
        campaign_activity_id,
        campaign_id,
        last_refresh_time,
        coalesce(em_sends, 0) AS sends,
        coalesce(em_bounces, 0) AS bounces,
        coalesce(em_sends, 0) - coalesce(em_bounces, 0) AS delivered,
        coalesce(em_opens, 0) AS opens,
        coalesce(em_opens_all, 0) AS opens_all,
        coalesce(em_opens_all_mobile, 0) + coalesce(em_opens_all_tablet, 0) AS mobile_opens_all,
        coalesce(em_clicks, 0) AS clicks,
        coalesce(em_clicks_all, 0) AS clicks_all,
        coalesce(em_clicks_all_mobile, 0) + coalesce(em_clicks_all_tablet, 0)
            AS mobile_clicks_all,
        coalesce(em_forwards, 0) AS forwards,
        coalesce(em_optouts, 0) AS optouts,
        coalesce(em_not_opened, 0) AS not_opened
    FROM latest
    WHERE campaign_activity_id IS NOT NULL)
SELECT *, {RATES_SQL}, CAST($computed_at AS TIMESTAMPTZ) AS computed_at
FROM counted
ORDER BY campaign_activity_id
"""
"""CC's own counts of one day's activity stats snapshot (its last capture of each activity)
through the same rate formulas as the events."""

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


def _view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: list[str],
    columns: Sequence[str],
    schema: pa.Schema,
    activity_id: str | None = None,
) -> None:
    """`name` as a view over `files` (the partition column is read from inside the files; only
    the rows of `activity_id` when given), or an empty table of the same columns and types when
    there are none yet."""
    if files:
        listed = ", ".join(f"'{f}'" for f in files)
        only = (
            "" if activity_id is None else f" WHERE campaign_activity_id = {_quoted(activity_id)}"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {', '.join(columns)} "
            f"FROM read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"
            f"{only}"
        )
    else:
        empty = pa.schema([schema.field(c) for c in columns]).empty_table()
        con.register(f"{name}_empty", empty)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_empty")


def _quoted(value: str) -> str:
    """A SQL string literal (a view's definition cannot take a parameter)."""
    return "'" + value.replace("'", "''") + "'"


def latest_snapshot(table: AssetTable, root: UPath) -> str | None:
    """The file of the newest daily snapshot of `table`, if any."""
    files = partition_files(table, root)
    return files[-1] if files else None


SOURCES: dict[str, tuple[AssetTable, tuple[str, ...]]] = {
    **{report: (TRACKING_TABLES[report], columns) for report, columns in REPORTS.items()},
    "links": (EMAIL_LINKS, LINK_COLUMNS),
}
"""Every partitioned input of the activity metrics (view `t_<name>`), with the columns read."""


@dataclass(frozen=True)
class Chunk:
    """One activity partition to compute: its key, whether it was asked for by id (computed
    even without events) or found in the lake (computed when it has events), and the files of
    each of `SOURCES`."""

    activity_id: str
    asked: bool
    files: dict[str, list[str]]


def chunks(root: UPath, activity_ids: Sequence[str] | None) -> list[Chunk]:
    """The activity partitions to compute, in id order: those of `activity_ids` (with or without
    files), or every partition any tracking report or link list has (the lake listed once per
    input)."""
    if activity_ids is not None:
        return [
            Chunk(key, True, {n: partition_files(t, root, [key]) for n, (t, _) in SOURCES.items()})
            for key in sorted(set(activity_ids))
        ]
    found: dict[str, dict[str, list[str]]] = {}
    for name, (table, _) in SOURCES.items():
        for file in partition_files(table, root):
            found.setdefault(partition_key(file), {n: [] for n in SOURCES})[name].append(file)
    return [Chunk(key, False, found[key]) for key in sorted(found)]


def prepare(con: duckdb.DuckDBPyConnection, chunk: Chunk) -> None:
    """Read the chunk's reports once each: the contact counts of `CONTACT_REPORTS`
    (`a_<report>`), the events of `EVENT_KEYS` grouped per contact (`p_<report>`, `a_<report>`)
    and each contact's first open and click (`firsts`); `wanted` is the activity's one row (none
    when it was found in the lake without events). Every metric table is a query over these;
    `activity_campaign` is registered beforehand."""
    for name, (table, columns) in SOURCES.items():
        _view(con, f"t_{name}", chunk.files[name], columns, table.schema, chunk.activity_id)
    for report in CONTACT_REPORTS:
        con.execute(_contacts_sql(report))
    for report in EVENT_KEYS:
        con.execute(_events_sql(report))
    con.execute(FIRSTS_SQL)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE wanted AS "
        "SELECT CAST($id AS VARCHAR) AS campaign_activity_id"
        + ("" if chunk.asked else f" WHERE EXISTS ({EVENTFUL_SQL})"),
        {"id": chunk.activity_id},
    )


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


@dataclass(frozen=True)
class ActivityMetrics:
    """The per-activity metric tables of the activities computed together."""

    engagement: pa.Table
    devices: pa.Table
    curve: pa.Table
    links: pa.Table


def compute_activities(
    root: UPath,
    activity_ids: Sequence[str] | None,
    computed_at: datetime | None = None,
    limits: DuckDBLimits | None = None,
) -> ActivityMetrics:
    """Every per-activity metric table of the activities (all of the lake's when None), from
    one connection: each activity partition in turn (`chunks`), every report read once
    (`prepare`), so what DuckDB holds is one activity's groups, whatever the batch. The
    connection has the limits of work that has its process to itself (`stage_limits`)."""
    computed_at = computed_at or datetime.now(UTC)
    outputs = {
        "engagement": (ENGAGEMENT_SQL, ACTIVITY_ENGAGEMENT),
        "devices": (DEVICE_SQL, ACTIVITY_DEVICE_BREAKDOWN),
        "curve": (CURVE_SQL, ACTIVITY_ENGAGEMENT_CURVE),
        "links": (LINKS_SQL, ACTIVITY_LINK_CLICKS),
    }
    parts: dict[str, list[pa.Table]] = {name: [] for name in outputs}
    with connect(root, limits or stage_limits()) as con:
        register_campaign_map(con, root)
        for chunk in chunks(root, activity_ids):
            prepare(con, chunk)
            for name, (sql, table) in outputs.items():
                parts[name].append(_run(con, sql, table, computed_at))
    return ActivityMetrics(
        **{
            name: pa.concat_tables(parts[name]) if parts[name] else table.schema.empty_table()
            for name, (_, table) in outputs.items()
        }
    )


def campaign_engagement(root: UPath, computed_at: datetime) -> pa.Table:
    """One row per campaign from every written activity_engagement partition."""
    found = partition_files(ACTIVITY_ENGAGEMENT, root, prefix=METRICS_PREFIX)
    with connect(root) as con:
        _view(
            con,
            "t_activity_engagement",
            found,
            ACTIVITY_ENGAGEMENT.schema.names,
            ACTIVITY_ENGAGEMENT.schema,
        )
        register_campaign_map(con, root)
        return _run(con, CAMPAIGN_SQL, CAMPAIGN_ENGAGEMENT, computed_at)


def activity_stats_daily(root: UPath, day: date, computed_at: datetime) -> pa.Table:
    """The rates of CC's own counts in the `day` partition of email_campaign_activity_stats
    (no rows when that day was not captured)."""
    table = EMAIL_CAMPAIGN_ACTIVITY_STATS
    with connect(root) as con:
        _view(
            con,
            "t_activity_stats",
            partition_files(table, root, [day.isoformat()]),
            table.schema.names,
            table.schema,
        )
        return _run(con, STATS_DAILY_SQL, ACTIVITY_STATS_DAILY, computed_at)


def activity_labels(root: UPath, activity_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What a person calls each activity: campaign name, subject, role and send time, from the
    newest email_campaigns snapshot (activities it does not name are left out)."""
    file = latest_snapshot(EMAIL_CAMPAIGNS, root)
    if file is None or not activity_ids:
        return {}
    with connect(root) as con:
        rows = con.execute(
            "SELECT campaign_activity_id, name, subject, role, sent_time "
            "FROM read_parquet($file, hive_partitioning = false) "
            "WHERE campaign_activity_id IN (SELECT unnest($ids)) "
            "QUALIFY row_number() OVER (PARTITION BY campaign_activity_id "
            "ORDER BY captured_at DESC NULLS LAST) = 1",
            {"file": file, "ids": list(activity_ids)},
        ).fetchall()
    return {
        activity: {"campaign_name": name, "subject": subject, "role": role, "sent_time": sent}
        for activity, name, subject, role, sent in rows
    }


# --- reconciliation with Constant Contact's own stats --------------------------------------


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


def reconcile_activity(row: dict[str, Any], root: UPath) -> Finding:
    """The activity's counts vs the newest `email_campaign_activity_stats` row of it, under
    `stats_match`'s one rule: the metric row's counts when the lake holds nothing after the
    stats' refresh, else the events held up to the refresh (the later ones are the stats' lag,
    noted, never a difference). A stats count that is null counts as 0."""
    files = partition_files(EMAIL_CAMPAIGN_ACTIVITY_STATS, root)
    activity_id = row["campaign_activity_id"]
    if not files:
        return Finding(True, {"compared": False, "note": "no activity stats snapshot yet"})
    keys = ", ".join(ACTIVITY_STATS_OF_COUNT.values())
    with connect(root) as con:
        found = con.execute(
            f"SELECT snapshot_date, last_refresh_time, {keys} "
            "FROM read_parquet($files, hive_partitioning = false, union_by_name = true) "
            "WHERE campaign_activity_id = $id "
            "ORDER BY snapshot_date DESC, captured_at DESC NULLS LAST LIMIT 1",
            {"files": files, "id": activity_id},
        ).fetchone()
    if found is None:
        return Finding(
            True, {"compared": False, "note": "activity not in any activity stats snapshot"}
        )
    snapshot_date, refreshed, *values = found
    theirs = {k: int(v or 0) for k, v in zip(ACTIVITY_STATS_OF_COUNT.values(), values, strict=True)}
    ours = {key: int(row[count]) for count, key in ACTIVITY_STATS_OF_COUNT.items()}
    stats = ActivityStats(activity_id, refreshed, theirs)
    match = match_counts(stats, ours, row["last_event_time"], root)
    count_of = {key: count for count, key in ACTIVITY_STATS_OF_COUNT.items()}
    mismatched = {
        count_of[key]: f"events {c.held} vs stats {c.stats}" for key, c in match.mismatches.items()
    }
    metadata: dict[str, Any] = {
        "stats_snapshot_date": str(snapshot_date),
        "stats_last_refresh_time": str(refreshed),
        "last_event_time": str(row["last_event_time"]),
        "compared": True,
        "note": match.note(),
        "mismatches": len(mismatched),
    }
    metadata |= {f"mismatch_{k}": v for k, v in mismatched.items()}
    return Finding(not mismatched, metadata)


DERIVED_REPORTS: dict[str, str] = {"unique_opens": "opens", "didnotopens": "not_opened"}
"""CC's two derived reports and the count of ours each must equal: the contacts with a newest
open (one row each), and the delivered contacts who did not open."""


def reconcile_derived_reports(row: dict[str, Any], root: UPath) -> Finding:
    """The rows of the activity's `unique_opens` and `didnotopens` reports vs the counts we
    derive from the events. The reports are read at slightly different moments of a refresh
    (didnotopens in full, the others incrementally), so a difference is a warning, not an
    error: an open that arrived in between moves a contact from one to the other. Both sides
    are what the lake holds, so no lag rule applies here; the derivations are held against
    CC's `em_opens` / `em_not_opened` by `stats_match` (the change detector, which reads the
    API's report when they disagree)."""
    metadata: dict[str, Any] = {}
    mismatched = []
    with connect(root) as con:
        for report, ours in DERIVED_REPORTS.items():
            files = partition_files(TRACKING_TABLES[report], root, [row["campaign_activity_id"]])
            if not files:
                metadata[f"{report}_rows"] = "not in the lake yet"
                continue
            (contacts,) = con.execute(  # DISTINCT spills; count(DISTINCT ...) does not
                "SELECT count(contact_id) FROM "
                "(SELECT DISTINCT contact_id FROM read_parquet($files))",
                {"files": files},
            ).fetchone()
            metadata[f"{report}_contacts"] = int(contacts)
            metadata[ours] = int(row[ours])
            if int(contacts) != int(row[ours]):
                mismatched.append(f"{report} {contacts} vs {ours} {row[ours]}")
    if mismatched:
        metadata["mismatches"] = "; ".join(mismatched)
    return Finding(not mismatched, metadata)


def reconcile_campaigns(campaigns: pa.Table, root: UPath) -> Finding:
    """Our campaign percents, rounded to one decimal, vs the newest `percents_*` of
    `email_campaign_stats` (a zero denominator: our null vs CC's 0). A campaign whose stats lag
    (`stats_match.lags`: we hold events after their refresh) is held against them under the one
    rule instead: its activities' events up to the refresh, counted (`stats_match`) and added
    up, vs the stats' counts; the percents of every event held would differ by the lag."""
    files = partition_files(EMAIL_CAMPAIGN_STATS, root)
    if not files or campaigns.num_rows == 0:
        return Finding(True, {"compared": 0, "note": "nothing to compare yet"})
    ours_cols = ", ".join(f"round(coalesce(o.{r}, 0), 1) AS o_{r}" for r in PERCENT_OF_RATE)
    theirs_cols = ", ".join(
        f"round(coalesce(s.percents_{p}, 0), 1) AS s_{r}" for r, p in PERCENT_OF_RATE.items()
    )
    counts_cols = ", ".join(f"coalesce(s.{key}, 0) AS {key}" for key in COUNTED_STATS)
    with connect(root) as con:
        con.register("ours", campaigns)
        rows = con.execute(
            f"""
            WITH stats AS (
                SELECT * FROM read_parquet($files, hive_partitioning = false,
                                           union_by_name = true)
                QUALIFY row_number() OVER (PARTITION BY campaign_id
                    ORDER BY snapshot_date DESC, captured_at DESC NULLS LAST) = 1)
            SELECT o.campaign_id, s.last_refresh_time, o.last_event_time,
                   {ours_cols}, {theirs_cols}, {counts_cols}
            FROM ours AS o JOIN stats AS s USING (campaign_id)
            """,
            {"files": files},
        ).fetchall()
    compared, lagging, mismatches = 0, 0, []
    n = len(PERCENT_OF_RATE)
    activities = _activities_of_campaigns(root) if any(lags(r[1], r[2]) for r in rows) else {}
    for campaign_id, refreshed, newest, *values in rows:
        compared += 1
        if lags(refreshed, newest):
            lagging += 1
            stats = dict(zip(COUNTED_STATS, values[2 * n :], strict=True))
            held = _held_as_of(activities.get(campaign_id, []), refreshed, root)
            mismatches += [
                f"{campaign_id} {key} up to the stats' refresh: events {held[key]} vs CC {count}"
                for key, count in stats.items()
                if held[key] != int(count)
            ]
            continue
        for rate, ours, theirs in zip(PERCENT_OF_RATE, values[:n], values[n : 2 * n], strict=True):
            if abs(float(ours) - float(theirs)) > 1e-9:
                mismatches.append(f"{campaign_id} {rate}: {ours} vs CC {theirs}")
    metadata: dict[str, Any] = {
        "compared": compared,
        "lagging": lagging,
        "mismatches": len(mismatches),
    }
    if lagging:
        metadata["note"] = (
            f"stats lag: {lagging} campaign(s) refreshed before their newest event, compared "
            "by the counts of the events up to the refresh"
        )
    if mismatches:
        metadata["first_mismatches"] = "\n".join(mismatches[:10])
    return Finding(not mismatches, metadata)


COUNTED_STATS = tuple(ACTIVITY_STATS_OF_COUNT.values())
"""The campaign stats' counts a lagging campaign is compared by (each an activity's, summed)."""


def _activities_of_campaigns(root: UPath) -> dict[str, list[str]]:
    """The activities each campaign's metrics add up (as `CAMPAIGN_SQL` maps them)."""
    files = partition_files(ACTIVITY_ENGAGEMENT, root, prefix=METRICS_PREFIX)
    if not files:
        return {}
    with connect(root) as con:
        register_campaign_map(con, root)
        pairs = con.execute(
            "SELECT coalesce(ac.campaign_id, ae.campaign_id), ae.campaign_activity_id "
            "FROM read_parquet($files, hive_partitioning = false, union_by_name = true) AS ae "
            "LEFT JOIN activity_campaign AS ac USING (campaign_activity_id)",
            {"files": files},
        ).fetchall()
    found: dict[str, list[str]] = {}
    for campaign_id, activity_id in pairs:
        found.setdefault(campaign_id, []).append(activity_id)
    return found


def _held_as_of(activity_ids: list[str], refreshed: datetime, root: UPath) -> dict[str, int]:
    """The events of `activity_ids` held up to `refreshed`, counted per stats key and summed."""
    held = dict.fromkeys(COUNTED_STATS, 0)
    for activity_id in activity_ids:
        stats = ActivityStats(activity_id, refreshed, {})
        match = match_activity(activity_id, stats, root, COUNTS_OF_REPORT)
        for key in COUNTED_STATS:
            held[key] += match.counts[key].held if key in match.counts else 0
    return held
