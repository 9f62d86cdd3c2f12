"""The fixed Arrow schemas of the metric assets, written under `{lake}/email_metrics/`.

These tables are the one place the project's numbers are computed; dbt reads them as sources
and only joins names onto them.
"""

from __future__ import annotations

import pyarrow as pa

from cc_assets.constant_contact.schemas import (
    CAMPAIGN_ACTIVITY_ID,
    RAW_COLUMN_DESCRIPTIONS,
    SNAPSHOT_DATE,
    TIMESTAMP,
    AssetTable,
)

METRICS_PREFIX = "email_metrics"

COUNT_COLUMNS: tuple[str, ...] = (
    "sends",
    "bounces",
    "delivered",
    "opens",
    "opens_all",
    "mobile_opens_all",
    "clicks",
    "clicks_all",
    "mobile_clicks_all",
    "forwards",
    "optouts",
    "not_opened",
)
"""Unique counts (distinct contacts) except `*_all` (every event); `mobile_*_all` counts the
mobile + tablet events."""

RATE_COLUMNS: tuple[str, ...] = (
    "open_rate",
    "click_rate",
    "click_through_rate",
    "bounce_rate",
    "did_not_open_rate",
    "unsubscribe_rate",
)
"""Percents 0-100 at full precision; null when the denominator is 0."""

SHARE_COLUMNS: tuple[str, ...] = (
    "mobile_open_share",
    "desktop_open_share",
    "mobile_click_share",
    "desktop_click_share",
)
"""Shares of all opens (clicks) made on a mobile or tablet device, or on any other device:
percents of events, not rates of the audience (CC calls them `mobile_open`, `desktop_open`,
...). Null when there are no events."""

PERCENT_COLUMNS = RATE_COLUMNS + SHARE_COLUMNS

PERCENT_OF_RATE: dict[str, str] = {
    "open_rate": "open",
    "click_rate": "click",
    "bounce_rate": "bounce",
    "did_not_open_rate": "did_not_open",
    "unsubscribe_rate": "unsubscribe",
    "mobile_open_share": "mobile_open",
    "desktop_open_share": "desktop_open",
    "mobile_click_share": "mobile_click",
    "desktop_click_share": "desktop_click",
}
"""Our percent column -> the `percents_<key>` of CC's campaign stats it must round to.
(`click_through_rate` is the web app's definition and has no API counterpart.)"""

CURVE_HOURS = 14 * 24
"""The engagement curve covers the first 14 days after the send, hour by hour."""

_COUNTS = [pa.field(name, pa.int64()) for name in COUNT_COLUMNS]
_PERCENTS = [pa.field(name, pa.float64()) for name in PERCENT_COLUMNS]
_TIMES = [
    pa.field("first_send_time", TIMESTAMP),
    pa.field("first_open_time", TIMESTAMP),
    pa.field("seconds_to_first_open", pa.int64()),
    pa.field("last_event_time", TIMESTAMP),
]
_COMPUTED = pa.field("computed_at", TIMESTAMP)
_ACTIVITY = [pa.field(CAMPAIGN_ACTIVITY_ID, pa.string()), pa.field("campaign_id", pa.string())]

ACTIVITY_ENGAGEMENT = AssetTable(
    name="activity_engagement",
    schema=pa.schema([*_ACTIVITY, *_COUNTS, *_PERCENTS, *_TIMES, _COMPUTED]),
    partition_column=CAMPAIGN_ACTIVITY_ID,
    natural_key=(CAMPAIGN_ACTIVITY_ID,),
    description=(
        "One row per sent activity: counts from its tracking reports and every rate and share."
    ),
)

ACTIVITY_DEVICE_BREAKDOWN = AssetTable(
    name="activity_device_breakdown",
    schema=pa.schema(
        [
            *_ACTIVITY,
            pa.field("event_type", pa.string()),
            pa.field("device_type", pa.string()),
            pa.field("events", pa.int64()),
            pa.field("contacts", pa.int64()),
            pa.field("share_percent", pa.float64()),
            _COMPUTED,
        ]
    ),
    partition_column=CAMPAIGN_ACTIVITY_ID,
    natural_key=(CAMPAIGN_ACTIVITY_ID, "event_type", "device_type"),
    description=(
        "Per activity x event (open, click) x device: events, contacts, share of the events."
    ),
)
"""`device_type` is CC's: computer, mobile, tablet, other, and `none` when CC captured no
device for the event (CC's own stats count these as `em_opens_all_none`)."""

ACTIVITY_ENGAGEMENT_CURVE = AssetTable(
    name="activity_engagement_curve",
    schema=pa.schema(
        [
            *_ACTIVITY,
            pa.field("hours_since_send", pa.int32()),
            pa.field("cumulative_unique_opens", pa.int64()),
            pa.field("cumulative_unique_clicks", pa.int64()),
            _COMPUTED,
        ]
    ),
    partition_column=CAMPAIGN_ACTIVITY_ID,
    natural_key=(CAMPAIGN_ACTIVITY_ID, "hours_since_send"),
    description=(
        "Per activity x hour since send (first 14 days): cumulative unique opens and clicks."
    ),
)
"""Contacts whose first open (click) came within `hours_since_send + 1` hours of the activity's
first send, for every hour from 0 up to the newest event (at most `CURVE_HOURS`)."""

ACTIVITY_LINK_CLICKS = AssetTable(
    name="activity_link_clicks",
    schema=pa.schema(
        [
            *_ACTIVITY,
            pa.field("url_id", pa.string()),
            pa.field("link_url", pa.string()),
            pa.field("unique_clicks", pa.int64()),
            pa.field("clicks_all", pa.int64()),
            pa.field("reported_unique_clicks", pa.int64()),
            _COMPUTED,
        ]
    ),
    partition_column=CAMPAIGN_ACTIVITY_ID,
    natural_key=(CAMPAIGN_ACTIVITY_ID, "url_id"),
    description="Per activity x link: clicks counted from the events, beside CC's unique_clicks.",
)
"""Every link of the activity (`email_links`, plus any link only seen in the click events):
distinct contacts and events counted from the clicks, and CC's own `unique_clicks`."""

CAMPAIGN_ENGAGEMENT = AssetTable(
    name="campaign_engagement",
    schema=pa.schema(
        [
            pa.field("campaign_id", pa.string()),
            pa.field("activities", pa.int64()),
            *_COUNTS,
            *_PERCENTS,
            *_TIMES,
            _COMPUTED,
        ]
    ),
    partition_column=None,
    natural_key=("campaign_id",),
    description=(
        "One row per campaign: its activities' counts summed, rates as ratios of the sums."
    ),
)

ACTIVITY_STATS_DAILY = AssetTable(
    name="activity_stats_daily",
    schema=pa.schema(
        [
            pa.field(SNAPSHOT_DATE, pa.date32()),
            *_ACTIVITY,
            pa.field("last_refresh_time", TIMESTAMP),
            *_COUNTS,
            *_PERCENTS,
            _COMPUTED,
        ]
    ),
    partition_column=SNAPSHOT_DATE,
    natural_key=(SNAPSHOT_DATE, CAMPAIGN_ACTIVITY_ID),
    description=(
        "Per activity x snapshot day: CC's own stats counts through the same rate formulas."
    ),
)
"""CC's own activity stats of one day (its last capture), with the same rates as the events'."""

METRIC_TABLES: dict[str, AssetTable] = {
    t.name: t
    for t in (
        ACTIVITY_ENGAGEMENT,
        ACTIVITY_DEVICE_BREAKDOWN,
        ACTIVITY_ENGAGEMENT_CURVE,
        ACTIVITY_LINK_CLICKS,
        CAMPAIGN_ENGAGEMENT,
        ACTIVITY_STATS_DAILY,
    )
}
"""Every metric asset's table, by asset name (the second part of its key)."""

METRIC_COLUMN_DESCRIPTIONS: dict[str, str] = {
    CAMPAIGN_ACTIVITY_ID: RAW_COLUMN_DESCRIPTIONS[CAMPAIGN_ACTIVITY_ID],
    "campaign_id": "The activity's campaign, a UUID (null until a snapshot names it).",
    SNAPSHOT_DATE: "The UTC date of CC's stats snapshot.",
    "last_refresh_time": "When Constant Contact last refreshed these stats.",
    "activities": "The campaign's sent activities with metrics (primary email and resends).",
    # COUNT_COLUMNS
    "sends": "Contacts the activity was sent to.",
    "bounces": "Contacts whose send bounced.",
    "delivered": "sends - bounces.",
    "opens": "Unique opens: distinct contacts who opened.",
    "opens_all": "Every open, repeat opens included.",
    "mobile_opens_all": "Every open on a mobile or tablet device.",
    "clicks": "Unique clicks: distinct contacts who clicked.",
    "clicks_all": "Every click.",
    "mobile_clicks_all": "Every click on a mobile or tablet device.",
    "forwards": "Distinct contacts who forwarded.",
    "optouts": "Distinct contacts who opted out.",
    "not_opened": "Contacts delivered who did not open: max(sends - opens - bounces, 0).",
    # PERCENT_COLUMNS
    "open_rate": ("Open rate, percent: 100 * opens / delivered (null when nothing was delivered)."),
    "click_rate": (
        "Click rate, percent: 100 * clicks / opens, Constant Contact's click-to-open definition "
        "(null with no opens)."
    ),
    "click_through_rate": "Click-through rate, percent: 100 * clicks / delivered.",
    "bounce_rate": "Bounce rate, percent: 100 * bounces / sends.",
    "did_not_open_rate": "Did-not-open rate, percent: 100 * not_opened / delivered.",
    "unsubscribe_rate": "Unsubscribe rate, percent: 100 * optouts / delivered.",
    "mobile_open_share": (
        "Share of all opens made on a mobile or tablet device, percent (CC's `mobile_open`; a "
        "share of opens, not a rate of the audience)."
    ),
    "desktop_open_share": (
        "Share of all opens made on any other device (computer, other, none), percent (CC's "
        "`desktop_open`)."
    ),
    "mobile_click_share": (
        "Share of all clicks made on a mobile or tablet device, percent (CC's `mobile_click`)."
    ),
    "desktop_click_share": (
        "Share of all clicks made on any other device, percent (CC's `desktop_click`)."
    ),
    # _TIMES, computed_at
    "first_send_time": "The first send (UTC).",
    "first_open_time": "The first open (UTC).",
    "seconds_to_first_open": "Seconds from the first send to the first open.",
    "last_event_time": "The newest event of any tracking report (UTC).",
    "computed_at": "When email_metrics computed the row (UTC).",
    # activity_device_breakdown
    "event_type": "open or click.",
    "device_type": (
        "The device Constant Contact recorded: computer, mobile, tablet, other, or none when it "
        "captured no device (CC's own `none` bucket, as in em_opens_all_none)."
    ),
    "events": "Every event of this type on this device.",
    "contacts": "Distinct contacts behind those events.",
    "share_percent": "This device's share of the activity's events of this type, percent.",
    # activity_engagement_curve
    "hours_since_send": (
        "Whole hours since the activity's first send (0 = the first hour), up to 14 days."
    ),
    "cumulative_unique_opens": "Contacts who had opened by the end of this hour.",
    "cumulative_unique_clicks": "Contacts who had clicked by the end of this hour.",
    # activity_link_clicks
    "url_id": "The tracked link's id.",
    "link_url": "The tracked link's URL.",
    "unique_clicks": "Distinct contacts who clicked the link, from the click events.",
    "reported_unique_clicks": (
        "Constant Contact's own unique_clicks of the link (email_links); null for a link only "
        "seen in the click events."
    ),
}
"""What each metric column holds, by name: a name means one thing in every metric table. The
one place a metric column is described; the dbt source and staging files over email_metrics
are generated from it and the schemas (`python -m cc_assets.defs.analytics.sources`)."""
