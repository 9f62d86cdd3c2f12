"""Sensors: discovery of newly sent activities, and declarative automation (on by default)."""

import json
from datetime import datetime

import dagster as dg

from cc_assets.defs.automation.jobs import activity_reports_job
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES, campaign_activity_partitions
from cc_assets.defs.ingestion.resources import ConstantContactResource
from cc_assets.pipeline.discovery import ActivityStatus, campaign_activities, list_campaigns

WAITING_STATUSES = {"DRAFT", "SCHEDULED", "EXECUTING"}


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None


@dg.sensor(
    job=activity_reports_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds primary_email and resend activities once sent (DONE), adds them as "
    "campaign_activities partitions and requests their tracking runs.",
)
def campaign_discovery_sensor(
    context: dg.SensorEvaluationContext, constant_contact: ConstantContactResource
) -> dg.SensorResult:
    """The cursor is `{"updated_after": ..., "pending": [...]}`: campaigns changed since the last
    tick, plus activities seen before they were sent. It moves only when a tick succeeds (an API
    error fails the tick and keeps the cursor), so nothing is skipped."""
    state = json.loads(context.cursor) if context.cursor else {}
    pending = set(state.get("pending", []))
    with constant_contact.open(context.log) as client:
        campaigns = list_campaigns(client, _parse(state.get("updated_after")))
        found = campaign_activities(client, campaigns)
        seen = {a.campaign_activity_id for a in found}
        for activity_id in sorted(pending - seen):
            detail = client.get_activity(activity_id)
            found.append(
                ActivityStatus(
                    campaign_id=detail.get("campaign_id", ""),
                    campaign_activity_id=activity_id,
                    role=detail.get("role", ""),
                    status=str(detail.get("current_status", "")).upper(),
                    campaign_updated_at="",
                )
            )
    known = set(context.instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES))
    new = sorted({a.campaign_activity_id for a in found if a.sent} - known)
    waiting = sorted({a.campaign_activity_id for a in found if a.status in WAITING_STATUSES})
    stamps = [c["updated_at"] for c in campaigns if c.get("updated_at")]
    cursor = {
        "updated_after": max([*stamps, state.get("updated_after") or ""]) or None,
        "pending": waiting,
    }
    context.log.info(f"discovery: {len(new)} newly sent activities, {len(waiting)} waiting")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=a, run_key=f"discover-{a}") for a in new],
        dynamic_partitions_requests=[campaign_activity_partitions.build_add_request(new)]
        if new
        else [],
        cursor=json.dumps(cursor),
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "cc_assets_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps metrics and dbt models current as their inputs change (declarative).",
)
