"""Sensors: discovery of newly sent activities, and declarative automation (on by default)."""

import json
from datetime import UTC, datetime

import dagster as dg

from cc_assets.constant_contact.schemas import EMAIL_CAMPAIGNS
from cc_assets.defs.automation.planning import first_reads_now
from cc_assets.defs.ingestion.assets import campaign_activity_reports
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES, campaign_activity_partitions
from cc_assets.defs.ingestion.resources import ConstantContactResource, LakeResource
from cc_assets.lake.writer import read_partition
from cc_assets.pipeline.discovery import DiscoveryState, discovery_tick, snapshot_campaigns
from cc_assets.settings import load_settings

DISCOVERY_SENSOR = "campaign_discovery_sensor"


@dg.sensor(
    name=DISCOVERY_SENSOR,
    target=dg.AssetSelection.assets(campaign_activity_reports),
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds primary_email and resend activities once sent (DONE), adds them as "
    "campaign_activities partitions and requests their tracking runs (at most the newest ten a "
    "tick: the rest of an account's history is read by the hot refresh within the quota).",
)
def campaign_discovery_sensor(
    context: dg.SensorEvaluationContext,
    constant_contact: ConstantContactResource,
    lake: LakeResource,
) -> dg.SensorResult:
    """The cursor is the `DiscoveryState`: the list window and each listed campaign's
    `updated_at`/status, so an idle tick costs one list call. It moves only when a tick
    succeeds (an API error fails the tick and keeps the cursor), so nothing is skipped.
    Campaigns today's `email_campaigns` snapshot holds as listed cost no detail call. Only
    the newest few new activities a tick (none changed before `CC_ASSETS_HISTORY_SINCE`) get
    a run now (`planning.first_reads_now`)."""
    state = DiscoveryState.from_json(json.loads(context.cursor) if context.cursor else {})
    today = datetime.now(UTC).date().isoformat()
    snapshot = snapshot_campaigns(read_partition(EMAIL_CAMPAIGNS, today, root=lake.root()))
    with constant_contact.open(context.log) as reports:
        found, state = discovery_tick(reports, state, snapshot)
        calls = reports.client.calls
    known = set(context.instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES))
    new = sorted({a.campaign_activity_id for a in found if a.sent} - known)
    stamps = {a.campaign_activity_id: a.campaign_updated_at for a in found}
    now_read = set(
        first_reads_now([(a, stamps[a]) for a in new], since=load_settings().client().history_since)
    )
    context.log.info(
        f"discovery: {len(new)} newly sent activities ({len(now_read)} read now, the "
        f"rest history), {len(state.pending or [])} campaigns waiting to send, {calls} API calls"
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=a, run_key=f"discover-{a}") for a in new if a in now_read
        ],
        dynamic_partitions_requests=[campaign_activity_partitions.build_add_request(new)]
        if new
        else [],
        cursor=json.dumps(state.as_json()),
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "cc_assets_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps metrics and dbt models current as their inputs change (declarative).",
)
