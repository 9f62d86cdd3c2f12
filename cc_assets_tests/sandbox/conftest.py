"""Sandbox test helpers: an authenticated HTTP client and the official spec, loaded once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from cc_assets.sandbox.process import SandboxServer


def api_client(server: SandboxServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.root_url,
        headers={"Authorization": f"Bearer {server.access_token}"},
        timeout=30,
    )


def token_call(server: SandboxServer, **params: str) -> httpx.Response:
    """A token-endpoint request with the application's credentials. The endpoint takes 1 call
    a second: a 429 there is the real rule, so wait and retry."""
    for _ in range(50):
        response = httpx.post(
            server.token_url, params=params, auth=(server.client_id, server.client_secret)
        )
        if response.status_code != 429:
            return response
        time.sleep(0.25)
    raise AssertionError("the token endpoint never accepted the request")


def refresh(server: SandboxServer, refresh_token: str) -> httpx.Response:
    return token_call(server, grant_type="refresh_token", refresh_token=refresh_token)


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with api_client(sandbox) as http:
        yield http
