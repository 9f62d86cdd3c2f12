"""A legacy v2 key, end to end: `cc-assets refresh` against the sandbox's v2 endpoints lands the
same lake, metrics and marts as v3, incrementally, and fails clearly on bad input."""

from __future__ import annotations

import math
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cc_assets.constant_contact.schemas import RAW_TABLES, TRACKING_REPORTS, TRACKING_TABLES
from cc_assets.constant_contact.token_store import token_store
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.metrics.assets import activity_metrics, campaign_engagement
from cc_assets.sandbox.extra_field import UNKNOWN_FIELD
from cc_assets.sandbox.ground_truth_v2 import V2GroundTruth
from cc_assets.sandbox.process import SandboxServer
from cc_assets.settings import load_settings
from cc_assets_tests.ingestion.conftest import materialize_activity
from cc_assets_tests.ingestion.test_recorded_variants import (
    Landed,
    build_staging,
    lake_environment,
    land,
    query,
    unknown_fields,
)
from cc_assets_tests.ingestion.test_refresh_cli import (
    CLI,
    assert_no_partial_files,
    environment,
    refresh,
)

ORDER = [("created_time", "descending"), ("contact_id", "ascending"), ("url_id", "ascending")]
TIMEOUT = 1200  # seconds a refresh may take on a busy CI machine (a hang still fails)
V2_PAGED_REPORTS = ("sends", "opens", "clicks", "forwards", "unsubscribes", "bounces")


def v2_environment(server: SandboxServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return environment(server, tmp_path, **{**server.v2_client_env(), **extra})


def partition(lake: Path, table: str, key: str) -> Path:
    return lake / "constant_contact" / table / f"campaign_activity_id={key}" / "part-0.parquet"


def assert_v2_lake_equals_truth(lake: Path, truth: V2GroundTruth) -> None:
    sent = truth.sent_campaigns()
    assert sent
    for campaign_id in sent:
        for report in TRACKING_REPORTS:
            got = pq.read_table(partition(lake, TRACKING_TABLES[report].name, campaign_id))
            expected = truth.tracking(campaign_id, report)
            order = [o for o in ORDER if o[0] in expected.column_names]
            got = got.drop_columns(["captured_at"])
            assert got.sort_by(order).equals(expected.sort_by(order)), (campaign_id, report)
        links = pq.read_table(partition(lake, "email_links", campaign_id))
        expected = truth.links(campaign_id)
        got = links.select(expected.column_names).sort_by("url_id")
        assert got.equals(expected.sort_by("url_id")), campaign_id


def read_lake(lake: Path, folder: str) -> list[dict]:
    files = sorted((lake / folder).glob("**/part-*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def pct(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else 100.0 * numerator / denominator


@pytest.mark.slow
@pytest.mark.timeout(2400)  # whole refreshes (dbt included) on a busy machine
def test_v2_refresh_lands_every_report_metrics_and_marts(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = v2_environment(sandbox, tmp_path)
    done = refresh(env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    lake = tmp_path / "lake"
    truth = V2GroundTruth(sandbox.ground_truth())
    assert_v2_lake_equals_truth(lake, truth)
    assert_no_partial_files(lake)

    # The summary report lands as the activity stats; the derived reports agree with it.
    stats = {
        r["campaign_activity_id"]: r
        for r in read_lake(lake, "constant_contact/email_campaign_activity_stats")
    }
    assert sorted(stats) == sorted(truth.sent_campaigns())
    for campaign_id, row in stats.items():
        summary = truth.summary(campaign_id)
        assert row["em_sends"] == summary["sends"] and row["em_opens"] == summary["opens"]
        assert row["em_optouts"] == summary["unsubscribes"]
        unique_opens = pq.read_table(partition(lake, "email_unique_opens", campaign_id))
        assert unique_opens.num_rows == summary["opens"]
        didnotopens = pq.read_table(partition(lake, "email_didnotopens", campaign_id))
        floor = max(summary["sends"] - summary["opens"] - summary["bounces"], 0)
        assert didnotopens.num_rows == floor

    # email_metrics: DESIGN's formulas over the v2 summary counts; device splits null.
    engagement = {
        r["campaign_activity_id"]: r for r in read_lake(lake, "email_metrics/activity_engagement")
    }
    assert sorted(engagement) == sorted(truth.sent_campaigns())
    for campaign_id, row in engagement.items():
        s = truth.summary(campaign_id)
        delivered = s["sends"] - s["bounces"]
        expected = {
            "open_rate": pct(s["opens"], delivered),
            "click_rate": pct(s["clicks"], s["opens"]),
            "bounce_rate": pct(s["bounces"], s["sends"]),
            "did_not_open_rate": pct(max(s["sends"] - s["opens"] - s["bounces"], 0), delivered),
            "unsubscribe_rate": pct(s["unsubscribes"], delivered),
        }
        for name, value in expected.items():
            assert row[name] == pytest.approx(value), (campaign_id, name)
        for name in ("mobile_open_share", "desktop_open_share", "mobile_click_share"):
            assert row[name] is None, (campaign_id, name)

    # The dbt marts: the same rates, device splits null too.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        marts = con.execute(
            "SELECT campaign_activity_id, open_rate, bounce_rate, mobile_open_share "
            "FROM marts.fct_campaign_activity_performance"
        ).fetchall()
    assert sorted(m[0] for m in marts) == sorted(truth.sent_campaigns())
    for campaign_id, open_rate, bounce_rate, mobile_open_share in marts:
        assert open_rate == pytest.approx(engagement[campaign_id]["open_rate"])
        assert bounce_rate == pytest.approx(engagement[campaign_id]["bounce_rate"])
        assert mobile_open_share is None

    # Contact reports: the engaged v2 contacts (the backlog's first day reads each in full).
    details = pq.read_table(
        next((lake / "constant_contact" / "contact_activity_details").glob("*/part-0.parquet"))
    )
    contacts = sorted(set(details["contact_id"].to_pylist()))
    assert contacts
    for contact in contacts[:5]:
        expected = truth.contact_activity(contact, None)
        got = details.filter(pc.equal(details["contact_id"], contact)).select(expected.column_names)
        order = [("created_time", "descending"), ("campaign_activity_id", "ascending")]
        assert got.sort_by(order).equals(expected.sort_by(order)), contact

    # Every raw asset says where its rows came from.
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        for name in RAW_TABLES:
            event = instance.get_latest_materialization_event(
                dg.AssetKey(["constant_contact", name])
            )
            assert event is not None, name
            metadata = event.asset_materialization.metadata
            assert metadata["api_version"].value == "v2", name

    # No secret anywhere: terminal, run logs and storage, Parquet.
    outputs = done.stdout + done.stderr
    for path in (tmp_path / "dagster_home").rglob("*"):
        if path.is_file():
            outputs += path.read_bytes().decode("utf-8", "replace")
    for path in lake.rglob("*.parquet"):
        outputs += path.read_bytes().decode("latin-1")
    for secret in (sandbox.api_key, sandbox.access_token, sandbox.refresh_token):
        assert secret not in outputs


@pytest.mark.slow
@pytest.mark.timeout(2400)  # whole refreshes (dbt included) on a busy machine
def test_v2_incremental_refresh_asks_created_since_and_spends_little(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(seed=5, contacts=1200, campaigns=3)  # sends span several pages
    env = v2_environment(sandbox, tmp_path)
    assert refresh(env, timeout=TIMEOUT).returncode == 0
    lake = tmp_path / "lake"
    before = V2GroundTruth(sandbox.ground_truth())
    sandbox.advance_clock(36 * 3600)
    after = V2GroundTruth(sandbox.ground_truth())
    sandbox.reset_requests()
    done = refresh(env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_v2_lake_equals_truth(lake, after)

    seen = sandbox.requests()
    requests = [
        {"path": path, "query": names}
        for (_, path, _), names in zip(seen["log"], seen["query_names"], strict=True)
    ]
    for campaign_id in before.sent_campaigns():
        for report, lake_report in zip(
            V2_PAGED_REPORTS,
            ("sends", "opens", "clicks", "forwards", "optouts", "bounces"),
            strict=True,
        ):
            path = f"/v2/emailmarketing/campaigns/{campaign_id}/tracking/{report}"
            calls = [r for r in requests if r["path"] == path]
            new = (
                after.tracking(campaign_id, lake_report).num_rows
                - before.tracking(campaign_id, lake_report).num_rows
            )
            assert 1 <= len(calls) <= math.ceil(new / 500) + 1, (path, new, len(calls))
            assert "created_since" in calls[0]["query"], path


def assert_one_clear_line(done, *names: str, secrets: tuple[str, ...] = ()) -> None:
    """A failed refresh: non-zero, each `cc-assets:` line says what to fix (one per failed
    report, one in all for a setting), no traceback, no secret."""
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("cc-assets:")]
    assert lines, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    for line in lines:
        for name in names:
            assert name in line, line
    for secret in secrets:
        assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"CONSTANT_CONTACT_API_KEY": ""}, "CONSTANT_CONTACT_API_KEY"),
        ({"CONSTANT_CONTACT_API_KEY": "wrong-api-key-0123456789"}, "CONSTANT_CONTACT_API_KEY"),
        (
            {
                "CONSTANT_CONTACT_ACCESS_TOKEN": "",
                "CONSTANT_CONTACT_CLIENT_ID": "",
                "CONSTANT_CONTACT_REFRESH_TOKEN": "",
            },
            "CONSTANT_CONTACT_ACCESS_TOKEN",
        ),
    ],
    ids=["no-api-key", "wrong-api-key", "no-access-token"],
)
def test_v2_bad_credentials_fail_in_one_line(
    sandbox: SandboxServer, tmp_path: Path, change: dict[str, str], named: str
) -> None:
    env = v2_environment(sandbox, tmp_path, **change)
    done = refresh(env, timeout=TIMEOUT)
    secrets = (sandbox.api_key, sandbox.access_token, sandbox.refresh_token, sandbox.client_secret)
    assert_one_clear_line(done, named, secrets=(*secrets, "wrong-api-key-0123456789"))
    lake = tmp_path / "lake"
    assert not lake.exists() or not list(lake.rglob("*.parquet"))


@pytest.mark.slow
@pytest.mark.parametrize("link", ["other_path", "other_host", "no_token"])
def test_v2_malformed_next_link_fails_its_report(sandbox_factory, tmp_path: Path, link) -> None:
    server = sandbox_factory(v2_next_link=link)
    done = refresh(v2_environment(server, tmp_path), timeout=TIMEOUT)
    assert_one_clear_line(done, "next_link", secrets=(server.api_key, server.access_token))
    lake = tmp_path / "lake"
    assert_no_partial_files(lake)
    truth = V2GroundTruth(server.ground_truth())
    for campaign_id in truth.sent_campaigns():  # a report either lands whole or not at all
        for report in TRACKING_REPORTS:
            path = partition(lake, TRACKING_TABLES[report].name, campaign_id)
            if path.exists() and report not in ("unique_opens", "didnotopens"):
                got = pq.read_table(path).drop_columns(["captured_at"])
                assert got.num_rows == truth.tracking(campaign_id, report).num_rows


def test_v2_unknown_campaign_fails_without_a_file(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        **sandbox.v2_client_env(),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STORAGE": str(tmp_path / "lake"),
        "CC_ASSETS_STATE_DIR": str(tmp_path / "state"),
    }.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance, pytest.raises(Exception, match="404") as failure:
        materialize_activity(instance, "999999")
    assert "/v2/emailmarketing/campaigns/999999/tracking/sends" in str(failure.value)
    assert sandbox.api_key not in str(failure.value)
    assert not list((tmp_path / "lake").rglob("*999999*"))


@pytest.mark.slow
@pytest.mark.timeout(2400)  # whole refreshes (dbt included) on a busy machine
def test_v2_refresh_under_faults_lands_the_truth_within_the_rate(
    sandbox_factory, tmp_path: Path
) -> None:
    server = sandbox_factory(seed=5, contacts=700, campaigns=3, requests_per_second=4)
    server.set_faults(p_5xx=0.06, p_429=0.06, p_drop=0.04, p_truncate=0.04)
    env = v2_environment(server, tmp_path, CONSTANT_CONTACT_REQUESTS_PER_SECOND="4")
    done = refresh(env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_v2_lake_equals_truth(tmp_path / "lake", V2GroundTruth(server.ground_truth()))
    seen = server.requests()
    assert seen["by_status"].get("500", 0) + seen["by_status"].get("503", 0) > 0
    assert seen["max_in_any_second"] <= 4  # accepted requests in any one second


KILLED_ACCOUNT = {"seed": 5, "contacts": 700, "campaigns": 3, "latency_ms": 15}


@pytest.mark.slow
@pytest.mark.timeout(2400)  # whole refreshes (dbt included) on a busy machine
def test_v2_killed_refresh_then_rerun_lands_the_truth(sandbox_factory, tmp_path: Path) -> None:
    server = sandbox_factory(**KILLED_ACCOUNT)
    truth = V2GroundTruth(server.ground_truth())
    env = v2_environment(server, tmp_path)
    lake = tmp_path / "lake"
    process = subprocess.Popen(
        [CLI, "refresh"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(random.Random(2026).uniform(3.0, 8.0))
    process.send_signal(signal.SIGKILL)
    process.wait()
    if lake.exists():
        assert_no_partial_files(lake)
    done = refresh(env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_v2_lake_equals_truth(lake, truth)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # whole refreshes (dbt included) on a busy machine
def test_v2_two_concurrent_runs_share_the_rate_and_land_the_truth(
    sandbox_factory, tmp_path: Path
) -> None:
    server = sandbox_factory(**KILLED_ACCOUNT, requests_per_second=4)
    truth = V2GroundTruth(server.ground_truth())
    shared_state = str(tmp_path / "shared-state")
    runs = []
    for index in range(2):
        home = tmp_path / f"run{index}"
        home.mkdir()
        run_env = v2_environment(
            server, home, CONSTANT_CONTACT_REQUESTS_PER_SECOND="4", CC_ASSETS_STATE_DIR=shared_state
        )
        runs.append(
            (
                home,
                subprocess.Popen(  # the contact backlog is no part of what is compared
                    [CLI, "refresh", "--contact-calls", "0"],
                    env=run_env,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ),
            )
        )
    for home, run in runs:
        _, stderr = run.communicate(timeout=TIMEOUT)
        assert run.returncode == 0, stderr[-2000:]
        assert_v2_lake_equals_truth(home / "lake", truth)
    seen = server.requests()
    assert seen["max_in_any_second"] <= 4  # accepted requests in any one second


# --- CC's own v2 SDK fixtures: what a real v2 account may send -------------------------------

SDK_ACCOUNT = {"seed": 11, "contacts": 1200, "campaigns": 6, "requests_per_second": 0}
"""Sends over 500 per sent campaign: every report's page 2 is linked by its `next_link`."""
SDK_TIMEOUT = pytest.mark.timeout(1800)  # the shared refresh, metrics and dbt on a busy machine


@dataclass
class SdkLanded:
    server: SandboxServer
    truth: V2GroundTruth
    landed: Landed


@pytest.fixture(scope="module")
def sdk_landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkLanded]:
    """One refresh's runs against a sandbox serving the SDK fixtures' forms (`link_uri`, numeric
    `campaign_id`, no `spam_count`, `last_edit_date`, `/v2/emailcampaigns/...` next links, a
    string `expires_in`) and an undocumented field in every object, after the access token
    expired (so the first call refreshes it); then dbt's staging and `fct_email_events`."""
    root = tmp_path_factory.mktemp("v2_sdk")
    variants = {
        "v2_records": "sdk_fixtures",
        "v2_next_link": "emailcampaigns",
        "unknown_field": "everywhere",
        "token_expires_in": "string",
    }
    with (
        SandboxServer.start(**SDK_ACCOUNT, **variants) as server,
        pytest.MonkeyPatch.context() as patch,
        dg.instance_for_test() as instance,
    ):
        for name, value in {**server.v2_client_env(), **lake_environment(root)}.items():
            patch.setenv(name, value)
        truth = V2GroundTruth(server.ground_truth())
        server.expire_tokens()
        server.reset_requests()
        runs, logs = land(instance, truth.sent_campaigns())
        requests = [path for _, path, _ in server.requests()["log"]]
        resources = {"lake": LakeResource()}
        metrics = [
            dg.materialize(
                [activity_metrics], instance=instance, resources=resources, partition_key=c
            )
            for c in truth.sent_campaigns()
        ]
        metrics.append(
            dg.materialize([campaign_engagement], instance=instance, resources=resources)
        )
        assert all(run.success for run in metrics)
        build_staging("path:models")
        landed = Landed(server, root / "lake", root / "warehouse.duckdb", runs, logs, requests, "")
        yield SdkLanded(server, truth, landed)


CLICK = "campaign_activity_id, contact_id, link_url"


@SDK_TIMEOUT
def test_v2_sdk_fixture_records_land_every_row_with_link_urls(sdk_landed: SdkLanded) -> None:
    """`link_uri` is the click's `link_url`, a numeric `campaign_id` its partition's id, and the
    `/v2/emailcampaigns/...` alias of a next link reads page 2 of the same report."""
    assert_v2_lake_equals_truth(sdk_landed.landed.lake, sdk_landed.truth)
    requests = sdk_landed.landed.requests
    assert not [p for p in requests if p.startswith("/v2/emailcampaigns")]
    for campaign_id in sdk_landed.truth.sent_campaigns():
        sends = f"/v2/emailmarketing/campaigns/{campaign_id}/tracking/sends"
        assert sdk_landed.truth.tracking(campaign_id, "sends").num_rows > 500
        assert requests.count(sends) >= 2, campaign_id  # page 2 through the alias
        clicks = sdk_landed.truth.tracking(campaign_id, "clicks")
        assert clicks.num_rows and clicks["link_url"].null_count == 0
    expected = {
        (r["campaign_activity_id"], r["contact_id"], r["link_url"])
        for campaign_id in sdk_landed.truth.sent_campaigns()
        for r in sdk_landed.truth.tracking(campaign_id, "clicks").to_pylist()
    }
    warehouse = sdk_landed.landed.warehouse
    staged = query(warehouse, f"select {CLICK} from staging.stg_constant_contact__email_clicks")
    events = query(
        warehouse, f"select {CLICK} from marts.fct_email_events where event_type = 'click'"
    )
    assert set(staged) == expected
    assert set(events) == expected


@SDK_TIMEOUT
def test_v2_missing_spam_count_is_null_never_zero(sdk_landed: SdkLanded) -> None:
    lake = sdk_landed.landed.lake
    summaries = read_lake(lake, "constant_contact/email_campaign_summaries")
    stats = read_lake(lake, "constant_contact/email_campaign_activity_stats")
    assert len(summaries) == len(stats) == len(sdk_landed.truth.sent_campaigns())
    assert all(r["abuse"] is None and r["sends"] > 0 for r in summaries)
    assert all(r["em_abuse"] is None and r["em_sends"] > 0 for r in stats)
    staging = "staging.stg_constant_contact__email_campaign"
    warehouse = sdk_landed.landed.warehouse
    staged = query(warehouse, f"select count(*), count(abuse) from {staging}_summaries")
    staged_stats = query(
        warehouse, f"select count(*), count(em_abuse) from {staging}_activity_stats"
    )
    assert staged == [(len(summaries), 0)]
    assert staged_stats == [(len(stats), 0)]


@SDK_TIMEOUT
def test_v2_last_edit_date_is_updated_at(sdk_landed: SdkLanded) -> None:
    truth = sdk_landed.truth
    epoch = truth.service.clock.epoch()
    rows = read_lake(sdk_landed.landed.lake, "constant_contact/email_campaigns")
    expected = {
        v2_id: truth.campaign(v2_id).updated_at_as_of(epoch).replace(microsecond=0)
        for v2_id in truth.sent_campaigns()
    }
    assert {r["campaign_id"]: r["updated_at"] for r in rows} == expected
    staged = query(
        sdk_landed.landed.warehouse,
        "select campaign_id, updated_at from staging.stg_constant_contact__email_campaigns",
    )
    assert dict(staged) == expected


@SDK_TIMEOUT
def test_v2_string_expires_in_refreshes_the_token(sdk_landed: SdkLanded) -> None:
    """The access token expired before the refresh: its first call was refused (401), the token
    endpoint answered `expires_in` as a string, the new pair was stored and every run landed."""
    assert sdk_landed.server.requests()["by_status"].get("401", 0) >= 1
    stored = token_store(load_settings().client()).read()
    assert stored is not None and stored.access_token != sdk_landed.server.access_token
    assert all(run.success for run in sdk_landed.landed.runs.values())


V2_WHERE = {
    "email_campaigns": {"/v2/emailmarketing/campaigns", "/v2/emailmarketing/campaigns/{id}"},
    "email_campaign_summaries": {
        "/v2/emailmarketing/campaigns",
        "/v2/.../tracking/reports/summary",
    },
    "email_campaign_activity_stats": {"/v2/.../tracking/reports/summary"},
}


@SDK_TIMEOUT
@pytest.mark.parametrize("asset", [*V2_WHERE, "reports"])
def test_v2_unknown_fields_are_warned_once_and_named(sdk_landed: SdkLanded, asset: str) -> None:
    landed = sdk_landed.landed
    campaign_id = sdk_landed.truth.sent_campaigns()[0]
    key = campaign_id if asset == "reports" else asset
    unknown = unknown_fields(landed.runs[key])
    if asset == "reports":
        rows = {f"v2 {report}" for report in ("sends", "opens", "clicks", "forwards")}
        rows |= {"v2 optouts", "v2 bounces"}
        assert rows | {"/v2/emailmarketing/campaigns/{id} click_through_details"} <= set(unknown)
    else:
        assert set(unknown) == V2_WHERE[asset]
    for where, names in unknown.items():
        assert names == [UNKNOWN_FIELD], where  # every field the v2 fixtures show is known
        assert len([w for w in landed.logs[key] if f" in {where}, " in w]) == 1, where
