"""The activity-partitioned raw assets equal the sandbox's ground truth, and stay equal as
events arrive, with API calls that grow with the new events only."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.schemas import EMAIL_LINKS, TRACKING_REPORTS, TRACKING_TABLES
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.lake.paths import partition_file
from cc_assets.pipeline import activity_reads
from cc_assets_tests.ingestion.conftest import materialize_activity, point_at


def _lake_table(lake: Path, name: str, activity_id: str):
    path = (
        lake / "constant_contact" / name / f"campaign_activity_id={activity_id}" / "part-0.parquet"
    )
    return pq.read_table(path).drop_columns(["captured_at"])


def _assert_lake_equals_truth(lake: Path, server, activity_ids: list[str]) -> None:
    truth = server.ground_truth()
    for aid in activity_ids:
        for report in TRACKING_REPORTS:
            got = _lake_table(lake, TRACKING_TABLES[report].name, aid)
            expected = truth.tracking(aid, report)
            assert got.num_rows == expected.num_rows, (aid, report)
            assert got.sort_by(
                [("created_time", "descending"), ("contact_id", "ascending")]
            ).equals(
                expected.sort_by([("created_time", "descending"), ("contact_id", "ascending")])
            ), (aid, report)
        assert _lake_table(lake, "email_links", aid).equals(truth.links(aid))


def test_every_activity_report_equals_ground_truth(sandbox, lake, instance, monkeypatch) -> None:
    point_at(sandbox, monkeypatch)
    activity_ids = [
        a["campaign_activity_id"] for a in sandbox.ground_truth().reportable_activities()
    ]
    for aid in activity_ids:
        result = materialize_activity(instance, aid)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]
    _assert_lake_equals_truth(lake, sandbox, activity_ids)
    materialization = result.asset_materializations_for_node("campaign_activity_reports")[0]
    assert materialization.metadata["source"].value == "sandbox"


def test_incremental_refresh_reads_only_new_events(sandbox, lake, instance, monkeypatch) -> None:
    point_at(sandbox, monkeypatch)
    truth = sandbox.ground_truth()
    aid = max(
        (a["campaign_activity_id"] for a in truth.reportable_activities()),
        key=lambda activity_id: truth.account.activity_by_id[activity_id].send_at,
    )
    assert materialize_activity(instance, aid).success
    before = {r: truth.tracking(aid, r).num_rows for r in TRACKING_REPORTS}
    sandbox.advance_clock(6 * 3600)
    after_truth = sandbox.ground_truth()
    result = materialize_activity(instance, aid)
    assert result.success
    calls = {
        m.asset_key.path[-1]: m.metadata["api_calls"].value
        for m in result.asset_materializations_for_node("campaign_activity_reports")
    }
    reads = {
        m.asset_key.path[-1]: m.metadata["read"].value
        for m in result.asset_materializations_for_node("campaign_activity_reports")
    }
    for report in TRACKING_REPORTS:  # a report whose stats did not move is not read at all
        name = TRACKING_TABLES[report].name
        new = after_truth.tracking(aid, report).num_rows - before[report]
        assert calls.get(name, 0) <= math.ceil(max(new, 0) / 500) + 1, report
        if new > 0 and report in {"opens", "clicks", "bounces", "optouts", "forwards"}:
            assert reads[name] == "api", report
    assert "email_sends" not in reads, "a completed send is read once"
    assert calls.get("email_didnotopens", 0) == 0 and calls.get("email_unique_opens", 0) == 0
    _assert_lake_equals_truth(lake, sandbox, [aid])


@pytest.mark.slow
def test_derived_reports_equal_the_api_with_resends_and_bounces(
    sandbox_factory, lake, instance, monkeypatch
) -> None:
    """didnotopens, unique_opens and link clicks derived from the events held equal the API's
    own reports, for primary sends and resends, as events arrive over two weeks. The lake is
    an account's of an accounts file (`account=<name>/`): DuckDB then reads an `account`
    column from the path, which no derivation may carry into a file."""
    server = sandbox_factory(seed=5, campaigns=9, contacts=900)
    point_at(server, monkeypatch)
    lake = lake / "account=acme"
    monkeypatch.setenv("CC_ASSETS_STORAGE", str(lake))
    truth = server.ground_truth()
    activities = truth.reportable_activities()
    assert any(a["role"] == "resend" for a in activities)
    ids = [a["campaign_activity_id"] for a in activities]
    for aid in ids:
        assert materialize_activity(instance, aid).success
    derived_seen = set()
    for _ in range(4):
        server.advance_clock(3 * 86_400 + 7_200)
        for aid in ids:
            result = materialize_activity(instance, aid)
            assert result.success
            for m in result.asset_materializations_for_node("campaign_activity_reports"):
                if m.metadata["read"].value == "derived":
                    derived_seen.add(m.asset_key.path[-1])
                    assert m.metadata["api_calls"].value == 0
        assert all(truth.tracking(a, "bounces").num_rows for a in ids)
        _assert_lake_equals_truth(lake, server, ids)
    assert derived_seen == {"email_didnotopens", "email_unique_opens", "email_links"}


def test_a_refresh_with_nothing_new_spends_only_the_change_detector(
    sandbox, lake, instance, monkeypatch
) -> None:
    point_at(sandbox, monkeypatch)
    aid = sandbox.ground_truth().reportable_activities()[0]["campaign_activity_id"]
    assert materialize_activity(instance, aid).success
    sandbox.reset_requests()
    result = materialize_activity(instance, aid)
    assert result.success
    paths = [path for _, path, _ in sandbox.requests()["log"]]
    assert len(paths) == 1 and "/reports/stats/email_campaign_activities/" in paths[0], paths
    assert result.asset_materializations_for_node("campaign_activity_reports") == []
    _assert_lake_equals_truth(lake, sandbox, [aid])


def test_faults_and_token_expiry_still_give_ground_truth(
    sandbox_factory, lake, instance, monkeypatch
) -> None:
    server = sandbox_factory(fault_seed=3)
    point_at(server, monkeypatch)
    server.set_faults(p_5xx=0.05, p_429=0.03, p_drop=0.01, p_truncate=0.01)
    server.expire_tokens()
    activity_ids = [
        a["campaign_activity_id"] for a in server.ground_truth().reportable_activities()
    ]
    for aid in activity_ids:
        assert materialize_activity(instance, aid).success
    server.set_faults(p_5xx=0, p_429=0, p_drop=0, p_truncate=0)
    _assert_lake_equals_truth(lake, server, activity_ids)
    assert server.requests()["by_status"].get("401", 0) >= 1


def test_unknown_activity_fails_clearly_and_writes_nothing(
    sandbox, lake, instance, monkeypatch
) -> None:
    point_at(sandbox, monkeypatch)
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(Exception, match="404"):
        materialize_activity(instance, unknown)
    assert not list(lake.rglob("*.parquet"))


def test_the_read_plan_is_data_and_reads_what_disagrees_with_the_stats(
    sandbox, lake, instance, monkeypatch
) -> None:
    """Once an activity is landed its plan holds no API read of an event report (only the
    derivable reports and the links, each decided when run); a lake that lost an open from
    before the stats' refresh plans the opens read again."""
    point_at(sandbox, monkeypatch)
    aid = sandbox.ground_truth().reportable_activities()[0]["campaign_activity_id"]
    assert materialize_activity(instance, aid).success
    settings = ClientSettings(
        base_url=sandbox.base_url, access_token=sandbox.access_token, requests_per_second=0
    )
    root = UPath(str(lake))
    selected = {t.name for t in [*TRACKING_TABLES.values(), EMAIL_LINKS]}
    with ConstantContactClient(settings) as client:
        stats = activity_reads.fetch_stats(client, [aid])[aid]
    when = {"stats": stats, "captured_at": datetime.now(UTC), "root": root, "selected": selected}
    plan = activity_reads.planned_reads(aid, **when)
    assert [(p.table.name, p.how) for p in plan] == [
        ("email_didnotopens", activity_reads.DERIVE),
        ("email_unique_opens", activity_reads.DERIVE),
        ("email_links", activity_reads.LINKS_READ),
    ]
    path = Path(str(partition_file(TRACKING_TABLES["opens"], aid, root)))
    opens = pq.read_table(path)
    early = [t <= stats.last_refresh_time for t in opens["created_time"].to_pylist()]
    drop = early.index(True)
    pq.write_table(opens.take([i for i in range(opens.num_rows) if i != drop]), path)
    plan = activity_reads.planned_reads(aid, **when)
    assert plan[0] == activity_reads.PlannedRead(TRACKING_TABLES["opens"], activity_reads.READ)
    assert [p.how for p in plan[1:]] == [activity_reads.DERIVE] * 2 + [activity_reads.LINKS_READ]
