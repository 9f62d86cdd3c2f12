"""An account connected with months of campaigns: `cc-assets refresh` reads its history newest
first within the day's quota, resumes the next day without reading twice what landed, says how
far it is, and reads nothing sent before `CC_ASSETS_HISTORY_SINCE` / `--since`.

Every sandbox activity here was sent weeks before the real "now", so all of it is history."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.defs.automation.jobs import HISTORY_KEY
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.ingestion.test_refresh_cli import (
    CLI,
    assert_tracking_equals_truth,
    environment,
    refresh,
)

REPO = Path(__file__).resolve().parents[2]
HISTORY_ACCOUNT = {"campaigns": 12, "days": 120}
REPORT_PATH = re.compile(r"/v3/reports/email_reports/([^/]+)/(?:tracking/\w+|links)")


def sent_dates(server: SandboxServer) -> dict[str, date]:
    """Each reportable activity's send date, from the sandbox's own definition."""
    truth = server.ground_truth()
    return {
        a["campaign_activity_id"]: truth.account.activity_by_id[
            a["campaign_activity_id"]
        ].send_at.date()
        for a in truth.reportable_activities()
    }


def report_calls(server: SandboxServer) -> set[str]:
    """Activities a tracking or links report was asked for since the log was reset."""
    found = (REPORT_PATH.fullmatch(path) for _, path, _ in server.requests()["log"])
    return {match.group(1) for match in found if match}


HISTORY_QUERY = """
query History($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename
  ... on Asset { assetObservations(limit: 1) { description metadataEntries { label
    ... on IntMetadataEntry { intValue } } } } } }
"""


def ui_history(dagster_home: Path) -> int:
    """The history's progress as the UI's asset page asks for it: Dagster's GraphQL API over
    the code location of `workspace.yaml` (what `make ui` serves) and the refreshes' instance.
    The activities held, by the latest observation's metadata."""
    with (
        dg.DagsterInstance.from_config(str(dagster_home)) as instance,
        define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context,
    ):
        result = execute_dagster_graphql(
            context, HISTORY_QUERY, {"key": {"path": HISTORY_KEY.path}}
        )
    assert not result.errors, result.errors
    asset = result.data["assetOrError"]
    assert asset["__typename"] == "Asset", asset
    (latest,) = asset["assetObservations"]
    assert latest["description"].startswith("history: "), latest
    entries = {e["label"]: e.get("intValue") for e in latest["metadataEntries"]}
    return entries["history_activities_held"]


def held(lake: Path) -> set[str]:
    """Activities whose sends partition landed."""
    folder = lake / "constant_contact" / TRACKING_TABLES["sends"].name
    return {p.parent.name.split("=", 1)[1] for p in folder.glob("*/part-0.parquet")}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # two whole refreshes on a loaded machine
def test_since_reads_nothing_older_and_moving_it_earlier_reads_only_the_difference(
    sandbox_factory, tmp_path: Path
) -> None:
    server = sandbox_factory(**HISTORY_ACCOUNT)
    sent = sent_dates(server)
    days = sorted(set(sent.values()))
    assert len(days) >= 6, days
    since, earlier = days[len(days) // 2], days[len(days) // 4]
    env = environment(server, tmp_path)
    server.reset_requests()
    done = refresh(env, "--since", since.isoformat(), "--contact-calls", "0")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    recent = {a for a, day in sent.items() if day >= since}
    assert report_calls(server) == recent  # nothing sent before `since` was asked for
    assert held(tmp_path / "lake") == recent
    assert f"history: complete, {len(recent)} of {len(recent)}" in done.stdout

    server.reset_requests()
    done = refresh({**env, "CC_ASSETS_HISTORY_SINCE": earlier.isoformat()}, "--contact-calls", "0")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    difference = {a for a, day in sent.items() if earlier <= day < since}
    assert difference and report_calls(server) == difference
    assert held(tmp_path / "lake") == recent | difference


def test_bad_since_is_one_line(sandbox, tmp_path: Path) -> None:
    done = refresh(environment(sandbox, tmp_path), "--since", "2026-02-30")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--since 2026-02-30" in done.stderr
    done = refresh(environment(sandbox, tmp_path, CC_ASSETS_HISTORY_SINCE="last year"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "CC_ASSETS_HISTORY_SINCE" in done.stderr and "YYYY-MM-DD" in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a whole refresh a day until the history is held
def test_history_over_several_days_of_a_small_quota(sandbox_factory, tmp_path: Path) -> None:
    quota = 130
    server = sandbox_factory(**HISTORY_ACCOUNT, daily_quota=quota)
    sent = sent_dates(server)
    lake = tmp_path / "lake"
    env = environment(server, tmp_path)
    newest_first = sorted(sent, key=lambda a: sent[a], reverse=True)
    before: set[str] = set()
    for day in range(1, 8):
        server.reset_quota()  # a new day of the key's quota on the sandbox ...
        server.reset_requests()
        # ... and on the client, whose count is per real day: `quota` more calls each day
        done = refresh(
            {**env, "CONSTANT_CONTACT_DAILY_QUOTA": str(quota * day)}, "--contact-calls", "0"
        )
        now = held(lake)
        assert not report_calls(server) & before, "a report was read again after it landed"
        assert before < now, f"day {day} landed nothing: {done.stdout[-2000:]}"
        assert set(newest_first[: len(now)]) == now, "the history arrives newest first"
        if now == set(sent):
            assert done.returncode == 0, done.stdout[-3000:]
            assert f"history: complete, {len(sent)} of {len(sent)}" in done.stdout
            break
        assert done.returncode == 1
        assert f"history: {len(now)} of {len(sent)} activities held" in done.stdout, done.stdout
        assert "expected complete on" in done.stdout and "calls still needed" in done.stdout
        assert day > 1 or "deferred  tracking reports" in done.stdout
        before = now
    assert held(lake) == set(sent) and day >= 2, day
    assert_tracking_equals_truth(lake, server)
    # the UI: each activity refresh run observed the history's progress on the stats asset
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        records = instance.fetch_observations(HISTORY_KEY, limit=100).records
    progress = [r.asset_observation.metadata for r in reversed(records)]
    assert len(progress) == day
    assert [m["history_activities_held"].value for m in progress][-1] == len(sent)
    assert all(m["history_activities_known"].value == len(sent) for m in progress)
    assert [m["history_calls_needed"].value for m in progress][-1] == 0
    assert ui_history(tmp_path / "dagster_home") == progress[-1]["history_activities_held"].value
    # `cc-assets status` says so too, without a call
    server.reset_requests()
    status = subprocess.run(
        [CLI, "status"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert status.returncode == 0, status.stderr
    assert f"history: complete, {len(sent)} of {len(sent)} activities held" in status.stdout
    assert "history_calls_needed: 0" in status.stdout
    assert server.requests()["log"] == []
