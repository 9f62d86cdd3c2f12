"""The discovery sensor and the hot-activity schedule with a legacy v2 key, against the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pytest

from cc_assets.definitions import defs
from cc_assets.defs.automation.schedules import hot_activity_refresh_schedule
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.sandbox.ground_truth_v2 import V2GroundTruth
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.automation.test_sensors_and_schedules import _tick
from cc_assets_tests.ingestion.conftest import RESOURCES, materialize_activity


def point_at_v2(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        **server.v2_client_env(),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
    }.items():
        monkeypatch.setenv(name, value)


def test_v2_discovery_adds_the_sent_campaigns_and_follows_the_clock(
    sandbox_factory, lake, instance, monkeypatch
) -> None:
    server = sandbox_factory(campaigns=8)
    point_at_v2(server, monkeypatch)
    expected = set(V2GroundTruth(server.ground_truth()).sent_campaigns())
    result = _tick(instance, None)
    (request,) = result.dynamic_partitions_requests
    assert set(request.partition_keys) == expected
    assert {r.partition_key for r in result.run_requests} == expected
    instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, list(request.partition_keys))
    assert json.loads(result.cursor)["after"]

    again = _tick(instance, result.cursor)
    assert again.run_requests == [] and again.dynamic_partitions_requests == []

    server.advance_clock(3 * 86_400)  # the executing campaign finishes sending
    later = _tick(instance, again.cursor)
    newly = set(V2GroundTruth(server.ground_truth()).sent_campaigns()) - expected
    assert newly
    assert set(later.dynamic_partitions_requests[0].partition_keys) == newly


def test_v2_hot_refresh_job_refreshes_v2_partitions(sandbox, lake, instance, monkeypatch) -> None:
    point_at_v2(sandbox, monkeypatch)
    campaigns = V2GroundTruth(sandbox.ground_truth()).sent_campaigns()
    for campaign_id in campaigns:
        assert materialize_activity(instance, campaign_id).success
    day = datetime.now(UTC).date().isoformat()
    snapshot = dg.materialize(
        [defs().get_assets_def(dg.AssetKey(["constant_contact", "email_campaigns"]))],
        instance=instance,
        resources=RESOURCES,
        partition_key=day,
    )
    assert snapshot.success
    # the day's first run refreshes every activity: the sandbox's sends are weeks old (settled)
    when = datetime(2026, 11, 20, 0, tzinfo=UTC)
    planned = hot_activity_refresh_schedule(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    )
    assert not isinstance(planned, dg.SkipReason), planned
    [request] = planned
    chosen = request.run_config["ops"]["refresh_activities"]["config"]["activity_ids"]
    assert chosen and set(chosen) <= set(campaigns)
    job = defs().resolve_job_def("activity_refresh_job")
    result = job.execute_in_process(
        instance=instance, run_config=request.run_config, resources=RESOURCES
    )
    assert result.success
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(["constant_contact", "email_opens"]),
            asset_partitions=[chosen[0]],
        ),
        limit=1,
    ).records[0]
    assert record.run_id == result.run_id
    assert record.asset_materialization.metadata["api_version"].value == "v2"
