"""The fixed Arrow schemas of the metric assets, written under `{lake}/email_metrics/`.

These tables are the one place the project's numbers are computed; dbt reads them as sources
and only joins names onto them.
"""

from __future__ import annotations

import pyarrow as pa

from cc_assets.constant_contact.schemas import (
    CAMPAIGN_ACTIVITY_ID,
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
