"""What a run checks before it spends a call: settings that cannot work fail here, in one line
naming the variable to fix, instead of minutes later as a retried network fault or a Dagster
traceback after discovery has already spent part of the day's quota."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    QuotaExceededError,
)
from cc_assets.constant_contact.settings import ClientSettings, state_dir
from cc_assets.constant_contact.v2 import V2Reports, require_v2_credentials
from cc_assets.lake.paths import lake_root

ACCOUNT_WIDE_ERRORS = (AuthenticationError, QuotaExceededError)
"""Refusals of the account itself (credentials, the day's quota): every further call would be
refused the same way, so they end a run instead of failing one report after another."""

FIRST_CALL_FATAL = (*ACCOUNT_WIDE_ERRORS, ConnectionFailedError)
"""What ends a run at its first call (`reach_account`): the API cannot be reached at all."""

SANDBOX_NOTICE = (
    "No Constant Contact credentials are set: running against the built-in sandbox account "
    "(set CONSTANT_CONTACT_ACCESS_TOKEN or the refresh settings to use the real API)."
)


def check_settings(environ: dict[str, str] | None = None) -> ClientSettings:
    """The client settings from the environment, refused when they cannot work: numbers and
    URLs (parsed by `ClientSettings.from_env`), the API version against the credentials, and
    the places a run writes to (the lake, the state folder and the token store)."""
    env = os.environ if environ is None else environ
    try:
        settings = ClientSettings.from_env(dict(env))
    except ValueError as error:
        if isinstance(error, ConfigurationError):
            raise
        # a parser that does not name its variable: still one line, never a traceback
        raise ConfigurationError("environment", str(error)) from None
    check_credentials(settings)
    check_writable(
        lake_root(env.get("CC_ASSETS_STORAGE") or None), "CC_ASSETS_STORAGE", "the Parquet lake"
    )
    state = state_dir()
    check_writable(UPath(state), "CC_ASSETS_STATE_DIR", "the request budget and token state")
    if settings.token_store_path is not None:
        check_writable(
            UPath(Path(settings.token_store_path).parent),
            "CC_ASSETS_TOKEN_STORE",
            "the token store",
        )
    return settings


def check_credentials(settings: ClientSettings) -> None:
    """Credentials that fit the API version: v2 takes an API key and a token, v3 a token."""
    if settings.api_version == "v2":
        require_v2_credentials(settings)  # the key and a token: v2 checks both on every call
    if (
        settings.api_version == "v3"
        and settings.api_key
        and not (settings.access_token or settings.can_refresh)
    ):
        raise ConfigurationError(
            "CONSTANT_CONTACT_ACCESS_TOKEN",
            "the v3 API needs an access token or the refresh settings "
            "(CONSTANT_CONTACT_CLIENT_ID, _CLIENT_SECRET, _REFRESH_TOKEN); an API key alone is "
            "for CONSTANT_CONTACT_API_VERSION=v2",
        )


def reach_account(settings: ClientSettings, on_event: Callable[[str], None] | None = None) -> None:
    """The run's first call, made before Dagster is loaded: the first page of the campaign list.

    A wrong token, a refused key or an unreachable server is then one line within seconds,
    not a failed snapshot minutes later. It is the only call a refresh spends outside the
    campaign walk of the `email_campaigns` snapshot, which discovery reads (one walk a day)."""
    with ConstantContactClient(settings, on_event=on_event) as client:
        if settings.api_version == "v2":
            next(iter(V2Reports(client).iter_sent_campaigns()), None)
        else:
            next(iter(client.iter_campaigns()), None)


def check_writable(folder: UPath, variable: str, what: str) -> None:
    """Create `folder` if needed and write and remove a probe file in it."""
    probe = folder / f".cc-assets-probe-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigurationError(
            variable,
            f"{what} at {folder} is not writable ({reason}); point {variable} at a "
            "folder this user can write",
        ) from None


def with_sandbox(settings: ClientSettings, port: int | None = None) -> ClientSettings:
    """The settings as given when they hold credentials; else aimed at the built-in sandbox on
    `port` (CC_ASSETS_SANDBOX_PORT when None; started if none answers there)."""
    if settings.has_credentials:
        return settings
    from cc_assets.sandbox.process import ensure_local_sandbox  # noqa: PLC0415 (a server's worth)

    info = ensure_local_sandbox(port)
    settings = replace(
        settings,
        base_url=info["base_url"],
        access_token=info["access_token"],
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        refresh_token=info["refresh_token"],
        token_url=info["token_url"],
        is_sandbox=True,
    )
    if settings.api_version == "v2":  # the same account through its legacy v2 endpoints
        settings = replace(settings, base_url=info["v2_base_url"], api_key=info["api_key"])
    return settings
