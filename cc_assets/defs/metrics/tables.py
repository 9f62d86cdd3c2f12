"""The fixed Arrow schemas of the metric assets, written under `{lake}/email_metrics/`."""

from __future__ import annotations

import pyarrow as pa

from cc_assets.lake.schemas import CAMPAIGN_ACTIVITY_ID, TIMESTAMP, AssetTable

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
    "mobile_open_rate",
    "desktop_open_rate",
    "mobile_click_rate",
    "desktop_click_rate",
)
"""Percents 0-100 at full precision; null when the denominator is 0."""

PERCENT_OF_RATE: dict[str, str] = {
    "open_rate": "open",
    "click_rate": "click",
    "bounce_rate": "bounce",
    "did_not_open_rate": "did_not_open",
    "unsubscribe_rate": "unsubscribe",
    "mobile_open_rate": "mobile_open",
    "desktop_open_rate": "desktop_open",
    "mobile_click_rate": "mobile_click",
    "desktop_click_rate": "desktop_click",
}
"""Our rate column -> the `percents_<key>` of CC's campaign stats it must round to.
(`click_through_rate` is the web app's definition and has no API counterpart.)"""

_COUNTS = [pa.field(name, pa.int64()) for name in COUNT_COLUMNS]
_RATES = [pa.field(name, pa.float64()) for name in RATE_COLUMNS]
_TIMES = [
    pa.field("first_send_time", TIMESTAMP),
    pa.field("first_open_time", TIMESTAMP),
    pa.field("seconds_to_first_open", pa.int64()),
    pa.field("last_event_time", TIMESTAMP),
]

ACTIVITY_ENGAGEMENT = AssetTable(
    name="activity_engagement",
    schema=pa.schema(
        [
            pa.field(CAMPAIGN_ACTIVITY_ID, pa.string()),
            pa.field("campaign_id", pa.string()),
            *_COUNTS,
            *_RATES,
            *_TIMES,
            pa.field("computed_at", TIMESTAMP),
        ]
    ),
    partition_column=CAMPAIGN_ACTIVITY_ID,
    natural_key=(CAMPAIGN_ACTIVITY_ID,),
)

ACTIVITY_DEVICE_BREAKDOWN = AssetTable(
    name="activity_device_breakdown",
    schema=pa.schema(
        [
            pa.field(CAMPAIGN_ACTIVITY_ID, pa.string()),
            pa.field("campaign_id", pa.string()),
            pa.field("event_type", pa.string()),
            pa.field("device_type", pa.string()),
            pa.field("events", pa.int64()),
            pa.field("contacts", pa.int64()),
            pa.field("share_percent", pa.float64()),
            pa.field("computed_at", TIMESTAMP),
        ]
    ),
    partition_column=CAMPAIGN_ACTIVITY_ID,
    natural_key=(CAMPAIGN_ACTIVITY_ID, "event_type", "device_type"),
)

CAMPAIGN_ENGAGEMENT = AssetTable(
    name="campaign_engagement",
    schema=pa.schema(
        [
            pa.field("campaign_id", pa.string()),
            pa.field("activities", pa.int64()),
            *_COUNTS,
            *_RATES,
            *_TIMES,
            pa.field("computed_at", TIMESTAMP),
        ]
    ),
    partition_column=None,
    natural_key=("campaign_id",),
)
