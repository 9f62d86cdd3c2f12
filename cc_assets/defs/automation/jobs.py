"""The jobs schedules and sensors launch."""

import dagster as dg
from pydantic import Field

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.schemas import (
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGN_SUMMARIES,
    EMAIL_CAMPAIGNS,
)
from cc_assets.defs.ingestion.assets import (
    ACTIVITY_TABLES,
    FAILED_ASSETS,
    POOL,
    READ_ERRORS,
    ReportFailure,
    asset_key,
    campaign_activity_reports,
    contact_activity_details,
    email_campaign_activity_stats,
    email_campaign_stats,
    email_campaign_summaries,
    email_campaigns,
    refresh_activity,
)
from cc_assets.defs.ingestion.resources import ConstantContactResource, LakeResource
from cc_assets.pipeline import activity_reads
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS

activity_reports_job = dg.define_asset_job(
    "activity_reports_job",
    selection=dg.AssetSelection.assets(campaign_activity_reports),
    description="One activity's tracking and links reports (what discovery requests).",
)

daily_snapshot_job = dg.define_asset_job(
    "daily_snapshot_job",
    selection=dg.AssetSelection.assets(
        email_campaigns,
        email_campaign_summaries,
        email_campaign_stats,
        email_campaign_activity_stats,
        contact_activity_details,
    ),
    description="Today's campaigns, summaries, stats and contact reports.",
)


KIND_TAG = "cc_assets/kind"
DEFERRED_TAG = "cc_assets/deferred"


class HotRefreshConfig(dg.Config):
    activity_ids: list[str] = Field(description="the planned activities, in priority order")
    deferred: list[str] = Field(
        default_factory=list, description="due but over this run's budget: first in line next run"
    )


def _batched_stats(
    client: ConstantContactClient, activity_ids: list[str], log: dg.DagsterLogManager
) -> dict[str, activity_reads.ActivityStats] | None:
    """The change detector's stats, ten activities a call. A batch the API refuses must not
    cost the run: then None, and each activity fetches its own stats (`refresh_activity`),
    so only an activity whose own stats fail is read without them."""
    try:
        return activity_reads.fetch_stats(client, activity_ids)
    except ACCOUNT_WIDE_ERRORS:
        raise
    except READ_ERRORS as error:
        log.warning(f"batched activity stats unavailable, fetching them one by one: {error}")
        return None


@dg.op(pool=POOL, description="Refresh the tracking reports of many activities in one run.")
def refresh_hot_activities(
    context: dg.OpExecutionContext,
    config: HotRefreshConfig,
    constant_contact: ConstantContactResource,
    lake: LakeResource,
) -> None:
    """Records a materialization per asset and partition, exactly as a partitioned run would,
    so lineage, metadata plots and declarative automation see every refreshed partition."""
    selected = {table.name for table in ACTIVITY_TABLES}
    root = lake.root()
    failures: dict[str, str] = {}
    if config.deferred:
        context.log.info(
            f"hot refresh: {len(config.deferred)} activities deferred to the next run: "
            f"{config.deferred}"
        )
    with constant_contact.open(context.log) as client:
        stats = _batched_stats(client, config.activity_ids, context.log)
        for index, activity_id in enumerate(config.activity_ids, 1):
            for refreshed in refresh_activity(
                client, activity_id, root, selected, context.log, stats
            ):
                name = f"{refreshed.key.to_user_string()}[{activity_id}]"
                if isinstance(refreshed, ReportFailure):
                    failures[name] = refreshed.reason
                    continue
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=refreshed.key, partition=activity_id, metadata=refreshed.metadata
                    )
                )
                for check in refreshed.checks:
                    if not check.passed:
                        context.log.warning(f"{name}: {check.check_name} failed")
            context.log.info(f"hot refresh: {index}/{len(config.activity_ids)} activities")
        context.log.info(f"hot refresh: {client.calls} API calls")
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} report(s) failed; every other one landed",
            metadata={FAILED_ASSETS: dg.MetadataValue.json(failures)},
        )


@dg.job(
    description="The batched hot-activity refresh: many activity partitions in one run.",
    tags={KIND_TAG: "hot_refresh"},
)
def hot_activity_refresh_job() -> None:
    refresh_hot_activities()


ACTIVITY_ASSET_KEYS = [asset_key(table) for table in ACTIVITY_TABLES]
DAILY_ASSET_KEYS = [
    asset_key(table)
    for table in (
        EMAIL_CAMPAIGNS,
        EMAIL_CAMPAIGN_SUMMARIES,
        EMAIL_CAMPAIGN_STATS,
        EMAIL_CAMPAIGN_ACTIVITY_STATS,
        CONTACT_ACTIVITY_DETAILS,
    )
]
