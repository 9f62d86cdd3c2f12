"""What a run checks before it spends a call: settings that cannot work fail here, in one line
naming the variable to fix, instead of minutes later as a retried network fault or a Dagster
traceback after discovery has already spent part of the day's quota."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from upath import UPath

from cc_assets.constant_contact.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    QuotaExceededError,
)
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.lake.paths import lake_root
from cc_assets.pipeline.reports import check_credentials, open_reports, sandbox_environment
from cc_assets.settings import Settings, export, state_dir

ACCOUNT_WIDE_ERRORS = (AuthenticationError, QuotaExceededError)
"""Refusals of the account itself (credentials, the day's quota): every further call would be
refused the same way, so they end a run instead of failing one report after another."""

FIRST_CALL_FATAL = (*ACCOUNT_WIDE_ERRORS, ConnectionFailedError)
"""What ends a run at its first call (`reach_account`): the API cannot be reached at all."""

SANDBOX_NOTICE = (
    "No Constant Contact credentials are set: running against the built-in sandbox account "
    "(set CONSTANT_CONTACT_ACCESS_TOKEN or the refresh settings to use the real API)."
)


def check_settings(project: Settings) -> ClientSettings:
    """The client settings, refused when they cannot work: numbers and URLs (parsed by
    `ClientSettings.from_env`), the API version against the credentials, and the places a run
    writes to (the lake, the state folder and the token store)."""
    try:
        settings = project.client()
    except ValueError as error:
        if isinstance(error, ConfigurationError):
            raise
        # a parser that does not name its variable: still one line, never a traceback
        raise ConfigurationError("environment", str(error)) from None
    check_credentials(settings)
    check_writable(lake_root(project.lake), "CC_ASSETS_STORAGE", "the Parquet lake")
    state = state_dir()
    check_writable(UPath(state), "CC_ASSETS_STATE_DIR", "the request budget and token state")
    if settings.token_store_path is not None:
        check_writable(
            UPath(Path(settings.token_store_path).parent),
            "CC_ASSETS_TOKEN_STORE",
            "the token store",
        )
    return settings


def reach_account(settings: ClientSettings, on_event: Callable[[str], None] | None = None) -> None:
    """The run's first call, made before Dagster is loaded: the first page of the campaign list.

    A wrong token, a refused key or an unreachable server is then one line within seconds,
    not a failed snapshot minutes later. It is the only call a refresh spends outside the
    campaign walk of the `email_campaigns` snapshot, which discovery reads (one walk a day)."""
    with open_reports(settings, on_event=on_event) as reports:
        next(iter(reports.list_campaigns()), None)


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


def sandbox_unless_credentials(settings: ClientSettings) -> dict[str, Any] | None:
    """At an edge only (the CLI, `make ui`): with no credential set, the built-in sandbox
    (started if none answers on CC_ASSETS_SANDBOX_PORT), its variables exported to this process
    so that all it starts (runs, a code server) reads them as a user's. Its info, or None."""
    if settings.has_credentials:
        return None
    from cc_assets.sandbox.process import ensure_local_sandbox  # noqa: PLC0415 (a server's worth)

    info = ensure_local_sandbox()
    export(sandbox_environment(settings, info))
    return info
