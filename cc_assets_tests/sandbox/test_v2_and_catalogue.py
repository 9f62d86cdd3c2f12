"""The legacy v2 tracking endpoints, and an account that holds every activity status."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from cc_assets.sandbox.account import Account, AccountConfig
from cc_assets.sandbox.process import SandboxServer

STATUSES = {"DRAFT", "SCHEDULED", "EXECUTING", "DONE", "ERROR", "REMOVED"}


def test_every_activity_status_occurs() -> None:
    account = Account(AccountConfig(campaigns=14, now=datetime(2026, 11, 20, 12, tzinfo=UTC)))
    epoch = int(account.config.now.timestamp())
    seen = {a.status_at(epoch) for c in account.campaigns for a in c.activities}
    assert seen == STATUSES
    roles = {a.role for c in account.campaigns for a in c.activities}
    assert roles == {"primary_email", "permalink", "resend"}


def test_v2_campaign_tracking_pages_with_next_link(sandbox: SandboxServer) -> None:
    truth = sandbox.ground_truth()
    campaign = next(
        c
        for c in truth.account.campaigns
        if c.primary.activity_id
        in {a["campaign_activity_id"] for a in truth.reportable_activities()}
    )
    expected = truth.tracking(campaign.primary.activity_id, "opens").num_rows
    headers = {"Authorization": f"Bearer {sandbox.access_token}"}
    rows, url = [], f"/v2/emailmarketing/campaigns/{campaign.v2_id}/tracking/opens?limit=50"
    with httpx.Client(base_url=sandbox.root_url, headers=headers) as http:
        assert http.get(url).status_code == 401  # no api_key
        while url:
            body = http.get(url, params={"api_key": sandbox.api_key}).json()
            rows += body["results"]
            url = body["meta"]["pagination"].get("next_link")
        summary = http.get(
            f"/v2/emailmarketing/campaigns/{campaign.v2_id}/tracking/reports/summary",
            params={"api_key": sandbox.api_key},
        ).json()
        since = http.get(
            f"/v2/emailmarketing/campaigns/{campaign.v2_id}/tracking/opens",
            params={"api_key": sandbox.api_key, "created_since": rows[len(rows) // 2]["open_date"]},
        ).json()["results"]
        contact = http.get(
            f"/v2/contacts/{rows[0]['contact_id']}/tracking/reports/summary",
            params={"api_key": sandbox.api_key},
        )
    assert len(rows) == expected and {r["activity_type"] for r in rows} == {"EMAIL_OPEN"}
    assert summary["opens"] == truth.activity_stats(campaign.primary.activity_id)["em_opens"]
    assert 0 < len(since) < len(rows)
    assert contact.status_code == 200 and contact.json()["opens"] >= 1
