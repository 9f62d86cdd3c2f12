"""`cc-assets refresh`: the whole pipeline once, on the configured Dagster instance and API.

Discovery (adds sent activities as partitions), the daily snapshots, every activity's tracking
reports, then the contact reports and whatever runs downstream (metrics, dbt). Progress goes to
the terminal; a failure ends with one clear line and a non-zero exit, never a secret.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from cc_assets.constant_contact.errors import ConstantContactError
from cc_assets.defs.analytics.assets import cc_assets_dbt, dbt_project
from cc_assets.defs.analytics.project import dbt_cli, dbt_environment
from cc_assets.defs.ingestion import assets as raw
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.defs.ingestion.resources import SANDBOX_NOTICE, ConstantContactResource, LakeResource
from cc_assets.defs.metrics.assets import activity_metrics, campaign_engagement
from cc_assets.instance import ensure_dagster_home
from cc_assets.pipeline.discovery import discover
from cc_assets.pipeline.snapshots import BackfillRefusedError, require_today

DAILY_BEFORE_TRACKING = [
    raw.email_campaigns,
    raw.email_campaign_summaries,
    raw.email_campaign_stats,
    raw.email_campaign_activity_stats,
]
DAILY_AFTER_TRACKING = [raw.contact_activity_details]


@dataclass
class Step:
    """One stage of a refresh: a name for the progress line and what it runs."""

    name: str
    run: Callable[[dg.DagsterInstance, str, list[str]], None]


def _say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def resources() -> dict[str, object]:
    return {"constant_contact": ConstantContactResource(), "lake": LakeResource()}


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
PID_TAG = "cc_assets/cli_pid"


def _materialize(
    instance: dg.DagsterInstance, assets: Sequence[object], partition_key: str | None
) -> None:
    """One in-process run; its full log stays in the instance (see the UI), the terminal gets
    warnings and the progress lines only."""
    dg.materialize(
        list(assets),
        instance=instance,
        resources=resources(),
        partition_key=partition_key,
        run_config=QUIET,
        tags={PID_TAG: str(os.getpid())},
    )


def run_discovery(instance: dg.DagsterInstance, day: str, sent: list[str]) -> None:
    resource = ConstantContactResource()
    settings = resource.client_settings()
    if settings.is_sandbox:
        _say(SANDBOX_NOTICE)
    from cc_assets.constant_contact.client import ConstantContactClient  # noqa: PLC0415

    with ConstantContactClient(settings, on_event=_say) as client:
        found = discover(client)
    sent.extend(a.campaign_activity_id for a in found if a.sent)
    known = set(instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES))
    new = [a for a in sent if a not in known]
    if new:
        instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, new)
    _say(f"discovery: {len(sent)} sent activities ({len(new)} new partitions)")


def run_daily(assets: Sequence[object]) -> Callable[[dg.DagsterInstance, str, list[str]], None]:
    def run(instance: dg.DagsterInstance, day: str, sent: list[str]) -> None:
        _materialize(instance, assets, day)

    return run


def run_tracking(instance: dg.DagsterInstance, day: str, sent: list[str]) -> None:
    for index, activity_id in enumerate(sent, 1):
        _materialize(instance, [raw.campaign_activity_reports], activity_id)
        _say(f"tracking reports: {index}/{len(sent)} activities ({activity_id})")


def run_metrics(instance: dg.DagsterInstance, day: str, sent: list[str]) -> None:
    for index, activity_id in enumerate(sent, 1):
        _materialize(instance, [activity_metrics], activity_id)
        _say(f"metrics: {index}/{len(sent)} activities")
    _materialize(instance, [campaign_engagement], None)


def run_dbt(instance: dg.DagsterInstance, day: str, sent: list[str]) -> None:
    dg.materialize(
        [cc_assets_dbt],
        instance=instance,
        resources={"dbt": dbt_cli(dbt_project)},
        run_config=QUIET,
        tags={PID_TAG: str(os.getpid())},
    )
    _say(f"dbt build: warehouse {dbt_environment()['CC_ASSETS_WAREHOUSE']}")


STEPS: list[Step] = [
    Step("discovery", run_discovery),
    Step("daily snapshots", run_daily(DAILY_BEFORE_TRACKING)),
    Step("tracking reports", run_tracking),
    Step("contact reports", run_daily(DAILY_AFTER_TRACKING)),
    Step("metrics", run_metrics),
    Step("dbt build", run_dbt),
]
"""The refresh, in order."""


def instance_for_cli() -> dg.DagsterInstance:
    """DAGSTER_HOME when set (production: Postgres storage), else `./.dagster_home`."""
    ensure_dagster_home()
    return dg.DagsterInstance.get()


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
        _say(f"marked run {run.run_id} of a dead refresh (pid {pid}) as failed")


def refresh(day: str) -> None:
    require_today(day)
    instance = instance_for_cli()
    recover_dead_runs(instance)
    sent: list[str] = []
    for step in STEPS:
        _say(f"{step.name}...")
        step.run(instance, day, sent)
    _say("refresh complete")


def _root_cause(error: BaseException) -> BaseException:
    seen = error
    while True:
        nested = getattr(seen, "user_exception", None) or seen.__cause__
        if nested is None or nested is seen:
            return seen
        seen = nested


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cc-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("refresh", help="run the whole pipeline once")
    run.add_argument("--date", default=None, help="snapshot date (UTC), YYYY-MM-DD; only today")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    day = args.date or datetime.now(UTC).date().isoformat()
    try:
        datetime.strptime(day, "%Y-%m-%d")
        refresh(day)
    except (BackfillRefusedError, ValueError) as error:
        print(f"cc-assets: {error}", file=sys.stderr)
        return 2
    except (dg.DagsterError, ConstantContactError, OSError) as error:
        cause = _root_cause(error)
        print(f"cc-assets: refresh failed: {type(cause).__name__}: {cause}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
