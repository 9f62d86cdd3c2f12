"""`cc-assets refresh` as named Dagster jobs on an instance, and what each run landed.

Each stage is a job of the code location (`cc_assets/defs/automation/refresh_jobs.py`), run
in process on the configured instance, so the UI lists the runs by name and keeps their full
logs. A run never raises here: its materializations and step failures are read back into a
`Summary` of what landed, what failed (asset, partition, one-line reason) and what was
deferred (not attempted: an input failed, or the account itself refused).

Memory (the design's target: every process within 400 MB on a 1,000,000-send account; this
process does not reach it yet, see ARCHITECTURE). This process loads only the modules its
stages need (`stage_definitions`, ~190 MB with Dagster,
Arrow and DuckDB), not the whole code location: loading that also imports dagster-dbt, dbt and
every installed Dagster component library (~110 MB more). The dbt stage runs in a process of
its own (`python -m cc_assets.runs dbt_build_job`), which loads the whole location and reports
its `Summary` back as JSON; `dbt build` itself is a third process, started by dagster-dbt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from cc_assets.constant_contact.schemas import EMAIL_CAMPAIGNS
from cc_assets.defs.automation import refresh_jobs
from cc_assets.defs.ingestion import assets as ingestion_assets
from cc_assets.defs.ingestion import resources as ingestion_resources
from cc_assets.defs.ingestion.assets import FAILED_ASSETS
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.lake.paths import lake_root
from cc_assets.lake.writer import read_partition
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS
from cc_assets.pipeline.snapshots import sent_ids
from cc_assets.progress import say

PID_TAG = "cc_assets/cli_pid"
ACCOUNT_WIDE = {cls.__name__ for cls in ACCOUNT_WIDE_ERRORS} | {"ConfigurationError"}
CAMPAIGNS_ASSET = f"constant_contact/{EMAIL_CAMPAIGNS.name}"


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

    def defer(self, assets: Iterable[str], partitions: Iterable[str | None], reason: str) -> None:
        self.deferred += [Item(a, p, reason) for p in partitions for a in assets]

    def add(self, other: Summary) -> None:
        """Take in what another process's run of a stage found."""
        for name in (*ITEM_LISTS, "tracebacks"):
            getattr(self, name).extend(getattr(other, name))
        self.fatal = self.fatal or other.fatal

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Summary:
        data = json.loads(text)
        items = {name: [Item(**item) for item in data[name]] for name in ITEM_LISTS}
        return cls(**items, tracebacks=data["tracebacks"], fatal=data["fatal"])


ITEM_LISTS = tuple(f.name for f in fields(Summary) if f.type == "list[Item]")
"""The fields of a `Summary` that hold `Item`s."""


def stage_definitions() -> dg.Definitions:
    """The assets, resources and jobs of every stage but dbt's, without the rest of the code
    location (see the module docstring: ~110 MB less in this process)."""
    from cc_assets.defs.automation import jobs  # noqa: PLC0415
    from cc_assets.defs.metrics import assets as metrics_assets  # noqa: PLC0415

    modules = [ingestion_assets, metrics_assets]
    return dg.Definitions(
        assets=dg.load_assets_from_modules(modules),
        asset_checks=dg.load_asset_checks_from_modules(modules),
        resources=ingestion_resources.defs.resources,
        jobs=[
            jobs.activity_reports_job,
            refresh_jobs.campaign_snapshot_job,
            refresh_jobs.contact_activity_job,
            refresh_jobs.activity_metrics_job,
            refresh_jobs.activity_stats_daily_job,
            refresh_jobs.campaign_engagement_job,
        ],
    )


def one_line(error: SerializableErrorInfo) -> tuple[str, str]:
    """(class name, `Class: message`) of the innermost cause: the user's error, without the
    layers Dagster wraps around it and without a traceback."""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines() or [error.cls_name or "error"]
    return error.cls_name or "", re.sub(r"^(?:[\w]+\.)+(\w+): ", r"\1: ", lines[0])


def run_job(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job_name: str,
    partition: str | None,
    summary: Summary,
    verbose: bool,
) -> bool:
    """Run one named job for one partition; add what it landed and what failed to `summary`.
    True when every asset of the job landed."""
    job = defs.resolve_job_def(job_name)
    level = "WARNING" if verbose else "CRITICAL"
    result = job.execute_in_process(
        instance=instance,
        partition_key=partition,
        run_config={"loggers": {"console": {"config": {"log_level": level}}}},
        tags={PID_TAG: str(os.getpid())},
        raise_on_error=False,
    )
    landed = set()
    for event in result.get_asset_materialization_events():
        landed.add(event.asset_key)
        errors = event.step_materialization_data.materialization.metadata.get("errors")
        if errors is not None and errors.value:
            more = f" (and {len(errors.value) - 1} more)" if len(errors.value) > 1 else ""
            name = event.asset_key.to_user_string()
            summary.warnings.append(Item(name, partition, f"{errors.value[0]}{more}"))
    step_errors: dict[str, tuple[str, str]] = {}
    per_asset: dict[str, str] = {}
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        cls_name, line = one_line(data.error)
        step_errors[event.step_key] = (cls_name, line)
        summary.tracebacks.append(
            f"{job_name}[{partition}] {event.step_key}:\n{data.error.to_string()}"
        )
        failure = data.user_failure_data
        if failure is not None and FAILED_ASSETS in failure.metadata:
            per_asset.update(failure.metadata[FAILED_ASSETS].value)
        if cls_name in ACCOUNT_WIDE:
            summary.fatal = line
    selected = job.asset_layer.selected_asset_keys
    own_steps = {key.to_python_identifier() for key in selected}
    for key in sorted(selected, key=lambda k: k.to_user_string()):
        name = key.to_user_string()
        if key in landed:
            summary.landed.append(Item(name, partition))
            continue
        # a single asset fails as its own step; a multi-asset's assets share their op's step
        error = step_errors.get(key.to_python_identifier()) or next(
            (e for step, e in step_errors.items() if step not in own_steps), ("", "")
        )
        # a partial failure names each asset it cost: the others of its step ran, and wrote
        # nothing only because nothing was new (or what they derive from did not move)
        reason = per_asset.get(name) or ("" if per_asset else error[1])
        if reason:
            summary.failed.append(Item(name, partition, reason))
        elif result.success or per_asset:
            summary.unchanged.append(Item(name, partition))
            landed.add(key)
        else:
            summary.deferred.append(Item(name, partition, "not run: an asset it reads failed"))
    return selected <= landed


def record_discovery(instance: dg.DagsterInstance, summary: Summary, day: str) -> list[str]:
    """The sent activities of today's `email_campaigns` snapshot, added as partitions: discovery
    reads the snapshot's campaign walk instead of walking the campaigns again. An activity
    already known whose status could not be read today (an optional call failed, its status
    is null) is kept. Without any snapshot today the activities already known are refreshed
    anyway: tracking never waits on discovery."""
    known = instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES)
    campaigns = read_partition(EMAIL_CAMPAIGNS, day, root=lake_root())
    if campaigns is None:
        cause = next((i.reason for i in summary.failed if i.asset == CAMPAIGNS_ASSET), "")
        reason = f"no campaign snapshot today{f' ({cause})' if cause else ''}"
        summary.failed.append(Item("discovery", None, reason))
        say(f"discovery failed: {reason}; refreshing the {len(known)} activities already known")
        return list(known)
    _, sent = sent_ids(campaigns)
    statuses = campaigns.select(["campaign_activity_id", "activity_status"]).to_pylist()
    unread = {r["campaign_activity_id"] for r in statuses if r["activity_status"] is None}
    sent = sorted(set(sent) | (unread & set(known)))
    new = [a for a in sent if a not in set(known)]
    if new:
        instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, new)
    say(f"discovery: {len(sent)} sent activities ({len(new)} new partitions)")
    summary.landed.append(Item("discovery"))
    return sent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_runs(instance: dg.DagsterInstance) -> None:
    """Runs of an earlier `cc-assets refresh` that was killed stay STARTED and keep their pool
    slots (no daemon runs here to notice). Fail them and free the slots, or this refresh would
    wait for them forever."""
    live = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
    for run in instance.get_runs(dg.RunsFilter(statuses=live)):
        pid = run.tags.get(PID_TAG)
        if pid is None or _alive(int(pid)):
            continue
        instance.report_run_failed(run, "its cc-assets refresh process died")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"marked run {run.run_id} of a dead refresh (pid {pid}) as failed")


DAILY_JOBS = ("campaign_snapshot_job",)
TRACKING_JOB = "activity_reports_job"
CONTACTS_JOB = "contact_activity_job"
METRICS_JOB = "activity_metrics_job"
CAMPAIGN_METRICS_JOB = "campaign_engagement_job"
DAILY_METRICS_JOB = "activity_stats_daily_job"
DBT_JOB = "dbt_build_job"
METRIC_ASSETS = ("email_metrics/activity_engagement", "email_metrics/activity_device_breakdown")


def refresh(day: str, instance: dg.DagsterInstance, verbose: bool = False) -> Summary:
    """The whole pipeline once. Order puts what cannot be read later first (today's
    snapshots, whose campaign list is also discovery's), but nothing waits on a snapshot's
    success: every known activity's reports are read even when the snapshot failed. What
    reads a failed input is deferred, not run on half its data. An account-wide refusal
    (credentials, quota) defers everything left."""
    summary = Summary()
    recover_dead_runs(instance)

    def stop(assets: Iterable[str], partitions: Iterable[str | None]) -> bool:
        if summary.fatal is None:
            return False
        summary.defer(assets, partitions, f"not attempted: {summary.fatal}")
        return True

    defs = stage_definitions()
    say("daily snapshots...")
    if not stop(["campaign snapshots"], [day]):
        for job in DAILY_JOBS:
            run_job(defs, instance, job, day, summary, verbose)
    sent = record_discovery(instance, summary, day)
    say("tracking reports...")
    complete: list[str] = []
    for index, activity_id in enumerate(sent, 1):
        if stop(["tracking reports"], [activity_id]):
            continue
        if run_job(defs, instance, TRACKING_JOB, activity_id, summary, verbose):
            complete.append(activity_id)
        say(f"tracking reports: {index}/{len(sent)} activities ({activity_id})")
    say("contact reports...")
    if not stop(["constant_contact/contact_activity_details"], [day]):
        run_job(defs, instance, CONTACTS_JOB, day, summary, verbose)
    say("metrics...")
    incomplete = [a for a in sent if a not in complete]
    summary.defer(METRIC_ASSETS, incomplete, "deferred: its tracking reports did not all land")
    for index, activity_id in enumerate(complete, 1):
        if not stop(METRIC_ASSETS, [activity_id]):
            run_job(defs, instance, METRICS_JOB, activity_id, summary, verbose)
        say(f"metrics: {index}/{len(complete)} activities")
    if not stop(["email_metrics/activity_stats_daily"], [day]):
        run_job(defs, instance, DAILY_METRICS_JOB, day, summary, verbose)
    if incomplete or summary.fatal:
        reason = "deferred: not every activity's reports and metrics landed"
        summary.defer(["email_metrics/campaign_engagement", "dbt build"], [None], reason)
        return summary
    if run_job(defs, instance, CAMPAIGN_METRICS_JOB, None, summary, verbose):
        say("dbt build...")
        run_in_own_process(DBT_JOB, summary, verbose)
    return summary


def run_in_own_process(job_name: str, summary: Summary, verbose: bool) -> bool:
    """`run_job` of an unpartitioned job of the whole code location, in a child process on
    the same instance (`DAGSTER_HOME`), its output on this terminal; its `Summary` comes back
    as JSON in a file."""
    with tempfile.TemporaryDirectory(prefix="cc_assets-stage-") as folder:
        found_at = Path(folder) / "summary.json"
        command = [sys.executable, "-m", "cc_assets.runs", job_name, str(found_at)]
        child = subprocess.run([*command, *(["--verbose"] * verbose)], check=False)
        if child.returncode != 0 or not found_at.exists():
            reason = f"its process (python -m cc_assets.runs {job_name}) exited {child.returncode}"
            summary.failed.append(Item(job_name, None, reason))
            return False
        found = Summary.from_json(found_at.read_text())
    summary.add(found)
    return not found.failed and not found.deferred


def main(argv: list[str] | None = None) -> int:
    """The child of `run_in_own_process`: one job of the whole code location (the dbt manifest
    prepared first when a model changed), its `Summary` written to the given file."""
    parser = argparse.ArgumentParser(prog="python -m cc_assets.runs")
    parser.add_argument("job")
    parser.add_argument("summary", type=Path, help="where to write the run's Summary (JSON)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    from cc_assets.defs.analytics import project  # noqa: PLC0415

    if project.manifest_is_stale(project.dbt_project):  # a fresh install, or an edited model
        say("preparing the dbt manifest (dbt parse)...")
        project.prepare_manifest(project.dbt_project)
    from cc_assets.definitions import defs as load_definitions  # noqa: PLC0415

    summary = Summary()
    with dg.DagsterInstance.get() as instance:
        run_job(load_definitions(), instance, args.job, None, summary, args.verbose)
    args.summary.write_text(summary.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
