"""Ten misconfigurations a new user makes: each fails fast, in one line that says what to fix.

Each case runs `cc-assets refresh` as a user would (a subprocess, the environment) and must end
within 15 s (the subprocess timeout: a hang or minutes of retries fails the test), exit
non-zero, print exactly one `cc-assets:` line on stderr naming the variable (or the fix), no
traceback, no secret, and spend no API call where none is needed (the sandbox counts them).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.ingestion.test_refresh_cli import environment, refresh

DEADLINE_SECONDS = 15


@dataclass(frozen=True)
class Case:
    names: str
    """What the one line must contain: the variable to fix, or the fix."""
    calls: int
    """API calls the sandbox may see: 0 where the settings alone show the mistake."""
    env: Callable[[SandboxServer, Path], dict[str, str]]
    prepare: Callable[[SandboxServer], None] = lambda server: None


def _not_a_folder(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _only_token(server: SandboxServer, token: str) -> dict[str, str]:
    """Access token alone (no refresh settings): a wrong one cannot be refreshed away."""
    return {
        "CONSTANT_CONTACT_BASE_URL": server.base_url,
        "CONSTANT_CONTACT_ACCESS_TOKEN": token,
        "CONSTANT_CONTACT_CLIENT_ID": "",
        "CONSTANT_CONTACT_CLIENT_SECRET": "",
        "CONSTANT_CONTACT_REFRESH_TOKEN": "",
    }


def _spend_quota(server: SandboxServer) -> None:
    server.set_limits(daily_quota=1)
    httpx.get(
        f"{server.base_url}/emails",
        headers={"Authorization": f"Bearer {server.access_token}"},
        timeout=10,
    ).raise_for_status()
    server.reset_requests()


def _dead_refresh_token(server: SandboxServer) -> None:
    server.expire_tokens()
    server.revoke_refresh_tokens()


CASES = {
    "bad number": Case(
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND",
        0,
        lambda s, t: {"CONSTANT_CONTACT_REQUESTS_PER_SECOND": "abc"},
    ),
    "bad url": Case(
        "CONSTANT_CONTACT_BASE_URL", 0, lambda s, t: {"CONSTANT_CONTACT_BASE_URL": "not-a-url"}
    ),
    "wrong token": Case(
        "CONSTANT_CONTACT_ACCESS_TOKEN", 1, lambda s, t: _only_token(s, "wrong-token")
    ),
    "wrong api key": Case(
        "CONSTANT_CONTACT_API_KEY",
        1,
        lambda s, t: {
            **_only_token(s, ""),  # a v2 user has a key, no OAuth app
            "CONSTANT_CONTACT_API_VERSION": "v2",
            "CONSTANT_CONTACT_API_KEY": "wrong-key",
            "CONSTANT_CONTACT_BASE_URL": s.info["v2_base_url"],
        },
    ),
    "unwritable storage": Case(
        "CC_ASSETS_STORAGE", 0, lambda s, t: {"CC_ASSETS_STORAGE": str(_not_a_folder(t) / "lake")}
    ),
    "unwritable token store": Case(
        "CC_ASSETS_TOKEN_STORE",
        0,
        lambda s, t: {"CC_ASSETS_TOKEN_STORE": str(_not_a_folder(t) / "tokens.json")},
    ),
    "v2 without key": Case(
        "CONSTANT_CONTACT_API_KEY", 0, lambda s, t: {"CONSTANT_CONTACT_API_VERSION": "v2"}
    ),
    "unreachable host": Case(
        "CONSTANT_CONTACT_BASE_URL",
        0,
        lambda s, t: {"CONSTANT_CONTACT_BASE_URL": f"http://127.0.0.1:{_closed_port()}/v3"},
    ),
    "expired refresh token": Case(
        "CONSTANT_CONTACT_REFRESH_TOKEN", 1, lambda s, t: {}, _dead_refresh_token
    ),
    "quota spent": Case("00:00 UTC", 1, lambda s, t: {}, _spend_quota),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_misconfiguration_fails_fast_in_one_line(
    sandbox: SandboxServer, tmp_path: Path, case: Case
) -> None:
    case.prepare(sandbox)
    env = environment(sandbox, tmp_path, **case.env(sandbox, tmp_path))
    done = refresh(env, timeout=DEADLINE_SECONDS)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    lines = [line for line in done.stderr.splitlines() if line.startswith("cc-assets:")]
    assert len(lines) == 1, done.stderr[-2000:]
    assert case.names in lines[0], lines[0]
    for secret in (sandbox.access_token, sandbox.refresh_token, sandbox.client_secret):
        assert secret not in output
    assert sandbox.requests()["total"] <= case.calls
    if case.calls == 0:
        assert not (tmp_path / "lake").exists() or not list((tmp_path / "lake").rglob("*"))
