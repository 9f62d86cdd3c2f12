"""Sandbox test helpers: an authenticated HTTP client and the official spec, loaded once."""

from __future__ import annotations

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


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with api_client(sandbox) as http:
        yield http
