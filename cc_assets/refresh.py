"""`cc-assets refresh`: the code location's own jobs, launched one after another on the instance.

The same jobs and the same discovery the daemon runs (`defs/automation`), in the order that
lands what a user asked for first:

1. `daily_snapshot_job` for today, without the contact backlog: campaigns, summaries, stats;
2. discovery: an evaluation of `campaign_discovery_sensor` itself (its cursor kept on the
   instance), adding newly sent activities as partitions; it reads today's campaign snapshot,
   so the campaigns are walked once;
3. `activity_refresh_job` over every sent activity, in the hot-refresh planner's order and
   within what is left of the day's quota: the history (activities never read, sent before
   the hot window) newest first after the fresh ones, what does not fit waiting for the next
   refresh (`CC_ASSETS_HISTORY_SINCE` / `--since`: nothing sent before it is read);
4. `activity_metrics_job` over the activities whose reports all landed, `campaign_metrics_job`;
5. `dbt_build_job`;
6. the contact backlog (`daily_snapshot_job`'s `contact_activity_details`), which spends what
   the day's quota leaves, then `dbt_build_job` again for only the tables that read it.

Each run goes through `dg.execute_job` on the instance of `DAGSTER_HOME`, so the UI lists it
with its full log. The heavy runs use the multiprocess executor: each step is a process of its
own (memory freed when it ends) that dies with this one (`LakeResource`). The dbt job runs in
this process: its work is done by the `dbt` process it starts, and the code location it needs
is the one this process loaded to list the models (a step process would load it again). What
every run landed, failed and skipped is read back from its own events into a `Summary`; what
reads a failed input is deferred, never computed on half its data; an account-wide refusal
(credentials, quota) defers everything after it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from cc_assets.constant_contact.client import calls_used_today
from cc_assets.constant_contact.schemas import CONTACT_ACTIVITY_DETAILS
from cc_assets.defs.automation import jobs
from cc_assets.defs.automation.planning import Plan, day_budget, plan_hot_refresh
from cc_assets.defs.automation.schedules import history_progress, hot_candidates
from cc_assets.defs.automation.sensors import campaign_discovery_sensor
from cc_assets.defs.ingestion import resources
from cc_assets.defs.ingestion.assets import CONTACT_CALLS_TAG, asset_key
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.defs.metrics.assets import ACTIVITY_SPECS, metric_key
from cc_assets.defs.metrics.tables import ACTIVITY_STATS_DAILY, CAMPAIGN_ENGAGEMENT
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS
from cc_assets.progress import Heartbeat, say
from cc_assets.run_summary import Item, Summary, expected, read_run
from cc_assets.settings import load_settings

PID_TAG = jobs.CLI_PID_TAG
DISCOVERY_CURSOR = "cc_assets/refresh/discovery_cursor"
"""Where the refresh keeps its discovery sensor cursor (the instance's key-value store)."""
DBT_JOB = "dbt_build_job"
DBT_STEP = "cc_assets_dbt"

CONTACTS_KEY = asset_key(CONTACT_ACTIVITY_DETAILS)
SNAPSHOT_KEYS = [key for key in jobs.DAILY_ASSET_KEYS if key != CONTACTS_KEY]
METRIC_KEYS = sorted(ACTIVITY_SPECS, key=lambda k: k.to_user_string())
CAMPAIGN_ENGAGEMENT_KEY = metric_key(CAMPAIGN_ENGAGEMENT)
STATS_DAILY_KEY = metric_key(ACTIVITY_STATS_DAILY)


@dataclass
class Refresh:
    """One `cc-assets refresh` on an instance: the runs it launches and what they landed."""

    instance: dg.DagsterInstance
    verbose: bool = False
    summary: Summary = field(default_factory=Summary)

    def launch(
        self,
        job_name: str,
        items: list[Item],
        *,
        partition: str | None = None,
        config: dict[str, Any] | None = None,
        assets: Sequence[dg.AssetKey] | None = None,
        own_processes: bool = True,
        tags: dict[str, str] | None = None,
    ) -> bool:
        """Run a job of the code location for `items`; True when every one landed. After an
        account-wide refusal nothing more is attempted: the items are deferred."""
        if self.summary.fatal is not None:
            self.summary.defer(items, f"not attempted: {self.summary.fatal}")
            return False
        executor = {"multiprocess": {}} if own_processes else {"in_process": {}}
        run_config: dict[str, Any] = {
            "execution": {"config": executor},
            "loggers": {"console": {"config": {"log_level": "DEBUG" if self.verbose else "INFO"}}},
        }
        if config is not None:
            run_config["ops"] = config
        tags = {**(tags or {}), PID_TAG: str(os.getpid())}
        if partition is not None:
            tags["dagster/partition"] = partition
        job = dg.build_reconstructable_job(
            jobs.__name__, jobs.job_named.__name__, reconstructable_args=(job_name,)
        )
        # a sign of life while a step's process starts (the dbt step loads the whole code
        # location) or works between its own progress lines
        with (
            Heartbeat(job_name, 0, say),
            dg.execute_job(
                job,
                instance=self.instance,
                run_config=run_config,
                tags=tags,
                asset_selection=list(assets) if assets is not None else None,
            ) as result,
        ):
            read_run(self.summary, job_name, result, items)
        return self.summary.complete(items)


def recover_dead_runs(instance: dg.DagsterInstance) -> None:
    """Runs of an earlier `cc-assets refresh` that was killed stay STARTED and keep their pool
    slots: no daemon's run monitoring watches them. Fail them and free the slots, or this
    refresh would wait for them forever."""
    live = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
    for run in instance.get_runs(dg.RunsFilter(statuses=live)):
        pid = run.tags.get(PID_TAG)
        if pid is None or _alive(int(pid)):
            continue
        instance.report_run_failed(run, "its cc-assets refresh process died")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"marked run {run.run_id} of a dead refresh (pid {pid}) as failed")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def discover(refresh: Refresh) -> Plan:
    """One evaluation of the discovery sensor (the daemon's own function), its new partitions
    added and its cursor kept for the next refresh; then the plan over every known activity.
    Tracking never waits on discovery: when the tick fails, the activities already known are
    refreshed."""
    instance = refresh.instance
    storage = instance.daemon_cursor_storage
    cursor = storage.get_cursor_values({DISCOVERY_CURSOR}).get(DISCOVERY_CURSOR)
    try:
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources.defs.resources
        ) as context:
            result = campaign_discovery_sensor(context)
    except ACCOUNT_WIDE_ERRORS as error:
        refresh.summary.fatal = f"{type(error).__name__}: {error}"
        refresh.summary.failed.append(Item("discovery", None, refresh.summary.fatal))
        return Plan([], [], [], 0, 0)
    except Exception as error:  # the API's answer, or today's snapshot missing: known ones go on
        reason = f"{type(error).__name__}: {error}"
        refresh.summary.failed.append(Item("discovery", None, reason))
        say(f"discovery failed: {reason}; refreshing the activities already known")
    else:
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, list(request.partition_keys))
        storage.set_cursor_values({DISCOVERY_CURSOR: result.cursor or json.dumps({})})
        refresh.summary.landed.append(Item("discovery"))
        found = sum(len(r.partition_keys) for r in result.dynamic_partitions_requests)
        say(f"discovery: {found} newly sent activities")
    return in_refresh_order(instance)


def in_refresh_order(instance: dg.DagsterInstance) -> Plan:
    """Every known activity in the hot-refresh planner's order (the one ordering rule): what
    the previous hot refresh deferred, then what was never refreshed, then by arrival rate
    and the newest send, the settled ones, then the history newest first, within what is left
    of the day's quota (all of it without a local quota)."""
    project = load_settings()
    settings = project.client()
    budget = sys.maxsize
    if settings.daily_quota:
        budget = day_budget(settings.daily_quota, calls_used_today(settings), 0)
    return plan_hot_refresh(
        hot_candidates(instance),
        now=datetime.now(UTC),
        hot_days=project.hot_days,
        budget=budget,
        include_settled=True,
        since=settings.history_since,
    )


def _code_location() -> dg.Definitions:
    """The whole code location (`jobs.code_location`), its dbt manifest prepared first when a
    model changed."""
    from cc_assets.defs.analytics import project  # noqa: PLC0415 (dbt, only for its stage)

    if project.manifest_is_stale(project.dbt_project):  # a fresh install, an edited model
        say("preparing the dbt manifest (dbt parse)...")
        project.prepare_manifest(project.dbt_project)
    return jobs.code_location()


def dbt_models(reading: dg.AssetKey | None = None) -> list[dg.AssetKey]:
    """dbt's models, or only the tables among those that read `reading` (directly or through
    other models): a view reads the lake in place, so it never needs rebuilding for new data."""
    loaded = _code_location()
    models = loaded.resolve_job_def(DBT_JOB).asset_layer.selected_asset_keys
    if reading is None:
        return sorted(models)
    graph = loaded.resolve_asset_graph()
    downstream = dg.AssetSelection.assets(reading).downstream(include_self=False).resolve(graph)
    return sorted(
        key
        for key in downstream & models
        if graph.get(key).metadata.get("dagster-dbt/materialization_type") != "view"
    )


def refresh(
    day: str,
    instance: dg.DagsterInstance,
    verbose: bool = False,
    contact_calls: int | None = None,
) -> Summary:
    """The whole pipeline once (module docstring). `contact_calls` caps the contact backlog's
    calls (0: the contact reports are left to the next run or the daily schedule)."""
    run = Refresh(instance, verbose)
    summary = run.summary
    recover_dead_runs(instance)
    say("daily snapshots...")
    run.launch(
        "daily_snapshot_job",
        expected(SNAPSHOT_KEYS, [day]),
        partition=day,
        assets=SNAPSHOT_KEYS,
        own_processes=False,
    )
    plan = discover(run) if summary.fatal is None else Plan([], [], [], 0, 0)
    activities = plan.chosen
    say(f"tracking reports of {len(activities)} activities...")
    tracking = {a: expected(jobs.ACTIVITY_ASSET_KEYS, [a]) for a in activities}
    if activities:
        run.launch(
            "activity_refresh_job",
            [item for items in tracking.values() for item in items],
            config={"refresh_activities": {"config": {"activity_ids": activities}}},
        )
    summary.history = history_progress(instance, datetime.now(UTC))
    waiting = plan.deferred + plan.waiting
    if waiting:
        summary.defer(
            [Item("tracking reports", f"{len(waiting)} activities")],
            "beyond what is left of today's quota: read by the next refresh, newest first",
        )
    complete = [a for a in activities if summary.complete(tracking[a])]
    incomplete = [a for a in activities if a not in complete]
    summary.defer(
        expected(METRIC_KEYS, incomplete), "deferred: its tracking reports did not all land"
    )
    say("metrics...")
    if complete:
        run.launch(
            "activity_metrics_job",
            expected(METRIC_KEYS, complete),
            config={"compute_activity_metrics": {"config": {"activity_ids": complete}}},
        )
    everything = (
        not incomplete
        and summary.fatal is None
        and summary.complete(expected(METRIC_KEYS, complete))
    )
    campaign_keys = [STATS_DAILY_KEY, *([CAMPAIGN_ENGAGEMENT_KEY] if everything else [])]
    campaigns = run.launch(
        "campaign_metrics_job",
        [*expected([STATS_DAILY_KEY], [day]), *expected(campaign_keys[1:], [None])],
        partition=day,
        assets=campaign_keys,
        own_processes=False,
    )
    if everything and campaigns:
        say("dbt build...")
        run.launch(DBT_JOB, expected(dbt_models(), [None]), own_processes=False)
    else:
        reason = "deferred: not every activity's reports and metrics landed"
        late = [] if everything else expected([CAMPAIGN_ENGAGEMENT_KEY], [None])
        summary.defer([*late, Item("dbt build")], reason)
    if contact_calls == 0:
        say("contact reports: not read (--contact-calls 0); the next refresh reads them")
        return summary
    say("contact reports...")
    contacts = expected([CONTACTS_KEY], [day])
    cap = {} if contact_calls is None else {CONTACT_CALLS_TAG: str(contact_calls)}
    if run.launch("daily_snapshot_job", contacts, partition=day, assets=[CONTACTS_KEY], tags=cap):
        readers = dbt_models(reading=CONTACTS_KEY)
        if readers and everything and campaigns:
            say("dbt build of the models that read the contact reports...")
            run.launch(DBT_JOB, expected(readers, [None]), assets=readers, own_processes=False)
    return summary
