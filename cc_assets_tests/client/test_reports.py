"""Every report the client reads equals the sandbox's ground truth, faults or not."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.errors import ForeignLinkError
from cc_assets.constant_contact.schemas import TRACKING_REPORTS
from cc_assets.constant_contact.v2 import V2Reports
from cc_assets.pipeline import snapshots
from cc_assets.pipeline.discovery import REPORTED_ROLES, WAITING_STATUSES
from cc_assets.sandbox.ground_truth_v2 import V2GroundTruth
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.client.conftest import settings_for


def _assert_exact(client: ConstantContactClient, server: SandboxServer) -> None:
    truth = server.ground_truth()
    for activity in truth.reportable_activities():
        aid = activity["campaign_activity_id"]
        for report in TRACKING_REPORTS:
            got = pa.Table.from_batches(list(client.iter_tracking(aid, report)))
            assert got.equals(truth.tracking(aid, report)), (aid, report)
        assert pa.Table.from_batches([client.get_links(aid)]).equals(truth.links(aid))
        stats = client.get_activity_stats([aid]).batch.to_pylist()[0]
        expected = truth.activity_stats(aid)
        assert {k: stats[k] for k in expected} == expected


def test_reports_equal_ground_truth(sandbox: SandboxServer) -> None:
    with ConstantContactClient(settings_for(sandbox)) as client:
        _assert_exact(client, sandbox)
        campaign_ids = sorted(
            {a["campaign_id"] for a in sandbox.ground_truth().reportable_activities()}
        )
        result = client.get_campaign_stats(campaign_ids)
        assert result.errors == []
        truth = sandbox.ground_truth()
        for row in result.batch.to_pylist():
            expected = truth.campaign_stats(row["campaign_id"])
            assert {k: row[k] for k in expected["stats"]} == expected["stats"]
            assert {k: row[f"percents_{k}"] for k in expected["percents"]} == pytest.approx(
                expected["percents"]
            )


def test_reports_survive_faults_and_token_expiry(sandbox_factory) -> None:
    server = sandbox_factory(fault_seed=5)
    with ConstantContactClient(settings_for(server)) as client:
        server.set_faults(p_5xx=0.05, p_429=0.03, p_drop=0.01, p_truncate=0.01)
        server.expire_tokens()
        _assert_exact(client, server)
        seen = server.requests()["by_status"]
    assert seen.get("401", 0) >= 1
    assert sum(v for k, v in seen.items() if k.startswith("5")) >= 1


def test_documented_variants_parse_to_the_same_columns(sandbox_factory) -> None:
    """Every documented response variant the sandbox serves lands identically."""
    plain = sandbox_factory(contacts=2_500)  # a sends report of several 500-row pages
    variant = sandbox_factory(
        contacts=2_500,
        activity_stats_keys="dotted",
        summary_counts="string",
        next_href="absolute",
        activity_type_field="tracking_activities_list",
    )
    results = []
    for server in (plain, variant):
        truth = server.ground_truth()
        aid = truth.reportable_activities()[0]["campaign_activity_id"]
        contact = truth.tracking(aid, "opens")["contact_id"][0].as_py()
        with ConstantContactClient(settings_for(server)) as client:
            ids = [a["campaign_activity_id"] for a in truth.reportable_activities()]
            summaries = pa.Table.from_batches(list(client.iter_campaign_summaries()))
            pages_before = client.pages
            sends = pa.Table.from_batches(list(client.iter_tracking(aid, "sends")))
            assert client.pages - pages_before > 2  # every next link of the report was followed
            results.append(
                (
                    client.get_activity_stats(ids).batch,
                    summaries.drop_columns(
                        [c for c in summaries.column_names if c.startswith("aggregate_percents")]
                    ),
                    sends,
                    pa.Table.from_batches(list(client.iter_contact_activity(contact))),
                )
            )
        assert sends.equals(truth.tracking(aid, "sends"))
    for plain_result, variant_result in zip(*results, strict=True):
        assert plain_result.equals(variant_result)


def test_a_link_to_another_host_is_never_followed(sandbox: SandboxServer) -> None:
    """An absolute href must be on the API's own origin: the bearer token goes with it."""
    with ConstantContactClient(settings_for(sandbox)) as client:
        port = int(sandbox.root_url.rsplit(":", 1)[1])
        for href in (
            "https://example.invalid/v3/emails",
            f"http://127.0.0.1:{port + 1}/v3/emails",
            f"{sandbox.root_url}.example.invalid/v3/emails",
        ):
            with pytest.raises(ForeignLinkError, match="/v3/emails"):
                client.get(href)
        assert client.calls == 0
        assert client.get(f"{sandbox.root_url}/v3/emails")["campaigns"]  # its own origin is fine


def test_activity_stats_report_partial_errors(sandbox: SandboxServer) -> None:
    truth = sandbox.ground_truth()
    done = [a["campaign_activity_id"] for a in truth.reportable_activities()]
    unsent = next(
        a["campaign_activity_id"]
        for a in truth.all_activities()
        if a["current_status"] == "SCHEDULED"
    )
    with ConstantContactClient(settings_for(sandbox)) as client:
        result = client.get_activity_stats([*done, unsent])
    assert result.batch.num_rows == len(done)
    assert len(result.errors) == 1 and unsent in result.errors[0].error_message


def test_v2_campaign_list_pages_through_the_emailcampaigns_alias(sandbox_factory) -> None:
    """CC's SDK recordings link the campaign list's page 2 as `/v2/emailcampaigns?next=...`:
    the client reads it as the same list (more than 50 sent campaigns: two pages) and asks the
    documented path for it."""
    server = sandbox_factory(contacts=50, campaigns=72, v2_next_link="emailcampaigns")
    settings = settings_for(
        server,
        base_url=f"{server.root_url}/v2",
        api_key=server.api_key,
        api_version="v2",
    )
    with ConstantContactClient(settings) as client:
        listed = [c["id"] for c in V2Reports(client).iter_sent_campaigns()]
    assert len(listed) > 50
    assert sorted(listed) == sorted(V2GroundTruth(server.ground_truth()).sent_campaigns())
    paths = [path for _, path, _ in server.requests()["log"]]
    assert paths.count("/v2/emailmarketing/campaigns") == 2
    assert not [p for p in paths if p.startswith("/v2/emailcampaigns")]


def _campaign_rows(server: SandboxServer, previous: pa.Table | None = None) -> pa.Table:
    with ConstantContactClient(settings_for(server)) as client:
        capture = snapshots.campaign_rows(client, previous)
    assert not capture.errors, capture.errors
    return capture.rows


def _sorted(rows: pa.Table) -> list[dict]:
    return sorted(rows.to_pylist(), key=lambda r: (r["campaign_id"], r["campaign_activity_id"]))


def test_a_campaign_listed_unchanged_keeps_its_snapshot_rows(sandbox_factory) -> None:
    """The daily campaign snapshot reads a campaign again only when the list shows it changed
    (or an activity of it is still to be sent): the same rows as a full read, for the list call
    alone when nothing moved. A full read costs each campaign its detail, an activity call and
    a send history, every day."""
    server = sandbox_factory(campaigns=8)
    first = _campaign_rows(server)
    waiting = {
        r["campaign_id"]
        for r in first.to_pylist()
        if r["role"] in REPORTED_ROLES and r["activity_status"] in WAITING_STATUSES
    }
    server.reset_requests()
    again = _campaign_rows(server, first)
    assert _sorted(again) == _sorted(first)
    read = {p.split("/")[3] for _, p, _ in server.requests()["log"] if p.startswith("/v3/emails/")}
    read -= {"activities"}
    assert read <= waiting, "a settled campaign listed unchanged was read again"
    assert len(read) < len({r["campaign_id"] for r in first.to_pylist()})
    server.advance_clock(3 * 86_400)  # the scheduled and executing sends finish
    later = _campaign_rows(server, again)
    assert _sorted(later) == _sorted(_campaign_rows(server))
    assert _sorted(later) != _sorted(again), "the sends that finished show"
