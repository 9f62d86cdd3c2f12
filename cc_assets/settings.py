"""The project's settings: the one module that reads the environment.

`load_settings()` reads the environment once into a `Settings`, which the caller passes down:
the CLI and the demo at their start, each Dagster resource when a run or a tick opens it (so
a code server that lives for days takes what its process was started with, as every run of
it would), the schedules' definitions at import (a cron is part of the code location).
Nothing else reads a variable; every name and meaning is the README's.

The client's variables (`CONSTANT_CONTACT_*`, the token store, the shared rate limit) are
parsed by `ClientSettings.from_env`, which names the variable in each error. The secrets among
them (`SECRETS`) are the Dagster resource's `dg.EnvVar` fields, so the UI shows them as
environment-backed and never their values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cc_assets.constant_contact.accounts import (
    SINGLE,
    VARIABLE,
    Account,
    AccountSpec,
    configured_accounts,
    read_accounts,
)
from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings

SECRETS = {
    "access_token": "CONSTANT_CONTACT_ACCESS_TOKEN",
    "client_secret": "CONSTANT_CONTACT_CLIENT_SECRET",
    "refresh_token": "CONSTANT_CONTACT_REFRESH_TOKEN",
    "api_key": "CONSTANT_CONTACT_API_KEY",
    "token_store": "CC_ASSETS_TOKEN_STORE",
}
"""The Constant Contact resource's secret fields and the variable each comes from (a token
store URL may carry a password)."""
DISCOVERY_VARIABLE = "CC_ASSETS_DISCOVERY_MINUTES"
PG_VARIABLES = {
    "host": ("CC_ASSETS_PG_HOST", "127.0.0.1"),
    "port": ("CC_ASSETS_PG_PORT", "5432"),
    "user": ("CC_ASSETS_PG_USER", "postgres"),
    "password": ("CC_ASSETS_PG_PASSWORD", ""),
    "dbname": ("CC_ASSETS_PG_DATABASE", "test"),
}
"""The warehouse of dbt's `postgres` target (its profile reads the same variables)."""


@dataclass(frozen=True)
class Settings:
    """One read of the environment, parsed; `client()` and `hot_days` when asked for, so a
    typo in one of theirs fails only what uses it, naming the variable."""

    environ: Mapping[str, str] = field(repr=False)
    lake: str = "data/lake"
    """`CC_ASSETS_STORAGE`: the lake's root, a local path or an fsspec URL."""
    warehouse: Path = Path("data/warehouse.duckdb")
    """`CC_ASSETS_WAREHOUSE`, made absolute: dbt resolves paths against its own folder."""
    dbt_target: str = "duckdb"
    """`CC_ASSETS_DBT_TARGET`: `duckdb` or `postgres`."""
    daily_snapshot_cron: str = "15 0 * * *"
    """`CC_ASSETS_DAILY_SNAPSHOT_CRON` (UTC)."""
    dagster_home: Path = Path(".dagster_home")
    """`DAGSTER_HOME`, made absolute."""
    postgres: Mapping[str, str] = field(default_factory=dict)
    """The `postgres` warehouse's connection (`CC_ASSETS_PG_*`), unset values left out."""

    @property
    def hot_days(self) -> int:
        """`CC_ASSETS_HOT_DAYS`: activities sent this recently are refreshed every run."""
        return int(self.environ.get("CC_ASSETS_HOT_DAYS") or 14)

    @property
    def discovery_minutes(self) -> int:
        """`CC_ASSETS_DISCOVERY_MINUTES`: the discovery sensor's interval. A tick lists every
        account's campaigns, so 20 accounts every 5 minutes spend 5,760 calls a day of a
        10,000-call key; the planner keeps back what the ticks still to come will spend."""
        text = self.environ.get(DISCOVERY_VARIABLE, "").strip() or "5"
        if not text.isdigit() or not 1 <= int(text) <= 1440:
            raise ConfigurationError(DISCOVERY_VARIABLE, f"{text!r} is not minutes from 1 to 1440")
        return int(text)

    @property
    def discovery_ticks_per_day(self) -> int:
        return math.ceil(1440 / self.discovery_minutes)

    def application(self, **secrets: str | None) -> ClientSettings:
        """The application's settings, shared by every account of the key; `secrets` (fields of
        `SECRETS`) replace what the environment holds, as a resource resolved them."""
        given = {SECRETS[k]: v or "" for k, v in secrets.items() if v is not None}
        file = bool(self.environ.get(VARIABLE, "").strip())
        return ClientSettings.from_env({**self.environ, **given}, tokens_in_env=not file)

    def accounts(self, **secrets: str | None) -> tuple[Account, ...]:
        """The accounts `CC_ASSETS_ACCOUNTS` lists, or the one of the `CONSTANT_CONTACT_*`
        variables."""
        return configured_accounts(self.application(**secrets), self.environ)

    def account_specs(self) -> tuple[AccountSpec, ...]:
        """The accounts file's entries (its structure checked, no variable read); empty
        without a file: the single account of the `CONSTANT_CONTACT_*` variables."""
        path = self.environ.get(VARIABLE, "").strip()
        return read_accounts(Path(path)) if path else ()

    def account_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.account_specs())

    def client(self, account: str | None = None, **secrets: str | None) -> ClientSettings:
        """The client's settings for `account` (a name of the file; None: the single account
        of the variables, or a file's only account)."""
        accounts = self.accounts(**secrets)
        if account is None and len(accounts) == 1:
            return accounts[0].settings
        for found in accounts:
            if found.name == account or (account is None and found.name == SINGLE):
                return found.settings
        names = ", ".join(found.name for found in accounts)
        raise ConfigurationError(VARIABLE, f"names no account {account!r} (it lists {names})")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of this process (or of `environ`, a test's)."""
    env = dict(os.environ if environ is None else environ)
    pg = {key: env.get(name, default) for key, (name, default) in PG_VARIABLES.items()}
    return Settings(
        env,
        lake=env.get("CC_ASSETS_STORAGE") or Settings.lake,
        warehouse=Path(env.get("CC_ASSETS_WAREHOUSE") or Settings.warehouse).resolve(),
        dbt_target=env.get("CC_ASSETS_DBT_TARGET") or Settings.dbt_target,
        daily_snapshot_cron=env.get("CC_ASSETS_DAILY_SNAPSHOT_CRON")
        or Settings.daily_snapshot_cron,
        dagster_home=Path(env.get("DAGSTER_HOME") or Settings.dagster_home).resolve(),
        postgres={k: v for k, v in pg.items() if v},
    )


def state_dir() -> Path:
    """`CC_ASSETS_STATE_DIR`: machine-local shared state (rate limiter, token store), read
    when used: every process of a run, and the sandbox, must meet in the same folder."""
    return Path(os.environ.get("CC_ASSETS_STATE_DIR", Path.home() / ".cache" / "cc_assets"))


def export(variables: Mapping[str, str]) -> None:
    """Set `variables` in this process's environment, for what it starts (a run's processes, a
    code server, dbt): an edge's choices (the sandbox's credentials, the demo's places)."""
    os.environ.update(variables)
