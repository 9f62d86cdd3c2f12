"""`cc-assets refresh` as named Dagster jobs on an instance, and what each run landed.

Each stage is a job of the code location (`cc_assets/defs/automation/refresh_jobs.py`), run
with `execute_in_process` on the configured instance (in this process or in the stage's own,
below), so the UI lists the runs by name and keeps their full logs. A run never raises here:
its materializations and step failures are read back into a `Summary` of what landed, what
failed (asset, partition, one-line reason) and what was deferred (not attempted: an input
failed, or the account itself refused).

Memory (the design's target: every process within 400 MB on a 1,000,000-send account). The
refresh runs the light stages itself (snapshots, discovery, campaign metrics) and each heavy
one in a process of its own (`python -m cc_assets.runs STAGE_FILE SUMMARY_FILE`): the tracking
reports, the contact reports, the activity metrics and dbt. What one stage's Arrow and DuckDB
work leaves allocated never raises the next one's floor, which in one process grew past
580 MB. Each process but dbt's loads only the modules its stages need (`stage_definitions`),
not the whole code location: that also imports dagster-dbt, dbt and every installed Dagster
component library (~110 MB more). `dbt build` itself is a further process, dagster-dbt's.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from contextlib import suppress
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


@dataclass(frozen=True)
class Stage:
    """Runs of named jobs, one after another, under one progress label: what one child process
    of the refresh does (or the refresh itself, for the light stages)."""

    label: str
    runs: list[tuple[str, str | None]]
    """(job name, partition key or None), in order."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Stage:
        data = json.loads(text)
        return cls(data["label"], [(job, partition) for job, partition in data["runs"]])


def job_assets(defs: dg.Definitions, job_name: str) -> list[str]:
    """The asset names a job materializes (the job's own name when `defs` lacks it: dbt's)."""
    try:
        keys = defs.resolve_job_def(job_name).asset_layer.selected_asset_keys
    except dg.DagsterInvariantViolationError:
        return [job_name]
    return sorted(key.to_user_string() for key in keys)


def landed_all(
    defs: dg.Definitions, summary: Summary, job_name: str, partitions: Iterable[str]
) -> list[str]:
    """The partitions whose run of the job landed every asset (or had nothing new)."""
    done = {(i.asset, i.partition) for i in (*summary.landed, *summary.unchanged)}
    assets = job_assets(defs, job_name)
    return [p for p in partitions if all((asset, p) in done for asset in assets)]


def run_stage(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    stage: Stage,
    summary: Summary,
    verbose: bool,
    after_each: Callable[[], None] = lambda: None,
) -> None:
    """Each run of the stage in turn. An account-wide refusal (credentials, quota) defers every
    run after it: none is attempted."""
    for index, (job_name, partition) in enumerate(stage.runs, 1):
        if summary.fatal is not None:
            reason = f"not attempted: {summary.fatal}"
            summary.defer(job_assets(defs, job_name), [partition], reason)
        else:
            run_job(defs, instance, job_name, partition, summary, verbose)
        after_each()
        if len(stage.runs) > 1:
            say(f"{stage.label}: {index}/{len(stage.runs)}{f' ({partition})' if partition else ''}")


def refresh(day: str, instance: dg.DagsterInstance, verbose: bool = False) -> Summary:
    """The whole pipeline once. Order puts what cannot be read later first (today's
    snapshots, whose campaign list is also discovery's), but nothing waits on a snapshot's
    success: every known activity's reports are read even when the snapshot failed. What
    reads a failed input is deferred, not run on half its data. An account-wide refusal
    (credentials, quota) defers everything left.

    The heavy stages (tracking reports, contact reports, metrics, dbt) each run in a process of
    their own (`run_in_own_process`): what one stage's Arrow and DuckDB work leaves allocated
    never raises the next one's floor, so every process stays within the design's 400 MB."""
    summary = Summary()
    recover_dead_runs(instance)
    defs = stage_definitions()
    say("daily snapshots...")
    snapshots = Stage("daily snapshots", [(job, day) for job in DAILY_JOBS])
    run_stage(defs, instance, snapshots, summary, verbose)
    sent = record_discovery(instance, summary, day)
    say("tracking reports...")
    tracking = Stage("tracking reports", [(TRACKING_JOB, a) for a in sent])
    run_in_own_process(defs, instance, tracking, summary, verbose)
    say("contact reports...")
    contacts = Stage("contact reports", [(CONTACTS_JOB, day)])
    run_in_own_process(defs, instance, contacts, summary, verbose)
    say("metrics...")
    complete = landed_all(defs, summary, TRACKING_JOB, sent)
    incomplete = [a for a in sent if a not in complete]
    reason = "deferred: its tracking reports did not all land"
    summary.defer(job_assets(defs, METRICS_JOB), incomplete, reason)
    metrics = Stage("metrics", [(METRICS_JOB, a) for a in complete] + [(DAILY_METRICS_JOB, day)])
    run_in_own_process(defs, instance, metrics, summary, verbose)
    if incomplete or summary.fatal:
        reason = "deferred: not every activity's reports and metrics landed"
        summary.defer([*job_assets(defs, CAMPAIGN_METRICS_JOB), "dbt build"], [None], reason)
        return summary
    if run_job(defs, instance, CAMPAIGN_METRICS_JOB, None, summary, verbose):
        say("dbt build...")
        dbt = Stage("dbt build", [(DBT_JOB, None)])
        run_in_own_process(defs, instance, dbt, summary, verbose)
    return summary


def run_in_own_process(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    stage: Stage,
    summary: Summary,
    verbose: bool,
) -> None:
    """`run_stage` in a child process on the same instance (`DAGSTER_HOME`), its output on this
    terminal. The child writes its `Summary` to a file after every run, so when it dies (out of
    memory, killed) what it finished still counts, each run it did not finish fails, naming
    the process, and the run it died in is marked failed at once, its pool slots freed for the
    stages after it."""
    if summary.fatal is not None:  # not worth a process: every run is deferred unattempted
        run_stage(defs, instance, stage, summary, verbose)
        return
    with tempfile.TemporaryDirectory(prefix="cc_assets-stage-") as folder:
        plan, found_at = Path(folder) / "stage.json", Path(folder) / "summary.json"
        plan.write_text(stage.to_json())
        command = [sys.executable, "-m", "cc_assets.runs", str(plan), str(found_at)]
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        child = subprocess.run([*command, *(["--verbose"] * verbose)], check=False, env=env)
        found = Summary.from_json(found_at.read_text()) if found_at.exists() else Summary()
    summary.add(found)
    if child.returncode == 0:
        return
    recover_dead_runs(instance)
    reason = f"its process (python -m cc_assets.runs, {stage.label}) exited {child.returncode}"
    reported = {(i.asset, i.partition) for name in ITEM_LISTS for i in getattr(found, name)}
    for job_name, partition in stage.runs:
        for asset in job_assets(defs, job_name):
            if (asset, partition) not in reported:
                summary.failed.append(Item(asset, partition, reason))


PARENT_ENV = "CC_ASSETS_PARENT_PID"
"""The refresh's pid, handed to each stage's process so it can die with the refresh."""

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A stage's process must not outlive a refresh that was killed: it would go on writing
    the lake and holding its runs' pool slots beside the next refresh. Linux sends it SIGKILL
    when its parent dies (`prctl(PR_SET_PDEATHSIG)`); if the parent is gone already, exit."""
    with suppress(OSError, AttributeError):  # not Linux: no such call; the parent check stays
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = os.environ.get(PARENT_ENV)
    if parent is not None and os.getppid() != int(parent):
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    """The child of `run_in_own_process`: one stage on the stages' definitions, or on the
    whole code location for dbt's (its manifest prepared first when a model changed)."""
    parser = argparse.ArgumentParser(prog="python -m cc_assets.runs")
    parser.add_argument("stage", type=Path, help="the Stage to run (JSON)")
    parser.add_argument("summary", type=Path, help="where to write the runs' Summary (JSON)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    die_with_parent()
    stage = Stage.from_json(args.stage.read_text())
    if any(job == DBT_JOB for job, _ in stage.runs):
        from cc_assets.defs.analytics import project  # noqa: PLC0415

        if project.manifest_is_stale(project.dbt_project):  # a fresh install, an edited model
            say("preparing the dbt manifest (dbt parse)...")
            project.prepare_manifest(project.dbt_project)
        from cc_assets.definitions import defs as load_definitions  # noqa: PLC0415

        defs = load_definitions()
    else:
        defs = stage_definitions()
    summary = Summary()

    def save() -> None:
        args.summary.write_text(summary.to_json())

    with dg.DagsterInstance.get() as instance:
        run_stage(defs, instance, stage, summary, args.verbose, after_each=save)
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
