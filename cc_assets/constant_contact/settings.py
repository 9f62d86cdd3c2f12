"""Client configuration, from arguments or from a mapping of the documented variables (the
process's environment, as `cc_assets.settings` reads it).

With no credentials at all `base_url` stays empty: an edge (the CLI, `make ui`) then points the
environment at the built-in sandbox.

Secrets are kept out of `repr` so a logged settings object never leaks them. Every variable is
parsed with its name in the error (`ConfigurationError`), before any call is spent: a typo in a
number or a URL is a configuration problem to fix, not a network fault to retry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from cc_assets.constant_contact.errors import ConfigurationError

V3_BASE_URL = "https://api.cc.email/v3"
V2_BASE_URL = "https://api.constantcontact.com/v2"
TOKEN_URL = "https://authz.constantcontact.com/oauth2/default/v1/token"
AUTHORIZE_URL = "https://authz.constantcontact.com/oauth2/default/v1/authorize"


@dataclass(frozen=True)
class ClientSettings:
    base_url: str = V3_BASE_URL
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_url: str = TOKEN_URL
    authorize_url: str = AUTHORIZE_URL
    """Where `cc-assets accounts add` sends the user's browser to authorize the app."""
    api_key: str | None = field(default=None, repr=False)
    api_version: str = "v3"
    requests_per_second: float = 4.0
    daily_quota: int = 10_000
    rate_limit_url: str | None = None
    token_store_path: Path | None = None
    token_store_url: str | None = field(default=None, repr=False)
    """`redis://...` or `postgresql://...`: a token store shared by every host."""
    connect_timeout: float = 5.0
    """Seconds to open a connection; connect failures are retried for ~15 s in all."""
    read_timeout: float = 15.0
    """Seconds of silence tolerated while waiting for a response or between two body chunks."""
    deadline: float = 30.0
    """Seconds for one whole request, body included: a trickled body ends here."""
    max_attempts: int = 10
    """`CONSTANT_CONTACT_MAX_ATTEMPTS`: tries of one call on throttling, 5xx, a dropped
    connection or a truncated body (10 insist for about 90 s; 0 or 1: one try)."""
    history_since: date | None = None
    """`CC_ASSETS_HISTORY_SINCE`: the oldest send date whose reports are read (None: all)."""
    account: str | None = None
    """The account's name in the accounts file (`CC_ASSETS_ACCOUNTS`); None: the one account
    of the `CONSTANT_CONTACT_*` variables."""
    token_store_key: str | None = None
    """The account's entry in the token store, whose pair `cc-assets accounts add` wrote."""

    @property
    def can_refresh(self) -> bool:
        has_grant = self.refresh_token or self.token_store_key
        return bool(self.client_id and self.client_secret and has_grant)

    @property
    def reauthorize_hint(self) -> str:
        """How the user gives the app a new grant for this account."""
        if self.account is None:
            return "re-authorize the app and set the new CONSTANT_CONTACT_REFRESH_TOKEN"
        return f"re-authorize it with `cc-assets accounts add {self.account}`"

    @property
    def has_credentials(self) -> bool:
        return bool(self.access_token or self.can_refresh or self.api_key)

    def require_v2_credentials(self) -> None:
        """v2 refuses a call without both credentials; say which one is missing before any call."""
        if not self.api_key:
            raise ConfigurationError(
                "CONSTANT_CONTACT_API_KEY",
                "v2 needs the application's API key on every call; set it, or unset "
                "CONSTANT_CONTACT_API_VERSION to use v3",
            )
        if not (self.access_token or self.can_refresh):
            raise ConfigurationError(
                "CONSTANT_CONTACT_ACCESS_TOKEN",
                "v2 needs an OAuth access token as well as CONSTANT_CONTACT_API_KEY; set it (or "
                "the CONSTANT_CONTACT_CLIENT_ID, _CLIENT_SECRET and _REFRESH_TOKEN to refresh one)",
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, tokens_in_env: bool = True) -> ClientSettings:
        """The documented variables. Without credentials, `base_url` stays empty for an edge to
        point the environment at the built-in sandbox (`preflight.sandbox_unless_credentials`).
        `tokens_in_env=False`: the application's settings under an accounts file, which gives
        each account its token, so v2's key-and-token pair is checked per account instead."""
        version = env.get("CONSTANT_CONTACT_API_VERSION", "v3")
        store = env.get("CC_ASSETS_TOKEN_STORE") or None
        if version not in {"v2", "v3"}:
            raise ConfigurationError(
                "CONSTANT_CONTACT_API_VERSION", f"must be v2 or v3, not {version!r}"
            )
        settings = cls(
            base_url=_url(env, "CONSTANT_CONTACT_BASE_URL", ""),
            access_token=env.get("CONSTANT_CONTACT_ACCESS_TOKEN") or None,
            client_id=env.get("CONSTANT_CONTACT_CLIENT_ID") or None,
            client_secret=env.get("CONSTANT_CONTACT_CLIENT_SECRET") or None,
            refresh_token=env.get("CONSTANT_CONTACT_REFRESH_TOKEN") or None,
            token_url=_url(env, "CONSTANT_CONTACT_TOKEN_URL", TOKEN_URL),
            authorize_url=_url(env, "CONSTANT_CONTACT_AUTHORIZE_URL", AUTHORIZE_URL),
            api_key=env.get("CONSTANT_CONTACT_API_KEY") or None,
            api_version=version,
            requests_per_second=_number(env, "CONSTANT_CONTACT_REQUESTS_PER_SECOND", "4", float),
            daily_quota=_number(env, "CONSTANT_CONTACT_DAILY_QUOTA", "10000", int),
            rate_limit_url=env.get("CC_ASSETS_RATE_LIMIT_URL") or None,
            token_store_path=Path(store) if store and "://" not in store else None,
            token_store_url=store if store and "://" in store else None,
            history_since=_date(env, "CC_ASSETS_HISTORY_SINCE"),
            max_attempts=max(1, _number(env, "CONSTANT_CONTACT_MAX_ATTEMPTS", "10", int)),
        )
        if version == "v2" and settings.has_credentials and tokens_in_env:
            settings.require_v2_credentials()
        if not settings.base_url and settings.has_credentials:
            default = V2_BASE_URL if version == "v2" else V3_BASE_URL
            settings = replace(settings, base_url=default)
        return settings


N = TypeVar("N", int, float)


def _number(env: Mapping[str, str], name: str, default: str, kind: Callable[[str], N]) -> N:
    """A non-negative number; 0 means "no local limit" for both limits that use this."""
    text = env.get(name, default).strip() or default
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigurationError(name, f"must be {what}, not {text!r}") from None
    if value < 0 or not math.isfinite(value):
        raise ConfigurationError(name, f"must be 0 (no local limit) or more, not {text!r}")
    return value


def _date(env: Mapping[str, str], name: str) -> date | None:
    """A date written YYYY-MM-DD, or None when unset."""
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ConfigurationError(
            name, f"must be a date written YYYY-MM-DD, not {text[:40]!r}"
        ) from None


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    """An http(s) URL with a host, or the default when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            name, f"must be an http(s) URL such as {default or V3_BASE_URL}, not {text[:80]!r}"
        )
    return text
