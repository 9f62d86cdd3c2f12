"""Five Constant Contact accounts of one application key, refreshed by `cc-assets refresh` over
real HTTP at the key's real limit (4 requests a second, counted across the accounts).

One sandbox application and one deployment (lake, instance, state) are shared by the tests of
a worker: a refresh lands every account; one account's grant revoked and another's reports
answering 500 for good, only those two fail; then, the grant renewed by `cc-assets accounts
add` and the faults gone, the next refresh completes what failed. The first two refreshes are
module fixtures, so that each test runs one refresh (`make test` runs the tests that read them
on one worker, in this order: cc_assets_tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import yaml

from cc_assets.constant_contact.schemas import TRACKING_REPORTS
from cc_assets.sandbox.ground_truth_v2 import V2GroundTruth
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.client.test_accounts_cli import finish, start_add
from cc_assets_tests.fixtures.accounts import accounts_env
from cc_assets_tests.fixtures.sandbox import free_port
from cc_assets_tests.ingestion.test_refresh_cli import (
    assert_no_partial_files,
    assert_tracking_equals_truth,
    refresh,
)
from cc_assets_tests.ingestion.test_v2_refresh import assert_v2_lake_equals_truth, v2_environment

SIZES = [200, 400, 800, 1600, 3000]
"""Contacts of acct0..acct4: a few hundred to a few thousand (the 100,000-contact account is
`benchmarks/accounts_refresh.py`'s: at 4 calls a second its first read alone takes minutes)."""
RATE = 4
QUOTA = 10_000
PORT = free_port()
"""`accounts add`'s redirect listener, registered as the app's redirect URI."""


@dataclass
class Deployment:
    server: SandboxServer
    home: Path
    env: dict[str, str]

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    def account_lake(self, name: str) -> Path:
        return self.lake / f"account={name}"

    def refresh(self, *args: str):
        self.server.reset_requests()
        return refresh(self.env, "--contact-calls", "10", *args, timeout=900)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    home = tmp_path_factory.mktemp("accounts")
    with SandboxServer.start(
        seed=11,
        contacts=SIZES[0],
        campaigns=3,
        requests_per_second=RATE,
        accounts=len(SIZES),
        account_contacts=SIZES,
        redirect_uris=f"http://127.0.0.1:{PORT}/callback",
    ) as server:
        env = accounts_env(
            server,
            home,
            CONSTANT_CONTACT_REQUESTS_PER_SECOND=str(RATE),
            CONSTANT_CONTACT_DAILY_QUOTA=str(QUOTA),
            CONSTANT_CONTACT_MAX_ATTEMPTS="3",
        )
        yield Deployment(server, home, env)


@dataclass
class Landed:
    """The deployment after its first refresh, and what that refresh printed and was served."""

    deployment: Deployment
    done: subprocess.CompletedProcess[str]
    seen: dict[str, Any]


@pytest.fixture(scope="module")
def accounts_landed(deployment: Deployment) -> Landed:
    """One refresh of every account on a new deployment (once per worker)."""
    done = deployment.refresh()
    return Landed(deployment, done, deployment.server.requests())


def assert_account_equals_truth(deployment: Deployment, name: str) -> None:
    """The account's own lake holds exactly its ground truth: every tracking report and its
    activity stats, and none of another account's activities."""
    lake = deployment.account_lake(name)
    truth = deployment.server.ground_truth(name)
    assert_tracking_equals_truth(lake, truth)
    held = {p.name.split("=", 1)[1] for p in (lake / "constant_contact" / "email_sends").iterdir()}
    assert held == {a["campaign_activity_id"] for a in truth.reportable_activities()}, name
    stats_dir = lake / "constant_contact" / "email_campaign_activity_stats"
    stats = pq.read_table(sorted(stats_dir.glob("*/part-0.parquet"))[-1])
    for row in stats.to_pylist():
        expected = truth.activity_stats(row["campaign_activity_id"])
        assert {k: row[k] for k in expected} == expected, name
    assert (lake / "email_metrics" / "campaign_engagement" / "part-0.parquet").exists()


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the deployment's first refresh: five accounts at 4 calls a second
def test_one_refresh_lands_every_account_within_the_keys_limits(accounts_landed: Landed) -> None:
    done, seen, deployment = accounts_landed.done, accounts_landed.seen, accounts_landed.deployment
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert seen["max_in_any_second"] <= RATE
    assert seen["total"] <= QUOTA
    names = [a["name"] for a in deployment.server.accounts]
    assert set(names) <= set(seen["accounts"]), "every account was read, under the one key"
    for name in names:
        assert_account_equals_truth(deployment, name)
    assert_no_partial_files(deployment.lake)
    assert (deployment.home / "warehouse.duckdb").exists(), "dbt built the marts"


def reauthorize(deployment: Deployment, name: str) -> None:
    """`cc-assets accounts add NAME` for an account already in the file: the test plays the
    browser that consents as the account; the new pair goes to the token store."""
    process, page, _ = start_add(deployment.env, name, port=PORT)
    consent = httpx.get(f"{page}&login_hint={name}", follow_redirects=False)
    assert consent.status_code == 302, consent.text
    assert httpx.get(consent.headers["location"]).status_code == 200
    status, output = finish(process)
    assert status == 0, output


@pytest.fixture(scope="module")
def accounts_failed(accounts_landed: Landed) -> subprocess.CompletedProcess[str]:
    """The next refresh, six hours later, with acct1's grant revoked and acct3's reports
    answering 500 for good (once per worker, after the first refresh's tests)."""
    deployment = accounts_landed.deployment
    assert accounts_landed.done.returncode == 0, accounts_landed.done.stderr[-3000:]
    server = deployment.server
    server.advance_clock(6 * 3600)  # six hours of new events in every account
    server.revoke_refresh_tokens("acct1")
    server.expire_tokens()  # so acct1's next call has to spend its revoked refresh token
    server.set_path_faults({r"^/v3/reports/": 500}, account="acct3")
    try:
        return deployment.refresh()
    finally:
        server.set_path_faults({}, account="acct3")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # up to two refreshes of five accounts at 4 calls a second
def test_a_revoked_grant_and_a_failing_account_cost_only_themselves(
    accounts_landed: Landed, accounts_failed: subprocess.CompletedProcess[str]
) -> None:
    deployment, failed = accounts_landed.deployment, accounts_failed
    assert failed.returncode == 1, failed.stdout[-3000:]
    # our own lines (the runs' Dagster logs are on stderr too)
    lines = [line for line in failed.stderr.splitlines() if line.startswith("cc-assets:")]
    assert [line for line in lines if "acct1" in line] == [
        next(line for line in lines if line.startswith("cc-assets: account acct1: "))
    ], lines
    assert "cc-assets accounts add acct1" in failed.stderr
    assert len([line for line in lines if "acct3" in line]) == 1, lines
    assert "account acct3: failed:" in failed.stderr and "500" in failed.stderr
    assert not [line for line in lines if any(f"acct{i}" in line for i in (0, 2, 4))], lines
    for name in ("acct0", "acct2", "acct4"):
        assert_account_equals_truth(deployment, name)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # up to three refreshes of five accounts at 4 calls a second
def test_once_renewed_and_healed_the_next_refresh_completes_what_failed(
    accounts_landed: Landed, accounts_failed: subprocess.CompletedProcess[str]
) -> None:
    """The grant renewed by `cc-assets accounts add` and the faults gone, a refresh lands every
    account again, reading the reports of only what failed."""
    deployment, server = accounts_landed.deployment, accounts_landed.deployment.server
    assert accounts_failed.returncode == 1, accounts_failed.stdout[-3000:]
    reauthorize(deployment, "acct1")
    done = deployment.refresh()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    seen = server.requests()
    assert seen["max_in_any_second"] <= RATE
    for name in [a["name"] for a in server.accounts]:
        assert_account_equals_truth(deployment, name)
    # what failed is read again; the accounts that landed, with nothing new since, do not read
    # their reports again: CC's activity stats show nothing moved. (An idle refresh still
    # re-reads a few reports whose stats it cannot match; a whole read is every report of
    # every activity.)
    tracking = Counter(
        account
        for (_, path, _), account in zip(seen["log"], seen["accounts"], strict=True)
        if "/tracking/" in path
    )
    assert tracking["acct1"] and tracking["acct3"], tracking
    for name in ("acct0", "acct2", "acct4"):
        whole = len(server.ground_truth(name).reportable_activities()) * len(TRACKING_REPORTS)
        assert tracking[name] <= whole // 4, (name, tracking)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_v2_key_refreshes_each_account_with_its_own_token(
    sandbox_factory, tmp_path: Path
) -> None:
    """Legacy v2: one API key, an access token per account, the same accounts file."""
    server = sandbox_factory(
        seed=5, contacts=300, campaigns=3, accounts=2, account_contacts=[300, 500]
    )
    (tmp_path / "accounts.yaml").write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {"name": a["name"], "access_token_env": f"{a['name'].upper()}_TOKEN"}
                    for a in server.accounts
                ]
            }
        )
    )
    env = v2_environment(
        server,
        tmp_path,
        CONSTANT_CONTACT_ACCESS_TOKEN="",
        CONSTANT_CONTACT_REFRESH_TOKEN="",
        CC_ASSETS_ACCOUNTS=str(tmp_path / "accounts.yaml"),
        **{f"{a['name'].upper()}_TOKEN": a["access_token"] for a in server.accounts},
    )
    done = refresh(env, "--contact-calls", "5", timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for account in server.accounts:
        name = account["name"]
        truth = V2GroundTruth(server.ground_truth(name))
        assert_v2_lake_equals_truth(tmp_path / "lake" / f"account={name}", truth)
