"""The one rule for "lake vs CC's stats" (`stats_match`), over lakes written from the sandbox's
ground truth: counted as of the stats' refresh, the lake agrees; a lagging activity or campaign
is compared (not skipped), so a wrong count before the refresh fails its check."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from upath import UPath

from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.defs.metrics import compute
from cc_assets.defs.metrics.tables import ACTIVITY_ENGAGEMENT, METRICS_PREFIX
from cc_assets.lake.paths import partition_file
from cc_assets.lake.writer import write_partition
from cc_assets.pipeline.stats_match import (
    COUNTS_OF_REPORT,
    KEYS_OF_REPORT,
    ActivityStats,
    match_activity,
)
from cc_assets.sandbox.ground_truth import GroundTruth
from cc_assets_tests.metrics.lake import NOW, account, build_lake
from cc_assets_tests.metrics.test_metrics import materialize_all

REFRESH_EVERY = 2 * 24 * 3600
"""CC's stats refreshed at most every two days: the lake holds events after their refresh."""


def refreshed_at(truth: GroundTruth) -> datetime:
    return datetime.fromtimestamp(truth.service.stats_time(), UTC)


@pytest.fixture(scope="module")
def lagging_lake(tmp_path_factory) -> tuple[GroundTruth, Path, list[str]]:
    """A lake whose stats lag it (read once, copied by the tests that change it)."""
    truth = account(stats_refresh_seconds=REFRESH_EVERY)
    root = tmp_path_factory.mktemp("lagging")
    ids = build_lake(truth, root)
    return truth, root, ids


def independent_counts(truth: GroundTruth, activity_id: str, as_of: datetime) -> dict[str, int]:
    """Each stats key from the ground truth's reports, in Python, up to `as_of`."""
    contacts: dict[str, set[str]] = {}
    counted: dict[str, int] = {}
    for report, keys in COUNTS_OF_REPORT.items():
        rows = truth.tracking(activity_id, report).to_pylist()
        rows = [r for r in rows if r["created_time"] <= as_of]
        contacts[report] = {r["contact_id"] for r in rows}
        for key in keys:
            counted[key] = len(rows) if key.endswith("_all") else len(contacts[report])
    counted["em_not_opened"] = len(contacts["sends"] - contacts["opens"] - contacts["bounces"])
    return counted


def events_after(truth: GroundTruth, activity_id: str, as_of: datetime) -> int:
    return sum(
        sum(r["created_time"] > as_of for r in truth.tracking(activity_id, report).to_pylist())
        for report in COUNTS_OF_REPORT
    )


def test_the_lake_agrees_with_the_stats_counted_as_of_their_refresh(lagging_lake) -> None:
    truth, root, ids = lagging_lake
    refreshed = refreshed_at(truth)
    lagging = 0
    for activity_id in ids:
        stats = ActivityStats(activity_id, refreshed, truth.activity_stats(activity_id))
        match = match_activity(activity_id, stats, UPath(str(root)))
        assert all(match.agrees(r) for r in KEYS_OF_REPORT), (activity_id, match.mismatches)
        held = {key: count.held for key, count in match.counts.items()}
        assert held == independent_counts(truth, activity_id, refreshed)
        assert match.later == events_after(truth, activity_id, refreshed)
        lagging += match.lagging
    assert lagging, "no activity holds events after the stats' refresh: nothing lags"


def test_stats_of_an_earlier_refresh_are_held_against_the_events_up_to_it(lagging_lake) -> None:
    """Stats as CC gave them at an earlier refresh (counted independently): the lake agrees
    with them counted as of that refresh, and not when counted whole."""
    truth, root, ids = lagging_lake
    activity_id = max(ids, key=lambda a: truth.tracking(a, "opens").num_rows)
    times = sorted(r["created_time"] for r in truth.tracking(activity_id, "opens").to_pylist())
    earlier = times[len(times) // 2]
    stats = ActivityStats(activity_id, earlier, independent_counts(truth, activity_id, earlier))
    match = match_activity(activity_id, stats, UPath(str(root)))
    assert not match.mismatches and match.lagging
    assert match.later == events_after(truth, activity_id, earlier) > 0
    assert "stats lag" in match.note()
    whole = match_activity(
        activity_id, ActivityStats(activity_id, None, stats.counts), UPath(str(root))
    )
    assert not whole.agrees("opens") and not whole.lagging


def drop_one_event_before(root: Path, activity_id: str, report: str, as_of: datetime) -> None:
    """The lake loses one `report` event of `activity_id` from before `as_of`: a wrong count."""
    path = Path(str(partition_file(TRACKING_TABLES[report], activity_id, UPath(str(root)))))
    table = pq.read_table(path)
    drop = pc.less_equal(table["created_time"], as_of).to_pylist().index(True)
    pq.write_table(table.take([i for i in range(table.num_rows) if i != drop]), path)


def write_metrics(root: Path, ids: list[str]) -> None:
    for activity_id in ids:
        engagement = compute.compute_activities(UPath(str(root)), [activity_id]).engagement
        write_partition(
            ACTIVITY_ENGAGEMENT,
            activity_id,
            engagement.to_batches(),
            captured_at=NOW,
            root=UPath(str(root)),
            prefix=METRICS_PREFIX,
        )


def test_a_lagging_activity_is_compared_and_a_wrong_count_fails(lagging_lake, tmp_path) -> None:
    """Its metric row counts events after the stats' refresh, so the row itself cannot be held
    against them (the old check skipped it); the events up to the refresh are, and an event
    missing from before the refresh fails the check."""
    truth, built, ids = lagging_lake
    root = tmp_path / "lake"
    shutil.copytree(built, root)
    refreshed = refreshed_at(truth)
    activity_id = next(a for a in ids if events_after(truth, a, refreshed))
    (row,) = compute.compute_activities(UPath(str(root)), [activity_id]).engagement.to_pylist()
    assert row["last_event_time"] > refreshed
    found = compute.reconcile_activity(row, UPath(str(root)))
    assert found.passed and found.metadata["compared"], found.metadata
    assert "stats lag" in found.metadata["note"]

    drop_one_event_before(root, activity_id, "opens", refreshed)
    (row,) = compute.compute_activities(UPath(str(root)), [activity_id]).engagement.to_pylist()
    found = compute.reconcile_activity(row, UPath(str(root)))
    assert not found.passed and "mismatch_opens_all" in found.metadata, found.metadata
    stats = ActivityStats(activity_id, refreshed, truth.activity_stats(activity_id))
    assert not match_activity(activity_id, stats, UPath(str(root)), ["opens"]).agrees("opens")


def test_a_lagging_campaign_is_compared_and_a_wrong_count_fails(lagging_lake, tmp_path) -> None:
    truth, built, ids = lagging_lake
    root = tmp_path / "lake"
    shutil.copytree(built, root)
    materialize_all(root, ids)  # every check passes, the lagging ones compared as of refresh
    campaigns = compute.campaign_engagement(UPath(str(root)), NOW)
    found = compute.reconcile_campaigns(campaigns, UPath(str(root)))
    assert found.passed and found.metadata["lagging"] > 0, found.metadata
    assert "stats lag" in found.metadata["note"]

    refreshed = refreshed_at(truth)
    activity_id = next(a for a in ids if events_after(truth, a, refreshed))
    drop_one_event_before(root, activity_id, "sends", refreshed)
    write_metrics(root, [activity_id])
    campaigns = compute.campaign_engagement(UPath(str(root)), NOW)
    found = compute.reconcile_campaigns(campaigns, UPath(str(root)))
    campaign_id = truth.account.activity_by_id[activity_id].campaign_id
    assert not found.passed, found.metadata
    assert f"{campaign_id} em_sends up to the stats' refresh" in found.metadata["first_mismatches"]


def test_stats_without_a_refresh_time_are_held_against_everything(lagging_lake) -> None:
    truth, root, ids = lagging_lake
    activity_id = ids[0]
    counts = independent_counts(truth, activity_id, NOW + timedelta(days=365))
    match = match_activity(activity_id, ActivityStats(activity_id, None, counts), UPath(str(root)))
    assert not match.mismatches and not match.lagging and match.later == 0
