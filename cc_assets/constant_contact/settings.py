"""Client configuration, from arguments or from the environment (DESIGN §4).

With no credentials at all the project uses its built-in sandbox; `is_sandbox` says so.
Secrets are kept out of `repr` so a logged settings object never leaks them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

V3_BASE_URL = "https://api.cc.email/v3"
V2_BASE_URL = "https://api.constantcontact.com/v2"
TOKEN_URL = "https://authz.constantcontact.com/oauth2/default/v1/token"


def state_dir() -> Path:
    """Where machine-local shared state lives (rate limiter, token store)."""
    return Path(os.environ.get("CC_ASSETS_STATE_DIR", Path.home() / ".cache" / "cc_assets"))


@dataclass(frozen=True)
class ClientSettings:
    base_url: str = V3_BASE_URL
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_url: str = TOKEN_URL
    api_key: str | None = field(default=None, repr=False)
    api_version: str = "v3"
    requests_per_second: float = 4.0
    daily_quota: int = 10_000
    rate_limit_url: str | None = None
    token_store_path: Path | None = None
    timeout: float = 60.0
    is_sandbox: bool = False

    @property
    def can_refresh(self) -> bool:
        return bool(self.client_id and self.client_secret and self.refresh_token)

    @property
    def has_credentials(self) -> bool:
        return bool(self.access_token or self.can_refresh or self.api_key)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClientSettings:
        """DESIGN §4's variables. Without credentials, `base_url` stays empty for the caller
        to point at a sandbox (see `cc_assets.sandbox.process.ensure_local_sandbox`)."""
        env = os.environ if environ is None else environ
        version = env.get("CONSTANT_CONTACT_API_VERSION", "v3")
        if version not in {"v2", "v3"}:
            raise ValueError("CONSTANT_CONTACT_API_VERSION must be v2 or v3")
        settings = cls(
            base_url=env.get("CONSTANT_CONTACT_BASE_URL", ""),
            access_token=env.get("CONSTANT_CONTACT_ACCESS_TOKEN") or None,
            client_id=env.get("CONSTANT_CONTACT_CLIENT_ID") or None,
            client_secret=env.get("CONSTANT_CONTACT_CLIENT_SECRET") or None,
            refresh_token=env.get("CONSTANT_CONTACT_REFRESH_TOKEN") or None,
            token_url=env.get("CONSTANT_CONTACT_TOKEN_URL", TOKEN_URL),
            api_key=env.get("CONSTANT_CONTACT_API_KEY") or None,
            api_version=version,
            requests_per_second=float(env.get("CONSTANT_CONTACT_REQUESTS_PER_SECOND", "4")),
            daily_quota=int(env.get("CONSTANT_CONTACT_DAILY_QUOTA", "10000")),
            rate_limit_url=env.get("CC_ASSETS_RATE_LIMIT_URL") or None,
            token_store_path=Path(env["CC_ASSETS_TOKEN_STORE"])
            if env.get("CC_ASSETS_TOKEN_STORE")
            else None,
        )
        if not settings.base_url and settings.has_credentials:
            default = V2_BASE_URL if version == "v2" else V3_BASE_URL
            settings = replace(settings, base_url=default)
        return settings
