"""The seed documents' account serves the seed documents' stats and percents."""

from __future__ import annotations

from cc_assets_tests.sandbox.conftest import api_client

SEED_PERCENTS = {
    "open": 66.7,
    "click": 33.3,
    "bounce": 40.0,
    "did_not_open": 33.3,
    "unsubscribe": 11.1,
    "mobile_open": 83.3,
    "desktop_open": 16.7,
    "mobile_click": 50.0,
    "desktop_click": 50.0,
}


def test_seed_example_stats_and_percents(seed_sandbox) -> None:
    truth = seed_sandbox.ground_truth()
    (activity,) = truth.reportable_activities()
    with api_client(seed_sandbox) as http:
        campaign = http.get(f"/v3/reports/stats/email_campaigns/{activity['campaign_id']}").json()
        per_activity = http.get(
            f"/v3/reports/stats/email_campaign_activities/{activity['campaign_activity_id']}"
        ).json()
    (result,) = campaign["results"]
    stats = result["stats"]
    assert {k: stats[k] for k in ("em_sends", "em_bounces", "em_opens", "em_not_opened")} == {
        "em_sends": 15,
        "em_bounces": 6,
        "em_opens": 6,
        "em_not_opened": 3,
    }
    assert (stats["em_clicks"], stats["em_optouts"], stats["em_forwards"]) == (2, 1, 1)
    assert (stats["em_opens_all"], stats["em_opens_all_mobile"], stats["em_opens_all_other"]) == (
        6,
        5,
        1,
    )
    assert (
        stats["em_clicks_all"],
        stats["em_clicks_all_mobile"],
        stats["em_clicks_all_other"],
    ) == (2, 1, 1)
    assert {k: round(v, 1) for k, v in result["percents"].items()} == SEED_PERCENTS
    activity_stats = per_activity["results"][0]["stats"]
    assert {k: v for k, v in activity_stats.items() if k.startswith("em_bounces_")} == {
        "em_bounces_blocked": 1,
        "em_bounces_mailbox_full": 1,
        "em_bounces_nonexistent_address": 1,
        "em_bounces_other": 1,
        "em_bounces_suspended": 0,
        "em_bounces_undeliverable": 1,
        "em_bounces_vacation": 1,
    }
