"""Raw Constant Contact snapshots as Parquet: one asset per report.

The assets are thin: the client fetches, `cc_assets.pipeline` decides what to fetch and how
to merge, the lake writes atomically; here we only wire them and report metadata.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
from upath import UPath

from cc_assets.constant_contact.errors import ConstantContactError
from cc_assets.constant_contact.schemas import (
    ACCOUNT_SUMMARY,
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGN_SUMMARIES,
    EMAIL_CAMPAIGNS,
    EMAIL_LINKS,
    TRACKING_REPORTS,
    TRACKING_TABLES,
    AssetTable,
)
from cc_assets.defs.automation import planning
from cc_assets.defs.ingestion.partitions import (
    Scope,
    activity_scope,
    campaign_activity_partitions,
    snapshot_partitions,
    snapshot_scope,
)
from cc_assets.defs.ingestion.resources import ConstantContactResource, LakeResource
from cc_assets.defs.landed import Landed
from cc_assets.defs.metadata import (
    OWNERS,
    PREVIEW_ROWS,
    preview,
    spec_metadata,
    table_metadata,
)
from cc_assets.lake.paths import partition_files, partition_key
from cc_assets.lake.writer import (
    SchemaMismatchError,
    WriteResult,
    read_head,
    read_partition,
    write_partition,
)
from cc_assets.pipeline import activity_reads, quality, snapshots
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS
from cc_assets.pipeline.reports import Reports, source_metadata
from cc_assets.pipeline.tracking import TrackingRefresh

GROUP = "constant_contact"
POOL = "constant_contact_api"
KINDS = {"python", "parquet"}

TRACKING_DESCRIPTIONS = {
    "sends": "Every contact the activity was sent to (one row per contact).",
    "opens": "Every open, repeat opens included, with the device type.",
    "unique_opens": "Each contact's most recent open (CC's unique opens report).",
    "didnotopens": "Contacts the activity reached (not bounced) who have not opened it.",
    "clicks": "Every click on every link, with url_id, link_url and device type.",
    "forwards": "Every forward to a friend.",
    "optouts": "Contacts who unsubscribed through the activity, with the reason if given.",
    "bounces": "Every bounce with its code (B, D, F, S, V, X, Z).",
}


def asset_key(table: AssetTable) -> dg.AssetKey:
    return dg.AssetKey([GROUP, table.name])


def _check_specs(table: AssetTable) -> list[dg.AssetCheckSpec]:
    key = asset_key(table)
    return [
        dg.AssetCheckSpec(
            "schema_matches", asset=key, description="The file has the fixed schema."
        ),
        dg.AssetCheckSpec(
            "unique_natural_key",
            asset=key,
            description=f"No two rows share ({', '.join(table.natural_key)}).",
        ),
    ]


def _metadata(
    reports: Reports,
    result: WriteResult,
    table: AssetTable,
    key: str | None,
    root: UPath,
    **extra: Any,
) -> dict[str, Any]:
    unknown = reports.client.unknown.take()  # fields the API sent that no column holds
    return {
        **table_metadata(table, result.rows, result.path),
        **source_metadata(reports),
        "preview": preview(read_head(table, key, PREVIEW_ROWS, root=root)),
        **({UNKNOWN_FIELDS: dg.MetadataValue.json(unknown)} if unknown else {}),
        **extra,
    }


UNKNOWN_FIELDS = "unknown_fields"
"""The metadata entry naming the fields the API sent that the asset's schema does not hold:
{where they were seen: [field, ...]}; each was also warned in the run's log."""


def _checks(table: AssetTable, path: str) -> Iterator[dg.AssetCheckResult]:
    file = UPath(path)
    findings = {
        "schema_matches": quality.schema_matches(table, file),
        "unique_natural_key": quality.duplicate_keys(table, file),
    }
    for name, finding in findings.items():
        yield dg.AssetCheckResult(
            asset_key=asset_key(table),
            check_name=name,
            passed=finding.passed,
            metadata=finding.metadata,
        )


ACTIVITY_TABLES = [*(TRACKING_TABLES[r] for r in TRACKING_REPORTS), EMAIL_LINKS]


@dg.multi_asset(
    name="campaign_activity_reports",
    specs=[
        dg.AssetSpec(
            asset_key(table),
            description=TRACKING_DESCRIPTIONS.get(
                table.name.removeprefix("email_"),
                "Every link of the activity with its unique clicks (no_clicks=true).",
            ),
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            tags={"report": table.name},
            metadata=spec_metadata(table),
            skippable=True,
        )
        for table in ACTIVITY_TABLES
    ],
    check_specs=[spec for table in ACTIVITY_TABLES for spec in _check_specs(table)],
    partitions_def=campaign_activity_partitions,
    can_subset=True,
    pool=POOL,
)
def campaign_activity_reports(
    context: dg.AssetExecutionContext, constant_contact: ConstantContactResource, lake: LakeResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The tracking reports and the links report of one sent activity, refreshed incrementally.

    Each report lands or fails on its own: the ones that landed are materialized, then the run
    fails naming each report that did not, with its endpoint and reason (in the failure's
    metadata, one entry per asset), so a rerun reads exactly those again."""
    selected = {key.path[-1] for key in context.selected_asset_keys}
    failures: dict[str, str] = {}
    scope = activity_scope(context.partition_key)
    with constant_contact.open(context.log, scope.account) as reports:
        root = lake.root(scope.account)
        for refreshed in refresh_activity(reports, scope, root, selected, context.log):
            if isinstance(refreshed, ReportFailure):
                failures[refreshed.key.to_user_string()] = refreshed.reason
                continue
            yield from refreshed.results()
    if failures:
        raise ReportsFailed(context.partition_key, failures)


@dataclass
class ReportFailure:
    """One activity asset whose report could not be read: nothing of it was written."""

    key: dg.AssetKey
    reason: str


class ReportsFailed(dg.Failure):
    """Some reports of one partition failed; `metadata` maps each asset to its reason."""

    def __init__(self, partition: str, failures: dict[str, str]) -> None:
        lines = "".join(f"\n- {name}: {reason}" for name, reason in sorted(failures.items()))
        super().__init__(
            description=f"{len(failures)} report(s) of {partition} failed:{lines}",
            metadata={FAILED_ASSETS: dg.MetadataValue.json(failures)},
        )


FAILED_ASSETS = "failed_assets"
"""The metadata entry of a partial failure: {asset key: one-line reason}."""

READ_ERRORS = (ConstantContactError, SchemaMismatchError)
"""What fails one report and not its neighbours: the API's answers (persistent 404/5xx,
malformed pages, refused rows) and a page that does not fit the asset's schema."""


def refresh_activity(
    reports: Reports,
    scope: Scope,
    root: UPath,
    selected: set[str],
    log: dg.DagsterLogManager,
    stats: Mapping[str, activity_reads.ActivityStats] | None = None,
) -> Iterator[Landed | ReportFailure]:
    """Refresh the selected activity assets of one activity, each on its own: a report that
    fails yields a `ReportFailure` and the next report is read; an account-wide refusal ends
    the refresh (the reports already refreshed stay materialized). Only the reports whose stats
    moved are read (`activity_reads`); the stats are fetched here (one call) unless the caller
    passes those it fetched in batches. Shared by the partitioned multi-asset and the batched
    `activity_refresh_job`, so both record the same metadata and checks. `scope` is the
    activity's partition (its account's lake is `root`)."""
    activity_id = scope.key
    captured_at = datetime.now(UTC)
    if stats is None:
        try:
            stats = reports.fetch_stats([activity_id])
        except ACCOUNT_WIDE_ERRORS:
            raise
        except READ_ERRORS as error:  # without stats every report is read: nothing is skipped
            log.warning(
                f"activity stats of {activity_id} unavailable, reading every report: {error}"
            )
            stats = {}
    when = {"stats": stats.get(activity_id), "captured_at": captured_at, "root": root}
    read: set[str] = set()  # what the steps run so far read from the API
    for step in reports.planned_reads(activity_id, selected=selected, **when):
        try:
            refresh = reports.run_read(activity_id, step, read, **when)
        except ACCOUNT_WIDE_ERRORS:
            raise
        except READ_ERRORS as error:
            log.error(
                f"{step.table.name}[{scope.partition}] failed: {type(error).__name__}: {error}"
            )
            yield ReportFailure(asset_key(step.table), f"{type(error).__name__}: {error}")
            continue
        if refresh is not None:
            yield _refreshed(reports, scope, step.table, refresh, root, log)


def _refreshed(
    reports: Reports,
    scope: Scope,
    table: AssetTable,
    refresh: TrackingRefresh,
    root: UPath,
    log: dg.DagsterLogManager,
) -> Landed:
    activity_id = scope.key
    log.info(
        f"{table.name}[{scope.partition}]: {refresh.read}, {refresh.new_rows} new rows, "
        f"{refresh.rows} in all, {refresh.api_calls} API calls"
    )
    metadata = _metadata(
        reports,
        WriteResult(refresh.rows, refresh.path),
        table,
        activity_id,
        root,
        new_rows=dg.MetadataValue.int(refresh.new_rows),
        api_calls=dg.MetadataValue.int(refresh.api_calls),
        pages=dg.MetadataValue.int(refresh.pages),
        full_read=refresh.full_read,
        read=refresh.read,
        watermark=str(refresh.watermark) if refresh.watermark else "none",
    )
    return Landed(asset_key(table), scope.partition, metadata, list(_checks(table, refresh.path)))


def _daily_asset(table: AssetTable, description: str, deps: list[AssetTable] | None = None):
    """A daily snapshot asset around `fetch(reports, context, root, captured_at, day)`, which
    returns
    batches, or a `snapshots.Capture` when some of its calls may fail without failing the
    asset (its errors become warnings and metadata, and a same-day rerun keeps the earlier
    capture's rows for what this one holds incompletely)."""

    def decorate(fetch):
        @dg.asset(
            key=asset_key(table),
            description=description,
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            partitions_def=snapshot_partitions,
            pool=POOL,
            deps=[asset_key(d) for d in deps or []],
            check_specs=_check_specs(table),
            metadata=spec_metadata(table),
        )
        def snapshot(
            context: dg.AssetExecutionContext,
            constant_contact: ConstantContactResource,
            lake: LakeResource,
        ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
            scope = snapshot_scope(context.partition_key)
            key = scope.key
            snapshots.require_today(key)
            root = lake.root(scope.account)
            captured_at = datetime.now(UTC)
            with constant_contact.open(context.log, scope.account) as reports:
                client = reports.client
                fetched = fetch(reports, context, root, captured_at, key)
                extra: dict[str, Any] = {}
                if isinstance(fetched, snapshots.Capture):
                    for error in fetched.errors:
                        context.log.warning(f"{table.name}[{scope.partition}]: {error}")
                    extra["errors"] = dg.MetadataValue.json(fetched.errors)
                    extra["kept_from_earlier_capture"] = dg.MetadataValue.int(
                        len(fetched.incomplete)
                    )
                    fetched = snapshots.merge_same_day(table, key, fetched, root).to_batches()
                result = write_partition(table, key, fetched, captured_at=captured_at, root=root)
                context.log.info(
                    f"{table.name}[{scope.partition}]: {result.rows} rows, {client.calls} API calls"
                )
                yield dg.MaterializeResult(
                    metadata=_metadata(
                        reports,
                        result,
                        table,
                        key,
                        root,
                        api_calls=dg.MetadataValue.int(client.calls),
                        pages=dg.MetadataValue.int(client.pages),
                        **extra,
                    )
                )
            yield from _checks(table, result.path)

        snapshot.__doc__ = fetch.__doc__
        return snapshot

    return decorate


@_daily_asset(
    EMAIL_CAMPAIGNS, "Every campaign x activity: role, status, subject, sender and last send."
)
def email_campaigns(reports: Reports, context, root, captured_at, day):
    return reports.campaign_rows(_earlier_day(EMAIL_CAMPAIGNS, root, day))


def _earlier_day(table: AssetTable, root: UPath, day: str) -> pa.Table | None:
    """The newest snapshot of `table` before `day`, when `day` has none yet: a same-day rerun
    reads everything again (a user reruns when the day's capture looks wrong)."""
    files = partition_files(table, root)
    if not files or partition_key(files[-1]) >= day:
        return None
    return read_partition(table, partition_key(files[-1]), root=root)


@_daily_asset(
    EMAIL_CAMPAIGN_SUMMARIES, "The bulk campaign summaries: unique counts per sent campaign."
)
def email_campaign_summaries(reports: Reports, context, root, captured_at, day):
    return reports.campaign_summaries()


def _sent(day: str, root: UPath) -> tuple[list[str], list[str]]:
    campaigns = read_partition(EMAIL_CAMPAIGNS, day, root=root)
    if campaigns is None:
        raise dg.Failure(f"email_campaigns has no snapshot for {day}: materialize it first.")
    return snapshots.sent_ids(campaigns)


@_daily_asset(
    EMAIL_CAMPAIGN_STATS,
    "CC's campaign stats with its own percents, per sent campaign.",
    deps=[EMAIL_CAMPAIGNS],
)
def email_campaign_stats(reports: Reports, context, root, captured_at, day):
    return reports.campaign_stats(_sent(day, root)[0])


@_daily_asset(
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    "CC's per-activity stats (batches of up to 10 activities).",
    deps=[EMAIL_CAMPAIGNS],
)
def email_campaign_activity_stats(reports: Reports, context, root, captured_at, day):
    return reports.activity_stats(_sent(day, root)[1])


BACKLOG_RESERVE_TAG = "cc_assets/backlog_reserve"
"""Calls the daily schedule tells the contact backlog to leave for the rest of the day."""
CONTACT_CALLS_TAG = "cc_assets/contact_calls"
"""A run's own cap on the contact backlog's calls (`cc-assets refresh --contact-calls`)."""


def _backlog_reserve(context: dg.AssetExecutionContext, daily_quota: int) -> int:
    """The daily schedule's reserve (its run tag). A run without one (the CLI, a manual
    materialization) keeps back only the margin: nothing it knows of is scheduled after it."""
    tagged = context.run.tags.get(BACKLOG_RESERVE_TAG)
    return int(tagged) if tagged is not None else planning.margin(daily_quota)


@_daily_asset(
    CONTACT_ACTIVITY_DETAILS,
    "Landing-page activity (p_contact_*) of engaged contacts, read from a persistent backlog "
    "newest engagement first within what the day's quota leaves after the hot refreshes still to "
    "come (run tag cc_assets/backlog_reserve; email events are in the tracking "
    "reports). A v2 account has no landing-page activity: its contacts' email activity.",
)
def contact_activity_details(reports: Reports, context, root, captured_at, day):
    reserved = _backlog_reserve(context, reports.client.settings.daily_quota)
    cap = context.run.tags.get(CONTACT_CALLS_TAG)
    limit = int(cap) if cap is not None else None
    fresh = reports.contact_activity(root, captured_at, reserved, context.log.info, limit)
    return snapshots.union_same_day(CONTACT_ACTIVITY_DETAILS, day, fresh, root)


@_daily_asset(
    ACCOUNT_SUMMARY,
    "Whose Constant Contact account the credentials read: the account's name in cc_assets, "
    "its encoded_account_id and organization_name (GET /account/summary, one call a day; null "
    "for a v2 account). The marts take every account's id from here (dim_accounts).",
)
def account_summary(reports: Reports, context, root, captured_at, day):
    return reports.identity()
