"""A v2 account behind the reports interface (`pipeline.reports.Reports`), in the v3 assets.

A v2 campaign has one send and is its own activity: its numeric id is both `campaign_id` and
`campaign_activity_id`, its role `primary_email`, and a `SENT` campaign is `DONE`, so
discovery makes no call per campaign. The summary report (sends, opens, clicks, forwards,
unsubscribes, bounces, spam) fills the counts of the campaign summaries, the campaign stats and
the activity stats; what only v3 reports (device splits, percents, bounce codes counted,
campaign types) stays null, and so does the spam count (`abuse`, `em_abuse`) of a summary that
lacks `spam_count`: unknown is never zero. v2 has no per-activity stats call, so every selected
report of an activity is refreshed (`activity_reads.v2_planned_reads`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cc_assets.constant_contact.parsing import api_schema, batch
from cc_assets.constant_contact.schemas import (
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGN_SUMMARIES,
    EMAIL_CAMPAIGNS,
)
from cc_assets.constant_contact.v2 import (
    ACTIVITY_STATUS_OF,
    V2_CREDENTIALS_HINT,
    V2Reports,
    iso,
)
from cc_assets.pipeline import activity_reads, contact_backlog, snapshots
from cc_assets.pipeline.activity_reads import ActivityStats
from cc_assets.pipeline.discovery import ActivityStatus
from cc_assets.pipeline.tracking import TrackingRefresh


def _stats(counts: dict[str, int | None]) -> dict[str, int | None]:
    return {
        "em_sends": counts["sends"],
        "em_opens": counts["opens"],
        "em_clicks": counts["clicks"],
        "em_forwards": counts["forwards"],
        "em_optouts": counts["unsubscribes"],
        "em_bounces": counts["bounces"],
    }


class V2Account(V2Reports):
    """v2's typed reports (`V2Reports`), mapped to the lake's columns."""

    version, credentials_hint = "v2", V2_CREDENTIALS_HINT

    def list_campaigns(self, after: datetime | None = None) -> Iterator[dict[str, Any]]:
        """The sent campaigns modified since `after` (one call per 50), in the v3 list's names."""
        for c in self.iter_sent_campaigns(modified_since=after):
            yield {"campaign_id": str(c["id"]), "updated_at": c.get("modified_date"),
                   "current_status": c["status"]}  # fmt: skip

    def campaign_activities(self, campaigns: Iterable[dict[str, Any]], snapshot: Any = None):
        return [
            ActivityStatus(
                campaign_id=c["campaign_id"],
                campaign_activity_id=c["campaign_id"],
                role="primary_email",
                status=ACTIVITY_STATUS_OF.get(str(c["current_status"]), str(c["current_status"])),
                campaign_updated_at=str(c.get("updated_at") or ""),
            )
            for c in campaigns
        ]

    def fetch_stats(self, activity_ids: list[str]) -> dict[str, ActivityStats]:
        return {}

    def planned_reads(self, activity_id: str, **when: Any) -> list[activity_reads.PlannedRead]:
        when.pop("stats")
        return activity_reads.v2_planned_reads(activity_id, **when)

    def run_read(
        self, activity_id: str, step: activity_reads.PlannedRead, read: set[str], **when: Any
    ) -> TrackingRefresh | None:
        """`read` is not needed: v2 reads every selected report and derives from them."""
        when.pop("stats")
        return activity_reads.v2_run_read(self, activity_id, step, **when)

    def campaign_rows(self, previous: pa.Table | None) -> Iterator[pa.RecordBatch]:
        """Every sent campaign with its subject, sender and last run (one call each, every
        day: the v3 rule that keeps an unchanged campaign's rows, `previous`, is not applied
        to v2 yet)."""
        schema = api_schema(EMAIL_CAMPAIGNS)
        for campaign in self.iter_sent_campaigns():
            detail = self.get_campaign(str(campaign["id"]))
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
            keys = ("subject", "from_name", "from_email", "reply_to_email")
            yield batch([row | {k: detail.get(k) for k in keys}], schema)

    def _summaries(
        self, campaign_ids: Iterable[str]
    ) -> Iterator[tuple[str, str, dict[str, int | None]]]:
        for campaign_id in campaign_ids:
            asked_at = iso(datetime.now(UTC))
            yield campaign_id, asked_at, self.get_summary(campaign_id)

    def campaign_summaries(self) -> Iterator[pa.RecordBatch]:
        """The summary report of every sent campaign, as the bulk summaries' unique counts."""
        ids = [str(c["id"]) for c in self.iter_sent_campaigns()]
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
            for campaign_id, _, counts in self._summaries(ids)
        ]
        yield batch(rows, api_schema(EMAIL_CAMPAIGN_SUMMARIES))

    def campaign_stats(self, campaign_ids: list[str]) -> list[pa.RecordBatch]:
        """The summary counts as campaign stats; `last_refresh_time` is when they were asked
        for (with `updateSummary=true`, so they are current as of then)."""
        rows = [
            {"campaign_id": campaign_id, "last_refresh_time": asked_at, **_stats(counts)}
            for campaign_id, asked_at, counts in self._summaries(campaign_ids)
        ]
        return [batch(rows, api_schema(EMAIL_CAMPAIGN_STATS))]

    def activity_stats(self, activity_ids: list[str]) -> list[pa.RecordBatch]:
        """The same per activity (a v2 campaign is its only activity), with the spam count."""
        rows = [
            {
                "campaign_id": campaign_id,
                "campaign_activity_id": campaign_id,
                "last_refresh_time": asked_at,
                **_stats(counts),
                "em_abuse": counts["spam_count"],
            }
            for campaign_id, asked_at, counts in self._summaries(activity_ids)
        ]
        return [batch(rows, api_schema(EMAIL_CAMPAIGN_ACTIVITY_STATS))]

    def identity(self) -> list[pa.RecordBatch]:
        """The account's row with its identity null, and no call: v2 has no
        `encoded_account_id`, and the v2 endpoint that named the organization
        (`/v2/account/info`) is neither in the API reference nor served by the sandbox."""
        return snapshots.account_summary(self.client, None, None)

    def contact_activity(self, *backlog: Any) -> Iterator[pa.RecordBatch]:
        """The contact report through the contact backlog (`backlog`: as
        `contact_backlog.landing_page_activity` takes it). v2 has no landing pages, so a
        contact's report is its email activity across campaigns, asked only from the newest
        row the lake holds for it (`created_since`)."""
        root, captured_at, reserved, *rest = backlog
        return contact_backlog.due_activity(
            self.client, root, captured_at, self._contact_rows, None, reserved, *rest
        )

    def _contact_rows(self, contact_id: str, held: datetime | None) -> Iterator[pa.RecordBatch]:
        schema = api_schema(CONTACT_ACTIVITY_DETAILS)
        for page in self.iter_contact_tracking(contact_id, created_since=held):
            rows = page.select(schema.names)
            if held is not None:  # "on or after" repeats the row held; never trust the filter
                times = rows["created_time"]
                rows = rows.filter(pc.greater(times, pa.scalar(held, times.type)))
            yield rows
