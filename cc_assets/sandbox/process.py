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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock

from cc_assets.sandbox.account import AccountConfig
from cc_assets.sandbox.ground_truth import GroundTruth

DEFAULT_PORT = 8765
STATE_DIR = Path(os.environ.get("CC_ASSETS_STATE_DIR", Path.home() / ".cache" / "cc_assets"))


def _flags(options: dict[str, Any]) -> list[str]:
    flags: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False and value is not None:
            text = (
                value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
            )
            flags += [flag, str(text)]
    return flags


class SandboxServer:
    """A `cc-sandbox serve` subprocess; a context manager that stops it on exit."""

    def __init__(self, process: subprocess.Popen[str], info: dict[str, Any]) -> None:
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
        self.config = _config_from(self._control.get("/info").json()["account"])

    @classmethod
    def start(cls, **options: Any) -> SandboxServer:
        """Start a server; options are `cc-sandbox serve` flags (`requests_per_second=0`...)."""
        options = {"port": 0, "now": "2026-11-20T12:00:00Z", **options}
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

    def client_env(self) -> dict[str, str]:
        """The environment a user sets for a real account (DESIGN §4), aimed at this server."""
        return {
            "CONSTANT_CONTACT_BASE_URL": self.base_url,
            "CONSTANT_CONTACT_ACCESS_TOKEN": self.access_token,
            "CONSTANT_CONTACT_CLIENT_ID": self.client_id,
            "CONSTANT_CONTACT_CLIENT_SECRET": self.client_secret,
            "CONSTANT_CONTACT_REFRESH_TOKEN": self.refresh_token,
            "CONSTANT_CONTACT_TOKEN_URL": self.token_url,
        }

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._control.close()
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

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._control.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def set_faults(self, **settings: float) -> dict[str, float]:
        return self._call("PUT", "/faults", settings)

    def set_path_faults(self, faults: dict[str, int]) -> dict[str, int]:
        """Make every API path matching a regex answer its status for good (`{}` clears)."""
        return self._call("PUT", "/faults/paths", faults)

    def advance_clock(self, seconds: float) -> datetime:
        self._call("POST", "/clock/advance", {"seconds": seconds})
        return self.now()

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "/clock")["now"].replace("Z", "+00:00"))

    def expire_tokens(self) -> None:
        self._call("POST", "/tokens/expire")

    def revoke_refresh_tokens(self) -> None:
        self._call("POST", "/tokens/revoke")

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

    def ground_truth(self) -> GroundTruth:
        """The account's exact contents at the server's current clock."""
        return GroundTruth(self.config, as_of=self.now())


def _config_from(account: dict[str, Any]) -> AccountConfig:
    values = dict(account)
    values["now"] = datetime.fromisoformat(str(values["now"]).replace("Z", "+00:00"))
    return AccountConfig(**values)


def ensure_local_sandbox(port: int = DEFAULT_PORT, **options: Any) -> dict[str, Any]:
    """The shared local sandbox on `port`, started detached with a live clock if none answers.

    A file lock keeps two processes from starting two servers for the same port.
    """
    url = f"http://127.0.0.1:{port}/__sandbox__/info"
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with FileLock(str(STATE_DIR / f"sandbox-{port}.lock"), timeout=60):
        info = _probe(url)
        if info is not None:
            return info
        now = datetime.now(UTC).replace(microsecond=0)
        flags = _flags({"port": port, "live": True, "now": now, **options})
        log = (STATE_DIR / f"sandbox-{port}.log").open("a")
        subprocess.Popen(
            [sys.executable, "-m", "cc_assets.sandbox", "serve", *flags],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            info = _probe(url)
            if info is not None:
                return info
            time.sleep(0.2)
    raise RuntimeError(f"the local sandbox did not answer on port {port}; see {log.name}")


def _probe(url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None
