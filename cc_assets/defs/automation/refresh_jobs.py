"""The named jobs `cc-assets refresh` runs, one per stage, so its runs show in the UI under a
name (never as an ephemeral job) and each stage's assets succeed or fail on their own steps.
The last stage, `dbt_build_job`, lives with the dbt assets (`defs/analytics/assets.py`): these
jobs load without dagster-dbt and dbt, ~100 MB less in each process that runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from cc_assets.defs.ingestion.assets import (
    contact_activity_details,
    email_campaign_activity_stats,
    email_campaign_stats,
    email_campaign_summaries,
    email_campaigns,
)
from cc_assets.defs.metrics.assets import (
    activity_metrics,
    activity_stats_daily,
    campaign_engagement,
)

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


def _job(name: str, description: str, *assets: dg.AssetsDefinition) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name, selection=dg.AssetSelection.assets(*assets), description=description
    )


campaign_snapshot_job = _job(
    "campaign_snapshot_job",
    "Today's campaigns, summaries and stats (each asset its own step: a failed one costs only "
    "itself and the stats that read its campaign list).",
    email_campaigns,
    email_campaign_summaries,
    email_campaign_stats,
    email_campaign_activity_stats,
)
contact_activity_job = _job(
    "contact_activity_job",
    "Today's contact reports of the contacts with new engagement.",
    contact_activity_details,
)
activity_metrics_job = _job(
    "activity_metrics_job",
    "One activity's engagement metrics and device breakdown.",
    activity_metrics,
)
activity_stats_daily_job = _job(
    "activity_stats_daily_job",
    "The day's rates from CC's own activity stats (the daily time series).",
    activity_stats_daily,
)
campaign_engagement_job = _job(
    "campaign_engagement_job", "Per-campaign engagement over every activity.", campaign_engagement
)
