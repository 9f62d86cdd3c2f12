"""Several accounts under one application, over real HTTP against one served sandbox.

Each account is used by the tests that need it alone (acct2 is revoked, acct3 authorizes
through the authorize endpoint), so the tests share one server in any order.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cc_assets.sandbox import cli
from cc_assets.sandbox.ground_truth_v2 import V2GroundTruth
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.fixtures.sandbox import SMALL_ACCOUNT
from cc_assets_tests.sandbox.conftest import refresh, token_call

SIZES = (300, 900, 600, 300)
ACCOUNTS = {"accounts": len(SIZES), "account_contacts": SIZES}
REDIRECT = "http://127.0.0.1:8799/callback"
CUSTOMER_KEYS = {
    "contact_email",
    "contact_phone",
    "country_code",
    "encoded_account_id",
    "first_name",
    "last_name",
    "organization_name",
    "organization_phone",
    "state_code",
    "time_zone_id",
    "website",
}
OLD_FIRST_LINE = {
    "base_url",
    "token_url",
    "client_id",
    "client_secret",
    "refresh_token",
    "access_token",
    "api_key",
    "v2_base_url",
}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer.start(**SMALL_ACCOUNT, **ACCOUNTS, redirect_uris=REDIRECT) as running:
        yield running


def as_account(server: SandboxServer, name: str, token: str | None = None) -> httpx.Client:
    token = token or server.account(name)["access_token"]
    return httpx.Client(
        base_url=server.root_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def campaign_ids(http: httpx.Client) -> set[str]:
    return {c["campaign_id"] for c in http.get("/v3/emails?limit=50").json()["campaigns"]}


def test_first_line_lists_every_account_and_account_0_is_the_servers_own(server) -> None:
    line = server.info
    assert set(line) == OLD_FIRST_LINE | {"authorize_url", "accounts"}
    names = [a["name"] for a in line["accounts"]]
    assert names == ["acct0", "acct1", "acct2", "acct3"]
    assert set(line["accounts"][0]) == {
        "name",
        "encoded_account_id",
        "organization_name",
        "refresh_token",
        "access_token",
    }
    assert line["accounts"][0]["refresh_token"] == line["refresh_token"]
    assert len({a["encoded_account_id"] for a in line["accounts"]}) == len(SIZES)
    assert len({a["refresh_token"] for a in line["accounts"]}) == len(SIZES)
    assert line["authorize_url"] == f"{server.root_url}/oauth2/default/v1/authorize"
    sizes = [server.ground_truth(name).account.contacts.count for name in names]
    assert sizes == list(SIZES)
    assert server.ground_truth().account.config == server.ground_truth("acct0").account.config


def test_each_token_sees_its_own_accounts_data_only(server) -> None:
    with as_account(server, "acct0") as a, as_account(server, "acct1") as b:
        mine, theirs = campaign_ids(a), campaign_ids(b)
        assert mine == {c.campaign_id for c in server.ground_truth("acct0").account.campaigns}
        assert theirs == {c.campaign_id for c in server.ground_truth("acct1").account.campaigns}
        assert not mine & theirs
        other = server.ground_truth("acct1").reportable_activities()[0]["campaign_activity_id"]
        assert b.get(f"/v3/reports/email_reports/{other}/tracking/sends").status_code == 200
        assert a.get(f"/v3/reports/email_reports/{other}/tracking/sends").status_code == 404
        assert a.get(f"/v3/emails/activities/{other}").status_code == 404
        ids = a.get("/v3/account/summary").json()["encoded_account_id"]
        assert ids == server.account("acct0")["encoded_account_id"]
        assert (
            b.get("/v3/account/summary").json()["encoded_account_id"]
            == (server.account("acct1")["encoded_account_id"])
        )
    seen = server.requests()
    assert {"acct0", "acct1"} <= set(seen["accounts"])
    assert len(seen["accounts"]) == len(seen["log"])


def test_v2_serves_the_tokens_account_under_the_one_api_key(server) -> None:
    query = {"api_key": server.api_key, "status": "SENT", "limit": "50"}
    for name in ("acct0", "acct1"):
        with as_account(server, name) as http:
            listed = http.get("/v2/emailmarketing/campaigns", params=query).json()["results"]
        expected = V2GroundTruth(server.ground_truth(name)).sent_campaigns()
        assert sorted(str(c["id"]) for c in listed) == sorted(expected)


def test_account_summary_is_cc_customer_object(server) -> None:
    with as_account(server, "acct1") as http:
        plain = http.get("/v3/account/summary")
        assert plain.status_code == 200
        assert set(plain.json()) == CUSTOMER_KEYS
        assert plain.json()["organization_name"] == server.account("acct1")["organization_name"]
        full = http.get("/v3/account/summary?extra_fields=physical_address,company_logo").json()
        assert set(full) == CUSTOMER_KEYS | {"physical_address"}  # no logo exists
        assert {"address_line1", "city", "country_code"} <= set(full["physical_address"])
        wrong = http.get("/v3/account/summary?extra_fields=logo")
        assert wrong.status_code == 400
        assert wrong.json()[0]["error_key"] == "query.param.invalid"
    assert httpx.get(f"{server.base_url}/account/summary").status_code == 401


def test_rate_limit_counts_every_account_of_the_key(server) -> None:
    """Two accounts at once: the fifth request in any second, from either, is a 429."""
    server.set_limits(requests_per_second=4)
    server.reset_requests()
    statuses: list[int] = []
    try:

        def hammer(name: str) -> None:
            with as_account(server, name) as http:
                # until the limit has refused someone after a second's worth was accepted
                while (statuses.count(200) < 6 or 429 not in statuses) and len(statuses) < 5000:
                    statuses.append(http.get("/v3/emails").status_code)

        threads = [threading.Thread(target=hammer, args=(n,)) for n in ("acct0", "acct1")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        server.set_limits(requests_per_second=0)
    seen = server.requests()
    assert 429 in statuses
    assert seen["max_in_any_second"] == 4  # of both accounts together
    accepted = {
        a for (_, _, code), a in zip(seen["log"], seen["accounts"], strict=True) if code == 200
    }
    assert accepted == {"acct0", "acct1"}


def test_daily_quota_counts_every_account_of_the_key(server) -> None:
    server.reset_quota()
    server.set_limits(daily_quota=4)
    try:
        with as_account(server, "acct0") as a, as_account(server, "acct1") as b:
            assert [http.get("/v3/emails").status_code for http in (a, b, a, b)] == [200] * 4
            over = b.get("/v3/emails")
            assert (over.status_code, over.json()["error_key"]) == (429, "quota_exceeded")
            assert a.get("/v3/emails").status_code == 429
        assert server.requests()["used_today"] == 4
    finally:
        server.set_limits(daily_quota=0)
        server.reset_quota()


def test_path_faults_scoped_to_one_account(server) -> None:
    server.set_path_faults({"/reports/": 500}, account="acct1")
    try:
        with as_account(server, "acct0") as a, as_account(server, "acct1") as b:
            path = "/v3/reports/summary_reports/email_campaign_summaries"
            assert b.get(path).status_code == 500
            assert a.get(path).status_code == 200
            assert b.get("/v3/emails").status_code == 200
    finally:
        server.set_path_faults({}, account="acct1")
    with as_account(server, "acct1") as b:
        assert b.get("/v3/reports/summary_reports/email_campaign_summaries").status_code == 200
    with pytest.raises(httpx.HTTPStatusError):
        server.set_path_faults({"/reports/": 500}, account="acct9")


def test_rotation_and_revocation_are_per_account(server) -> None:
    rotated = refresh(server, server.account("acct0")["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    # rotating acct0's token left acct2's alone
    acct2 = refresh(server, server.account("acct2")["refresh_token"])
    assert acct2.status_code == 200, acct2.text
    server.revoke_refresh_tokens(account="acct2")
    dead = refresh(server, acct2.json()["refresh_token"])
    assert (dead.status_code, dead.json()["error"]) == (400, "invalid_grant")
    with as_account(server, "acct2", acct2.json()["access_token"]) as revoked:
        assert revoked.get("/v3/emails").status_code == 401
    with as_account(server, "acct0", rotated.json()["access_token"]) as alive:
        assert (
            alive.get("/v3/account/summary").json()["encoded_account_id"]
            == (server.account("acct0")["encoded_account_id"])
        )
    with as_account(server, "acct1") as untouched:
        assert untouched.get("/v3/emails").status_code == 200


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(server: SandboxServer, **params: str) -> httpx.Response:
    query = {
        "client_id": server.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "account_read contact_data campaign_data offline_access",
        "state": "st-" + secrets.token_hex(4),
        **params,
    }
    return httpx.get(server.authorize_url, params=query)


def redirected(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def exchange(server: SandboxServer, code: str, **extra: str) -> httpx.Response:
    return token_call(
        server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, **extra
    )


def test_authorization_code_with_pkce_issues_the_consenting_accounts_tokens(server) -> None:
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256", "login_hint": "acct3"}
    first = authorize(server, state="abc123", **pkce)
    answer = redirected(first)
    assert answer["state"] == "abc123" and set(answer) == {"code", "state"}
    wrong = exchange(server, answer["code"], code_verifier=pkce_pair()[0])
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    spent = exchange(server, answer["code"], code_verifier=verifier)  # the failure spent it
    assert spent.json()["error"] == "invalid_grant"

    code = redirected(authorize(server, **pkce))["code"]
    tokens = exchange(server, code, code_verifier=verifier)
    assert tokens.status_code == 200, tokens.text
    assert "refresh_token" in tokens.json()
    with as_account(server, "acct3", tokens.json()["access_token"]) as http:
        summary = http.get("/v3/account/summary").json()
    assert summary["encoded_account_id"] == server.account("acct3")["encoded_account_id"]
    assert exchange(server, code, code_verifier=verifier).json()["error"] == "invalid_grant"


def test_consenting_account_and_requested_scopes_decide_the_grant(server) -> None:
    server.set_consenting_account(None)
    try:
        declined = redirected(authorize(server, state="s1"))
        assert (declined["error"], declined["state"]) == ("access_denied", "s1")
        server.set_consenting_account("acct3")
        code = redirected(authorize(server, scope="campaign_data"))["code"]
    finally:
        server.set_consenting_account("acct0")
    narrow = exchange(server, code)  # no PKCE: the confidential client's flow
    assert narrow.status_code == 200, narrow.text
    assert narrow.json()["scope"] == "campaign_data"
    assert "refresh_token" not in narrow.json()  # offline_access was not asked for
    with as_account(server, "acct3", narrow.json()["access_token"]) as http:
        assert campaign_ids(http) == {
            c.campaign_id for c in server.ground_truth("acct3").account.campaigns
        }
        assert http.get("/v3/account/summary").status_code == 403


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"state": ""}, "invalid_request"),
        ({"scope": "campaign_data everything"}, "invalid_scope"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ],
)
def test_authorize_redirects_bad_requests_back_with_an_error(server, params, error) -> None:
    answer = redirected(authorize(server, **params))
    assert answer["error"] == error and "code" not in answer


def test_authorize_answers_a_bad_client_or_redirect_uri_in_place(server) -> None:
    assert authorize(server, client_id="someone-else").status_code == 400
    assert authorize(server, redirect_uri="/relative").status_code == 400
    unregistered = authorize(server, redirect_uri="http://127.0.0.1:8798/callback")
    assert (unregistered.status_code, unregistered.json()["error"]) == (400, "invalid_request")
    assert authorize(server, login_hint="acct9").status_code == 400


def test_ground_truth_cli_writes_the_named_account(server, tmp_path: Path, capsys) -> None:
    flags = ["--seed", "11", "--contacts", "600", "--campaigns", "6", "--now"]
    flags += [
        "2026-10-20T12:00:00Z",
        "--accounts",
        "4",
        "--account-contacts",
        ",".join(map(str, SIZES)),
    ]
    assert cli.main(["ground-truth", *flags, "--account", "acct9", "--out", str(tmp_path)]) == 2
    assert "acct9" in capsys.readouterr().err
    assert cli.main(["ground-truth", *flags, "--account", "acct1", "--out", str(tmp_path)]) == 0
    written = {p.parent.name.split("=", 1)[1] for p in tmp_path.glob("*/email_sends/*/*")}
    served = server.ground_truth("acct1").reportable_activities()
    assert written == {a["campaign_activity_id"] for a in served}


def test_one_account_server_prints_what_it_always_did(sandbox: SandboxServer) -> None:
    assert set(sandbox.info) == OLD_FIRST_LINE
    assert [a["name"] for a in sandbox.accounts] == ["acct0"]
    with as_account(sandbox, "acct0") as http:
        assert http.get("/v3/account/summary").status_code == 200
