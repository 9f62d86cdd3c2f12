"""Engagement metrics as assets: per activity (partitioned like the tracking reports) and per
campaign, reconciled with Constant Contact's own stats by asset checks (DESIGN §5, §6)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from cc_assets.defs.ingestion.partitions import campaign_activity_partitions
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.metrics import compute
from cc_assets.defs.metrics.tables import (
    ACTIVITY_DEVICE_BREAKDOWN,
    ACTIVITY_ENGAGEMENT,
    CAMPAIGN_ENGAGEMENT,
    COUNT_COLUMNS,
    METRICS_PREFIX,
    RATE_COLUMNS,
)
from cc_assets.lake.schemas import (
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGNS,
    TRACKING_TABLES,
    AssetTable,
)
from cc_assets.lake.writer import write_partition

GROUP = METRICS_PREFIX
OWNERS = ["team:data-engineering"]
KINDS = {"duckdb", "parquet"}

ACTIVITY_ENGAGEMENT_KEY = dg.AssetKey([METRICS_PREFIX, ACTIVITY_ENGAGEMENT.name])
ACTIVITY_DEVICE_BREAKDOWN_KEY = dg.AssetKey([METRICS_PREFIX, ACTIVITY_DEVICE_BREAKDOWN.name])
CAMPAIGN_ENGAGEMENT_KEY = dg.AssetKey([METRICS_PREFIX, CAMPAIGN_ENGAGEMENT.name])

METRIC_ASSETS_SELECTION = dg.AssetSelection.groups(GROUP)
"""Every metric asset (and its checks): what `cc-assets refresh` materializes after ingestion."""


def raw_key(table: AssetTable) -> dg.AssetKey:
    return dg.AssetKey(["constant_contact", table.name])


def latest_snapshot_dep(table: AssetTable) -> dg.AssetDep:
    """A daily snapshot asset, of which only the newest partition is read."""
    return dg.AssetDep(raw_key(table), partition_mapping=dg.LastPartitionMapping())


TRACKING_DEPS = [raw_key(TRACKING_TABLES[report]) for report in compute.REPORTS]
SNAPSHOT_DEPS = [
    latest_snapshot_dep(EMAIL_CAMPAIGNS),
    latest_snapshot_dep(EMAIL_CAMPAIGN_ACTIVITY_STATS),
]

AUTOMATION = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
"""Recompute when any input is updated; a snapshot not taken yet (the metrics fall back, and
the checks say so) must not hold the metrics back."""


def _number(value: Any) -> dg.MetadataValue:
    if value is None:
        return dg.MetadataValue.null()
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    return dg.MetadataValue.float(float(value))


def _preview(table: pa.Table) -> dg.MetadataValue:
    if table.num_rows == 0:
        return dg.MetadataValue.md("_no rows_")
    frame = table.slice(0, 10).drop_columns(["computed_at"]).to_pandas()
    return dg.MetadataValue.md(frame.to_markdown(index=False, floatfmt=".1f"))


def _engagement_metadata(row: dict[str, Any]) -> dict[str, dg.MetadataValue]:
    metadata = {name: _number(row[name]) for name in (*COUNT_COLUMNS, *RATE_COLUMNS)}
    metadata["seconds_to_first_open"] = _number(row["seconds_to_first_open"])
    metadata["campaign_id"] = dg.MetadataValue.text(row["campaign_id"] or "unknown")
    return metadata


@dg.multi_asset(
    name="activity_metrics",
    specs=[
        dg.AssetSpec(
            ACTIVITY_ENGAGEMENT_KEY,
            description=(
                "One row per sent activity: unique and total counts from its tracking reports "
                "and Constant Contact's rates (open, click = click-to-open, click-through, "
                "bounce, did-not-open, unsubscribe, mobile/desktop open and click) as percents, "
                "plus time to first open."
            ),
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            deps=TRACKING_DEPS + SNAPSHOT_DEPS,
            automation_condition=AUTOMATION,
            skippable=True,
        ),
        dg.AssetSpec(
            ACTIVITY_DEVICE_BREAKDOWN_KEY,
            description=(
                "Per activity x event (open, click) x device type (computer, mobile, tablet, "
                "other; missing = none): events, distinct contacts and share of the events."
            ),
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            deps=[raw_key(TRACKING_TABLES["opens"]), raw_key(TRACKING_TABLES["clicks"])],
            automation_condition=AUTOMATION,
            skippable=True,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "counts_match_activity_stats",
            asset=ACTIVITY_ENGAGEMENT_KEY,
            description=(
                "sends, opens, clicks, bounces, opt-outs and forwards counted from the events "
                "equal the newest email_campaign_activity_stats snapshot (passes with a "
                "'stats lag' note when CC refreshed its stats before our newest event)."
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
    """Both per-activity metric tables of one activity partition, from one DuckDB pass."""
    activity_id = context.partition_key
    root = lake.root()
    computed_at = datetime.now(UTC)
    engagement, devices = compute.compute_activities(root, [activity_id], computed_at)
    selected = context.selected_asset_keys
    if ACTIVITY_ENGAGEMENT_KEY in selected:
        written = write_partition(
            ACTIVITY_ENGAGEMENT,
            activity_id,
            engagement.to_batches(),
            captured_at=computed_at,
            root=root,
            prefix=METRICS_PREFIX,
        )
        row = engagement.to_pylist()[0]
        if row["sends"] == 0:
            context.log.warning(f"activity {activity_id}: no sends report in the lake yet")
        yield dg.MaterializeResult(
            asset_key=ACTIVITY_ENGAGEMENT_KEY,
            metadata={
                "rows": dg.MetadataValue.int(written.rows),
                "path": dg.MetadataValue.path(written.path),
                **_engagement_metadata(row),
                "preview": _preview(engagement),
            },
        )
        found = compute.reconcile_activity(row, root)
        yield dg.AssetCheckResult(
            asset_key=ACTIVITY_ENGAGEMENT_KEY,
            check_name="counts_match_activity_stats",
            passed=found.passed,
            metadata=found.metadata,
        )
    if ACTIVITY_DEVICE_BREAKDOWN_KEY in selected:
        written = write_partition(
            ACTIVITY_DEVICE_BREAKDOWN,
            activity_id,
            devices.to_batches(),
            captured_at=computed_at,
            root=root,
            prefix=METRICS_PREFIX,
        )
        shares = {
            f"{r['event_type']}_{r['device_type']}_share": _number(r["share_percent"])
            for r in devices.to_pylist()
        }
        yield dg.MaterializeResult(
            asset_key=ACTIVITY_DEVICE_BREAKDOWN_KEY,
            metadata={
                "rows": dg.MetadataValue.int(written.rows),
                "path": dg.MetadataValue.path(written.path),
                **shares,
                "preview": _preview(devices),
            },
        )
        totals: dict[str, float] = {}
        for r in devices.to_pylist():
            totals[r["event_type"]] = totals.get(r["event_type"], 0.0) + r["share_percent"]
        off = {k: v for k, v in totals.items() if abs(v - 100.0) > 1e-6}
        yield dg.AssetCheckResult(
            asset_key=ACTIVITY_DEVICE_BREAKDOWN_KEY,
            check_name="shares_sum_to_100",
            passed=not off,
            metadata={f"{k}_total_share": float(v) for k, v in totals.items()},
        )


@dg.asset(
    key=CAMPAIGN_ENGAGEMENT_KEY,
    description=(
        "One row per campaign (its primary email and resends): the activity counts summed and "
        "every rate recomputed as a ratio of the sums, as Constant Contact's campaign stats do."
    ),
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=[
        ACTIVITY_ENGAGEMENT_KEY,
        latest_snapshot_dep(EMAIL_CAMPAIGNS),
        latest_snapshot_dep(EMAIL_CAMPAIGN_STATS),
    ],
    automation_condition=AUTOMATION,
    check_specs=[
        dg.AssetCheckSpec(
            "rates_match_campaign_stats",
            asset=CAMPAIGN_ENGAGEMENT_KEY,
            description=(
                "Every rate rounded to one decimal equals the newest email_campaign_stats "
                "percents_* of the campaign (campaigns whose stats lag our events are skipped)."
            ),
        )
    ],
)
def campaign_engagement(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    root = lake.root()
    computed_at = datetime.now(UTC)
    with compute.connect(root) as con:
        campaigns = compute.campaign_engagement(con, root, computed_at)
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
    sums = {c: sum(v or 0 for v in campaigns[c].to_pylist()) for c in COUNT_COLUMNS}
    overall = {
        "overall_open_rate": _number(100.0 * sums["opens"] / sums["delivered"])
        if sums["delivered"]
        else dg.MetadataValue.null(),
        "overall_click_rate": _number(100.0 * sums["clicks"] / sums["opens"])
        if sums["opens"]
        else dg.MetadataValue.null(),
    }
    yield dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(written.rows),
            "path": dg.MetadataValue.path(written.path),
            **{k: dg.MetadataValue.int(int(v)) for k, v in sums.items()},
            **overall,
            "preview": _preview(campaigns),
        }
    )
    found = compute.reconcile_campaigns(campaigns, root)
    yield dg.AssetCheckResult(
        check_name="rates_match_campaign_stats", passed=found.passed, metadata=found.metadata
    )
