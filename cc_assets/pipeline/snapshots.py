"""The daily snapshots: what the API says today about campaigns, summaries and stats.

The API keeps no history for these, so a snapshot is only ever of "now": the caller refuses
any snapshot date but today's (UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.parsing import api_schema, batch
from cc_assets.lake.schemas import EMAIL_CAMPAIGNS
from cc_assets.pipeline.discovery import REPORTED_ROLES


class BackfillRefusedError(ValueError):
    """A snapshot for a day other than today: the API cannot answer "as of" a past day."""


def require_today(partition_key: str, now: datetime | None = None) -> None:
    today = (now or datetime.now(UTC)).date().isoformat()
    if partition_key != today:
        raise BackfillRefusedError(
            f"snapshot_date={partition_key} is not today ({today} UTC): Constant Contact keeps no "
            "history of summaries and stats, so a past snapshot cannot be taken. Materialize "
            "today's partition; past days hold what was captured on them."
        )


def campaign_rows(client: ConstantContactClient) -> Iterator[pa.RecordBatch]:
    """Campaigns x activities, with role, status, subject and the last completed send."""
    schema = api_schema(EMAIL_CAMPAIGNS)
    for campaign in client.iter_campaigns():
        detail = client.get_campaign(campaign["campaign_id"])
        rows: list[dict[str, Any]] = []
        for ref in detail.get("campaign_activities", []):
            activity = client.get_activity(ref["campaign_activity_id"])
            sent_time = None
            if ref.get("role") in REPORTED_ROLES and activity.get("current_status") == "DONE":
                history = client.get_send_history(ref["campaign_activity_id"])
                done = [h["run_date"] for h in history if h.get("send_status") == "COMPLETED"]
                sent_time = max(done) if done else None
            rows.append(
                {
                    **{
                        k: detail.get(k)
                        for k in (
                            "campaign_id",
                            "name",
                            "current_status",
                            "type",
                            "type_code",
                            "created_at",
                            "updated_at",
                        )
                    },
                    "campaign_activity_id": ref["campaign_activity_id"],
                    "role": ref.get("role"),
                    "activity_status": activity.get("current_status"),
                    "subject": activity.get("subject"),
                    "from_name": activity.get("from_name"),
                    "from_email": activity.get("from_email"),
                    "reply_to_email": activity.get("reply_to_email"),
                    "sent_time": sent_time,
                }
            )
        yield batch(rows, schema)


def sent_ids(campaigns: pa.Table) -> tuple[list[str], list[str]]:
    """(campaign ids, activity ids) with sent reported activities: the only ones with stats.
    One unsent campaign id would make CC answer 404 for the whole stats call (§10-F)."""
    rows = campaigns.to_pylist()
    done = [r for r in rows if r["role"] in REPORTED_ROLES and r["activity_status"] == "DONE"]
    return sorted({r["campaign_id"] for r in done}), sorted(
        {r["campaign_activity_id"] for r in done}
    )
