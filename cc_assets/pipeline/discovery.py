"""Which activities have reports: sent (`DONE`) `primary_email` and `resend` activities.

Shared by the discovery sensor and `cc-assets refresh`, so both add exactly the same
partitions. The campaign list has no activity ids, so each campaign costs one more call,
and each reported activity one more to read its status (reference §4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.v2 import ACTIVITY_STATUS_OF, V2Reports

REPORTED_ROLES = ("primary_email", "resend")


@dataclass(frozen=True)
class ActivityStatus:
    campaign_id: str
    campaign_activity_id: str
    role: str
    status: str
    campaign_updated_at: str

    @property
    def sent(self) -> bool:
        return self.status == "DONE"


def campaign_activities(
    client: ConstantContactClient, campaigns: Iterable[dict[str, Any]]
) -> list[ActivityStatus]:
    """The reported-role activities of `campaigns`, with their current status."""
    if client.settings.api_version == "v2":
        return _v2_activities(campaigns)
    found = []
    for campaign in campaigns:
        detail = client.get_campaign(campaign["campaign_id"])
        for activity in detail.get("campaign_activities", []):
            if activity.get("role") not in REPORTED_ROLES:
                continue
            status = client.get_activity(activity["campaign_activity_id"]).get("current_status", "")
            found.append(
                ActivityStatus(
                    campaign_id=campaign["campaign_id"],
                    campaign_activity_id=activity["campaign_activity_id"],
                    role=activity["role"],
                    status=str(status).upper(),
                    campaign_updated_at=campaign.get("updated_at", ""),
                )
            )
    return found


def list_campaigns(
    client: ConstantContactClient, after: datetime | None = None
) -> list[dict[str, Any]]:
    """Campaigns updated after `after`, each with `campaign_id` and `updated_at`. With a v2
    key: the sent campaigns modified since then (one call per 50, and no call per campaign)."""
    if client.settings.api_version != "v2":
        return list(client.iter_campaigns(after_date=after))
    return [
        {"campaign_id": str(c["id"]), "updated_at": c.get("modified_date"), "status": c["status"]}
        for c in V2Reports(client).iter_sent_campaigns(modified_since=after)
    ]


def _v2_activities(campaigns: Iterable[dict[str, Any]]) -> list[ActivityStatus]:
    """A v2 campaign is its own (primary email) activity, keyed by its numeric id."""
    return [
        ActivityStatus(
            campaign_id=c["campaign_id"],
            campaign_activity_id=c["campaign_id"],
            role="primary_email",
            status=ACTIVITY_STATUS_OF.get(str(c.get("status")), str(c.get("status"))),
            campaign_updated_at=str(c.get("updated_at") or ""),
        )
        for c in campaigns
    ]


def discover(client: ConstantContactClient, after: datetime | None = None) -> list[ActivityStatus]:
    """Every reported-role activity of campaigns updated after `after` (all when None)."""
    return campaign_activities(client, list_campaigns(client, after))


def sent_activity_ids(
    settings: ClientSettings, on_event: Callable[[str], None] | None = None
) -> list[str]:
    """The ids of every sent reported activity: the partitions a refresh reads."""
    with ConstantContactClient(settings, on_event=on_event) as client:
        return [a.campaign_activity_id for a in discover(client) if a.sent]
