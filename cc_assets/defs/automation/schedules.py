"""Schedules where wall-clock time matters: the daily snapshot and the hot-activity refresh."""

import os
from datetime import UTC, datetime

import dagster as dg
import duckdb

from cc_assets.defs.automation.jobs import (
    ACTIVITY_ASSET_KEYS,
    daily_snapshot_job,
    hot_activity_refresh_job,
)
from cc_assets.defs.automation.planning import Candidate, plan_hot_refresh, run_budget
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.lake.paths import asset_dir, lake_root
from cc_assets.lake.schemas import EMAIL_CAMPAIGNS

HOT_RUNS_PER_DAY = 4


@dg.schedule(
    job=daily_snapshot_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Today's snapshots of campaigns, summaries, stats and contact reports.",
)
def daily_snapshot_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.astimezone(UTC).date().isoformat()
    return dg.RunRequest(partition_key=day, run_key=f"daily-{day}")


def sent_times() -> dict[str, datetime]:
    """Each activity's last send, from the latest campaigns snapshots in the lake."""
    folder = asset_dir(EMAIL_CAMPAIGNS, lake_root())
    if not folder.exists() or not any(folder.glob("*/part-*.parquet")):
        return {}
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT campaign_activity_id, max(sent_time) FROM read_parquet(?) "
            "WHERE sent_time IS NOT NULL GROUP BY 1",
            [f"{folder.path}/*/part-*.parquet"],
        ).fetchall()
    return {activity: sent for activity, sent in rows}


def last_calls(instance: dg.DagsterInstance, activity_id: str) -> int | None:
    """What the activity's previous refresh spent, from its materialization metadata."""
    total, seen = 0, False
    for key in ACTIVITY_ASSET_KEYS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[activity_id]), limit=1
        ).records
        if records:
            value = records[0].asset_materialization.metadata.get("api_calls")
            if value is not None:
                total, seen = total + int(value.value), True
    return total if seen else None


@dg.schedule(
    job=hot_activity_refresh_job,
    cron_schedule="0 */6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Re-reads the tracking reports of activities sent in the last CC_ASSETS_HOT_DAYS "
    "(14) days, in one batched run planned within the daily API quota.",
)
def hot_activity_refresh_schedule(
    context: dg.ScheduleEvaluationContext,
) -> dg.RunRequest | dg.SkipReason:
    now = context.scheduled_execution_time.astimezone(UTC)
    sent = sent_times()
    candidates = [
        Candidate(activity_id, sent.get(activity_id), last_calls(context.instance, activity_id))
        for activity_id in context.instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES)
    ]
    quota = int(os.environ.get("CONSTANT_CONTACT_DAILY_QUOTA", "10000"))
    plan = plan_hot_refresh(
        candidates,
        now=now,
        hot_days=int(os.environ.get("CC_ASSETS_HOT_DAYS", "14")),
        budget=run_budget(quota, HOT_RUNS_PER_DAY),
    )
    if plan.deferred:
        deferred = len(plan.deferred)
        context.log.info(
            f"hot refresh: {deferred} activities deferred to the next run: {plan.deferred}"
        )
    if not plan.chosen:
        return dg.SkipReason("no recently sent activities to refresh")
    return dg.RunRequest(
        run_key=f"hot-{now:%Y%m%dT%H%M}",
        run_config={"ops": {"refresh_hot_activities": {"config": {"activity_ids": plan.chosen}}}},
        tags={"estimated_api_calls": str(plan.estimated_calls)},
    )
