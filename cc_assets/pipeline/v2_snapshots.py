"""Discovery and the daily snapshots for a v2 account, in the same assets as v3.

A v2 campaign has one send and is its own activity: its numeric id is both `campaign_id` and
`campaign_activity_id`, its role `primary_email`, and a `SENT` campaign is `DONE`. The summary
report (sends, opens, clicks, forwards, unsubscribes, bounces, spam) fills the counts of the
campaign summaries, the campaign stats and the activity stats; what only v3 reports (device
splits, percents, bounce codes counted, campaign types) stays null, and so does the spam
count (`abuse`, `em_abuse`) of a summary that lacks `spam_count`: unknown is never zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc
from upath import UPath

from cc_assets.constant_contact.parsing import api_schema, batch
from cc_assets.constant_contact.schemas import (
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGN_SUMMARIES,
    EMAIL_CAMPAIGNS,
)
from cc_assets.constant_contact.v2 import ACTIVITY_STATUS_OF, V2Reports, iso
from cc_assets.pipeline import contact_backlog


def campaign_rows(v2: V2Reports) -> Iterator[pa.RecordBatch]:
    """Every sent campaign with its subject, sender and last run (one call each)."""
    schema = api_schema(EMAIL_CAMPAIGNS)
    for campaign in v2.iter_sent_campaigns():
        detail = v2.get_campaign(str(campaign["id"]))
        status = str(detail.get("status", campaign.get("status")))
        row = {
            "campaign_id": str(detail["id"]),
            "name": detail.get("name"),
            "current_status": status,
            "created_at": detail.get("created_date"),
            # CC's v2 fixtures show a campaign with `last_edit_date` and no `modified_date`
            "updated_at": detail.get("modified_date") or detail.get("last_edit_date"),
            "campaign_activity_id": str(detail["id"]),
            "role": "primary_email",
            "activity_status": ACTIVITY_STATUS_OF.get(status, status),
            "sent_time": detail.get("last_run_date"),
        }
        row |= {k: detail.get(k) for k in ("subject", "from_name", "from_email", "reply_to_email")}
        yield batch([row], schema)


def _summaries(
    v2: V2Reports, campaign_ids: Iterable[str]
) -> Iterator[tuple[str, str, dict[str, int | None]]]:
    for campaign_id in campaign_ids:
        asked_at = iso(datetime.now(UTC))
        yield campaign_id, asked_at, v2.get_summary(campaign_id)


def _stats(counts: dict[str, int | None]) -> dict[str, int | None]:
    return {
        "em_sends": counts["sends"],
        "em_opens": counts["opens"],
        "em_clicks": counts["clicks"],
        "em_forwards": counts["forwards"],
        "em_optouts": counts["unsubscribes"],
        "em_bounces": counts["bounces"],
    }


def campaign_summaries(v2: V2Reports) -> Iterator[pa.RecordBatch]:
    """The summary report of every sent campaign, as the bulk summaries' unique counts."""
    ids = [str(c["id"]) for c in v2.iter_sent_campaigns()]
    rows = [
        {
            "campaign_id": campaign_id,
            "sends": counts["sends"],
            "opens": counts["opens"],
            "clicks": counts["clicks"],
            "forwards": counts["forwards"],
            "optouts": counts["unsubscribes"],
            "abuse": counts["spam_count"],
            "bounces": counts["bounces"],
        }
        for campaign_id, _, counts in _summaries(v2, ids)
    ]
    yield batch(rows, api_schema(EMAIL_CAMPAIGN_SUMMARIES))


def campaign_stats(v2: V2Reports, campaign_ids: list[str]) -> list[pa.RecordBatch]:
    """The summary counts as campaign stats; `last_refresh_time` is when they were asked
    for (with `updateSummary=true`, so they are current as of then)."""
    rows = [
        {"campaign_id": campaign_id, "last_refresh_time": asked_at, **_stats(counts)}
        for campaign_id, asked_at, counts in _summaries(v2, campaign_ids)
    ]
    return [batch(rows, api_schema(EMAIL_CAMPAIGN_STATS))]


def activity_stats(v2: V2Reports, activity_ids: list[str]) -> list[pa.RecordBatch]:
    """The same per activity (a v2 campaign is its only activity), with the spam count."""
    rows = [
        {
            "campaign_id": campaign_id,
            "campaign_activity_id": campaign_id,
            "last_refresh_time": asked_at,
            **_stats(counts),
            "em_abuse": counts["spam_count"],
        }
        for campaign_id, asked_at, counts in _summaries(v2, activity_ids)
    ]
    return [batch(rows, api_schema(EMAIL_CAMPAIGN_ACTIVITY_STATS))]


def contact_activity(
    v2: V2Reports,
    root: UPath,
    captured_at: datetime,
    reserved: int,
    log: Callable[[str], None] | None = None,
    limit: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """The contact report of a v2 account through the contact backlog (due contacts, newest
    engagement first, within the day's leftover quota). v2 has no landing pages, so a contact's
    report is its email activity across campaigns, asked only from the newest row the lake
    holds for it (`created_since`)."""
    read = partial(_contact_rows, v2)
    return contact_backlog.due_activity(
        v2.client, root, captured_at, read, None, reserved, log, limit
    )


def _contact_rows(
    v2: V2Reports, contact_id: str, held: datetime | None
) -> Iterator[pa.RecordBatch]:
    schema = api_schema(CONTACT_ACTIVITY_DETAILS)
    for page in v2.iter_contact_tracking(contact_id, created_since=held):
        rows = page.select(schema.names)
        if held is not None:  # "on or after" repeats the row held; never trust the filter
            times = rows["created_time"]
            rows = rows.filter(pc.greater(times, pa.scalar(held, times.type)))
        yield rows
