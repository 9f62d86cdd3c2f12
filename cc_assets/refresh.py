"""`cc-assets refresh`: the code location's own jobs, launched one after another on the instance.

The same jobs and the same discovery the daemon runs (`defs/automation`), in the order that
lands what a user asked for first:

1. `daily_snapshot_job` for today, without the contact backlog: campaigns, summaries, stats;
2. discovery: an evaluation of `campaign_discovery_sensor` itself (its cursor kept on the
   instance), adding newly sent activities as partitions; it reads today's campaign snapshot,
   so the campaigns are walked once;
3. `activity_refresh_job` over every sent activity, in the hot-refresh planner's order;
4. `activity_metrics_job` over the activities whose reports all landed, `campaign_metrics_job`;
5. `dbt_build_job`;
6. the contact backlog (`daily_snapshot_job`'s `contact_activity_details`), which spends what
   the day's quota leaves, then `dbt_build_job` again for only the tables that read it.

Each run goes through `dg.execute_job` on the instance of `DAGSTER_HOME`, so the UI lists it
with its full log. The heavy runs use the multiprocess executor: each step is a process of its
own (memory freed when it ends) that dies with this one (`LakeResource`). What every run
landed, failed and skipped is read back from its own events into a `Summary`; what reads a
failed input is deferred, never computed on half its data; an account-wide refusal
(credentials, quota) defers everything after it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import dagster as dg

from cc_assets.constant_contact.schemas import CONTACT_ACTIVITY_DETAILS
from cc_assets.defs.automation import jobs
from cc_assets.defs.automation.planning import plan_hot_refresh
from cc_assets.defs.automation.schedules import hot_candidates, hot_days
from cc_assets.defs.automation.sensors import campaign_discovery_sensor
from cc_assets.defs.ingestion import resources
from cc_assets.defs.ingestion.assets import CONTACT_CALLS_TAG, FAILED_ASSETS, asset_key
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.defs.metrics.assets import ACTIVITY_SPECS, metric_key
from cc_assets.defs.metrics.tables import ACTIVITY_STATS_DAILY, CAMPAIGN_ENGAGEMENT
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS
from cc_assets.progress import say

PID_TAG = "cc_assets/cli_pid"
ACCOUNT_WIDE = {cls.__name__ for cls in ACCOUNT_WIDE_ERRORS} | {"ConfigurationError"}
DISCOVERY_CURSOR = "cc_assets/refresh/discovery_cursor"
"""Where the refresh keeps its discovery sensor cursor (the instance's key-value store)."""
CRASH = "ChildProcessCrashException"
"""The error of a step whose own process died; the executor's engine event says how."""
DBT_JOB = "dbt_build_job"
DBT_STEP = "cc_assets_dbt"

CONTACTS_KEY = asset_key(CONTACT_ACTIVITY_DETAILS)
SNAPSHOT_KEYS = [key for key in jobs.DAILY_ASSET_KEYS if key != CONTACTS_KEY]
METRIC_KEYS = sorted(ACTIVITY_SPECS, key=lambda k: k.to_user_string())
CAMPAIGN_ENGAGEMENT_KEY = metric_key(CAMPAIGN_ENGAGEMENT)
STATS_DAILY_KEY = metric_key(ACTIVITY_STATS_DAILY)


@dataclass(frozen=True)
class Item:
    """One asset (and partition) of the refresh, with why it did not land when it did not."""

    asset: str
    partition: str | None = None
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.asset}[{self.partition}]" if self.partition else self.asset


@dataclass
class Summary:
    landed: list[Item] = field(default_factory=list)
    failed: list[Item] = field(default_factory=list)
    deferred: list[Item] = field(default_factory=list)
    warnings: list[Item] = field(default_factory=list)
    """Landed, but an optional source or some stats id failed (the reason names it)."""
    unchanged: list[Item] = field(default_factory=list)
    """Its step succeeded without writing: CC's stats showed nothing new, so nothing was read."""
    tracebacks: list[str] = field(default_factory=list)
    fatal: str | None = None
    """An account-wide refusal (credentials, quota): the rest of the refresh is deferred."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.deferred and self.fatal is None

    def defer(self, items: Iterable[Item], reason: str) -> None:
        self.deferred += [Item(i.asset, i.partition, reason) for i in items]

    def complete(self, items: Iterable[Item]) -> bool:
        """Every item landed (or had nothing new)."""
        done = {(i.asset, i.partition) for i in (*self.landed, *self.unchanged)}
        return all((i.asset, i.partition) in done for i in items)


def expected(keys: Iterable[dg.AssetKey], partitions: Sequence[str | None]) -> list[Item]:
    return [Item(key.to_user_string(), p) for p in partitions for key in keys]


def one_line(error: Any) -> tuple[str, str]:
    """(class name, `Class: message`) of the innermost cause of a step's error: the user's
    error, without the layers Dagster wraps around it and without a traceback."""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines() or [error.cls_name or "error"]
    return error.cls_name or "", re.sub(r"^(?:[\w]+\.)+(\w+): ", r"\1: ", lines[0])


@dataclass
class Refresh:
    """One `cc-assets refresh` on an instance: the runs it launches and what they landed."""

    instance: dg.DagsterInstance
    day: str
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
        with dg.execute_job(
            job,
            instance=self.instance,
            run_config=run_config,
            tags=tags,
            asset_selection=list(assets) if assets is not None else None,
        ) as result:
            self._read(job_name, result, items)
        return self.summary.complete(items)

    def _read(self, job_name: str, result: dg.JobExecutionResult, items: list[Item]) -> None:
        """What the run's own events say of each item: landed, failed (with its reason),
        unchanged (its step succeeded without writing) or deferred (its step was skipped)."""
        landed: set[tuple[str, str | None]] = set()
        steps: dict[str, str] = {}
        errors: dict[str, str] = {}
        crashes: dict[str, str] = {}
        per_asset: dict[str, str] = {}
        for event in result.all_events:
            if event.is_engine_event and event.step_key and event.engine_event_data.error:
                # a step's process that died (killed, out of memory): the executor says how
                crashes[event.step_key] = (event.message or "").split(". ")[0]
            elif event.is_step_materialization:
                materialization = event.step_materialization_data.materialization
                name = materialization.asset_key.to_user_string()
                partition = materialization.partition or event.partition
                landed.add((name, partition))
                found = materialization.metadata.get("errors")
                if found is not None and found.value:
                    more = f" (and {len(found.value) - 1} more)" if len(found.value) > 1 else ""
                    self.summary.warnings.append(Item(name, partition, f"{found.value[0]}{more}"))
            elif event.is_step_success:
                steps[event.step_key] = "success"
            elif event.is_step_skipped:
                steps[event.step_key] = "skipped"
            elif event.is_step_failure:
                data = event.step_failure_data
                cls_name, line = one_line(data.error)
                line = crashes.get(event.step_key, line) if cls_name == CRASH else line
                steps[event.step_key] = "failure"
                errors[event.step_key] = line
                self.summary.tracebacks.append(
                    f"{job_name} {event.step_key}:\n{data.error.to_string()}"
                )
                failure = data.user_failure_data
                if failure is not None and FAILED_ASSETS in failure.metadata:
                    per_asset.update(failure.metadata[FAILED_ASSETS].value)
                if cls_name in ACCOUNT_WIDE:
                    self.summary.fatal = line
        for item in items:
            if (item.asset, item.partition) in landed:
                self.summary.landed.append(item)
                continue
            step = _step_of(item.asset, steps)
            reason = per_asset.get(item.name) or per_asset.get(item.asset)
            status = steps.get(step or "", "")
            if reason is None and status == "failure" and not per_asset:
                reason = errors[step or ""]
            if reason:
                self.summary.failed.append(Item(item.asset, item.partition, reason))
            elif status == "success" or (status == "failure" and per_asset):
                # a partial failure names each asset it cost: the others of its step ran, and
                # wrote nothing only because nothing was new (or their sources did not move)
                self.summary.unchanged.append(item)
            elif status == "skipped":
                self.summary.deferred.append(
                    Item(item.asset, item.partition, "not run: an asset it reads failed")
                )
            else:
                reason = next(iter(errors.values()), "its run ended before it ran")
                self.summary.failed.append(Item(item.asset, item.partition, reason))


def _step_of(asset: str, steps: dict[str, str]) -> str | None:
    """The step that computes an asset: its own (an asset is its own op) or the run's only
    step (a multi-asset's, a batched op's, dbt's)."""
    own = dg.AssetKey.from_user_string(asset).to_python_identifier()
    if own in steps:
        return own
    return next(iter(steps)) if len(steps) == 1 else None


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


def discover(refresh: Refresh) -> list[str]:
    """One evaluation of the discovery sensor (the daemon's own function), its new partitions
    added and its cursor kept for the next refresh; then every known activity, newest send
    first. Tracking never waits on discovery: when the tick fails, the activities already
    known are refreshed."""
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
        return []
    except Exception as error:  # the API's answer, or today's snapshot missing: known ones go on
        reason = f"{type(error).__name__}: {error}"
        refresh.summary.failed.append(Item("discovery", None, reason))
        say(f"discovery failed: {reason}; refreshing the activities already known")
    else:
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, list(request.partition_keys))
        storage.set_cursor_values({DISCOVERY_CURSOR: result.cursor or json.dumps({})})
        refresh.summary.landed.append(Item("discovery"))
        say(f"discovery: {len(result.run_requests)} newly sent activities")
    return in_refresh_order(instance)


def in_refresh_order(instance: dg.DagsterInstance) -> list[str]:
    """Every known activity in the hot-refresh planner's order (the one ordering rule): what
    the previous hot refresh deferred, then what was never refreshed, then by arrival rate
    and the newest send, the settled ones last."""
    now = datetime.now(UTC)
    candidates = hot_candidates(instance)
    budget = sys.maxsize
    plan = plan_hot_refresh(
        candidates, now=now, hot_days=hot_days(), budget=budget, include_settled=True
    )
    return plan.chosen


@cache
def _code_location() -> dg.Definitions:
    """The whole code location, dbt's models included (prepared first when a model changed)."""
    from cc_assets.defs.analytics import project  # noqa: PLC0415 (dbt, only for its stage)

    if project.manifest_is_stale(project.dbt_project):  # a fresh install, an edited model
        say("preparing the dbt manifest (dbt parse)...")
        project.prepare_manifest(project.dbt_project)
    from cc_assets.definitions import defs  # noqa: PLC0415

    return defs()


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
    run = Refresh(instance, day, verbose)
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
    activities = discover(run) if summary.fatal is None else []
    say(f"tracking reports of {len(activities)} activities...")
    tracking = {a: expected(jobs.ACTIVITY_ASSET_KEYS, [a]) for a in activities}
    if activities:
        run.launch(
            "activity_refresh_job",
            [item for items in tracking.values() for item in items],
            config={"refresh_activities": {"config": {"activity_ids": activities}}},
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
        run.launch(DBT_JOB, expected(dbt_models(), [None]))
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
            run.launch(DBT_JOB, expected(readers, [None]), assets=readers)
    return summary
