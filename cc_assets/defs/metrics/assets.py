"""Engagement metrics as assets: per activity (partitioned like the tracking reports), per
campaign, and CC's own daily stats, reconciled with Constant Contact's stats by asset checks.

These are the project's only computation of counts, rates and device splits (`compute.py`);
the dbt marts read them and add names.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from upath import UPath

from cc_assets.constant_contact.schemas import (
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGNS,
    EMAIL_LINKS,
    TRACKING_TABLES,
    AssetTable,
)
from cc_assets.defs.ingestion.partitions import (
    account_of,
    account_partitions,
    activity_key,
    activity_scope,
    campaign_activity_partitions,
    snapshot_partitions,
    snapshot_scope,
)
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.landed import Landed
from cc_assets.defs.metadata import OWNERS, preview, spec_metadata, table_metadata
from cc_assets.defs.metrics import charts, compute
from cc_assets.defs.metrics.tables import (
    ACTIVITY_DEVICE_BREAKDOWN,
    ACTIVITY_ENGAGEMENT,
    ACTIVITY_ENGAGEMENT_CURVE,
    ACTIVITY_LINK_CLICKS,
    ACTIVITY_STATS_DAILY,
    CAMPAIGN_ENGAGEMENT,
    COUNT_COLUMNS,
    METRICS_PREFIX,
    PERCENT_COLUMNS,
)
from cc_assets.lake.writer import write_partition
from cc_assets.pipeline.quality import Finding

GROUP = METRICS_PREFIX
KINDS = {"duckdb", "parquet"}


def metric_key(table: AssetTable) -> dg.AssetKey:
    return dg.AssetKey([METRICS_PREFIX, table.name])


def raw_key(table: AssetTable) -> dg.AssetKey:
    return dg.AssetKey(["constant_contact", table.name])


ACTIVITY_ENGAGEMENT_KEY = metric_key(ACTIVITY_ENGAGEMENT)
ACTIVITY_DEVICE_BREAKDOWN_KEY = metric_key(ACTIVITY_DEVICE_BREAKDOWN)
ACTIVITY_ENGAGEMENT_CURVE_KEY = metric_key(ACTIVITY_ENGAGEMENT_CURVE)
ACTIVITY_LINK_CLICKS_KEY = metric_key(ACTIVITY_LINK_CLICKS)
CAMPAIGN_ENGAGEMENT_KEY = metric_key(CAMPAIGN_ENGAGEMENT)
ACTIVITY_STATS_DAILY_KEY = metric_key(ACTIVITY_STATS_DAILY)


def latest_snapshot_dep(table: AssetTable) -> dg.AssetDep:
    """A daily snapshot asset, of which only the newest partition is read."""
    return dg.AssetDep(raw_key(table), partition_mapping=dg.LastPartitionMapping())


TRACKING_DEPS = [raw_key(TRACKING_TABLES[report]) for report in compute.REPORTS]
DERIVED_DEPS = [raw_key(TRACKING_TABLES[report]) for report in compute.DERIVED_REPORTS]
CAMPAIGN_MAP_DEP = latest_snapshot_dep(EMAIL_CAMPAIGNS)


def account_deps(*deps: dg.AssetKey | dg.AssetDep) -> list[dg.AssetKey | dg.AssetDep]:
    """The deps of an asset partitioned by account (with an accounts file): an account's
    partition reads its own activities and snapshots. No stable built-in mapping selects an
    account's activities by their keys' prefix (nor, out of beta, a multi-partition's account
    dimension), so they map whole (`AllPartitionMapping`): an over-statement of lineage only."""
    if account_partitions is None:
        return list(deps)
    keys = [dep.asset_key if isinstance(dep, dg.AssetDep) else dep for dep in deps]
    return [dg.AssetDep(key, partition_mapping=dg.AllPartitionMapping()) for key in keys]


AUTOMATION = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
"""Recompute when any input is updated; a snapshot not taken yet (the metrics fall back, and
the checks say so) must not hold the metrics back."""


def _number(value: Any) -> dg.MetadataValue:
    if value is None:
        return dg.MetadataValue.null()
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    return dg.MetadataValue.float(float(value))


def _spec(table: AssetTable, description: str, deps: list) -> dg.AssetSpec:
    return dg.AssetSpec(
        metric_key(table),
        description=description,
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        deps=deps,
        metadata=spec_metadata(table),
        automation_condition=AUTOMATION,
        skippable=True,
    )


ACTIVITY_SPECS = {
    ACTIVITY_ENGAGEMENT_KEY: _spec(
        ACTIVITY_ENGAGEMENT,
        "One row per sent activity: unique and total counts from its tracking reports, "
        "Constant Contact's rates (open, click = click-to-open, click-through, bounce, "
        "did-not-open, unsubscribe) and the mobile/desktop shares of opens and clicks, as "
        "percents, plus time to first open. Its materialization names the campaign and shows "
        "the engagement curve and device split as a picture.",
        [
            *TRACKING_DEPS,
            *DERIVED_DEPS,
            CAMPAIGN_MAP_DEP,
            latest_snapshot_dep(EMAIL_CAMPAIGN_ACTIVITY_STATS),
        ],
    ),
    ACTIVITY_DEVICE_BREAKDOWN_KEY: _spec(
        ACTIVITY_DEVICE_BREAKDOWN,
        "Per activity x event (open, click) x device type (computer, mobile, tablet, other; "
        "`none` = CC captured no device): events, distinct contacts and share of the events.",
        [raw_key(TRACKING_TABLES["opens"]), raw_key(TRACKING_TABLES["clicks"]), CAMPAIGN_MAP_DEP],
    ),
    ACTIVITY_ENGAGEMENT_CURVE_KEY: _spec(
        ACTIVITY_ENGAGEMENT_CURVE,
        "Per activity and whole hour since its first send (the first 14 days): cumulative "
        "unique opens and clicks, from the events (no snapshot can give this).",
        [raw_key(TRACKING_TABLES[r]) for r in ("sends", "opens", "clicks")] + [CAMPAIGN_MAP_DEP],
    ),
    ACTIVITY_LINK_CLICKS_KEY: _spec(
        ACTIVITY_LINK_CLICKS,
        "Per activity and link: distinct contacts and events clicking it (from the click "
        "events), beside CC's own unique_clicks of email_links.",
        [raw_key(TRACKING_TABLES["clicks"]), raw_key(EMAIL_LINKS), CAMPAIGN_MAP_DEP],
    ),
}


@dg.multi_asset(
    name="activity_metrics",
    specs=list(ACTIVITY_SPECS.values()),
    check_specs=[
        dg.AssetCheckSpec(
            "counts_match_activity_stats",
            asset=ACTIVITY_ENGAGEMENT_KEY,
            description=(
                "sends, opens, clicks, bounces, opt-outs and forwards counted from the events "
                "equal the newest email_campaign_activity_stats snapshot; not compared (passes "
                "with a 'stats lag' note) when CC refreshed its stats before our newest event."
            ),
        ),
        dg.AssetCheckSpec(
            "derived_reports_agree",
            asset=ACTIVITY_ENGAGEMENT_KEY,
            description=(
                "CC's unique_opens report has one contact per unique open we count and its "
                "didnotopens report one per contact not opened (a warning: the reports are "
                "read moments apart)."
            ),
        ),
        dg.AssetCheckSpec(
            "shares_sum_to_100",
            asset=ACTIVITY_DEVICE_BREAKDOWN_KEY,
            description="Each event type's device shares add up to 100%.",
        ),
    ],
    partitions_def=campaign_activity_partitions,
    can_subset=True,
)
def activity_metrics(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Every per-activity metric table of one activity partition, from one DuckDB pass."""
    selected = set(context.selected_asset_keys)
    scope = activity_scope(context.partition_key)
    root = lake.root(scope.account)
    for landed in activity_landed(root, scope.account, [scope.key], selected, context.log):
        yield from landed.results()


def activity_landed(
    root: UPath,
    account: str | None,
    activity_ids: list[str],
    selected: set[dg.AssetKey],
    log: dg.DagsterLogManager,
) -> Iterator[Landed]:
    """The selected per-activity metric tables of `activity_ids` (of `account`, whose lake is
    `root`), computed in one DuckDB pass and written per activity partition, with their
    checks. Shared by the partitioned multi-asset and the batched `activity_metrics_job`, so
    both record the same."""
    computed_at = datetime.now(UTC)
    metrics = compute.compute_activities(root, activity_ids, computed_at)
    labels = compute.activity_labels(root, activity_ids)
    for activity_id in activity_ids:
        yield from _activity_partition(
            root,
            activity_key(account, activity_id),
            activity_id,
            metrics,
            labels.get(activity_id, {}),
            selected,
            computed_at,
            log,
        )


def _only(table: pa.Table, activity_id: str) -> pa.Table:
    return table.filter(pc.field("campaign_activity_id") == activity_id)


def _activity_partition(
    root: UPath,
    partition: str,
    activity_id: str,
    computed: compute.ActivityMetrics,
    label: dict[str, Any],
    selected: set[dg.AssetKey],
    computed_at: datetime,
    log: dg.DagsterLogManager,
) -> Iterator[Landed]:
    metrics = compute.ActivityMetrics(
        engagement=_only(computed.engagement, activity_id),
        devices=_only(computed.devices, activity_id),
        curve=_only(computed.curve, activity_id),
        links=_only(computed.links, activity_id),
    )
    row = metrics.engagement.to_pylist()[0]
    naming = _naming(label, activity_id)
    tags = _tags(label, row)
    account = account_of(partition)
    tables = {
        ACTIVITY_ENGAGEMENT_KEY: (ACTIVITY_ENGAGEMENT, metrics.engagement),
        ACTIVITY_DEVICE_BREAKDOWN_KEY: (ACTIVITY_DEVICE_BREAKDOWN, metrics.devices),
        ACTIVITY_ENGAGEMENT_CURVE_KEY: (ACTIVITY_ENGAGEMENT_CURVE, metrics.curve),
        ACTIVITY_LINK_CLICKS_KEY: (ACTIVITY_LINK_CLICKS, metrics.links),
    }
    for key, (table, rows) in tables.items():
        if key not in selected:
            continue
        written = write_partition(
            table,
            activity_id,
            rows.to_batches(),
            captured_at=computed_at,
            root=root,
            prefix=METRICS_PREFIX,
        )
        metadata = {**table_metadata(table, written.rows, written.path), **naming}
        if account is not None:
            metadata["account"] = dg.MetadataValue.text(account)
        checks: list[dg.AssetCheckResult] = []
        if key == ACTIVITY_ENGAGEMENT_KEY:
            metadata |= _engagement_metadata(log, metrics, naming)
            checks = [
                _check(key, "counts_match_activity_stats", compute.reconcile_activity(row, root)),
                _check(
                    key,
                    "derived_reports_agree",
                    compute.reconcile_derived_reports(row, root),
                    severity=dg.AssetCheckSeverity.WARN,
                ),
            ]
        elif key == ACTIVITY_DEVICE_BREAKDOWN_KEY:
            metadata |= {
                f"{r['event_type']}_{r['device_type']}_share": _number(r["share_percent"])
                for r in rows.to_pylist()
            }
            checks = [_shares_check(rows)]
        metadata["preview"] = preview(rows, rows=10)
        yield Landed(key, partition, metadata, checks, tags)


def _naming(label: dict[str, Any], activity_id: str) -> dict[str, Any]:
    """Which campaign an activity partition is (its key alone is a bare UUID)."""
    sent = label.get("sent_time")
    return {
        "campaign_name": dg.MetadataValue.text(label.get("campaign_name") or "unknown"),
        "subject": dg.MetadataValue.text(label.get("subject") or "unknown"),
        "role": dg.MetadataValue.text(label.get("role") or "unknown"),
        "sent_time": dg.MetadataValue.text(sent.isoformat() if sent else "unknown"),
        "campaign_activity_id": dg.MetadataValue.text(activity_id),
    }


def _tags(label: dict[str, Any], row: dict[str, Any]) -> dict[str, str]:
    """Searchable tags of a materialization: the campaign and the send date (tag values may
    not hold a campaign's free-text name, which is in the metadata)."""
    sent = label.get("sent_time") or row["first_send_time"]
    tags = {"send_date": sent.date().isoformat() if sent else "unknown"}
    if row["campaign_id"]:
        tags["campaign_id"] = row["campaign_id"]
    return tags


def _engagement_metadata(
    log: dg.DagsterLogManager, metrics: compute.ActivityMetrics, naming: dict[str, Any]
) -> dict[str, Any]:
    row = metrics.engagement.to_pylist()[0]
    if row["sends"] == 0:
        log.warning(f"activity {row['campaign_activity_id']}: no sends report yet")
    metadata = {name: _number(row[name]) for name in (*COUNT_COLUMNS, *PERCENT_COLUMNS)}
    metadata["seconds_to_first_open"] = _number(row["seconds_to_first_open"])
    metadata["campaign_id"] = dg.MetadataValue.text(row["campaign_id"] or "unknown")
    title = f"{naming['campaign_name'].value} ({naming['role'].value})"
    svg = charts.activity_svg(metrics.curve, metrics.devices, title)
    metadata["engagement"] = dg.MetadataValue.md(
        charts.markdown_image(svg, "engagement curve and device split")
    )
    return metadata


def _check(
    key: dg.AssetKey,
    name: str,
    found: Finding,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=found.passed,
        metadata=found.metadata,
        severity=severity,
    )


def _shares_check(devices: pa.Table) -> dg.AssetCheckResult:
    totals: dict[str, float] = {}
    for r in devices.to_pylist():
        totals[r["event_type"]] = totals.get(r["event_type"], 0.0) + r["share_percent"]
    off = {k: v for k, v in totals.items() if abs(v - 100.0) > 1e-6}
    return dg.AssetCheckResult(
        asset_key=ACTIVITY_DEVICE_BREAKDOWN_KEY,
        check_name="shares_sum_to_100",
        passed=not off,
        metadata={f"{k}_total_share": float(v) for k, v in totals.items()},
    )


@dg.asset(
    key=CAMPAIGN_ENGAGEMENT_KEY,
    partitions_def=account_partitions,
    description=(
        "One row per campaign (its primary email and resends): the activity counts summed and "
        "every rate recomputed as a ratio of the sums, as Constant Contact's campaign stats do."
    ),
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    metadata=spec_metadata(CAMPAIGN_ENGAGEMENT),
    deps=account_deps(
        ACTIVITY_ENGAGEMENT_KEY, CAMPAIGN_MAP_DEP, latest_snapshot_dep(EMAIL_CAMPAIGN_STATS)
    ),
    automation_condition=AUTOMATION,
    check_specs=[
        dg.AssetCheckSpec(
            "rates_match_campaign_stats",
            asset=CAMPAIGN_ENGAGEMENT_KEY,
            description=(
                "Every rate and share rounded to one decimal equals the newest "
                "email_campaign_stats percents_* of the campaign; campaigns whose stats lag "
                "our newest event are not compared."
            ),
        )
    ],
)
def campaign_engagement(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    root = lake.root(context.partition_key if context.has_partition_key else None)
    computed_at = datetime.now(UTC)
    campaigns = compute.campaign_engagement(root, computed_at)
    written = write_partition(
        CAMPAIGN_ENGAGEMENT,
        None,
        campaigns.to_batches(),
        captured_at=computed_at,
        root=root,
        prefix=METRICS_PREFIX,
    )
    if campaigns.num_rows == 0:
        context.log.warning("no activity_engagement with a known campaign_id yet")
    yield dg.MaterializeResult(
        metadata={
            **table_metadata(CAMPAIGN_ENGAGEMENT, written.rows, written.path),
            "preview": preview(campaigns, rows=10),
        }
    )
    yield _check(
        CAMPAIGN_ENGAGEMENT_KEY,
        "rates_match_campaign_stats",
        compute.reconcile_campaigns(campaigns, root),
    )


@dg.asset(
    key=ACTIVITY_STATS_DAILY_KEY,
    description=(
        "Constant Contact's own activity stats as a daily time series: one row per activity "
        "per snapshot day (the day's last capture), CC's counts through the same rate formulas "
        "as activity_engagement."
    ),
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    metadata=spec_metadata(ACTIVITY_STATS_DAILY),
    deps=[raw_key(EMAIL_CAMPAIGN_ACTIVITY_STATS)],
    partitions_def=snapshot_partitions,
    automation_condition=AUTOMATION,
)
def activity_stats_daily(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    scope = snapshot_scope(context.partition_key)
    root = lake.root(scope.account)
    day = date.fromisoformat(scope.key)
    daily = compute.activity_stats_daily(root, day, datetime.now(UTC))
    written = write_partition(
        ACTIVITY_STATS_DAILY,
        scope.key,
        daily.to_batches(),
        captured_at=datetime.now(UTC),
        root=root,
        prefix=METRICS_PREFIX,
    )
    return dg.MaterializeResult(
        metadata={
            **table_metadata(ACTIVITY_STATS_DAILY, written.rows, written.path),
            "preview": preview(daily, rows=10),
        }
    )
