"""What the real v3 API sends, landed: one refresh (the daily snapshots, one activity's reports,
the contact reports, dbt's staging) of a 20-campaign sandbox account that serves the live
API's recorded forms (list `Done` / detail `DONE`, a permalink activity on every campaign,
`campaign_activity_type` on activity stats, `aggregate_percents` as an object of integers) and
an undocumented field in every object of every body. The lake, the staging models, the
sandbox's request log and the run's own log and metadata are compared with the account."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from cc_assets.defs.ingestion.assets import (
    UNKNOWN_FIELDS,
    contact_activity_details,
    email_campaign_activity_stats,
    email_campaign_stats,
    email_campaign_summaries,
    email_campaigns,
)
from cc_assets.sandbox.account import CAMPAIGN_STATUS_OF
from cc_assets.sandbox.extra_field import UNKNOWN_FIELD
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.analytics.test_dbt import dbt_invocation, messages
from cc_assets_tests.ingestion.conftest import RESOURCES, materialize_activity

pytestmark = pytest.mark.timeout(1800)  # the shared refresh and dbt on a busy machine
ACCOUNT = {"seed": 23, "contacts": 300, "campaigns": 20, "requests_per_second": 0}
STAGING = "path:models/staging/constant_contact"


@dataclass
class Landed:
    server: SandboxServer
    lake: Path
    warehouse: Path
    runs: dict[str, dg.ExecuteInProcessResult]
    logs: dict[str, list[str]]
    requests: list[str]
    activity_id: str


def _warnings(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING
    ]


def lake_environment(root: Path) -> dict[str, str]:
    return {
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STORAGE": str(root / "lake"),
        "CC_ASSETS_STATE_DIR": str(root / "state"),
        "CC_ASSETS_WAREHOUSE": str(root / "warehouse.duckdb"),
        "CC_ASSETS_DBT_TARGET": "duckdb",
    }


def land(
    instance: dg.DagsterInstance, activity_ids: list[str]
) -> tuple[dict[str, dg.ExecuteInProcessResult], dict[str, list[str]]]:
    """The refresh's stages as Dagster runs: the daily snapshots, each activity's reports, the
    contact reports. Returns each run and its warnings, by asset (or activity id)."""
    day = datetime.now(UTC).date().isoformat()
    runs: dict[str, dg.ExecuteInProcessResult] = {}

    def daily(asset: dg.AssetsDefinition) -> None:
        runs[asset.key.path[-1]] = dg.materialize(
            [asset], instance=instance, resources=RESOURCES, partition_key=day
        )

    for asset in (email_campaigns, email_campaign_summaries, email_campaign_stats):
        daily(asset)
    daily(email_campaign_activity_stats)
    for activity_id in activity_ids:
        runs[activity_id] = materialize_activity(instance, activity_id)
    daily(contact_activity_details)
    assert all(run.success for run in runs.values())
    return runs, {name: _warnings(instance, run) for name, run in runs.items()}


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landed]:
    root = tmp_path_factory.mktemp("recorded")
    with (
        SandboxServer.start(**ACCOUNT, unknown_field="everywhere", summary_counts="integer") as s,
        pytest.MonkeyPatch.context() as patch,
        dg.instance_for_test() as instance,
    ):
        for name, value in {**s.client_env(), **lake_environment(root)}.items():
            patch.setenv(name, value)
        s.reset_requests()
        activity_id = s.ground_truth().reportable_activities()[0]["campaign_activity_id"]
        runs, logs = land(instance, [activity_id])
        requests = [path for _, path, _ in s.requests()["log"]]
        build_staging(STAGING)
        yield Landed(s, root / "lake", root / "warehouse.duckdb", runs, logs, requests, activity_id)


def build_staging(selection: str) -> None:
    """`dbt build` of the selected models (and their tests) on the lake of CC_ASSETS_STORAGE."""
    invocation = dbt_invocation(["build", "--select", selection])
    lines = list(messages(invocation))
    assert invocation.is_successful(), "\n".join(lines[-30:])


def _snapshot(lake: Path, name: str) -> list[dict[str, Any]]:
    (file,) = (lake / "constant_contact" / name).glob("*/part-0.parquet")
    return pq.read_table(file).to_pylist()


def query(warehouse: Path, sql: str) -> list[tuple]:
    """The rows of `sql` over the dbt warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_campaign_status_kept_as_sent_and_title_cased_in_staging(landed: Landed) -> None:
    """The list says `Done`, the detail `DONE` (a live recording): the lake keeps the detail's
    spelling, staging gives one spelling whichever was sent."""
    account = landed.server.ground_truth().account
    epoch = landed.server.ground_truth().service.clock.epoch()
    raw = {r["campaign_id"]: r["current_status"] for r in _snapshot(landed.lake, "email_campaigns")}
    assert raw == {c.campaign_id: c.status_at(epoch).upper() for c in account.campaigns}
    assert {"DONE", "DRAFT", "SCHEDULED", "EXECUTING"} <= set(raw.values())
    staged = dict(
        query(
            landed.warehouse,
            "select distinct campaign_id, current_status"
            " from staging.stg_constant_contact__email_campaigns",
        )
    )
    assert staged == {c.campaign_id: c.status_at(epoch) for c in account.campaigns}
    assert set(staged.values()) <= set(CAMPAIGN_STATUS_OF.values())


def test_type_code_and_campaign_activity_type_are_stored(landed: Landed) -> None:
    account = landed.server.ground_truth().account
    campaigns = _snapshot(landed.lake, "email_campaigns")
    assert {(r["campaign_id"], r["type_code"]) for r in campaigns} == {
        (c.campaign_id, c.type_code) for c in account.campaigns
    }
    stats = _snapshot(landed.lake, "email_campaign_activity_stats")
    assert stats
    for row in stats:
        assert row["campaign_activity_type"] == account.campaign_by_id[row["campaign_id"]].type_code
    staged = query(
        landed.warehouse,
        "select campaign_activity_id, campaign_activity_type "
        "from staging.stg_constant_contact__email_campaign_activity_stats",
    )
    assert sorted(staged) == sorted(
        (r["campaign_activity_id"], r["campaign_activity_type"]) for r in stats
    )


def test_no_call_on_permalink_activities_yet_every_one_is_a_row(landed: Landed) -> None:
    """Every real campaign has a permalink activity: the snapshot lists it and reads nothing of
    it (the sandbox's request log), for all 20 campaigns."""
    account = landed.server.ground_truth().account
    assert len(account.campaigns) == 20
    permalinks = {a.activity_id for c in account.campaigns for a in c.activities if not a.reported}
    assert len(permalinks) == 20
    assert not [path for path in landed.requests if any(p in path for p in permalinks)]
    rows = {r["campaign_activity_id"]: r for r in _snapshot(landed.lake, "email_campaigns")}
    assert permalinks <= set(rows)
    assert all(rows[p]["role"] == "permalink" for p in permalinks)
    assert all(rows[p]["activity_status"] is None for p in permalinks)
    reported = {a.activity_id for c in account.campaigns for a in c.activities if a.reported}
    details = [re.fullmatch(r"/v3/emails/activities/([^/]+)", p) for p in landed.requests]
    read = [m.group(1) for m in details if m]
    assert sorted(read) == sorted(reported)  # each reported activity's details: one call


def test_aggregate_percents_as_an_object_of_integers(landed: Landed) -> None:
    rows = _snapshot(landed.lake, "email_campaign_summaries")
    assert len(rows) >= 10
    opens, clicks = sum(r["opens"] for r in rows), sum(r["clicks"] for r in rows)
    assert opens > 0
    for row in rows:  # page-level percents, one page here: the same on every row
        assert row["aggregate_percents_click"] == round(100 * clicks / opens)
        assert all(float(row[f"aggregate_percents_{k}"]).is_integer() for k in ("open", "bounce"))


EXPECTED_WHERE = {
    "email_campaigns": {
        "GET /emails",
        "GET /emails campaigns",
        "GET /emails/{id}",
        "GET /emails/{id} campaign_activities",
        "GET /emails/activities/{id}",
        "GET /emails/activities/{id}/send_history",
    },
    "email_campaign_summaries": {
        "email_campaign_summaries",
        "email_campaign_summaries unique_counts",
        "email_campaign_summaries items",
    },
    "email_campaign_stats": {
        "email_campaigns",
        "email_campaigns stats",
        "email_campaigns results",
    },
    "email_campaign_activity_stats": {
        "email_campaign_activities",
        "email_campaign_activities stats",
        "email_campaign_activities results",
    },
    "contact_activity_details": {"activity_details"},
}
ACTIVITY_WHERE = {
    *("sends", "opens", "unique_opens", "didnotopens", "clicks", "forwards", "optouts"),
    *("bounces", "links", "links link_click_counts"),
    *EXPECTED_WHERE["email_campaign_activity_stats"],
}


def unknown_fields(run: dg.ExecuteInProcessResult) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in run.get_asset_materialization_events():
        entry = event.materialization.metadata.get(UNKNOWN_FIELDS)
        found |= entry.value if entry is not None else {}
    return found


@pytest.mark.parametrize("asset", [*EXPECTED_WHERE, "campaign_activity_reports"])
def test_an_unknown_field_is_warned_once_and_named_in_metadata(landed: Landed, asset) -> None:
    """Every endpoint sends an undocumented field: each place it arrives is warned once per run
    (however many pages, campaigns or rows carry it) and named in the asset's metadata."""
    key = landed.activity_id if asset == "campaign_activity_reports" else asset
    expected = ACTIVITY_WHERE if asset == "campaign_activity_reports" else EXPECTED_WHERE[asset]
    unknown = unknown_fields(landed.runs[key])
    assert set(unknown) == expected
    for where, names in unknown.items():
        # only the injected field: what the live API's recorded bodies add (`document_id`,
        # `campaign_activity_type`, ...) is stored or known, never reported as unknown
        flattened = {f"{parent}_{UNKNOWN_FIELD}" for parent in ("percents", "aggregate_percents")}
        assert set(names) <= {UNKNOWN_FIELD, *flattened} and names, where
        warned = [w for w in landed.logs[key] if f" in {where}, " in w]
        assert len(warned) == 1, (where, landed.logs[key])


def test_summary_counts_as_strings_land_the_same(
    landed: Landed, sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs' form (string counts, `aggregate_percents` a one-element array of strings) lands
    the same counts as the recording's form, and the percents to the docs' one decimal."""
    server = sandbox_factory(**ACCOUNT, summary_counts="string")
    for name, value in {**server.client_env(), **lake_environment(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    day = datetime.now(UTC).date().isoformat()
    with dg.instance_for_test() as instance:
        run = dg.materialize(
            [email_campaign_summaries], instance=instance, resources=RESOURCES, partition_key=day
        )
    assert run.success and not unknown_fields(run)
    counted = ("campaign_id", "sends", "opens", "clicks", "bounces", "optouts", "abuse")
    docs = _snapshot(tmp_path / "lake", "email_campaign_summaries")
    recorded = _snapshot(landed.lake, "email_campaign_summaries")
    assert sorted(tuple(r[k] for k in counted) for r in docs) == sorted(
        tuple(r[k] for k in counted) for r in recorded
    )
    opens, clicks = sum(r["opens"] for r in docs), sum(r["clicks"] for r in docs)
    assert all(r["aggregate_percents_click"] == round(100 * clicks / opens, 1) for r in docs)
