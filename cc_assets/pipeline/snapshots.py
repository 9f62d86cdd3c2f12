"""The daily snapshots: what the API says today about campaigns, summaries and stats.

The API keeps no history for these, so a snapshot is only ever of "now": the caller refuses
any snapshot date but today's (UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.parsing import api_schema, batch
from cc_assets.lake.paths import asset_dir, lake_root
from cc_assets.lake.schemas import CONTACT_ACTIVITY_DETAILS, EMAIL_CAMPAIGNS, TRACKING_TABLES
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


ENGAGEMENT_REPORTS = ("opens", "clicks", "bounces", "optouts", "forwards")
"""A send alone is not activity worth a contact report: every recipient has one."""


def _tracking_globs(root: UPath) -> list[str]:
    globs = []
    for report in ENGAGEMENT_REPORTS:
        folder = asset_dir(TRACKING_TABLES[report], root)
        if folder.exists() and any(folder.glob("*/part-*.parquet")):
            globs.append(f"{folder.path}/*/part-*.parquet")
    return globs


def contact_window_start(root: UPath | None = None) -> datetime | None:
    """Where the contact reports pick up: the newest event the last contact snapshot held, or,
    on the first run, one day before the newest tracking event in the lake."""
    root = root or lake_root()
    previous = asset_dir(CONTACT_ACTIVITY_DETAILS, root)
    with duckdb.connect() as con:
        if previous.exists() and any(previous.glob("*/part-*.parquet")):
            (newest,) = con.execute(
                "SELECT max(created_time) FROM read_parquet(?)",
                [f"{previous.path}/*/part-*.parquet"],
            ).fetchone()
            if newest is not None:
                return newest
        globs = _tracking_globs(root)
        if not globs:
            return None
        (newest,) = con.execute("SELECT max(created_time) FROM read_parquet(?)", [globs]).fetchone()
    return None if newest is None else newest - timedelta(days=1)


def active_contacts(since: datetime, root: UPath | None = None) -> list[str]:
    """Contacts with a tracking event since `since`: whom the contact reports are read for.
    Never the whole account: one call per contact would spend the daily quota at once."""
    globs = _tracking_globs(root or lake_root())
    if not globs:
        return []
    query = " UNION ".join(
        f"SELECT DISTINCT contact_id FROM read_parquet('{g}') WHERE created_time >= ?"
        for g in globs
    )
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT contact_id FROM ({query}) ORDER BY 1", [since] * len(globs)
        ).fetchall()
    return [r[0] for r in rows]
