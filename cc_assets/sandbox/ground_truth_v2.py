"""What a v2 refresh must land, straight from the account's events (no HTTP, no client code).

The v2 id of a campaign is its partition key; columns v2 has no field for are null; the
derived reports (unique opens, did-not-opens) are the account's own, so a test proves the
pipeline's derivation rather than repeating it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from cc_assets.constant_contact.schemas import CONTACT_ACTIVITY_DETAILS, TRACKING_TABLES
from cc_assets.sandbox.account import Campaign
from cc_assets.sandbox.events import BOUNCE_CODES, OPT_OUT_REASONS, REPORT_TYPES, EventColumns
from cc_assets.sandbox.ground_truth import GroundTruth, lake_schema, rows_to_table
from cc_assets.sandbox.render import link_url, timestamps, url_id
from cc_assets.sandbox.routes_v2 import v2_summary

V2_REPORTS = ("sends", "opens", "clicks", "forwards", "optouts", "bounces")
"""The lake reports v2 serves directly (`optouts` as v2's `unsubscribes`)."""


class V2GroundTruth:
    """The v2 view of a `GroundTruth`: sent campaigns by v2 id, rows in the lake's columns."""

    def __init__(self, truth: GroundTruth) -> None:
        self.truth = truth
        self.service = truth.service
        self.account = truth.account

    def _epoch(self) -> int:
        return self.service.clock.epoch()

    def sent_campaigns(self) -> list[str]:
        """v2 ids of the campaigns v2 lists as SENT (primary email done)."""
        epoch = self._epoch()
        return [c.v2_id for c in self.account.campaigns if c.primary.status_at(epoch) == "DONE"]

    def campaign(self, v2_id: str) -> Campaign:
        return self.account.campaign_by_v2_id[v2_id]

    def _columns(self, v2_id: str, report: str) -> EventColumns:
        return self.service.report(self.campaign(v2_id).primary, report)

    def tracking(self, v2_id: str, report: str) -> pa.Table:
        """A lake tracking report of a v2 campaign, as v2 maps it (see the README's table)."""
        activity = self.campaign(v2_id).primary
        columns = self._columns(v2_id, report)
        contacts = self.account.contacts
        rows: list[dict[str, Any]] = []
        for i, (contact, moment) in enumerate(
            zip(columns.contact.tolist(), timestamps(columns.key), strict=True)
        ):
            row: dict[str, Any] = {
                "campaign_activity_id": v2_id,
                "contact_id": str(contact + 1),
                "tracking_activity_type": REPORT_TYPES[report],
                "email_address": contacts.email_address(contact),
                "created_time": moment,
            }
            if report == "clicks":
                row["url_id"] = url_id(activity, int(columns.extra[i]))
                if self.service.config.v2_records == "sdk_fixtures":  # sent as `link_uri`
                    row["link_url"] = link_url(activity, int(columns.extra[i]))
            elif report == "optouts":
                row["opt_out_reason"] = OPT_OUT_REASONS[int(columns.extra[i])]
            elif report == "bounces":
                row["bounce_code"] = BOUNCE_CODES[int(columns.extra[i])]
            rows.append(row)
        return rows_to_table(rows, lake_schema(TRACKING_TABLES[report]))

    def summary(self, v2_id: str) -> dict[str, int]:
        """The v2 summary report's counts, current (as `updateSummary=true` asks); without
        `spam_count` when the account serves CC's SDK fixtures' form."""
        stats = self.truth.activity_stats(self.campaign(v2_id).primary.activity_id)
        return v2_summary(stats, spam_count=self.service.config.v2_records == "documented")

    def links(self, v2_id: str) -> pa.Table:
        return self.truth.links(self.campaign(v2_id).primary.activity_id, partition_key=v2_id)

    def contact_activity(self, contact_id: str, since: datetime | None) -> pa.Table:
        """A v2 contact's email events across sent campaigns since `since` (on or after)."""
        contact = int(contact_id) - 1
        low = None if since is None else int(since.timestamp())
        rows = []
        for campaign in self.account.campaigns:
            events = self.service.events(campaign.primary)
            for report in V2_REPORTS:
                columns = getattr(events, report).as_of(self._epoch())
                columns = columns.where(columns.contact == contact)
                if low is not None:
                    columns = columns.where(columns.time >= low)
                rows += [
                    {
                        "contact_id": contact_id,
                        "campaign_activity_id": campaign.v2_id,
                        "tracking_activity_type": REPORT_TYPES[report],
                        "created_time": moment,
                    }
                    for moment in timestamps(columns.key)
                ]
        return rows_to_table(rows, lake_schema(CONTACT_ACTIVITY_DETAILS))
