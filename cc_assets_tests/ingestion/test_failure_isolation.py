"""One failing report costs only itself: the rest lands, the summary names it, the rerun heals it.

The sandbox breaks two reports for good (persistent path faults): one activity's
`send_history` answers 404 (an optional source: a warning and a null `sent_time`), another
activity's `clicks` report answers 500 (its partition fails after the client's retries).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.schemas import TRACKING_REPORTS, TRACKING_TABLES
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.pipeline import snapshots
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.ingestion.test_refresh_cli import environment, refresh

ORDER = [("created_time", "descending"), ("contact_id", "ascending")]


def _read(lake: Path, name: str, partition: str) -> pa.Table | None:
    folder = lake / "constant_contact" / name
    path = folder / partition / "part-0.parquet"
    return pq.read_table(path) if path.exists() else None


def _tracking_mismatches(lake: Path, server: SandboxServer) -> set[tuple[str, str]]:
    """(activity, report) pairs whose partition is absent or differs from the ground truth."""
    truth = server.ground_truth()
    wrong = set()
    for activity in truth.reportable_activities():
        aid = activity["campaign_activity_id"]
        for report in TRACKING_REPORTS:
            got = _read(lake, TRACKING_TABLES[report].name, f"campaign_activity_id={aid}")
            expected = truth.tracking(aid, report).sort_by(ORDER)
            if got is None or not got.drop_columns(["captured_at"]).sort_by(ORDER).equals(expected):
                wrong.add((aid, report))
    return wrong


def _snapshot(lake: Path, name: str) -> pa.Table:
    return pq.read_table(next((lake / "constant_contact" / name).glob("*/part-0.parquet")))


def _stats_equal_truth(lake: Path, server: SandboxServer) -> None:
    truth = server.ground_truth()
    stats = _snapshot(lake, "email_campaign_activity_stats").to_pylist()
    assert {r["campaign_activity_id"] for r in stats} == {
        a["campaign_activity_id"] for a in truth.reportable_activities()
    }
    for row in stats:
        expected = truth.activity_stats(row["campaign_activity_id"])
        assert {k: row[k] for k in expected} == expected


def _materialized(home: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        return set(instance.get_materialized_partitions(dg.AssetKey(["constant_contact", name])))


@pytest.mark.slow
@pytest.mark.timeout(2400)  # two whole refreshes (metrics and dbt); 500s retried by the client
def test_two_broken_reports_cost_only_themselves_and_the_rerun_heals_them(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    activities = [a["campaign_activity_id"] for a in sandbox.ground_truth().reportable_activities()]
    no_history, broken_clicks = activities[0], activities[1]
    sandbox.set_path_faults(
        {
            f"^/v3/emails/activities/{no_history}/send_history$": 404,
            f"^/v3/reports/email_reports/{broken_clicks}/tracking/clicks$": 500,
        }
    )
    # three tries of the broken report, not ten: what is asserted is its isolation, and a
    # report that keeps answering 500 would otherwise be insisted on for about 90 s
    env = environment(sandbox, tmp_path, CONSTANT_CONTACT_MAX_ATTEMPTS="3")
    lake = tmp_path / "lake"

    first = refresh(env, timeout=1100)

    assert first.returncode == 1, first.stderr[-3000:]
    assert "Traceback" not in first.stdout + first.stderr
    clicks = f"constant_contact/email_clicks[{broken_clicks}]"
    summary = first.stdout[first.stdout.index("summary:") :]
    assert f"FAILED    {clicks}: ServerError" in summary
    assert "summary: " in summary and " 1 failed," in summary
    assert f"send history of {no_history} unavailable" in summary  # the warning, by name
    assert [line for line in first.stderr.splitlines() if clicks in line] == [
        line for line in first.stderr.splitlines() if line.startswith("cc-assets: failed:")
    ]
    # every other partition landed, equal to the ground truth
    assert _tracking_mismatches(lake, sandbox) == {(broken_clicks, "clicks")}
    _stats_equal_truth(lake, sandbox)
    campaigns = _snapshot(lake, "email_campaigns").to_pylist()
    sent = {r["campaign_activity_id"]: r["sent_time"] for r in campaigns}
    assert sent[no_history] is None
    assert all(sent[a] is not None for a in activities if a != no_history)
    home = tmp_path / "dagster_home"
    assert broken_clicks not in _materialized(home, "email_clicks", monkeypatch)
    assert broken_clicks in _materialized(home, "email_opens", monkeypatch)

    sandbox.set_path_faults({})
    second = refresh(env, timeout=1100)

    assert second.returncode == 0, second.stderr[-3000:]
    assert "0 failed, 0 deferred, 0 landed with warnings" in second.stdout
    assert _tracking_mismatches(lake, sandbox) == set()
    _stats_equal_truth(lake, sandbox)
    campaigns = _snapshot(lake, "email_campaigns").to_pylist()
    healed = {r["campaign_activity_id"]: r["sent_time"] for r in campaigns}
    assert all(healed[a] is not None for a in activities)
    assert broken_clicks in _materialized(home, "email_clicks", monkeypatch)


def _client(server: SandboxServer) -> ConstantContactClient:
    settings = ClientSettings(
        base_url=server.base_url, access_token=server.access_token, requests_per_second=0
    )
    return ConstantContactClient(settings)


def test_a_stats_batch_with_one_id_without_stats_lands_the_others(
    sandbox: SandboxServer, lake: Path
) -> None:
    truth = sandbox.ground_truth()
    sent = truth.reportable_activities()
    unsent = next(a for a in truth.all_activities() if a["current_status"] != "DONE")
    campaign_ids = sorted({a["campaign_id"] for a in sent})
    unsent_campaigns = {a["campaign_id"] for a in truth.all_activities()} - set(campaign_ids)
    assert unsent_campaigns, "the account has a campaign with nothing sent"
    lone = sorted(unsent_campaigns)[0]
    with _client(sandbox) as client:
        campaigns = snapshots.campaign_stats(client, [*campaign_ids[:2], lone, *campaign_ids[2:]])
        activity_ids = [a["campaign_activity_id"] for a in sent][:9]
        activities = snapshots.activity_stats(
            client, [*activity_ids, unsent["campaign_activity_id"]]
        )
    # campaigns: CC answers 404 for the whole call; the bisection lands every other campaign
    assert campaigns.incomplete == {(lone,)} and lone in campaigns.errors[0]
    got = {r["campaign_id"]: r for r in campaigns.rows.to_pylist()}
    assert sorted(got) == campaign_ids
    for campaign_id, row in got.items():
        expected = truth.campaign_stats(campaign_id)
        assert {k: row[k] for k in expected["stats"]} == expected["stats"]
    # activities: CC answers results plus `errors`; the results land, the error is reported
    assert activities.incomplete == {(unsent["campaign_activity_id"],)}
    assert activities.errors and unsent["campaign_activity_id"] in activities.errors[0]
    rows = {r["campaign_activity_id"]: r for r in activities.rows.to_pylist()}
    assert sorted(rows) == sorted(activity_ids)
    for activity_id, row in rows.items():
        expected = truth.activity_stats(activity_id)
        assert {k: row[k] for k in expected} == expected
