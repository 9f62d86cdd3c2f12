"""The jobs of the code location: what the schedules, the sensors and `cc-assets refresh` launch.

- `daily_snapshot_job` (daily partition, of one account with an accounts file): today's
  campaigns, summaries, stats, the day's rates from CC's activity stats and the contact
  reports; `daily_snapshot_schedule` launches it whole, `cc-assets refresh` in two runs (the
  snapshots first, the contact backlog last).
- `activity_refresh_job`: the tracking and links reports of many activities in one run (the
  hot-refresh schedule's plan, or every sent activity from `cc-assets refresh`).
- `activity_metrics_job`: the per-activity metrics of many activities in one run.
- `campaign_metrics_job`: per-campaign engagement (of one account with an accounts file).
- `dbt_build_job` (`defs/analytics/assets.py`): the dbt models and their tests.

A partitioned asset's own run holds one partition (what the discovery sensor and the UI's
"Materialize" launch for an activity). The batched jobs are ops that record a materialization
and the asset checks' results per asset and partition (`defs/landed.py`), exactly as the
partitioned assets do, since dynamic partitions cannot be batched into one asset run.
"""

from datetime import UTC, datetime
from functools import cache

import dagster as dg
from pydantic import Field

from cc_assets.constant_contact.schemas import (
    ACCOUNT_SUMMARY,
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGN_SUMMARIES,
    EMAIL_CAMPAIGNS,
)
from cc_assets.defs import terminal
from cc_assets.defs.ingestion import assets as ingestion_assets
from cc_assets.defs.ingestion import resources as ingestion_resources
from cc_assets.defs.ingestion.assets import (
    ACTIVITY_TABLES,
    POOL,
    READ_ERRORS,
    ReportFailure,
    ReportsFailed,
    account_summary,
    asset_key,
    contact_activity_details,
    email_campaign_activity_stats,
    email_campaign_stats,
    email_campaign_summaries,
    email_campaigns,
    refresh_activity,
)
from cc_assets.defs.ingestion.partitions import Scope, activity_scope
from cc_assets.defs.ingestion.resources import ConstantContactResource, LakeResource
from cc_assets.defs.metrics import assets as metrics_assets
from cc_assets.defs.metrics.assets import (
    ACTIVITY_SPECS,
    activity_landed,
    activity_stats_daily,
    campaign_engagement,
)
from cc_assets.pipeline import activity_reads
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS
from cc_assets.pipeline.reports import Reports
from cc_assets.progress import Heartbeat

KIND_TAG = "cc_assets/kind"
ACCOUNT_TAG = "cc_assets/account"
"""The account of a run (with an accounts file): its runs are listed, planned and read back by
it."""
DEFERRED_TAG = "cc_assets/deferred"
CLI_PID_TAG = "cc_assets/cli_pid"
"""Runs launched by `cc-assets refresh` (the process id), never by the daemon."""
WAITING_COUNT_TAG = "cc_assets/history_waiting_count"
"""History activities (never read, sent before the hot window) beyond the run's budget."""

daily_snapshot_job = dg.define_asset_job(
    "daily_snapshot_job",
    selection=dg.AssetSelection.assets(
        email_campaigns,
        email_campaign_summaries,
        email_campaign_stats,
        email_campaign_activity_stats,
        activity_stats_daily,
        contact_activity_details,
        account_summary,
    ),
    description="Today's campaigns, summaries, stats (and the day's rates from CC's activity "
    "stats) and contact reports of one account (each asset its own step: a failed one costs "
    "only itself and what reads it).",
)

campaign_metrics_job = dg.define_asset_job(
    "campaign_metrics_job",
    selection=dg.AssetSelection.assets(campaign_engagement),
    description="Per-campaign engagement over every activity of an account.",
)


class ActivitiesConfig(dg.Config):
    activity_ids: list[str] = Field(
        description="the activities' partition keys (`<account>:<id>` with an accounts file), "
        "in priority order"
    )
    deferred: list[str] = Field(
        default_factory=list, description="due but over this run's budget: first in line next run"
    )


def _batched_stats(
    reports: Reports, activity_ids: list[str], log: dg.DagsterLogManager
) -> dict[str, activity_reads.ActivityStats] | None:
    """The change detector's stats, ten activities a call. A batch the API refuses must not
    cost the run: then None, and each activity fetches its own stats (`refresh_activity`),
    so only an activity whose own stats fail is read without them."""
    try:
        return reports.fetch_stats(activity_ids)
    except ACCOUNT_WIDE_ERRORS:
        raise
    except READ_ERRORS as error:
        log.warning(f"batched activity stats unavailable, fetching them one by one: {error}")
        return None


@dg.op(pool=POOL, description="Refresh the tracking and links reports of many activities.")
def refresh_activities(
    context: dg.OpExecutionContext,
    config: ActivitiesConfig,
    constant_contact: ConstantContactResource,
    lake: LakeResource,
) -> None:
    """Every report of every activity is tried on its own; the op fails at its end, naming each
    asset and partition that did not land (`failed_assets`), after every other one landed.
    The schedule and `cc-assets refresh` launch one run per account, so an account-wide
    refusal (a revoked grant, the quota) ends only that account's run."""
    selected = {table.name for table in ACTIVITY_TABLES}
    failures: dict[str, str] = {}
    if config.deferred:
        context.log.info(
            f"activity refresh: {len(config.deferred)} activities deferred to the next run: "
            f"{config.deferred}"
        )
    for account, scopes in by_account(config.activity_ids).items():
        root = lake.root(account)
        with constant_contact.open(context.log, account) as reports:
            client = reports.client
            label = "tracking reports" + (f" of {account}" if account else "")
            with Heartbeat(label, len(scopes), context.log.info, lambda c=client: c.calls) as beat:
                stats = _batched_stats(reports, [s.key for s in scopes], context.log)
                for scope in scopes:
                    for refreshed in refresh_activity(
                        reports, scope, root, selected, context.log, stats
                    ):
                        if isinstance(refreshed, ReportFailure):
                            name = f"{refreshed.key.to_user_string()}[{scope.partition}]"
                            failures[name] = refreshed.reason
                        else:
                            refreshed.log(context)
                    beat.advance()
        observe_history(context, account)
    if failures:
        raise ReportsFailed(f"{len(config.activity_ids)} activities", failures)


HISTORY_KEY = asset_key(EMAIL_CAMPAIGN_ACTIVITY_STATS)
"""The asset the history's progress is observed on: the activity stats its estimate is from."""


def observe_history(context: dg.OpExecutionContext, account: str | None) -> None:
    """The history's progress of `account` after this run (`planning.Backfill`) as an
    observation of the activity stats asset: the UI lists and plots it run after run."""
    from cc_assets.defs.automation.schedules import history_progress  # noqa: PLC0415 (a cycle)

    progress = history_progress(context.instance, datetime.now(UTC), account)
    line = (f"{account}: " if account else "") + progress.line()
    context.log.info(line)
    metadata = {**progress.metadata(), **({"account": account} if account else {})}
    context.log_event(
        dg.AssetObservation(asset_key=HISTORY_KEY, description=line, metadata=metadata)
    )


def by_account(partitions: list[str]) -> dict[str | None, list[Scope]]:
    """Activity partition keys grouped by their account, each group in the given order."""
    groups: dict[str | None, list[Scope]] = {}
    for partition in partitions:
        scope = activity_scope(partition)
        groups.setdefault(scope.account, []).append(scope)
    return groups


@dg.job(
    description="The tracking and links reports of many activities in one run: the hot-refresh "
    "schedule's plan, or every sent activity from `cc-assets refresh`.",
)
def activity_refresh_job() -> None:
    refresh_activities()


METRICS_BATCH = 10
"""Activities computed in one DuckDB pass: one scan of each report for ten activities, and a
bounded share of the lake in memory at once."""


@dg.op(description="Compute the per-activity metrics of many activities.")
def compute_activity_metrics(
    context: dg.OpExecutionContext, config: ActivitiesConfig, lake: LakeResource
) -> None:
    selected = set(ACTIVITY_SPECS)
    with Heartbeat("metrics", len(config.activity_ids), context.log.info) as beat:
        for account, scopes in by_account(config.activity_ids).items():
            root = lake.root(account)
            ids = [scope.key for scope in scopes]
            for start in range(0, len(ids), METRICS_BATCH):
                batch = ids[start : start + METRICS_BATCH]
                for landed in activity_landed(root, account, batch, selected, context.log):
                    landed.log(context)
                beat.advance(len(batch))


@dg.job(description="The per-activity metrics of many activities in one run.")
def activity_metrics_job() -> None:
    compute_activity_metrics()


ACTIVITY_ASSET_KEYS = [asset_key(table) for table in ACTIVITY_TABLES]
DAILY_ASSET_KEYS = [
    asset_key(table)
    for table in (
        EMAIL_CAMPAIGNS,
        EMAIL_CAMPAIGN_SUMMARIES,
        EMAIL_CAMPAIGN_STATS,
        EMAIL_CAMPAIGN_ACTIVITY_STATS,
        CONTACT_ACTIVITY_DETAILS,
        ACCOUNT_SUMMARY,
    )
]
"""The daily snapshots that call the API (the day's stats series is computed from them)."""

JOBS = [daily_snapshot_job, activity_refresh_job, activity_metrics_job, campaign_metrics_job]


def pipeline_definitions() -> dg.Definitions:
    """The ingestion and metrics domains with these jobs: what a run of one of them loads in
    each of its processes. The whole code location (`cc_assets.definitions`) also imports
    dagster-dbt, dbt and every installed Dagster component library: ~100 MB and several
    CPU-seconds more in every step process, the margin that keeps a refresh of a
    1,000,000-send account within 400 MB a process."""
    modules = [ingestion_assets, metrics_assets]
    return dg.Definitions(
        assets=dg.load_assets_from_modules(modules),
        asset_checks=dg.load_asset_checks_from_modules(modules),
        resources=ingestion_resources.defs.resources,
        jobs=JOBS,
        loggers=terminal.defs.loggers,
    )


@cache
def code_location() -> dg.Definitions:
    """The whole code location, dbt's models included, loaded once a process: `cc-assets
    refresh` asks it for the dbt models and runs the dbt job from it in its own process."""
    from cc_assets.definitions import defs  # noqa: PLC0415

    return defs()


def job_named(name: str) -> dg.JobDefinition:
    """A job of the code location by name, for `dg.build_reconstructable_job`: every process of
    its run rebuilds it from here (dbt's from the whole code location)."""
    if name in {job.name for job in JOBS}:
        return pipeline_definitions().resolve_job_def(name)
    return code_location().resolve_job_def(name)
