"""Reports are exact: paging with any limit returns every row once, stats agree with events."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cc_assets.constant_contact.schemas import TRACKING_REPORTS
from cc_assets.sandbox.pagination import encode_cursor
from cc_assets.sandbox.process import SandboxServer
from cc_assets.sandbox.service import SandboxService
from cc_assets_tests.sandbox.conftest import api_client


def fetch_all(http: httpx.Client, activity_id: str, report: str, limit: int) -> list[dict]:
    rows, url, pages = (
        [],
        f"/v3/reports/email_reports/{activity_id}/tracking/{report}?limit={limit}",
        0,
    )
    while url:
        response = http.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["tracking_activities"]) <= limit
        rows.extend(body["tracking_activities"])
        url = body.get("_links", {}).get("next", {}).get("href")
        assert url is None or url.startswith("/v3/")
        pages += 1
    return rows


def _identity(row: dict) -> tuple:
    return (row["contact_id"], row["created_time"], row.get("device_type"), row.get("url_id"))


def test_every_report_equals_ground_truth_and_is_newest_first(sandbox: SandboxServer) -> None:
    truth = sandbox.ground_truth()
    with api_client(sandbox) as http:
        for activity in truth.reportable_activities():
            aid = activity["campaign_activity_id"]
            for report in TRACKING_REPORTS:
                rows = fetch_all(http, aid, report, 97)
                expected = truth.tracking(aid, report).to_pylist()
                assert [r["contact_id"] for r in rows] == [e["contact_id"] for e in expected]
                times = [r["created_time"] for r in rows]
                assert times == sorted(times, reverse=True), report


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(min_value=1, max_value=500), report=st.sampled_from(TRACKING_REPORTS))
def test_any_limit_returns_every_row_exactly_once(
    sandbox: SandboxServer, limit: int, report: str
) -> None:
    truth = sandbox.ground_truth()
    aid = truth.reportable_activities()[0]["campaign_activity_id"]
    with api_client(sandbox) as http:
        rows = fetch_all(http, aid, report, limit)
    expected = truth.tracking(aid, report).to_pylist()
    assert Counter(map(_identity, rows)) == Counter(
        (
            e["contact_id"],
            e["created_time"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            e.get("device_type"),
            e.get("url_id"),
        )
        for e in expected
    )
    assert len(rows) == len(expected)


def test_stats_equal_counts_from_tracking_reports(sandbox: SandboxServer) -> None:
    truth = sandbox.ground_truth()
    with api_client(sandbox) as http:
        for activity in truth.reportable_activities():
            aid = activity["campaign_activity_id"]
            stats = http.get(f"/v3/reports/stats/email_campaign_activities/{aid}").json()[
                "results"
            ][0]["stats"]
            report = {name: fetch_all(http, aid, name, 500) for name in TRACKING_REPORTS}
            unique = {name: len({r["contact_id"] for r in rows}) for name, rows in report.items()}
            assert stats["em_sends"] == unique["sends"] == len(report["sends"])
            assert stats["em_bounces"] == unique["bounces"]
            assert stats["em_opens"] == unique["opens"] == len(report["unique_opens"])
            assert stats["em_opens_all"] == len(report["opens"])
            assert stats["em_clicks"] == unique["clicks"]
            assert stats["em_clicks_all"] == len(report["clicks"])
            assert stats["em_forwards"] == unique["forwards"]
            assert stats["em_optouts"] == unique["optouts"]
            assert stats["em_not_opened"] == len(report["didnotopens"])
            devices = Counter(r.get("device_type", "none") for r in report["opens"])
            for device in ("computer", "mobile", "tablet", "other", "none"):
                assert stats[f"em_opens_all_{device}"] == devices[device]
            codes = Counter(r["bounce_code"] for r in report["bounces"])
            assert stats["em_bounces_blocked"] == codes["Z"]
            assert stats["em_bounces_vacation"] == codes["V"]


def test_time_passing_brings_new_events_without_shifting_older_pages(
    sandbox: SandboxServer,
) -> None:
    truth = sandbox.ground_truth()
    aid = max(  # the latest send: its opens are still arriving
        (a["campaign_activity_id"] for a in truth.reportable_activities()),
        key=lambda activity_id: truth.account.activity_by_id[activity_id].send_at,
    )
    with api_client(sandbox) as http:
        first = http.get(f"/v3/reports/email_reports/{aid}/tracking/opens?limit=50").json()
        before = fetch_all(http, aid, "opens", 500)
        sandbox.advance_clock(30 * 86400)
        after = fetch_all(http, aid, "opens", 500)
        # the old cursor still continues exactly after the rows it had already served
        second = http.get(first["_links"]["next"]["href"]).json()["tracking_activities"]
    assert len(after) > len(before)
    assert after[-len(before) :] == before
    assert second == before[50 : 50 + len(second)]


def test_unsent_permalink_and_bad_parameters(sandbox: SandboxServer) -> None:
    truth = sandbox.ground_truth()
    activities = truth.all_activities()
    permalink = next(a for a in activities if a["role"] == "permalink")["campaign_activity_id"]
    scheduled = next(
        a for a in activities if a["role"] == "primary_email" and a["current_status"] == "SCHEDULED"
    )["campaign_activity_id"]
    aid = truth.reportable_activities()[0]["campaign_activity_id"]
    with api_client(sandbox) as http:
        assert http.get(f"/v3/reports/email_reports/{scheduled}/tracking/sends").json() == {
            "tracking_activities": []
        }
        assert http.get(f"/v3/reports/email_reports/{permalink}/tracking/sends").status_code == 404
        bad = http.get(f"/v3/reports/email_reports/{aid}/tracking/opens?limit=abc")
        assert bad.status_code == 400 and isinstance(bad.json(), list)
        partial = http.get(f"/v3/reports/stats/email_campaign_activities/{aid},{scheduled}").json()
        assert [r["campaign_activity_id"] for r in partial["results"]] == [aid]
        assert len(partial["errors"]) == 1
        assert (
            http.get(f"/v3/reports/stats/email_campaign_activities/{aid},not-a-uuid").status_code
            == 404
        )
        contact = truth.tracking(aid, "sends")["contact_id"][0]
        both = http.get(
            f"/v3/reports/contact_reports/{contact}/activity_details"
            "?tracking_activity_type=em_opens&tracking_activities_list=em_sends"
        )
        assert both.status_code == 400


def test_served_rows_carry_each_contacts_own_attributes(sandbox: SandboxServer) -> None:
    """The pages are rendered from pre-built JSON fragments; every field must still be the
    contact's own, as the account defines it one contact at a time."""
    truth = sandbox.ground_truth()
    account = truth.account
    contacts = account.contacts
    seen = Counter()
    with api_client(sandbox) as http:
        for activity in truth.reportable_activities():
            aid = activity["campaign_activity_id"]
            for report in ("sends", "bounces"):
                for row in fetch_all(http, aid, report, 500):
                    index = contacts.index_of(row["contact_id"])
                    expected = {
                        "email_address": contacts.email_address(index),
                        "first_name": contacts.first_name(index),
                        "last_name": contacts.last_name(index),
                        "deleted_at": account.deleted_at(index),
                    }
                    if report == "bounces":
                        expected["current_email_address"] = contacts.current_email_address(index)
                    for field, value in expected.items():
                        assert row.get(field) == value, (report, field, row)
                        seen[field] += value is not None
                    assert row["campaign_activity_id"] == aid
    # the optional fields occur, so their absence elsewhere is a real check
    assert seen["deleted_at"] and seen["first_name"] and seen["current_email_address"]
    assert seen["first_name"] < seen["email_address"]  # some contacts have no name


def test_a_cursor_not_issued_for_the_report_is_a_400(sandbox: SandboxServer) -> None:
    truth = sandbox.ground_truth()
    aid = truth.reportable_activities()[0]["campaign_activity_id"]
    foreign = encode_cursor(limit=50, o=50)  # a well-formed summaries cursor: no row key
    with api_client(sandbox) as http:
        for cursor in ("not-a-cursor!", foreign):
            response = http.get(
                f"/v3/reports/email_reports/{aid}/tracking/sends", params={"next": cursor}
            )
            assert response.status_code == 400, response.text
            assert response.json()[0]["error_key"] == "query.param.next.invalid"


def test_event_cache_is_bounded_in_bytes_and_regenerates_exactly(sandbox: SandboxServer) -> None:
    """A cache too small for the account evicts by size and regenerates identical events."""
    config = sandbox.config
    roomy, tight = SandboxService(config), SandboxService(config, event_cache_bytes=1)
    activities = [a for c in roomy.account.campaigns for a in c.activities if a.reported]
    for activity in activities * 2:  # the second pass regenerates what `tight` evicted
        for report in ("sends", "opens", "clicks", "bounces"):
            expected, got = (
                getattr(roomy.events(activity), report),
                getattr(tight.events(activity), report),
            )
            assert np.array_equal(expected.key, got.key), (activity.activity_id, report)
            assert np.array_equal(expected.contact, got.contact)
        assert len(tight.store) == 1  # never more than one activity over its budget
    assert len(roomy.store) == len(activities)
    assert roomy.store.nbytes == sum(roomy.events(a).nbytes for a in activities) > 0


def test_a_clock_started_before_the_account_replays_its_past(sandbox_factory) -> None:
    """`--clock-start` (the day simulator's): the account as it was, then as time brings it."""
    normal = sandbox_factory(days=8)
    start = normal.config.now - timedelta(days=8)
    replay = sandbox_factory(days=8, clock_start=start)
    assert replay.now() == start and replay.config == normal.config
    with api_client(replay) as http:
        listed = http.get("/v3/emails").json()["campaigns"]
    assert len(listed) < len(normal.ground_truth().account.campaigns)
    assert replay.ground_truth().reportable_activities() == []  # nothing sent yet
    replay.advance_clock((normal.config.now - start).total_seconds())
    later, truth = replay.ground_truth(), normal.ground_truth()
    activities = [a["campaign_activity_id"] for a in truth.reportable_activities()]
    assert [a["campaign_activity_id"] for a in later.reportable_activities()] == activities
    with api_client(replay) as http:
        for activity_id in activities:
            served = fetch_all(http, activity_id, "opens", 500)
            assert len(served) == truth.tracking(activity_id, "opens").num_rows
