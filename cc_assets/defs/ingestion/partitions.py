"""The two partitionings every asset uses, declared once and imported everywhere.

`daily` is keyed by the UTC date a snapshot was captured. `end_offset=1` makes today's key exist
today: a snapshot is taken during its own day, not after it.
`campaign_activities` is filled by the discovery sensor with each sent (`DONE`) `primary_email`
or `resend` activity: the only activities Constant Contact keeps reports for.
"""

import dagster as dg

DAILY_START_DATE = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=DAILY_START_DATE, timezone="UTC", end_offset=1
)

CAMPAIGN_ACTIVITIES = "campaign_activities"

campaign_activity_partitions = dg.DynamicPartitionsDefinition(name=CAMPAIGN_ACTIVITIES)
