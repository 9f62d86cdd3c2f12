"""Declarative automation: a refreshed tracking partition requests its metrics partition."""

from __future__ import annotations

import dagster as dg

from cc_assets.defs.ingestion.partitions import (
    CAMPAIGN_ACTIVITIES,
    campaign_activity_partitions,
    daily_partitions,
)
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.metrics.assets import (
    ACTIVITY_ENGAGEMENT_KEY,
    TRACKING_DEPS,
    activity_metrics,
    campaign_engagement,
)


def test_new_tracking_events_request_the_metrics_of_that_activity() -> None:
    raw = [dg.AssetSpec(key, partitions_def=campaign_activity_partitions) for key in TRACKING_DEPS]
    snapshots = [
        dg.AssetSpec(dg.AssetKey(["constant_contact", name]), partitions_def=daily_partitions)
        for name in ("email_campaigns", "email_campaign_activity_stats", "email_campaign_stats")
    ]
    defs = dg.Definitions(
        assets=[*raw, *snapshots, activity_metrics, campaign_engagement],
        resources={"lake": LakeResource()},
    )
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, ["a1", "a2"])
    for key in TRACKING_DEPS:
        for partition in ("a1", "a2"):
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    for key in TRACKING_DEPS:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="a2"))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    requested = result.get_requested_partitions(ACTIVITY_ENGAGEMENT_KEY)
    assert set(requested) == {"a2"}
