"""`constant_contact/account_summary`: the day's identity of the account, through its own asset
against a sandbox over HTTP (one call on v3, none on v2, which has no such endpoint)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from cc_assets.constant_contact.accounts import SINGLE
from cc_assets.constant_contact.schemas import ACCOUNT_SUMMARY
from cc_assets.defs.ingestion.assets import account_summary
from cc_assets.lake.paths import lake_root, location, partition_file
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.ingestion.conftest import RESOURCES


def land(lake: Path) -> tuple[dict, int]:
    """Today's account_summary: its one row, and the API calls its materialization counted."""
    day = datetime.now(UTC).date().isoformat()
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [account_summary], instance=instance, resources=RESOURCES, partition_key=day
        )
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    (materialization,) = result.get_asset_materialization_events()
    calls = materialization.materialization.metadata["api_calls"].value
    (row,) = pq.read_table(
        location(partition_file(ACCOUNT_SUMMARY, day, lake_root(str(lake))))
    ).to_pylist()
    return row, calls


def test_v3_lands_the_accounts_identity_in_one_call(
    sandbox: SandboxServer, lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        **sandbox.client_env(),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
    }.items():
        monkeypatch.setenv(name, value)
    sandbox.reset_requests()
    row, calls = land(lake)
    account = sandbox.account()
    assert (row["account"], row["encoded_account_id"], row["organization_name"]) == (
        SINGLE,
        account["encoded_account_id"],
        account["organization_name"],
    )
    assert calls == 1
    assert [path for _, path, _ in sandbox.requests()["log"]] == ["/v3/account/summary"]


def test_v2_lands_the_account_with_its_identity_null_and_no_call(
    sandbox: SandboxServer, lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**sandbox.v2_client_env(), "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sandbox.reset_requests()
    row, calls = land(lake)
    assert (row["account"], row["encoded_account_id"], row["organization_name"]) == (
        SINGLE,
        None,
        None,
    )
    assert calls == 0 and sandbox.requests()["log"] == []
