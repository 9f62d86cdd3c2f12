"""`cc-assets refresh`: the code location's own jobs, launched one after another on the instance.

The same jobs and the same discovery the daemon runs (`defs/automation`), in the order that
lands what a user asked for first:

1. `daily_snapshot_job` for today, without the contact backlog: campaigns, summaries, stats
   and the day's rates from CC's activity stats;
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

With an accounts file every stage runs for every account, one run per account where the API
is called (snapshots, tracking reports, contact reports: an account's refusal ends only its
own runs), one discovery pass and one plan over all of them, one metrics run, and dbt once
when any account is whole (`Summary.fatal` is per account).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from cc_assets.constant_contact.client import calls_used_today
from cc_assets.constant_contact.schemas import CONTACT_ACTIVITY_DETAILS
from cc_assets.defs.automation import jobs, sensors
from cc_assets.defs.automation.planning import Plan, day_budget, plan_hot_refresh
from cc_assets.defs.automation.schedules import (
    account_tags,
    account_weights,
    all_candidates,
    history_progress,
    split_by_account,
    weighted_shares,
)
from cc_assets.defs.ingestion import resources
from cc_assets.defs.ingestion.assets import CONTACT_CALLS_TAG, asset_key
from cc_assets.defs.ingestion.partitions import (
    ACCOUNTS,
    CAMPAIGN_ACTIVITIES,
    account_partitions,
    accounts,
    activity_scope,
    partition_tags,
    snapshot_key,
    snapshot_partitions,
)
from cc_assets.defs.metrics.assets import ACTIVITY_SPECS, metric_key
from cc_assets.defs.metrics.tables import ACTIVITY_STATS_DAILY, CAMPAIGN_ENGAGEMENT
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS
from cc_assets.progress import Heartbeat, account_prefix, say
from cc_assets.run_summary import Item, Summary, expected, read_run
from cc_assets.settings import load_settings

PID_TAG = jobs.CLI_PID_TAG
DISCOVERY_CURSOR = "cc_assets/refresh/discovery_cursor"
"""Where the refresh keeps its discovery sensor cursor (the instance's key-value store)."""
DBT_JOB = "dbt_build_job"
DBT_STEP = "cc_assets_dbt"

CONTACTS_KEY = asset_key(CONTACT_ACTIVITY_DETAILS)
STATS_DAILY_KEY = metric_key(ACTIVITY_STATS_DAILY)
SNAPSHOT_KEYS = [*(key for key in jobs.DAILY_ASSET_KEYS if key != CONTACTS_KEY), STATS_DAILY_KEY]
METRIC_KEYS = sorted(ACTIVITY_SPECS, key=lambda k: k.to_user_string())
CAMPAIGN_ENGAGEMENT_KEY = metric_key(CAMPAIGN_ENGAGEMENT)


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
        account: str | None = None,
        partition: str | None = None,
        partitions: dg.PartitionsDefinition | None = None,
        config: dict[str, Any] | None = None,
        assets: Sequence[dg.AssetKey] | None = None,
        own_processes: bool = True,
        tags: dict[str, str] | None = None,
    ) -> bool:
        """Run a job of the code location for `items` of `account`; True when every one
        landed. After the account's refusal nothing more of it is attempted: the items are
        deferred. `partitions` is the partitioning of `partition` (daily snapshots by
        default)."""
        refusal = self.summary.fatal.get(account)
        if refusal is not None:
            self.summary.defer(items, f"not attempted: {refusal}")
            return False
        executor = {"multiprocess": {}} if own_processes else {"in_process": {}}
        run_config: dict[str, Any] = {
            "execution": {"config": executor},
            "loggers": {"console": {"config": {"log_level": "DEBUG" if self.verbose else "INFO"}}},
        }
        if config is not None:
            run_config["ops"] = config
        tags = {**(tags or {}), **account_tags(account), PID_TAG: str(os.getpid())}
        if partition is not None:
            tags |= partition_tags(partitions or snapshot_partitions, partition)
        job = dg.build_reconstructable_job(
            jobs.__name__, jobs.job_named.__name__, reconstructable_args=(job_name,)
        )
        # a sign of life while a step's process starts (the dbt step loads the whole code
        # location) or works between its own progress lines
        with (
            Heartbeat(job_name + (f" of {account}" if account else ""), 0, say),
            dg.execute_job(
                job,
                instance=self.instance,
                run_config=run_config,
                tags=tags,
                asset_selection=list(assets) if assets is not None else None,
            ) as result,
        ):
            read_run(self.summary, job_name, result, items, account)
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


def discover(refresh: Refresh, live: Sequence[str | None]) -> Plan:
    """One evaluation of the discovery sensor's own function over every account, its new
    partitions added and its cursor kept for the next refresh; then the plan over every known
    activity of the `live` accounts. Tracking never waits on discovery: when an account's
    tick fails, its activities already known are refreshed (unless the account refused us)."""
    instance = refresh.instance
    summary = refresh.summary
    storage = instance.daemon_cursor_storage
    cursor = storage.get_cursor_values({DISCOVERY_CURSOR}).get(DISCOVERY_CURSOR)
    failed: dict[str | None, Exception] = {}
    try:
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources.defs.resources
        ) as context:
            found = sensors.discover(
                instance,
                cursor,
                context.resources.constant_contact,
                context.resources.lake,
                context.log,
                live,
            )
    except Exception as error:  # the single account's tick: the API's answer, a lake error
        failed[None] = error
    else:
        failed.update(found.failed)
        instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, found.new)
        storage.set_cursor_values({DISCOVERY_CURSOR: json.dumps(found.cursor)})
        summary.landed += [Item("discovery", a) for a in live if a not in failed]
        say(f"discovery: {len(found.new)} newly sent activities")
    for account, error in failed.items():
        reason = f"{type(error).__name__}: {error}"
        summary.failed.append(Item("discovery", account, reason))
        if isinstance(error, ACCOUNT_WIDE_ERRORS):
            summary.fatal[account] = reason
        else:
            say(
                f"{account_prefix(account)}discovery failed: {reason}; refreshing the "
                "activities already known"
            )
    return in_refresh_order(instance, [a for a in live if a not in summary.fatal])


def in_refresh_order(instance: dg.DagsterInstance, live: Sequence[str | None]) -> Plan:
    """Every known activity of the `live` accounts in the hot-refresh planner's order (the one
    ordering rule): what the previous hot refresh deferred, then what was never refreshed,
    then by arrival rate and the newest send, the settled ones, then the history newest first
    (in turns by weight across accounts), within what is left of the day's quota (all of it
    without a local quota)."""
    project = load_settings()
    settings = project.application()
    budget = sys.maxsize
    if settings.daily_quota:
        budget = day_budget(settings.daily_quota, calls_used_today(settings), 0)
    return plan_hot_refresh(
        all_candidates(instance, live),
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
    only: Sequence[str | None] | None = None,
    refused: Mapping[str | None, str] | None = None,
) -> Summary:
    """The whole pipeline once (module docstring), over every account (`only`: these). An
    account in `refused` (its first call was refused) is failed with that line; the others
    go on. `contact_calls` caps the contact backlog's calls (0: the contact reports are left
    to the next run or the daily schedule)."""
    run = Refresh(instance, verbose)
    summary = run.summary
    summary.fatal.update(refused or {})
    names = accounts() if only is None else list(only)
    recover_dead_runs(instance)
    say("daily snapshots...")
    for account in names:
        key = snapshot_key(account, day)
        run.launch(
            "daily_snapshot_job",
            expected(SNAPSHOT_KEYS, [key]),
            account=account,
            partition=key,
            assets=SNAPSHOT_KEYS,
            own_processes=False,
        )
    live = [a for a in names if a not in summary.fatal]
    plan = discover(run, live) if live else Plan([], [], [], 0, 0)
    by_account = split_by_account(plan)
    say(f"tracking reports of {len(plan.chosen)} activities...")
    tracking = {a: expected(jobs.ACTIVITY_ASSET_KEYS, [a]) for a in plan.chosen}
    for account in names:
        chosen = by_account[account].chosen if account in by_account else []
        if chosen:
            run.launch(
                "activity_refresh_job",
                [item for a in chosen for item in tracking[a]],
                account=account,
                config={"refresh_activities": {"config": {"activity_ids": chosen}}},
            )
        if account not in summary.fatal:
            summary.history[account] = history_progress(instance, datetime.now(UTC), account)
    waiting = plan.deferred + plan.waiting
    if waiting:
        summary.defer(
            [Item("tracking reports", f"{len(waiting)} activities")],
            "beyond what is left of today's quota: read by the next refresh, newest first",
        )
    complete = [a for a in plan.chosen if summary.complete(tracking[a])]
    incomplete = [a for a in plan.chosen if a not in complete]
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
    whole = [
        account
        for account in names
        if account not in summary.fatal
        and not any(activity_scope(a).account == account for a in incomplete)
        and summary.complete(
            expected(METRIC_KEYS, [a for a in complete if activity_scope(a).account == account])
        )
    ]
    engaged = []
    for account in names:
        items = expected([CAMPAIGN_ENGAGEMENT_KEY], [account])
        if account not in whole:
            summary.defer(items, "deferred: not every activity's reports and metrics landed")
        elif run.launch(
            "campaign_metrics_job",
            items,
            account=account,
            partition=account,
            partitions=account_partitions,
            own_processes=False,
        ):
            engaged.append(account)
    if engaged:
        say("dbt build...")
        built = run.launch(DBT_JOB, expected(dbt_models(), [None]), own_processes=False)
    else:
        built = False
        summary.defer([Item("dbt build")], "deferred: no account's reports and metrics all landed")
    if contact_calls == 0:
        say("contact reports: not read (--contact-calls 0); the next refresh reads them")
        return summary
    say("contact reports...")
    # a snapshot is only ever of today (UTC): a refresh begun before midnight reads the
    # contact reports into the new day's, which is the day they are read on
    day = datetime.now(UTC).date().isoformat()
    read = False
    for account, cap in contact_caps(names, contact_calls).items():
        key = snapshot_key(account, day)
        tags = {} if cap is None else {CONTACT_CALLS_TAG: str(cap)}
        read |= run.launch(
            "daily_snapshot_job",
            expected([CONTACTS_KEY], [key]),
            account=account,
            partition=key,
            assets=[CONTACTS_KEY],
            tags=tags,
        )
    readers = dbt_models(reading=CONTACTS_KEY) if read and built else []
    if readers:
        say("dbt build of the models that read the contact reports...")
        run.launch(DBT_JOB, expected(readers, [None]), assets=readers, own_processes=False)
    return summary


def contact_caps(
    names: Sequence[str | None], contact_calls: int | None
) -> dict[str | None, int | None]:
    """Each account's cap on its contact backlog's calls: `contact_calls` (None: none) for the
    single account; with an accounts file, its share by weight of what today leaves (the
    backlogs run one after another, and the first must not take every account's share), and
    of `contact_calls` when given."""
    if not ACCOUNTS:
        return {None: contact_calls}
    project = load_settings()
    settings = project.application()
    weights = {a: w for a, w in account_weights(project).items() if a in names}
    if not settings.daily_quota:  # no local quota: only the user's cap, if any, is shared
        return (
            dict.fromkeys(weights)
            if contact_calls is None
            else weighted_shares(contact_calls, weights)
        )
    left = day_budget(settings.daily_quota, calls_used_today(settings), 0)
    total = left if contact_calls is None else min(contact_calls, left)
    return dict(weighted_shares(total, weights))
