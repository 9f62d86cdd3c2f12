"""The built-in account: one definition, a reproducible clock, and a port that is never shared
with another account silently."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.sandbox.builtin import BUILTIN_ACCOUNT, BUILTIN_FINGERPRINT
from cc_assets.sandbox.clock import SandboxClock
from cc_assets.sandbox.process import TEST_CLOCK_START, SandboxServer, ensure_local_sandbox


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_the_daily_clock_is_the_start_of_today_and_never_after_the_real_time() -> None:
    before = _today()
    clock = SandboxClock(datetime(2026, 11, 1, tzinfo=UTC), mode="daily")
    now = clock.now()
    assert now in {before, _today()} and now <= datetime.now(UTC)
    assert clock.advance(3600) == now + timedelta(hours=1)  # tests may still let time pass
    later_start = datetime.now(UTC) + timedelta(days=3)
    assert SandboxClock(later_start, mode="daily").now() == later_start.replace(microsecond=0)


def test_the_local_sandbox_serves_the_builtin_account_and_is_reused(local_sandbox_port) -> None:
    before = _today()
    info = ensure_local_sandbox()
    assert info["base_url"] == f"http://127.0.0.1:{local_sandbox_port}/v3"
    assert info["fingerprint"] == BUILTIN_FINGERPRINT and info["clock"] == "daily"
    assert info["account"] == BUILTIN_ACCOUNT.as_dict()
    clock = httpx.get(f"http://127.0.0.1:{local_sandbox_port}/__sandbox__/clock").json()["now"]
    assert datetime.fromisoformat(clock.replace("Z", "+00:00")) in {before, _today()}
    again = ensure_local_sandbox()
    assert again["pid"] == info["pid"] and again["access_token"] == info["access_token"]


def test_a_sandbox_of_another_account_on_the_port_is_refused(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(sandbox.root_url.rsplit(":", 1)[1])
    monkeypatch.setenv("CC_ASSETS_SANDBOX_PORT", str(port))
    with pytest.raises(ConfigurationError) as caught:
        ensure_local_sandbox()
    message = str(caught.value)
    assert caught.value.variable == "CC_ASSETS_SANDBOX_PORT" and "\n" not in message
    assert f"port {port} already serves another sandbox account" in message
    assert f"kill {sandbox.process.pid}" in message and sandbox.fingerprint in message
    assert sandbox.process.poll() is None  # left alone, still serving its own account
    assert sandbox.now() == datetime.fromisoformat(TEST_CLOCK_START)  # its own clock, untouched


def test_a_port_held_by_something_else_fails_with_the_port_named(local_sandbox_port) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", local_sandbox_port))
        holder.listen(8)  # accepts connections, never answers HTTP
        with pytest.raises(ConfigurationError) as caught:
            ensure_local_sandbox()
    assert f"did not start on port {local_sandbox_port}" in str(caught.value)


def test_a_bad_port_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_ASSETS_SANDBOX_PORT", "eighty")
    with pytest.raises(ConfigurationError, match="CC_ASSETS_SANDBOX_PORT: 'eighty'"):
        ensure_local_sandbox()
