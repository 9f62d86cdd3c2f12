"""Client tests: each gets its own state directory (rate-limit budget, token store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.sandbox.process import SandboxServer


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("CC_ASSETS_STATE_DIR", str(folder))
    return folder


def settings_for(server: SandboxServer, **overrides: object) -> ClientSettings:
    values = {
        "base_url": server.base_url,
        "access_token": server.access_token,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "refresh_token": server.refresh_token,
        "token_url": server.token_url,
        "requests_per_second": 0,
        **overrides,
    }
    return ClientSettings(**values)
