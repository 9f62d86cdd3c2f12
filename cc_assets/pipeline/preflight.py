"""What a run checks before it spends a call: settings that cannot work fail here, in one line
naming the variable to fix, instead of minutes later as a retried network fault or a Dagster
traceback after discovery has already spent part of the day's quota."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upath import UPath

from cc_assets.constant_contact.accounts import VARIABLE, Account
from cc_assets.constant_contact.client import AccountIdentity, ConstantContactClient
from cc_assets.constant_contact.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    ConstantContactError,
    QuotaExceededError,
)
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.lake.paths import lake_root
from cc_assets.pipeline.reports import (
    V3Account,
    account_type,
    check_credentials,
    open_reports,
    sandbox_environment,
)
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


def check_settings(project: Settings) -> tuple[Account, ...]:
    """The accounts' client settings, refused when they cannot work: numbers and URLs (parsed
    by `ClientSettings.from_env`), the accounts file, the API version against each account's
    credentials, and the places a run writes to (the lake, the state folder and the token
    store)."""
    try:
        accounts = project.accounts()
    except ValueError as error:
        if isinstance(error, ConfigurationError):
            raise
        # a parser that does not name its variable: still one line, never a traceback
        raise ConfigurationError("environment", str(error)) from None
    for account in accounts:
        check_credentials(account.settings)
    check_writable(lake_root(project.lake), "CC_ASSETS_STORAGE", "the Parquet lake")
    state = state_dir()
    check_writable(UPath(state), "CC_ASSETS_STATE_DIR", "the request budget and token state")
    store = accounts[0].settings.token_store_path  # the application's: one for every account
    if store is not None:
        check_writable(UPath(Path(store).parent), "CC_ASSETS_TOKEN_STORE", "the token store")
    return accounts


def reach_account(settings: ClientSettings, on_event: Callable[[str], None] | None = None) -> None:
    """The run's first call, made before Dagster is loaded: the first page of the campaign list.

    A wrong token, a refused key or an unreachable server is then one line within seconds,
    not a failed snapshot minutes later. It is the only call a refresh spends outside the
    campaign walk of the `email_campaigns` snapshot, which discovery reads (one walk a day)."""
    with open_reports(settings, on_event=on_event) as reports:
        next(iter(reports.list_campaigns()), None)


@dataclass(frozen=True)
class Checked:
    """An account and what one call said of it: its identity, or why there is none."""

    account: Account
    identity: AccountIdentity | None
    error: ConstantContactError | ConfigurationError | None = None

    @property
    def problem(self) -> str | None:
        return None if self.error is None else str(self.error)


def check(accounts: Iterable[Account]) -> list[Checked]:
    """Each account's identity, one call each; a refusal is that account's problem alone."""
    checked = []
    for account in accounts:
        try:
            with ConstantContactClient(account.settings) as client:
                checked.append(Checked(account, client.get_account_identity()))
        except (ConfigurationError, ConstantContactError) as error:
            checked.append(Checked(account, None, error))
    return checked


def same_account(checked: Iterable[Checked]) -> str | None:
    """The line that names two names of one Constant Contact account, if any."""
    seen: dict[str, str] = {}
    for item in checked:
        if item.identity is None:
            continue
        other = seen.setdefault(item.identity.encoded_account_id, item.account.name)
        if other != item.account.name:
            return (
                f"{VARIABLE}: accounts {other!r} and {item.account.name!r} are one Constant "
                f"Contact account ({item.identity.encoded_account_id}); list it once"
            )
    return None


def reach_accounts(accounts: Sequence[Account], on_event: Callable[[str], None]) -> dict[str, str]:
    """The first call of each account of an accounts file: its identity (`/account/summary`),
    or for a v2 key the campaign list's first page. Returns the accounts refused at it (name:
    one line): a revoked grant or an unreachable API costs its account alone. Two names of
    one Constant Contact account are a `ConfigurationError`, before anything is read."""
    refused: dict[str, str] = {}
    checked = []
    for account in accounts:
        on_event(f"checking the account {account.name}...")
        if account_type(account.settings) is V3Account:
            (found,) = check([account])
            checked.append(found)
            error = found.error
        else:
            try:
                reach_account(account.settings, on_event=on_event)
                error = None
            except ConstantContactError as failed:
                error = failed
        if isinstance(error, FIRST_CALL_FATAL):
            refused[account.name] = f"{type(error).__name__}: {error}"
        elif error is not None:  # its snapshot will fail and say so itself
            on_event(f"account {account.name}: the first call failed ({error}); going on")
    clash = same_account(checked)
    if clash is not None:
        raise ConfigurationError(VARIABLE, clash.removeprefix(f"{VARIABLE}: "))
    return refused


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
