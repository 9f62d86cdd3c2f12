"""A complete small lake from the sandbox's ground truth: the tracking reports (written by
`GroundTruth.write_lake`) plus one day of the three snapshot assets the metrics read."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cc_assets.constant_contact.schemas import (
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGNS,
    AssetTable,
)
from cc_assets.sandbox.account import AccountConfig
from cc_assets.sandbox.ground_truth import GroundTruth

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SNAPSHOT = date(2026, 11, 20)


def account(profile: str = "generated", **overrides: Any) -> GroundTruth:
    config = {"seed": 11, "contacts": 600, "campaigns": 6, "now": NOW, "profile": profile}
    return GroundTruth(AccountConfig(**(config | overrides)))


def _write(table: AssetTable, rows: list[dict[str, Any]], root: Path, day: date) -> None:
    columns = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in table.schema}
    folder = root / "constant_contact" / table.name / f"snapshot_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=table.schema), folder / "part-0.parquet")


def _names(truth: GroundTruth, activity_id: str) -> dict[str, Any]:
    """What email_campaigns says of an activity besides its ids: names and send time."""
    activity = truth.account.activity_by_id[activity_id]
    return {
        "name": truth.account.campaign_by_id[activity.campaign_id].name,
        "subject": activity.subject,
        "sent_time": activity.send_at,
    }


def write_snapshots(truth: GroundTruth, root: Path, day: date = SNAPSHOT) -> None:
    refreshed = datetime.fromtimestamp(truth.service.stats_time(), UTC)
    base = {"snapshot_date": day, "captured_at": NOW}
    activities = truth.reportable_activities()
    _write(
        EMAIL_CAMPAIGNS,
        [
            base
            | {
                "campaign_id": a["campaign_id"],
                "campaign_activity_id": a["campaign_activity_id"],
                "role": a["role"],
                "activity_status": a["current_status"],
            }
            | _names(truth, a["campaign_activity_id"])
            for a in truth.all_activities()
        ],
        root,
        day,
    )
    _write(
        EMAIL_CAMPAIGN_ACTIVITY_STATS,
        [
            base
            | {
                "campaign_id": a["campaign_id"],
                "campaign_activity_id": a["campaign_activity_id"],
                "last_refresh_time": refreshed,
            }
            | truth.activity_stats(a["campaign_activity_id"])
            for a in activities
        ],
        root,
        day,
    )
    rows = []
    for campaign_id in sorted({a["campaign_id"] for a in activities}):
        stats = truth.campaign_stats(campaign_id)
        rows.append(
            base
            | {"campaign_id": campaign_id, "last_refresh_time": refreshed}
            | stats["stats"]
            | {f"percents_{k}": v for k, v in stats["percents"].items()}
        )
    _write(EMAIL_CAMPAIGN_STATS, rows, root, day)


def build_lake(truth: GroundTruth, root: Path, snapshots: bool = True) -> list[str]:
    """Writes the lake; returns the reportable activity ids."""
    truth.write_lake(root)
    if snapshots:
        write_snapshots(truth, root)
    return [a["campaign_activity_id"] for a in truth.reportable_activities()]
