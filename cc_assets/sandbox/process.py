"""Run a sandbox server in its own process and turn its handles from Python.

The server is a real `cc-sandbox serve` subprocess on a real port: what talks to it goes through
HTTP exactly as it would to Constant Contact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock

from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.sandbox.account import AccountConfig
from cc_assets.sandbox.builtin import BUILTIN_FINGERPRINT, builtin_options, describe
from cc_assets.sandbox.ground_truth import GroundTruth
from cc_assets.settings import state_dir

DEFAULT_PORT = 8765
TEST_CLOCK_START = "2026-10-20T12:00:00Z"
"""The fixed clock of a `SandboxServer.start` account unless told otherwise: far enough in the
past that a test may let weeks pass and still have every event dated before the real time (a
response never carries an event later than itself)."""


def _flags(options: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif isinstance(value, list | tuple):  # `account_contacts=[300, 2000]`
            flags += [flag, ",".join(map(str, value))]
        elif value is not False and value is not None:
            text = (
                value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
            )
            flags += [flag, str(text)]
    return flags


class SandboxServer:
    """A `cc-sandbox serve` subprocess; a context manager that stops it on exit."""

    def __init__(self, process: subprocess.Popen[str] | None, info: dict[str, Any]) -> None:
        self.process = process
        self.info = info
        self.base_url: str = info["base_url"]
        self.root_url = self.base_url.rsplit("/v3", 1)[0]
        self.token_url: str = info["token_url"]
        self.client_id: str = info["client_id"]
        self.client_secret: str = info["client_secret"]
        self.refresh_token: str = info["refresh_token"]
        self.access_token: str = info["access_token"]
        self.api_key: str = info["api_key"]
        self._control = httpx.Client(base_url=f"{self.root_url}/__sandbox__", timeout=30)
        identity = self._control.get("/info").json()
        self.config = _config_from(identity["account"])
        self.fingerprint: str = identity["fingerprint"]
        self.authorize_url: str = identity["authorize_url"]
        self.accounts: list[dict[str, Any]] = identity["accounts"]
        """Every account: `name`, `encoded_account_id`, `organization_name`, its first
        `refresh_token` and `access_token`, and its definition (`config`)."""

    @classmethod
    def start(cls, **options: Any) -> SandboxServer:
        """Start a server; options are `cc-sandbox serve` flags (`requests_per_second=0`...)."""
        options = {"port": 0, "now": TEST_CLOCK_START, **options}
        command = [sys.executable, "-m", "cc_assets.sandbox", "serve", *_flags(options)]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            process.wait(timeout=10)
            error = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"the sandbox did not start: {error.strip()[-2000:]}")
        return cls(process, json.loads(line))

    @classmethod
    def attach(cls, port: int) -> SandboxServer:
        """Handles on a server another process started (the detached built-in one, see
        `ensure_local_sandbox`); `stop` leaves it running."""
        info = httpx.get(f"http://127.0.0.1:{port}/__sandbox__/info", timeout=30)
        return cls(None, info.raise_for_status().json())

    def account(self, name: str | None = None) -> dict[str, Any]:
        """One entry of `accounts` by name (None: account 0); KeyError names the others."""
        if name is None:
            return self.accounts[0]
        for account in self.accounts:
            if account["name"] == name:
                return account
        raise KeyError(
            f"no sandbox account {name!r} ({', '.join(a['name'] for a in self.accounts)})"
        )

    def application_env(self) -> dict[str, str]:
        """The application's variables aimed at this server, shared by every account of an
        accounts file (no account's token)."""
        return {
            "CONSTANT_CONTACT_BASE_URL": self.base_url,
            "CONSTANT_CONTACT_CLIENT_ID": self.client_id,
            "CONSTANT_CONTACT_CLIENT_SECRET": self.client_secret,
            "CONSTANT_CONTACT_TOKEN_URL": self.token_url,
            "CONSTANT_CONTACT_AUTHORIZE_URL": self.authorize_url,
        }

    def client_env(self, account: str | None = None) -> dict[str, str]:
        """The environment a user sets for a real account (default account 0), aimed at this
        server."""
        tokens = self.account(account)
        return {
            "CONSTANT_CONTACT_BASE_URL": self.base_url,
            "CONSTANT_CONTACT_ACCESS_TOKEN": tokens["access_token"],
            "CONSTANT_CONTACT_CLIENT_ID": self.client_id,
            "CONSTANT_CONTACT_CLIENT_SECRET": self.client_secret,
            "CONSTANT_CONTACT_REFRESH_TOKEN": tokens["refresh_token"],
            "CONSTANT_CONTACT_TOKEN_URL": self.token_url,
        }

    def v2_client_env(self) -> dict[str, str]:
        """The same for a legacy v2 key: v2 root, `api_key` and the access token (v2 needs both)."""
        return {
            **self.client_env(),
            "CONSTANT_CONTACT_API_VERSION": "v2",
            "CONSTANT_CONTACT_BASE_URL": f"{self.root_url}/v2",
            "CONSTANT_CONTACT_API_KEY": self.api_key,
        }

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._control.close()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        account: str | None = None,
    ) -> Any:
        params = {} if account is None else {"account": account}
        response = self._control.request(method, path, json=body, params=params)
        response.raise_for_status()
        return response.json()

    def set_faults(self, **settings: float) -> dict[str, float]:
        return self._call("PUT", "/faults", settings)

    def set_path_faults(self, faults: dict[str, int], account: str | None = None) -> dict[str, int]:
        """Make every API path matching a regex answer its status for good (`{}` clears), for
        every account's requests or, with `account`, for that account's only (each account's
        set and the all-accounts set are replaced separately)."""
        return self._call("PUT", "/faults/paths", faults, account)

    def advance_clock(self, seconds: float) -> datetime:
        self._call("POST", "/clock/advance", {"seconds": seconds})
        return self.now()

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "/clock")["now"].replace("Z", "+00:00"))

    def expire_tokens(self) -> None:
        self._call("POST", "/tokens/expire")

    def revoke_refresh_tokens(self, account: str | None = None) -> None:
        """Revoke `account`'s grant (None: every account's): its refresh token answers
        invalid_grant and its access tokens 401; the other accounts are untouched."""
        self._call("POST", "/tokens/revoke", account=account)

    def set_consenting_account(self, account: str | None) -> None:
        """Who consents at the authorize endpoint from now on (`None`: the user declines)."""
        self._call("PUT", "/consent", {"account": account})

    def set_limits(
        self, requests_per_second: float | None = None, daily_quota: int | None = None
    ) -> dict[str, Any]:
        body = {"requests_per_second": requests_per_second, "daily_quota": daily_quota}
        return self._call("PUT", "/limits", body)

    def reset_quota(self) -> None:
        self._call("POST", "/limits/reset-quota")

    def requests(self) -> dict[str, Any]:
        return self._call("GET", "/requests")

    def reset_requests(self) -> None:
        self._call("POST", "/requests/reset")

    def ground_truth(self, account: str | None = None) -> GroundTruth:
        """The exact contents of `account` (default account 0) at the server's current clock."""
        config = self.config if account is None else _config_from(self.account(account)["config"])
        return GroundTruth(config, as_of=self.now())


def _config_from(account: dict[str, Any]) -> AccountConfig:
    values = dict(account)
    values["now"] = datetime.fromisoformat(str(values["now"]).replace("Z", "+00:00"))
    return AccountConfig(**values)


def sandbox_port() -> int:
    """CC_ASSETS_SANDBOX_PORT: where the built-in sandbox listens (8765 by default)."""
    raw = os.environ.get("CC_ASSETS_SANDBOX_PORT", str(DEFAULT_PORT))
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65_535:
        raise ConfigurationError(
            "CC_ASSETS_SANDBOX_PORT", f"{raw!r} is not a TCP port (1-65535; default 8765)"
        )
    return port


def ensure_local_sandbox(port: int | None = None) -> dict[str, Any]:
    """The built-in account's sandbox on `port` (default `sandbox_port()`), started detached
    if none answers; returns its `/__sandbox__/info`.

    A sandbox of any other account on the port is refused, never reused: its numbers would mix
    with the built-in account's in one lake. A file lock keeps two processes from starting two
    servers for the same port.
    """
    port = sandbox_port() if port is None else port
    url = f"http://127.0.0.1:{port}/__sandbox__/info"
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / f"sandbox-{port}.lock"), timeout=60):
        info = _probe(url)
        if info is None:
            info = _start_detached(port, url, folder / f"sandbox-{port}.log")
    if info.get("fingerprint") != BUILTIN_FINGERPRINT:
        raise ConfigurationError(
            "CC_ASSETS_SANDBOX_PORT",
            f"port {port} already serves another sandbox account "
            f"({describe(info.get('account', {}), info.get('clock', '?'))}; fingerprint "
            f"{info.get('fingerprint')}, not the built-in {BUILTIN_FINGERPRINT}): stop it "
            f"(kill {info.get('pid', '<its pid>')}) or set CC_ASSETS_SANDBOX_PORT to a free port",
        )
    return info


def _start_detached(port: int, url: str, log_path: Path) -> dict[str, Any]:
    flags = _flags({**builtin_options(), "port": port})
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cc_assets.sandbox", "serve", *flags],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        info = _probe(url)
        if info is not None:
            return info
        time.sleep(0.2)
    if process.poll() is None:
        process.terminate()
    last = (log_path.read_text().strip().splitlines() or ["no output"])[-1]
    raise ConfigurationError(
        "CC_ASSETS_SANDBOX_PORT",
        f"the built-in sandbox did not start on port {port} ({last}); if something else holds "
        f"the port, stop it or set CC_ASSETS_SANDBOX_PORT to a free port (log: {log_path})",
    )


def _probe(url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
