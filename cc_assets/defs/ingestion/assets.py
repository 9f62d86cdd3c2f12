"""Raw Constant Contact snapshots as Parquet: one asset per report (DESIGN §5).

The assets are thin: the client fetches, `cc_assets.pipeline` decides what to fetch and how
to merge, the lake writes atomically; here we only wire them and report metadata.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.errors import ConstantContactError, NotFoundError
from cc_assets.constant_contact.v2 import V2Reports
from cc_assets.defs.ingestion.partitions import campaign_activity_partitions, daily_partitions
from cc_assets.defs.ingestion.resources import ConstantContactResource, LakeResource, source_label
from cc_assets.lake.schemas import (
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
from cc_assets.lake.writer import (
    SchemaMismatchError,
    WriteResult,
    read_partition,
    write_partition,
)
from cc_assets.pipeline import quality, snapshots, v2_snapshots, v2_tracking
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS
from cc_assets.pipeline.tracking import refresh_tracking

GROUP = "constant_contact"
POOL = "constant_contact_api"
OWNERS = ["team:data-engineering"]
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


def _check_specs(table: AssetTable, *, reconcile: bool = False) -> list[dg.AssetCheckSpec]:
    key = asset_key(table)
    specs = [
        dg.AssetCheckSpec(
            "schema_matches", asset=key, description="The file has the fixed schema."
        ),
        dg.AssetCheckSpec(
            "unique_natural_key",
            asset=key,
            description=f"No two rows share ({', '.join(table.natural_key)}).",
        ),
    ]
    if reconcile:
        specs.append(
            dg.AssetCheckSpec(
                "counts_match_activity_stats",
                asset=key,
                description="Events counted here equal CC's own activity stats (up to their "
                "last_refresh_time).",
            )
        )
    return specs


def _preview(table: pa.Table | None) -> dg.MetadataValue:
    if table is None or table.num_rows == 0:
        return dg.MetadataValue.md("_no rows_")
    sample = table.slice(0, 5).drop_columns(
        [c for c in ("captured_at",) if c in table.column_names]
    )
    return dg.MetadataValue.md(sample.to_pandas().to_markdown(index=False))


def _metadata(
    client: ConstantContactClient,
    result: WriteResult,
    table: AssetTable,
    key: str | None,
    root: UPath,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "rows": dg.MetadataValue.int(result.rows),
        "path": dg.MetadataValue.path(result.path),
        "source": source_label(client.settings),
        "api_version": client.settings.api_version,
        "preview": _preview(read_partition(table, key, root=root)),
        **extra,
    }


def _checks(
    table: AssetTable, path: str, activity_id: str | None, report: str | None, root: UPath
) -> Iterator[dg.AssetCheckResult]:
    file = UPath(path)
    findings = {
        "schema_matches": quality.schema_matches(table, file),
        "unique_natural_key": quality.duplicate_keys(table, file),
    }
    if report is not None and activity_id is not None:
        findings["counts_match_activity_stats"] = quality.counts_match_stats(
            report, activity_id, file, root
        )
    for name, finding in findings.items():
        yield dg.AssetCheckResult(
            asset_key=asset_key(table),
            check_name=name,
            passed=finding.passed,
            metadata=finding.metadata,
        )


ACTIVITY_TABLES = [*(TRACKING_TABLES[r] for r in TRACKING_REPORTS), EMAIL_LINKS]
REPORT_OF_TABLE = {TRACKING_TABLES[r].name: r for r in TRACKING_REPORTS}


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
            skippable=True,
        )
        for table in ACTIVITY_TABLES
    ],
    check_specs=[
        spec
        for table in ACTIVITY_TABLES
        for spec in _check_specs(table, reconcile=table.name != "email_links")
    ],
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
    with constant_contact.open(context.log) as client:
        for refreshed in refresh_activity(
            client, context.partition_key, lake.root(), selected, context.log
        ):
            if isinstance(refreshed, ReportFailure):
                failures[refreshed.key.to_user_string()] = refreshed.reason
                continue
            yield dg.MaterializeResult(asset_key=refreshed.key, metadata=refreshed.metadata)
            yield from refreshed.checks
    if failures:
        raise ReportsFailed(context.partition_key, failures)


@dataclass
class ActivityAssetRefresh:
    """One activity asset refreshed: what to record as its materialization and checks."""

    key: dg.AssetKey
    metadata: dict[str, Any]
    checks: list[dg.AssetCheckResult]


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
    client: ConstantContactClient,
    activity_id: str,
    root: UPath,
    selected: set[str],
    log: dg.DagsterLogManager,
) -> Iterator[ActivityAssetRefresh | ReportFailure]:
    """Refresh the selected activity assets of one activity, each on its own: a report that
    fails yields a `ReportFailure` and the next report is read; an account-wide refusal ends
    the refresh (the reports already refreshed stay materialized). Shared by the partitioned
    multi-asset and the batched hot-activity job, so both record the same metadata."""
    captured_at = datetime.now(UTC)
    v2 = V2Reports(client) if _is_v2(client) else None
    tables = ACTIVITY_TABLES if v2 is None else v2_tracking.in_refresh_order(ACTIVITY_TABLES)
    for table in tables:
        if table.name not in selected:
            continue
        try:
            if table is EMAIL_LINKS:
                yield _refresh_links(client, activity_id, root, captured_at, v2)
            else:
                yield _refresh_report(client, activity_id, table, root, captured_at, log, v2)
        except ACCOUNT_WIDE_ERRORS:
            raise
        except READ_ERRORS as error:
            log.error(f"{table.name}[{activity_id}] failed: {type(error).__name__}: {error}")
            yield ReportFailure(asset_key(table), f"{type(error).__name__}: {error}")


def _refresh_report(
    client: ConstantContactClient,
    activity_id: str,
    table: AssetTable,
    root: UPath,
    captured_at: datetime,
    log: dg.DagsterLogManager,
    v2: V2Reports | None = None,
) -> ActivityAssetRefresh:
    report = REPORT_OF_TABLE[table.name]
    if v2 is not None:
        refresh = v2_tracking.refresh_lake_report(
            v2, activity_id, report, captured_at=captured_at, root=root
        )
    else:
        refresh = refresh_tracking(client, activity_id, report, captured_at=captured_at, root=root)
    log.info(
        f"{table.name}[{activity_id}]: {refresh.new_rows} new rows, {refresh.rows} in all, "
        f"{refresh.api_calls} API calls"
    )
    metadata = _metadata(
        client,
        WriteResult(refresh.rows, refresh.path),
        table,
        activity_id,
        root,
        new_rows=dg.MetadataValue.int(refresh.new_rows),
        api_calls=dg.MetadataValue.int(refresh.api_calls),
        pages=dg.MetadataValue.int(refresh.pages),
        full_read=refresh.full_read,
        watermark=str(refresh.watermark) if refresh.watermark else "none",
    )
    return ActivityAssetRefresh(
        asset_key(table), metadata, list(_checks(table, refresh.path, activity_id, report, root))
    )


def _refresh_links(
    client: ConstantContactClient,
    activity_id: str,
    root: UPath,
    captured_at: datetime,
    v2: V2Reports | None = None,
) -> ActivityAssetRefresh:
    calls = client.calls
    if v2 is not None:
        result = v2_tracking.refresh_links(v2, activity_id, captured_at=captured_at, root=root)
    else:
        links = [client.get_links(activity_id)]
        result = write_partition(
            EMAIL_LINKS, activity_id, links, captured_at=captured_at, root=root
        )
    metadata = _metadata(
        client,
        result,
        EMAIL_LINKS,
        activity_id,
        root,
        api_calls=dg.MetadataValue.int(client.calls - calls),
    )
    return ActivityAssetRefresh(
        asset_key(EMAIL_LINKS), metadata, list(_checks(EMAIL_LINKS, result.path, None, None, root))
    )


def _is_v2(client: ConstantContactClient) -> bool:
    """A legacy v2 key: the same assets, read from v2's reports (`cc_assets.pipeline.v2_*`)."""
    return client.settings.api_version == "v2"


def _daily_asset(table: AssetTable, description: str, deps: list[AssetTable] | None = None):
    """A daily snapshot asset around `fetch(client, context, root, captured_at)`, which returns
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
            partitions_def=daily_partitions,
            pool=POOL,
            deps=[asset_key(d) for d in deps or []],
            check_specs=_check_specs(table),
        )
        def snapshot(
            context: dg.AssetExecutionContext,
            constant_contact: ConstantContactResource,
            lake: LakeResource,
        ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
            key = context.partition_key
            snapshots.require_today(key)
            root = lake.root()
            captured_at = datetime.now(UTC)
            with constant_contact.open(context.log) as client:
                fetched = fetch(client, context, root, captured_at)
                extra: dict[str, Any] = {}
                if isinstance(fetched, snapshots.Capture):
                    for error in fetched.errors:
                        context.log.warning(f"{table.name}[{key}]: {error}")
                    extra["errors"] = dg.MetadataValue.json(fetched.errors)
                    extra["kept_from_earlier_capture"] = dg.MetadataValue.int(
                        len(fetched.incomplete)
                    )
                    fetched = snapshots.merge_same_day(table, key, fetched, root).to_batches()
                result = write_partition(table, key, fetched, captured_at=captured_at, root=root)
                context.log.info(
                    f"{table.name}[{key}]: {result.rows} rows, {client.calls} API calls"
                )
                yield dg.MaterializeResult(
                    metadata=_metadata(
                        client,
                        result,
                        table,
                        key,
                        root,
                        api_calls=dg.MetadataValue.int(client.calls),
                        pages=dg.MetadataValue.int(client.pages),
                        **extra,
                    )
                )
            yield from _checks(table, result.path, None, None, root)

        snapshot.__doc__ = fetch.__doc__
        return snapshot

    return decorate


@_daily_asset(
    EMAIL_CAMPAIGNS, "Every campaign x activity: role, status, subject, sender and last send."
)
def email_campaigns(client: ConstantContactClient, context, root, captured_at):
    if _is_v2(client):
        return v2_snapshots.campaign_rows(V2Reports(client))
    return snapshots.campaign_rows(client)


@_daily_asset(
    EMAIL_CAMPAIGN_SUMMARIES, "The bulk campaign summaries: unique counts per sent campaign."
)
def email_campaign_summaries(client: ConstantContactClient, context, root, captured_at):
    if _is_v2(client):
        return v2_snapshots.campaign_summaries(V2Reports(client))
    return client.iter_campaign_summaries()


def _sent(context: dg.AssetExecutionContext, root: UPath) -> tuple[list[str], list[str]]:
    campaigns = read_partition(EMAIL_CAMPAIGNS, context.partition_key, root=root)
    if campaigns is None:
        raise dg.Failure(
            f"email_campaigns has no snapshot for {context.partition_key}: materialize it first."
        )
    return snapshots.sent_ids(campaigns)


@_daily_asset(
    EMAIL_CAMPAIGN_STATS,
    "CC's campaign stats with its own percents, per sent campaign.",
    deps=[EMAIL_CAMPAIGNS],
)
def email_campaign_stats(client: ConstantContactClient, context, root, captured_at):
    campaign_ids, _ = _sent(context, root)
    if _is_v2(client):
        return v2_snapshots.campaign_stats(V2Reports(client), campaign_ids)
    return snapshots.campaign_stats(client, campaign_ids)


@_daily_asset(
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    "CC's per-activity stats (batches of up to 10 activities).",
    deps=[EMAIL_CAMPAIGNS],
)
def email_campaign_activity_stats(client: ConstantContactClient, context, root, captured_at):
    _, activity_ids = _sent(context, root)
    if _is_v2(client) and activity_ids:
        return v2_snapshots.activity_stats(V2Reports(client), activity_ids)
    return snapshots.activity_stats(client, activity_ids)


@_daily_asset(
    CONTACT_ACTIVITY_DETAILS,
    "Every activity (landing pages included) of the contacts with new tracking events since "
    "the last contact snapshot.",
)
def contact_activity_details(client: ConstantContactClient, context, root, captured_at):
    since = snapshots.contact_window_start(root)
    contacts = snapshots.active_contacts(since, root) if since is not None else []
    context.log.info(f"reading the activity of {len(contacts)} contacts active since {since}")

    def fresh() -> Iterator[pa.RecordBatch]:
        for index, contact_id in enumerate(contacts, 1):
            try:
                yield from client.iter_contact_activity(contact_id)
            except NotFoundError as error:  # the contact was deleted: nothing left to read
                context.log.warning(f"contact {contact_id} skipped: {error}")
            if index % 50 == 0:
                context.log.info(f"contact activity: {index}/{len(contacts)} contacts")

    rows = (
        v2_snapshots.contact_rows(V2Reports(client), contacts, since) if _is_v2(client) else fresh()
    )
    return snapshots.union_same_day(CONTACT_ACTIVITY_DETAILS, context.partition_key, rows, root)
