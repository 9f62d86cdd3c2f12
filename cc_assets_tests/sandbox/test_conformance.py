"""Every implemented v3 response validates against the official OpenAPI file."""

from __future__ import annotations

import httpx
import pytest

from cc_assets.constant_contact.schemas import TRACKING_REPORTS
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.sandbox.conftest import api_client
from cc_assets_tests.sandbox.spec import validate


def _every_path(server: SandboxServer) -> list[str]:
    truth = server.ground_truth()
    activity = truth.reportable_activities()[0]
    aid, cid = activity["campaign_activity_id"], activity["campaign_id"]
    contact = truth.tracking(aid, "sends")["contact_id"][0].as_py()
    contact_reports = f"/v3/reports/contact_reports/{contact}"
    window = "start=2020-01-01T00:00:00Z&end=2024-12-31T00:00:00Z"
    return [
        "/v3/emails?limit=3",
        "/v3/account/summary",
        "/v3/account/summary?extra_fields=physical_address",
        f"/v3/emails/{cid}",
        f"/v3/emails/activities/{aid}",
        f"/v3/emails/activities/{aid}/send_history",
        "/v3/contacts?limit=5&status=all",
        "/v3/reports/summary_reports/email_campaign_summaries?limit=2",
        f"/v3/reports/stats/email_campaigns/{cid}",
        f"/v3/reports/stats/email_campaign_activities/{aid},{aid[:-4]}0000",
        f"/v3/reports/email_reports/{aid}/links?no_clicks=true",
        *(
            f"/v3/reports/email_reports/{aid}/tracking/{report}?limit=7"
            for report in TRACKING_REPORTS
        ),
        f"{contact_reports}/activity_details?tracking_activities_list=em_sends,em_opens&limit=3",
        f"{contact_reports}/activity_details?tracking_activity_type=em_clicks",
        f"{contact_reports}/activity_summary?start=2020-01-01T00:00:00Z&end=2030-01-01T00:00:00Z",
        f"{contact_reports}/open_and_click_rates?{window}",
        # errors: invalid limit (400 array), unknown ids (404 array)
        f"/v3/reports/email_reports/{aid}/tracking/opens?limit=501",
        "/v3/emails/00000000-0000-4000-8000-000000000000",
    ]


RECORDED_FORMS = {"unknown_field": "everywhere", "summary_counts": "integer"}
"""Variants the spec allows: an undocumented field in every object, integer percents."""


@pytest.mark.parametrize(
    ("seed", "variants"),
    [(3, {}), (29, {}), (3, RECORDED_FORMS), (29, {"campaign_status": "title_case"})],
)
def test_every_response_matches_the_official_spec(sandbox_factory, seed: int, variants) -> None:
    server = sandbox_factory(seed=seed, contacts=400, campaigns=5, **variants)
    with api_client(server) as http:
        for path in _every_path(server):
            response = http.get(path)
            assert response.status_code in {200, 400, 404}, (path, response.text)
            validate(response)
            if "_links" in response.json() if response.status_code == 200 else False:
                follow = response.json()["_links"].get("next")
                if follow:
                    validate(http.get(follow["href"]))


def test_unauthorized_and_throttled_bodies_match_the_spec(sandbox_factory) -> None:
    server = sandbox_factory(requests_per_second=1)
    with httpx.Client(base_url=server.root_url) as anonymous:
        response = anonymous.get("/v3/emails")
    assert response.status_code == 401
    assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}
    validate(response)
    with api_client(server) as http:
        statuses = [http.get("/v3/emails") for _ in range(3)]
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled, "a burst above 1 request/second must be throttled"
    assert throttled[0].json() == {"error_key": "throttled", "error_message": "Too Many Requests"}
    validate(throttled[0])


def test_documented_variants_differ_from_the_spec_where_the_docs_do(sandbox_factory) -> None:
    """CC's docs show dotted activity-stats keys and string summary counts,
    where the spec says underscores and integers. The sandbox serves each variant on demand."""
    server = sandbox_factory(activity_stats_keys="dotted", summary_counts="string")
    aid = server.ground_truth().reportable_activities()[0]["campaign_activity_id"]
    with api_client(server) as http:
        stats = http.get(f"/v3/reports/stats/email_campaign_activities/{aid}").json()
        summary = http.get("/v3/reports/summary_reports/email_campaign_summaries").json()
    keys = set(stats["results"][0]["stats"])
    assert {"em_opens.all.mobile", "em_clicks.all", "em_bounces_blocked"} <= keys
    assert not any(k.startswith("em_opens_all") for k in keys)
    counts = summary["bulk_email_campaign_summaries"][0]["unique_counts"]
    assert all(isinstance(v, str) and v.isdigit() for v in counts.values())
    assert isinstance(summary["aggregate_percents"], list)


def test_absolute_links_and_the_newer_type_field_are_served_on_demand(sandbox_factory) -> None:
    """The opens-report docs show an absolute `next.href`, and the newer
    activity_details docs name the row's type field `tracking_activities_list`."""
    server = sandbox_factory(next_href="absolute", activity_type_field="tracking_activities_list")
    truth = server.ground_truth()
    aid = truth.reportable_activities()[0]["campaign_activity_id"]
    contact = truth.tracking(aid, "opens")["contact_id"][0].as_py()
    with api_client(server) as http:
        page = http.get(f"/v3/reports/email_reports/{aid}/tracking/sends?limit=5").json()
        details = http.get(
            f"/v3/reports/contact_reports/{contact}/activity_details",
            params={"tracking_activities_list": "em_sends,em_opens", "limit": 1},
        ).json()
        href = page["_links"]["next"]["href"]
        assert href.startswith(f"{server.root_url}/v3/reports/email_reports/{aid}/")
        assert http.get(href).status_code == 200
    assert details["_links"]["next"]["href"].startswith(f"{server.root_url}/v3/")
    row = details["tracking_activities"][0]
    assert row["tracking_activities_list"] in {"em_sends", "em_opens"}
    assert "tracking_activity_type" not in row
