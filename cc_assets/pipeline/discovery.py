"""Which activities have reports: sent (`DONE`) `primary_email` and `resend` activities.

The discovery sensor's tick (`discovery_tick`), the only discovery: the daemon runs it every
5 minutes and `cc-assets refresh` evaluates the same sensor once. The campaign list has no
activity ids, so each changed campaign costs one more call, and each reported activity one
more to read its status, unless today's `email_campaigns` snapshot already holds the campaign
as listed (same `updated_at` and status): then its activities are taken from the snapshot.
A refresh takes that snapshot just before its tick, so it walks the campaigns once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cc_assets.constant_contact.client import ConstantContactClient

if TYPE_CHECKING:
    from cc_assets.pipeline.reports import Reports

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


@dataclass(frozen=True)
class SnapshotCampaign:
    """A campaign as today's `email_campaigns` snapshot holds it."""

    updated_at: datetime | None
    status: str
    activities: list[ActivityStatus]

    def answers(self, listed: dict[str, Any]) -> bool:
        """The snapshot read this campaign as it is listed now: its activities are current."""
        return listed_as(listed, self.updated_at, self.status)


def listed_as(listed: dict[str, Any], updated_at: datetime | None, status: str) -> bool:
    """A campaign of the list (`GET /emails`) is as it was when read with `updated_at` and
    `status`: CC moves `updated_at` whenever the campaign changes, its activities included."""
    stamp = listed.get("updated_at")
    if stamp is None or updated_at is None:
        return False
    try:
        moment = _parse(str(stamp))
    except ValueError:  # not a time: read in detail, where a bad field fails its report
        return False
    return moment == updated_at and str(listed.get("current_status", "")).upper() == status.upper()


def snapshot_campaigns(campaigns: pa.Table | None) -> dict[str, SnapshotCampaign]:
    """Each campaign of an `email_campaigns` snapshot whose reported activities all have a
    status (one an optional call failed to read is left to the API)."""
    found: dict[str, SnapshotCampaign] = {}
    unread: set[str] = set()
    for row in [] if campaigns is None else campaigns.to_pylist():
        held = found.setdefault(
            row["campaign_id"],
            SnapshotCampaign(row["updated_at"], str(row["current_status"] or ""), []),
        )
        if row["role"] not in REPORTED_ROLES:
            continue
        if row["activity_status"] is None:
            unread.add(row["campaign_id"])
            continue
        held.activities.append(
            ActivityStatus(
                campaign_id=row["campaign_id"],
                campaign_activity_id=row["campaign_activity_id"],
                role=row["role"],
                status=str(row["activity_status"]).upper(),
                campaign_updated_at=row["updated_at"].isoformat() if row["updated_at"] else "",
            )
        )
    return {cid: held for cid, held in found.items() if cid not in unread}


def campaign_activities(
    client: ConstantContactClient,
    campaigns: Iterable[dict[str, Any]],
    snapshot: Mapping[str, SnapshotCampaign] | None = None,
) -> list[ActivityStatus]:
    """The reported-role activities of `campaigns`, with their current status: from
    `snapshot` when it holds the campaign as listed, else from the API."""
    found = []
    for campaign in campaigns:
        held = (snapshot or {}).get(campaign["campaign_id"])
        if held is not None and held.answers(campaign):
            found.extend(held.activities)
            continue
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


WAITING_STATUSES = frozenset({"SCHEDULED", "EXECUTING"})
"""Activities about to be sent: their campaigns stay inside the list window until they are."""


@dataclass
class DiscoveryState:
    """What discovery remembers between ticks (the sensor's cursor).

    `after` is the `after_date` of the next list call: the oldest `updated_at` among campaigns
    with a scheduled or executing activity, else the newest `updated_at` seen. `seen` is each
    listed campaign's `updated_at|current_status` from the last list, so a campaign is read in
    detail only when one of them moved (the list filter includes `after` itself, so the newest
    campaign comes back every tick). `pending` are the waiting campaigns' ids."""

    after: str | None = None
    seen: dict[str, str] | None = None
    pending: list[str] | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DiscoveryState:
        return cls(raw.get("after"), dict(raw.get("seen") or {}), list(raw.get("pending") or []))

    def as_json(self) -> dict[str, Any]:
        return {"after": self.after, "seen": self.seen or {}, "pending": self.pending or []}


def _signature(campaign: dict[str, Any]) -> str:
    return f"{campaign.get('updated_at', '')}|{campaign.get('current_status', '')}"


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def discovery_tick(
    reports: Reports,
    state: DiscoveryState,
    snapshot: Mapping[str, SnapshotCampaign] | None = None,
) -> tuple[list[ActivityStatus], DiscoveryState]:
    """One discovery pass: one list call when nothing changed, plus the detail and status calls
    of the campaigns whose `updated_at` or status moved. Waiting (scheduled, executing)
    activities are followed through the list, never polled one by one. A v2 campaign is its
    own activity, so a v2 tick makes no detail or status call at all."""
    seen = state.seen or {}
    campaigns = list(reports.list_campaigns(_parse(state.after) if state.after else None))
    changed = [c for c in campaigns if seen.get(c["campaign_id"]) != _signature(c)]
    found = reports.campaign_activities(changed, snapshot)
    waiting = {a.campaign_id for a in found if a.status in WAITING_STATUSES}
    reread = {c["campaign_id"] for c in changed}
    waiting |= {cid for cid in state.pending or [] if cid not in reread}
    stamps = {c["campaign_id"]: c.get("updated_at") or "" for c in campaigns}
    waiting &= set(stamps)  # a waiting campaign is always inside the window, unless deleted
    newest = max([*stamps.values(), state.after or ""]) or None
    held = [stamps[cid] for cid in waiting if stamps.get(cid)]
    after = min([*held, newest]) if newest and held else newest
    keep = {
        c["campaign_id"]: _signature(c)
        for c in campaigns
        if after is None or (c.get("updated_at") or "") >= after
    }
    return found, DiscoveryState(after, keep, sorted(waiting))
