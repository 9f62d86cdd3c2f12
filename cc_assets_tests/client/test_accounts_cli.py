"""`cc-assets accounts add` and `list` against a sandbox application of three accounts, over
real HTTP: the test plays the browser (it opens the printed authorize page as the consenting
account and follows the redirect to the command's listener). The accounts share one server:
acct0 and acct1 are only read; acct1 is authorized by `add`; acct2's grant is revoked last."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import httpx
import pytest
import yaml

from cc_assets.constant_contact.accounts import read_accounts
from cc_assets.constant_contact.schemas import EMAIL_CAMPAIGNS
from cc_assets.defs.ingestion.assets import email_campaigns
from cc_assets.lake.writer import read_partition
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.fixtures.sandbox import SMALL_ACCOUNT, free_port
from cc_assets_tests.ingestion.conftest import RESOURCES

CLI = str(Path(sys.executable).parent / "cc-assets")
SIZES = [300, 500, 300]


PORT = free_port()
"""The redirect listener's port: registered in the sandbox app as CC registers an app's."""


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer.start(
        **{**SMALL_ACCOUNT, "campaigns": 3},
        accounts=len(SIZES),
        account_contacts=SIZES,
        redirect_uris=f"http://127.0.0.1:{PORT}/callback",
    ) as running:
        yield running


def app_env(server: SandboxServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The application's variables (no account's token) and a state folder of the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONSTANT_CONTACT", "CC_"))}
    return {
        **env,
        **server.application_env(),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STATE_DIR": str(tmp_path / "state"),
        "CC_ASSETS_ACCOUNTS": str(tmp_path / "accounts.yaml"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        **extra,
    }


def start_add(
    env: dict[str, str], name: str, port: int = PORT
) -> tuple[subprocess.Popen[str], str, dict[str, str]]:
    """`accounts add NAME` listening on the registered `port`, the authorize page it prints
    and the page's query."""
    process = subprocess.Popen(
        [CLI, "accounts", "add", name, "--port", str(port), "--no-browser"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("http"):
            page = line.strip()
            return process, page, dict(httpx.QueryParams(urlsplit(page).query))
    process.wait(timeout=30)
    pytest.fail(f"no authorize page printed: {process.stderr.read() if process.stderr else ''}")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, text=True, capture_output=True, timeout=120, check=False
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out + err


def secrets_of(server: SandboxServer, tmp_path: Path) -> list[str]:
    """Every token the server issued at start and every token the store now holds."""
    found = [server.client_secret]
    for account in server.accounts:
        found += [account["refresh_token"], account["access_token"]]
    for path in (tmp_path / "state").glob("tokens-*.json"):
        found += [v for k, v in yaml.safe_load(path.read_text()).items() if k.endswith("token")]
    return [s for s in found if s]


def test_add_authorizes_with_pkce_stores_the_pair_and_lists_the_account(
    server: SandboxServer, tmp_path: Path
) -> None:
    env = app_env(server, tmp_path)
    process, page, query = start_add(env, "acct1")
    assert page.startswith(server.authorize_url)
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 32
    assert "offline_access" in query["scope"].split() and "code_verifier" not in query
    assert urlsplit(query["redirect_uri"]).hostname == "127.0.0.1"

    # the browser: the consent page of acct1, then the redirect to the command's listener
    consent = httpx.get(f"{page}&login_hint=acct1", follow_redirects=False)
    assert consent.status_code == 302, consent.text
    landed = httpx.get(consent.headers["location"])
    assert landed.status_code == 200 and "authorized" in landed.text

    status, output = finish(process)
    assert status == 0, output
    acct1 = server.account("acct1")
    assert f"authorized acct1: {acct1['organization_name']} ({acct1['encoded_account_id']})" in (
        output
    )
    (listed,) = read_accounts(tmp_path / "accounts.yaml")
    assert (listed.name, listed.token_store_key) == ("acct1", "acct1")

    shown = cli(env, "accounts", "list")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    (row,) = [line for line in shown.stdout.splitlines() if line.startswith("acct1")]
    assert acct1["encoded_account_id"] in row and " ok " in f"{row} "
    assert "last refresh: none in the last 30 days" in shown.stdout  # a new instance
    for secret in secrets_of(server, tmp_path):
        assert secret not in output + shown.stdout + shown.stderr

    # the stored pair is what the pipeline reads: acct1's campaigns, not account 0's
    today = datetime.now(UTC).date().isoformat()
    lake = tmp_path / "lake"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**env, "CC_ASSETS_STORAGE": str(lake)}.items():
            patch.setenv(name, value)
        with dg.instance_for_test() as instance:  # entered after: restores the patched home
            result = dg.materialize(
                [email_campaigns], instance=instance, resources=RESOURCES, partition_key=today
            )
    assert result.success
    held = read_partition(EMAIL_CAMPAIGNS, today, root=lake)
    assert held is not None
    truth = {a["campaign_activity_id"] for a in server.ground_truth("acct1").all_activities()}
    other = {a["campaign_activity_id"] for a in server.ground_truth().all_activities()}
    assert set(held.column("campaign_activity_id").to_pylist()) == truth != other


def test_a_redirect_with_another_state_is_refused_and_stores_nothing(
    server: SandboxServer, tmp_path: Path
) -> None:
    process, _, query = start_add(app_env(server, tmp_path), "forged")
    # a page of someone else's sends the browser to the listener with a code of theirs
    forged = httpx.get(query["redirect_uri"], params={"code": "theirs", "state": "x" * 43})
    assert forged.status_code == 200

    status, output = finish(process)
    assert status != 0 and "state" in output and "refused" in output
    with pytest.raises(httpx.TransportError):  # the listener answered once and closed
        httpx.get(query["redirect_uri"], params={"code": "again", "state": query["state"]})
    assert not list((tmp_path / "state").glob("tokens-*forged*"))
    assert not (tmp_path / "accounts.yaml").exists()


def test_a_declined_consent_is_one_line(server: SandboxServer, tmp_path: Path) -> None:
    process, page, _ = start_add(app_env(server, tmp_path), "declined")
    server.set_consenting_account(None)
    try:
        consent = httpx.get(page, follow_redirects=False)
    finally:
        server.set_consenting_account("acct0")
    httpx.get(consent.headers["location"])

    status, output = finish(process)
    assert status == 1 and "did not grant the app (access_denied)" in output
    assert "Traceback" not in output


def test_list_names_two_names_of_one_account_and_a_revoked_grant(
    server: SandboxServer, tmp_path: Path
) -> None:
    acct0, acct2 = server.account("acct0"), server.account("acct2")
    (tmp_path / "accounts.yaml").write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {"name": "main", "access_token_env": "MAIN_TOKEN"},
                    {"name": "again", "access_token_env": "MAIN_TOKEN"},
                    {"name": "gone", "refresh_token_env": "GONE_REFRESH", "weight": 2},
                ]
            }
        )
    )
    server.revoke_refresh_tokens("acct2")
    env = app_env(
        server,
        tmp_path,
        MAIN_TOKEN=acct0["access_token"],
        GONE_REFRESH=acct2["refresh_token"],
    )

    shown = cli(env, "accounts", "list")

    assert shown.returncode == 1
    rows = {line.split()[0]: line for line in shown.stdout.splitlines()[2:]}
    assert (
        acct0["encoded_account_id"] in rows["main"] and acct0["encoded_account_id"] in rows["again"]
    )
    assert "REFUSED" in rows["gone"] and "`cc-assets accounts add gone`" in rows["gone"]
    assert "account 'gone'" in rows["gone"] and " 2 " in rows["gone"]
    assert (
        "CC_ASSETS_ACCOUNTS: accounts 'main' and 'again' are one Constant Contact account"
        in shown.stderr
    )
    for secret in secrets_of(server, tmp_path):
        assert secret not in shown.stdout + shown.stderr

    unknown = cli(env, "refresh", "--account", "nosuch")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        "cc-assets: --account: 'nosuch' is not an account of main, again, gone"
    ]
    refused = cli(env, "refresh")  # two names of one account: refused before anything is read
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "cc-assets: CC_ASSETS_ACCOUNTS: accounts 'main' and 'again' are one Constant Contact "
        f"account ({acct0['encoded_account_id']}); list it once"
    ]
