"""Discovery, schedules and declarative automation on real instances against the sandbox."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml

from cc_assets.definitions import defs
from cc_assets.defs.automation.jobs import ACCOUNT_TAG, DAILY_ASSET_KEYS
from cc_assets.defs.automation.planning import DISCOVERY_CALLS_PER_TICK, backlog_reserve
from cc_assets.defs.automation.schedules import (
    CONTACTS_KEY,
    SnapshotCost,
    activity_calls_by_day,
    daily_snapshot_schedule,
    hot_activity_refresh_schedule,
    hot_candidates,
    snapshot_costs,
)
from cc_assets.defs.automation.sensors import campaign_discovery_sensor
from cc_assets.defs.ingestion.assets import BACKLOG_RESERVE_TAG, CONTACT_CALLS_TAG
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES, snapshot_key
from cc_assets.settings import load_settings
from cc_assets_tests.ingestion.conftest import RESOURCES, materialize_activity, point_at

TICKS = load_settings({}).discovery_ticks_per_day  # the default interval's


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=RESOURCES) as context:
        return campaign_discovery_sensor(context)


def test_discovery_finds_exactly_the_sent_activities_and_follows_the_clock(
    sandbox_factory, lake, instance, monkeypatch
) -> None:
    server = sandbox_factory(campaigns=8)
    point_at(server, monkeypatch)
    truth = server.ground_truth()
    expected = {a["campaign_activity_id"] for a in truth.reportable_activities()}
    result = _tick(instance, None)
    (request,) = result.dynamic_partitions_requests
    assert set(request.partition_keys) == expected
    assert {r.partition_key for r in result.run_requests} == expected
    assert all(r.run_key == f"discover-{r.partition_key}" for r in result.run_requests)
    instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, list(request.partition_keys))
    cursor = json.loads(result.cursor)
    assert cursor["pending"], "campaigns with scheduled/executing activities are remembered"

    server.reset_requests()
    again = _tick(instance, result.cursor)  # nothing changed: nothing new, idempotent
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    paths = [path for _, path, _ in server.requests()["log"]]
    assert paths == ["/v3/emails"], "an idle tick is one list call"
    server.advance_clock(600)  # still nothing sent: the list alone tells
    server.reset_requests()
    idle = _tick(instance, again.cursor)
    assert idle.run_requests == [] and len(server.requests()["log"]) == 1

    server.advance_clock(3 * 86_400)  # the executing and scheduled sends finish
    later = _tick(instance, idle.cursor)
    newly = {
        a["campaign_activity_id"] for a in server.ground_truth().reportable_activities()
    } - expected
    assert newly
    assert set(later.dynamic_partitions_requests[0].partition_keys) == newly


def test_an_api_error_keeps_the_cursor(sandbox, lake, instance, monkeypatch) -> None:
    point_at(sandbox, monkeypatch)
    first = _tick(instance, None)
    sandbox.set_faults(p_429=0.0, p_5xx=0.0)
    sandbox.set_limits(daily_quota=1)  # one idle tick fits; then quota_exceeded is final
    sandbox.reset_quota()
    idle = _tick(instance, first.cursor)
    with (
        dg.build_sensor_context(
            instance=instance, cursor=idle.cursor, resources=RESOURCES
        ) as context,
        pytest.raises(Exception, match="quota"),
    ):
        campaign_discovery_sensor(context)
    assert context.cursor == idle.cursor


def test_daily_schedule_targets_the_day_of_its_tick(lake, instance) -> None:
    when = datetime(2026, 11, 24, 0, 15, tzinfo=UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    [request] = daily_snapshot_schedule(context)  # one run: the one account
    assert request.partition_key == "2026-11-24" and request.run_key == "daily-2026-11-24"
    # nothing refreshed yet: the backlog keeps back only the discovery ticks and the margin
    idle = backlog_reserve(
        now=when, daily_quota=10_000, hot_runs_left=3, hot_run_calls=0, ticks_per_day=TICKS
    )
    assert request.tags[BACKLOG_RESERVE_TAG] == str(idle)


def test_each_accounts_snapshot_is_kept_back_at_its_own_cost(instance) -> None:
    """The reserve keeps back every account's snapshot by its own last cost: one account's
    latest (the newest materialization of the key, whoever's) would keep a 100,000-contact
    account's snapshot at a small one's cost, or twenty at one's. The contact backlog's calls
    are not a snapshot's: it spends only what is left."""
    today, yesterday = datetime(2026, 11, 24, 6, tzinfo=UTC), "2026-11-23"
    per_key = {"acme": 3, "globex": 40}
    for account, day in (("globex", "2026-11-20"), ("acme", "2026-11-24"), ("globex", yesterday)):
        for key in DAILY_ASSET_KEYS:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    key,
                    partition=snapshot_key(account, day),
                    metadata={"api_calls": per_key[account] * (2 if day < yesterday else 1)},
                )
            )
    snapshots = len(DAILY_ASSET_KEYS) - 1  # every daily asset but the contact backlog
    assert CONTACTS_KEY in DAILY_ASSET_KEYS
    assert snapshot_costs(instance, today, ["acme", "globex", "initech"]) == {
        "acme": SnapshotCost(snapshots * 3, True),
        "globex": SnapshotCost(snapshots * 40, False),  # its latest, not the earlier one
        "initech": SnapshotCost(0, False),
    }


_SHARES = """
import json, sys
from datetime import UTC, datetime
import dagster as dg
from cc_assets.defs.automation.jobs import ACCOUNT_TAG, DAILY_ASSET_KEYS
from cc_assets.defs.automation.schedules import daily_snapshot_schedule
from cc_assets.defs.ingestion.partitions import snapshot_key

with dg.instance_for_test() as instance:
    for account, calls in json.loads(sys.argv[1]).items():
        for key in DAILY_ASSET_KEYS:
            instance.report_runless_asset_event(dg.AssetMaterialization(
                key, partition=snapshot_key(account, "2026-11-23"), metadata={"api_calls": calls}
            ))
    when = datetime(2026, 11, 24, 0, 15, tzinfo=UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    print(json.dumps([request.tags for request in daily_snapshot_schedule(context)]))
"""


def test_the_backlogs_share_what_the_days_snapshots_leave(tmp_path) -> None:
    """An accounts file of weights 1, 1 and 2: the contact backlogs share by weight what the
    day leaves after the reserve and after every account's snapshot still to come (each at its
    last cost). Shared before the snapshots had spent their calls, the accounts whose runs came
    last found their shares spent (in a 20-account replay, weight-2 accounts got 309, 162 and 0
    calls). The accounts file is read at import: the schedule runs in a process of its own."""
    accounts_file = tmp_path / "accounts.yaml"
    weights = {"small": 1, "large": 1, "agency": 2}
    accounts_file.write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {"name": name, "refresh_token_env": f"{name.upper()}_TOKEN", "weight": weight}
                    for name, weight in weights.items()
                ]
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CC_", "CONSTANT_"))}
    env |= {
        "CONSTANT_CONTACT_CLIENT_ID": "app",
        "CC_ASSETS_ACCOUNTS": str(accounts_file),
        "CC_ASSETS_STATE_DIR": str(tmp_path / "state"),
        "CC_ASSETS_STORAGE": str(tmp_path / "lake"),
    }
    per_key = {"small": 5, "large": 400, "agency": 60}
    done = subprocess.run(
        [sys.executable, "-c", _SHARES, json.dumps(per_key)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    requests = json.loads(done.stdout)
    shares = {tags[ACCOUNT_TAG]: int(tags[CONTACT_CALLS_TAG]) for tags in requests}
    [reserved] = {int(tags[BACKLOG_RESERVE_TAG]) for tags in requests}
    when = datetime(2026, 11, 24, 0, 15, tzinfo=UTC)
    # nothing read yet: the reserve is the day's discovery of three accounts and the margin
    assert reserved == backlog_reserve(
        now=when,
        daily_quota=10_000,
        hot_runs_left=3,
        hot_run_calls=0,
        accounts=3,
        ticks_per_day=TICKS,
    )
    snapshots = (len(DAILY_ASSET_KEYS) - 1) * sum(per_key.values())
    assert 10_000 - len(weights) < sum(shares.values()) + reserved + snapshots <= 10_000
    assert abs(shares["agency"] - 2 * shares["small"]) <= 1, shares
    assert abs(shares["large"] - shares["small"]) <= 1, shares


def test_the_reserve_follows_the_discovery_interval(lake, instance, monkeypatch) -> None:
    """Discovery every 30 minutes spends a sixth of what every 5 does: the backlog keeps back
    the ticks that will run, not the default's (20 accounts at 5 minutes keep 5,760 calls)."""
    when = datetime(2026, 11, 24, 0, 15, tzinfo=UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    [default] = daily_snapshot_schedule(context)
    monkeypatch.setenv("CC_ASSETS_DISCOVERY_MINUTES", "30")
    [slower] = daily_snapshot_schedule(context)
    ticks = {"5": 285, "30": 48}  # left after 00:15 today (23 h 45 min)
    kept = {
        minutes: int(request.tags[BACKLOG_RESERVE_TAG])
        for minutes, request in (("5", default), ("30", slower))
    }
    assert kept["5"] - kept["30"] == (ticks["5"] - ticks["30"]) * DISCOVERY_CALLS_PER_TICK


@pytest.mark.slow
def test_hot_refresh_is_one_batched_run_within_the_quota(
    sandbox_factory, lake, instance, monkeypatch
) -> None:
    sandbox = sandbox_factory(days=4)  # recent sends: their events still arrive
    point_at(sandbox, monkeypatch)
    activities = [a["campaign_activity_id"] for a in sandbox.ground_truth().reportable_activities()]
    sandbox.reset_requests()
    for activity_id in activities:
        assert materialize_activity(instance, activity_id).success
    # what the first reads spent, by the materializations' own counts, is what the API served
    # (less the stats calls no single report owns)
    now = datetime.now(UTC)
    spent = activity_calls_by_day(instance, now + timedelta(seconds=1))
    served = len(sandbox.requests()["log"])
    assert list(spent) == [now.date().isoformat()] and 0 < spent[now.date().isoformat()] <= served
    assert activity_calls_by_day(instance, now + timedelta(days=8)) == {}, "older than 7 days"
    # a first read (every send) says nothing of what a refresh costs: planned as never refreshed
    assert {c.last_calls for c in hot_candidates(instance)} == {None}
    when = datetime(2026, 11, 20, 18, tzinfo=UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    [request] = hot_activity_refresh_schedule(context)
    chosen = request.run_config["ops"]["refresh_activities"]["config"]["activity_ids"]
    assert set(chosen) <= set(activities) and chosen
    assert int(request.tags["estimated_api_calls"]) <= int(request.tags["run_budget"])
    assert request.tags["cc_assets/deferred_count"] == "0"
    # the day's snapshot leaves the three hot refreshes still to come what one costs, measured
    snapshot_time = datetime(2026, 11, 20, 0, 15, tzinfo=UTC)
    [daily] = daily_snapshot_schedule(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=snapshot_time)
    )
    idle = backlog_reserve(
        now=snapshot_time, daily_quota=10_000, hot_runs_left=3, hot_run_calls=0, ticks_per_day=TICKS
    )
    measured = (int(daily.tags[BACKLOG_RESERVE_TAG]) - idle) / 3
    assert measured >= len(activities) + math.ceil(len(activities) / 10), "a page per activity"
    # 24 discovery ticks are left today (two calls each at most): nothing is left for a refresh
    monkeypatch.setenv("CONSTANT_CONTACT_DAILY_QUOTA", "48")
    late = datetime(2026, 11, 20, 22, tzinfo=UTC)
    tight = hot_activity_refresh_schedule(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=late)
    )
    assert isinstance(tight, dg.SkipReason)
    monkeypatch.delenv("CONSTANT_CONTACT_DAILY_QUOTA")

    job = defs().resolve_job_def("activity_refresh_job")
    sandbox.reset_requests()  # nothing new since the reads above: only the change detector
    result = job.execute_in_process(
        instance=instance, run_config=request.run_config, resources=RESOURCES
    )
    assert result.success
    paths = [path for _, path, _ in sandbox.requests()["log"]]
    assert len(paths) == math.ceil(len(chosen) / 10)
    assert all("/reports/stats/email_campaign_activities/" in p for p in paths)

    sandbox.advance_clock(6 * 3600)  # opens arrive: the batched run lands them
    # a stats batch refused for good costs nothing but its own call: each activity then
    # fetches its own stats (one id, no comma) and is refreshed as usual
    assert len(chosen) > 1
    sandbox.set_path_faults({r"/reports/stats/email_campaign_activities/[^/]*,": 404})
    result = job.execute_in_process(
        instance=instance, run_config=request.run_config, resources=RESOURCES
    )
    sandbox.set_path_faults({})
    assert result.success
    truth = sandbox.ground_truth()
    refreshed = 0
    for activity_id in chosen:
        record = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey(["constant_contact", "email_opens"]),
                asset_partitions=[activity_id],
            ),
            limit=1,
        ).records[0]
        refreshed += record.run_id == result.run_id
        if record.run_id == result.run_id:  # refreshed once: its cost is measured now
            (candidate,) = [c for c in hot_candidates(instance) if c.activity_id == activity_id]
            assert candidate.last_calls is not None and candidate.last_calls > 0
        path = record.asset_materialization.metadata["path"].value
        assert pq.read_metadata(path).num_rows == truth.tracking(activity_id, "opens").num_rows
    assert refreshed


def test_automation_requests_downstream_of_new_raw_data(
    sandbox, lake, instance, monkeypatch
) -> None:
    """New raw data makes the declarative automation request what reads it (metrics, dbt)."""
    point_at(sandbox, monkeypatch)
    activity_id = sandbox.ground_truth().reportable_activities()[0]["campaign_activity_id"]
    loaded = defs()
    first = dg.evaluate_automation_conditions(defs=loaded, instance=instance)
    assert materialize_activity(instance, activity_id).success
    after = dg.evaluate_automation_conditions(defs=loaded, instance=instance, cursor=first.cursor)
    requested = {r.key for r in after.results if r.true_subset.size > 0}
    assert any(key.path[0] == "email_metrics" for key in requested), requested
