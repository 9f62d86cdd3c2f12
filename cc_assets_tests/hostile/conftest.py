"""One sandbox and one hostile proxy per module (cases only turn the proxy), a lake per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.hostile.proxy import HostileProxy, TrapServer

ACCOUNT = {"seed": 23, "contacts": 1500, "campaigns": 4, "requests_per_second": 0}
"""Big enough that one activity's sends report spans three pages of 500."""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer.start(**ACCOUNT) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(sandbox: SandboxServer) -> Iterator[HostileProxy]:
    server = HostileProxy(sandbox.root_url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def trap() -> Iterator[TrapServer]:
    server = TrapServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> None:
    """A state directory per test (token store, budget) and an untouched proxy."""
    monkeypatch.setenv("CC_ASSETS_STATE_DIR", str(tmp_path / "state"))
    if "proxy" in request.fixturenames:
        request.getfixturevalue("proxy").reset()
    if "trap" in request.fixturenames:
        request.getfixturevalue("trap").seen.clear()


def through(proxy: HostileProxy, server: SandboxServer, **overrides: object) -> ClientSettings:
    """Client settings aimed at the proxy, with short deadlines and few retries so that every
    case ends in seconds (the defaults are the same rules, only longer)."""
    values = {
        "base_url": f"{proxy.url}/v3",
        "access_token": server.access_token,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "refresh_token": server.refresh_token,
        "token_url": server.token_url.replace(server.root_url, proxy.url),
        "requests_per_second": 0,
        "daily_quota": 0,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "deadline": 4.0,
        "max_attempts": 3,
        **overrides,
    }
    return ClientSettings(**values)


def secrets_of(server: SandboxServer, proxy: HostileProxy) -> set[str]:
    """Every secret value the client could have held: the account's and every bearer token
    that went through the proxy (refreshed ones included)."""
    found = {server.access_token, server.refresh_token, server.client_secret, server.api_key}
    found |= proxy.state.issued
    for seen in proxy.state.seen:
        value = seen.headers.get("authorization", "")
        if value.lower().startswith("bearer "):
            found.add(value[7:])
    return {s for s in found if s and len(s) >= 8}
