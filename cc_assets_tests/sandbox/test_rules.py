"""Auth, limits and faults behave like Constant Contact's, seen from a real HTTP client."""

from __future__ import annotations

import time

import httpx
import pytest

from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.sandbox.conftest import api_client


def refresh(server: SandboxServer, token: str, secret: str | None = None) -> httpx.Response:
    time.sleep(1.05)  # the token endpoint takes one request per second
    return httpx.post(
        server.token_url,
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(server.client_id, secret or server.client_secret),
    )


def test_rotating_refresh_tokens_are_single_use(sandbox: SandboxServer) -> None:
    first = refresh(sandbox, sandbox.refresh_token)
    assert first.status_code == 200
    body = first.json()
    assert body["refresh_token"] != sandbox.refresh_token
    assert body["expires_in"] == 86_400 and body["token_type"] == "Bearer"
    reused = refresh(sandbox, sandbox.refresh_token)
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "unknown, invalid, or expired refresh token",
    }
    assert refresh(sandbox, body["refresh_token"], secret="wrong").status_code == 401
    with httpx.Client(base_url=sandbox.root_url) as http:
        fresh = {"Authorization": f"Bearer {body['access_token']}"}
        assert http.get("/v3/emails", headers=fresh).status_code == 200


def test_long_lived_refresh_tokens_repeat(sandbox_factory) -> None:
    server = sandbox_factory(refresh_tokens="long-lived")
    assert refresh(server, server.refresh_token).json()["refresh_token"] == server.refresh_token
    assert refresh(server, server.refresh_token).status_code == 200


def test_expired_and_revoked_tokens(sandbox: SandboxServer) -> None:
    with api_client(sandbox) as http:
        assert http.get("/v3/emails").status_code == 200
        sandbox.expire_tokens()
        expired = http.get("/v3/emails")
    assert expired.status_code == 401
    assert expired.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}
    sandbox.revoke_refresh_tokens()
    assert refresh(sandbox, sandbox.refresh_token).json()["error"] == "invalid_grant"


def test_daily_quota_answers_quota_exceeded_until_reset(sandbox_factory) -> None:
    server = sandbox_factory(daily_quota=3)
    with api_client(server) as http:
        statuses = [http.get("/v3/emails").status_code for _ in range(5)]
        last = http.get("/v3/emails")
        server.reset_quota()
        after_reset = http.get("/v3/emails").status_code
    assert statuses == [200, 200, 200, 429, 429]
    assert last.json() == {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}
    assert after_reset == 200


def test_rate_limit_holds_across_connections(sandbox_factory) -> None:
    server = sandbox_factory(requests_per_second=4)
    clients = [api_client(server) for _ in range(4)]
    statuses: list[int] = []
    try:
        # Round-robin over four connections until one is refused, however slow the machine:
        # a refusal means four calls were admitted within the second before it.
        while 429 not in statuses and len(statuses) < 1_000:
            statuses += [http.get("/v3/emails?limit=1").status_code for http in clients]
    finally:
        for http in clients:
            http.close()
    seen = server.requests()
    assert set(statuses) == {200, 429} and seen["throttled"] == statuses.count(429)
    assert seen["max_in_any_second"] == 4  # admitted calls, by arrival time, in any 1 s window


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("p_5xx", "5xx"),
        ("p_429", "429"),
        ("p_drop", "dropped"),
        ("p_truncate", "truncated"),
    ],
)
def test_each_fault_reaches_the_client_as_the_right_error(
    sandbox: SandboxServer, fault: str, expected: str
) -> None:
    sandbox.set_faults(**{fault: 1.0})
    with api_client(sandbox) as http:
        try:
            response = http.get("/v3/emails?limit=50")
        except httpx.TransportError:
            outcome = "dropped"
        else:
            if response.status_code >= 500:
                outcome = "5xx"
            elif response.status_code == 429:
                outcome = "429"
            else:
                try:
                    response.json()
                    outcome = "ok"
                except ValueError:
                    outcome = "truncated"
    assert outcome == expected
    sandbox.set_faults(**{fault: 0.0})
    with api_client(sandbox) as http:
        assert http.get("/v3/emails").status_code == 200
