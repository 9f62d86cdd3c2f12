"""The rules as wired into the real `cc-sandbox serve` (through SandboxServer): tokens, limits
and faults behave the same behind the full app, and faulted calls still count against the rate."""

from __future__ import annotations

import threading

import httpx
import orjson
import pytest

from cc_assets_tests.sandbox.conftest import refresh

INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "unknown, invalid, or expired refresh token",
}
THROTTLED = {"error_key": "throttled", "error_message": "Too Many Requests"}


def test_tokens_limits_and_faults_in_the_served_sandbox(sandbox_factory):
    server = sandbox_factory(requests_per_second=4, daily_quota=0)
    refreshed = refresh(server, server.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    tokens = refreshed.json()
    reused = refresh(server, server.refresh_token)  # rotated away
    assert (reused.status_code, reused.json()) == (400, INVALID_GRANT)

    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    client = httpx.Client(base_url=server.root_url, headers=headers, timeout=30)
    assert client.get("/v3/emails").status_code == 200
    server.expire_tokens()
    expired = client.get("/v3/emails")
    assert (expired.status_code, expired.json()) == (
        401,
        {"error_key": "unauthorized", "error_message": "Unauthorized"},
    )
    client.headers["Authorization"] = f"Bearer {server.access_token}"  # expired as well
    assert client.get("/v3/emails").status_code == 401

    fresh = refresh(server, tokens["refresh_token"]).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {fresh}"
    server.reset_requests()
    statuses: list[int] = []

    def hammer() -> None:
        with httpx.Client(base_url=server.root_url, headers=dict(client.headers)) as own:
            # until the limit has refused someone, however slow the machine is
            while statuses.count(200) < 6 or 429 not in statuses:
                response = own.get("/v3/emails")
                statuses.append(response.status_code)
                if response.status_code == 429:
                    assert response.json() == THROTTLED

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    seen = server.requests()
    assert set(statuses) == {200, 429}
    assert seen["max_in_any_second"] == 4
    assert seen["throttled"] == statuses.count(429)

    server.set_limits(requests_per_second=0)
    server.set_faults(p_drop=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/v3/emails")
    server.set_faults(p_drop=0, p_truncate=1)
    truncated = client.get("/v3/emails")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(truncated.content)
    server.set_faults(p_truncate=0)
    assert client.get("/v3/emails").status_code == 200
    counted = server.requests()["total"]
    assert counted == seen["total"] + 3  # the faulted calls were counted too
