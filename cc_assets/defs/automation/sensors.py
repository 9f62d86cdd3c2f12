"""Sensors: discovery of newly sent activities, and declarative automation (on by default)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from cc_assets.constant_contact.errors import ConfigurationError, ConstantContactError
from cc_assets.constant_contact.schemas import EMAIL_CAMPAIGNS
from cc_assets.defs.automation.planning import first_reads_now, share_first_reads
from cc_assets.defs.ingestion.assets import campaign_activity_reports
from cc_assets.defs.ingestion.partitions import (
    ACCOUNTS,
    CAMPAIGN_ACTIVITIES,
    accounts,
    activity_key,
    campaign_activity_partitions,
)
from cc_assets.defs.ingestion.resources import ConstantContactResource, LakeResource
from cc_assets.lake.writer import read_partition
from cc_assets.pipeline.discovery import DiscoveryState, discovery_tick, snapshot_campaigns
from cc_assets.settings import load_settings

DISCOVERY_SENSOR = "campaign_discovery_sensor"
ACCOUNT_ERRORS = (ConstantContactError, ConfigurationError)
"""What fails one account's discovery (its grant revoked, its list answering 500), never the
others'."""


@dataclass
class Discovery:
    """One discovery pass over every account: the new activity partitions, those read at once,
    the cursor to keep, and each account whose tick failed (its cursor kept as it was)."""

    new: list[str] = field(default_factory=list)
    read_now: list[str] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, Exception] = field(default_factory=dict)
    calls: int = 0
    waiting: int = 0
    """Campaigns waiting to send (scheduled, executing), followed through the list."""


def discover(
    instance: dg.DagsterInstance,
    cursor: str | None,
    constant_contact: ConstantContactResource,
    lake: LakeResource,
    log: dg.DagsterLogManager,
    only: Sequence[str | None] | None = None,
) -> Discovery:
    """Each account's tick (`discovery_tick`), its `DiscoveryState` in the cursor: the state
    itself for the single account (the cursor of every earlier release), `{"accounts": {name:
    state}}` with an accounts file. With a file, an account whose tick fails is logged and
    left for the next tick; the single account's failure is raised, failing the tick. `only`:
    these accounts (the others' states are kept as they are)."""
    saved = json.loads(cursor) if cursor else {}
    states = saved.get("accounts", {}) if ACCOUNTS else {None: saved}
    known = set(instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES))
    since = load_settings().application().history_since
    today = datetime.now(UTC).date().isoformat()
    found = Discovery(cursor={"accounts": dict(states)} if ACCOUNTS else saved)
    first_reads: list[list[str]] = []  # each account's, newest first
    for account in accounts() if only is None else only:
        root = lake.root(account)
        snapshot = snapshot_campaigns(read_partition(EMAIL_CAMPAIGNS, today, root=root))
        state = DiscoveryState.from_json(states.get(account) or {})
        try:
            with constant_contact.open(log, account) as reports:
                activities, state = discovery_tick(reports, state, snapshot)
                found.calls += reports.client.calls
        except ACCOUNT_ERRORS as error:
            if account is None:
                raise
            found.failed[account] = error
            log.error(f"discovery of account {account} failed: {type(error).__name__}: {error}")
            continue
        sent = {
            activity_key(account, a.campaign_activity_id): a.campaign_updated_at
            for a in activities
            if a.sent
        }
        new = sorted(set(sent) - known)
        found.new += new
        first_reads.append(first_reads_now([(a, sent[a]) for a in new], since=since))
        found.waiting += len(state.pending or [])
        if account is None:
            found.cursor = state.as_json()
        else:
            found.cursor["accounts"][account] = state.as_json()
    found.read_now = share_first_reads(first_reads)
    return found


@dg.sensor(
    name=DISCOVERY_SENSOR,
    target=dg.AssetSelection.assets(campaign_activity_reports),
    minimum_interval_seconds=load_settings().discovery_minutes * 60,  # read at load, as a cron
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds primary_email and resend activities once sent (DONE), in every account, "
    "adds them as campaign_activities partitions and requests their tracking runs (at most the "
    "newest ten a tick, in turns across accounts: the rest of an account's history is read by "
    "the hot refresh within the quota).",
)
def campaign_discovery_sensor(
    context: dg.SensorEvaluationContext,
    constant_contact: ConstantContactResource,
    lake: LakeResource,
) -> dg.SensorResult:
    """The cursor is each account's `DiscoveryState`: the list window and each listed
    campaign's `updated_at`/status, so an idle tick costs one list call an account. An
    account's state moves only when its tick succeeds (an API error keeps it), so nothing is
    skipped. Campaigns today's `email_campaigns` snapshot holds as listed cost no detail call.
    Only the newest few new activities a tick, taken in turns across the accounts (none
    changed before `CC_ASSETS_HISTORY_SINCE`), get a run now (`planning.first_reads_now`,
    `share_first_reads`)."""
    found = discover(context.instance, context.cursor, constant_contact, lake, context.log)
    context.log.info(
        f"discovery: {len(found.new)} newly sent activities ({len(found.read_now)} read now, "
        f"the rest history), {found.waiting} campaigns waiting to send, {found.calls} API calls"
        + (f"; failed: {', '.join(sorted(found.failed))}" if found.failed else "")
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=a, run_key=f"discover-{a}")
            for a in found.new
            if a in set(found.read_now)
        ],
        dynamic_partitions_requests=[campaign_activity_partitions.build_add_request(found.new)]
        if found.new
        else [],
        cursor=json.dumps(found.cursor),
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "cc_assets_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps metrics and dbt models current as their inputs change (declarative).",
)
