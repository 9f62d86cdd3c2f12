"""The named jobs `cc-assets refresh` runs, one per stage, so its runs show in the UI under a
name (never as an ephemeral job) and each stage's assets succeed or fail on their own steps."""

import dagster as dg

from cc_assets.defs.analytics.assets import DBT_ASSETS_SELECTION
from cc_assets.defs.ingestion.assets import (
    contact_activity_details,
    email_campaign_activity_stats,
    email_campaign_stats,
    email_campaign_summaries,
    email_campaigns,
)
from cc_assets.defs.metrics.assets import activity_metrics, campaign_engagement

campaign_snapshot_job = dg.define_asset_job(
    "campaign_snapshot_job",
    selection=dg.AssetSelection.assets(
        email_campaigns,
        email_campaign_summaries,
        email_campaign_stats,
        email_campaign_activity_stats,
    ),
    description="Today's campaigns, summaries and stats (each asset its own step: a failed one "
    "costs only itself and the stats that read its campaign list).",
)

contact_activity_job = dg.define_asset_job(
    "contact_activity_job",
    selection=dg.AssetSelection.assets(contact_activity_details),
    description="Today's contact reports of the contacts with new engagement.",
)

activity_metrics_job = dg.define_asset_job(
    "activity_metrics_job",
    selection=dg.AssetSelection.assets(activity_metrics),
    description="One activity's engagement metrics and device breakdown.",
)

campaign_engagement_job = dg.define_asset_job(
    "campaign_engagement_job",
    selection=dg.AssetSelection.assets(campaign_engagement),
    description="Per-campaign engagement over every activity.",
)

dbt_build_job = dg.define_asset_job(
    "dbt_build_job",
    selection=DBT_ASSETS_SELECTION,
    description="`dbt build` of every model, with its tests as asset checks.",
)
