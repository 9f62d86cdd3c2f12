"""The sandbox's v2 endpoints against the seed pages' examples and v2's documented rules."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx

from cc_assets.sandbox.ground_truth_v2 import V2GroundTruth
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.sandbox.conftest import api_client

SEED_OPEN = {"activity_type", "campaign_id", "contact_id", "email_address", "open_date"}
SEED_SEND = {"activity_type", "campaign_id", "contact_id", "email_address", "send_date"}


def _token(link: str) -> dict[str, list[str]]:
    (token,) = parse_qs(urlsplit(link).query)["next"]
    return parse_qs(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())


def _follow(http: httpx.Client, server: SandboxServer, url: str, **params: str) -> list[dict]:
    """Every page, the way the official SDKs go: the next_link's `next` only, plus api_key."""
    rows, query = [], {"api_key": server.api_key, **params}
    while True:
        body = http.get(url, params=query).json()
        rows += body["results"]
        link = body["meta"]["pagination"].get("next_link")
        if not link:
            return rows
        assert urlsplit(link).path == url
        query = {"api_key": server.api_key, "next": parse_qs(urlsplit(link).query)["next"][0]}


def test_seed_example_shapes_and_next_links(seed_sandbox: SandboxServer) -> None:
    """The v2 seed pages: `/v2/emailmarketing/campaigns/1100394165287/tracking/sends?next=...`
    and `/v2/contacts/39/tracking/opens?next=...` (a token carrying the page limit)."""
    key = {"api_key": seed_sandbox.api_key}
    with api_client(seed_sandbox) as http:
        sends = http.get(
            "/v2/emailmarketing/campaigns/1100394165287/tracking/sends", params={**key, "limit": 2}
        ).json()
        contact = sends["results"][0]["contact_id"]
        opens_path = f"/v2/contacts/{contact}/tracking/opens"
        opens = http.get(opens_path, params={**key, "limit": 1}).json()
        summary = http.get(
            "/v2/emailmarketing/campaigns/1100394165287/tracking/reports/summary", params=key
        ).json()
    assert [set(r) for r in sends["results"]] == [SEED_SEND, SEED_SEND]
    assert {r["activity_type"] for r in sends["results"]} == {"EMAIL_SEND"}
    link = sends["meta"]["pagination"]["next_link"]
    assert link.startswith("/v2/emailmarketing/campaigns/1100394165287/tracking/sends?next=")
    assert _token(link)["limit"] == ["2"]
    assert all(set(r) == SEED_OPEN for r in opens["results"])
    if opens["meta"]["pagination"].get("next_link"):
        assert opens["meta"]["pagination"]["next_link"].startswith(f"{opens_path}?next=")
    assert (summary["sends"], summary["bounces"], summary["opens"]) == (15, 6, 6)


def test_campaign_list_contact_activity_and_created_since(sandbox: SandboxServer) -> None:
    truth = V2GroundTruth(sandbox.ground_truth())
    with api_client(sandbox) as http:
        sent = _follow(http, sandbox, "/v2/emailmarketing/campaigns", status="SENT", limit="1")
        everything = _follow(http, sandbox, "/v2/emailmarketing/campaigns")
        too_many = http.get(
            "/v2/emailmarketing/campaigns", params={"api_key": sandbox.api_key, "limit": 51}
        )
        newest = max(c["modified_date"] for c in sent)
        recent = _follow(http, sandbox, "/v2/emailmarketing/campaigns", modified_since=newest)
        detail = http.get(
            f"/v2/emailmarketing/campaigns/{sent[0]['id']}", params={"api_key": sandbox.api_key}
        ).json()
        opener = truth.tracking(truth.sent_campaigns()[0], "opens")["contact_id"][0].as_py()
        every = _follow(http, sandbox, f"/v2/contacts/{opener}/tracking", limit="2")
        since = sorted(date_of(r) for r in every)[len(every) // 2]
        later = _follow(
            http, sandbox, f"/v2/contacts/{opener}/tracking", limit="2", created_since=since
        )
        unknown = http.get("/v2/contacts/0/tracking", params={"api_key": sandbox.api_key})
    assert sorted(c["id"] for c in sent) == sorted(truth.sent_campaigns())
    assert {c["status"] for c in sent} == {"SENT"} and len(everything) > len(sent)
    assert too_many.status_code == 400
    assert recent and all(c["modified_date"] >= newest for c in recent)
    assert detail["id"] == sent[0]["id"] and detail["click_through_details"]
    expected = truth.contact_activity(opener, None)
    assert len(every) == expected.num_rows and len(every) > 2
    assert {r["contact_id"] for r in every} == {opener}
    assert 0 < len(later) < len(every) and all(date_of(r) >= since for r in later)
    assert unknown.status_code == 404


def date_of(row: dict) -> str:
    """A v2 record's own date field (`open_date`, `send_date`, ...)."""
    return next(v for k, v in row.items() if k.endswith("_date"))


def test_api_key_is_checked_and_the_accept_header_too(sandbox: SandboxServer) -> None:
    path = "/v2/emailmarketing/campaigns"
    with api_client(sandbox) as http:
        missing = http.get(path)
        wrong = http.get(path, params={"api_key": "not-the-key"})
        xml = http.get(path, params={"api_key": sandbox.api_key}, headers={"Accept": "text/xml"})
        right = http.get(path, params={"api_key": sandbox.api_key})
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()[0]["error_key"] == "http.status.unauthorized"
    assert xml.status_code == 406
    assert right.status_code == 200


def test_sdk_fixture_records_and_the_emailcampaigns_alias(sandbox_factory) -> None:
    """`v2_records=sdk_fixtures` serves what CC's v2 SDK fixtures show (clicks with `link_uri`,
    a numeric `campaign_id`, a summary without `spam_count`, a campaign with `last_edit_date`
    and no `modified_date`), `v2_next_link=emailcampaigns` the recordings' alias path, and
    `token_expires_in=string` a string `expires_in`."""
    server = sandbox_factory(
        v2_records="sdk_fixtures", v2_next_link="emailcampaigns", token_expires_in="string"
    )
    v2_id = V2GroundTruth(server.ground_truth()).sent_campaigns()[0]
    root = f"/v2/emailmarketing/campaigns/{v2_id}"
    key = {"api_key": server.api_key}
    with api_client(server) as http:
        clicks = http.get(f"{root}/tracking/clicks", params={**key, "limit": 1}).json()
        summary = http.get(f"{root}/tracking/reports/summary", params=key).json()
        campaign = http.get(root, params=key).json()
        listed = http.get("/v2/emailmarketing/campaigns", params={**key, "limit": 1}).json()
    token = httpx.post(
        server.token_url,
        data={"grant_type": "refresh_token", "refresh_token": server.refresh_token},
        auth=(server.client_id, server.client_secret),
    ).json()
    (click,) = clicks["results"]
    assert click["campaign_id"] == int(v2_id) and click["link_uri"].startswith("http")
    assert clicks["meta"]["pagination"]["next_link"].startswith(
        f"/v2/emailcampaigns/{v2_id}/tracking/clicks?next="
    )
    assert "spam_count" not in summary and summary["sends"] > 0
    assert "modified_date" not in campaign and campaign["last_edit_date"]
    assert listed["results"][0]["modified_date"]  # the list keeps its own field
    assert listed["meta"]["pagination"]["next_link"].startswith("/v2/emailcampaigns?next=")
    assert isinstance(token["expires_in"], str) and int(token["expires_in"]) > 0
