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

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
PG_VARIABLES = {
    "host": ("CC_ASSETS_PG_HOST", "127.0.0.1"),
    "port": ("CC_ASSETS_PG_PORT", "5432"),
    "user": ("CC_ASSETS_PG_USER", "postgres"),
    "password": ("CC_ASSETS_PG_PASSWORD", ""),
    "dbname": ("CC_ASSETS_PG_DATABASE", "test"),
}
"""The warehouse of dbt's `postgres` target (the profile reads the same variables)."""


@dataclass(frozen=True)
class Settings:
    """One read of the environment. Values a variable may hold wrongly are parsed when asked
    for (`client`, `hot_days`), so a typo in one fails only what uses it, naming it."""

    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def _get(self, name: str, default: str) -> str:
        return self.environ.get(name) or default

    @property
    def lake(self) -> str:
        """`CC_ASSETS_STORAGE`: the lake's root, a local path or an fsspec URL."""
        return self._get("CC_ASSETS_STORAGE", "data/lake")

    @property
    def warehouse(self) -> Path:
        """`CC_ASSETS_WAREHOUSE`, absolute: dbt resolves paths against its own folder."""
        return Path(self._get("CC_ASSETS_WAREHOUSE", "data/warehouse.duckdb")).resolve()

    @property
    def dbt_target(self) -> str:
        """`CC_ASSETS_DBT_TARGET`: `duckdb` (default) or `postgres`."""
        return self._get("CC_ASSETS_DBT_TARGET", "duckdb")

    @property
    def hot_days(self) -> int:
        """`CC_ASSETS_HOT_DAYS`: activities sent this recently are refreshed every run."""
        return int(self._get("CC_ASSETS_HOT_DAYS", "14"))

    @property
    def daily_snapshot_cron(self) -> str:
        """`CC_ASSETS_DAILY_SNAPSHOT_CRON` (UTC)."""
        return self._get("CC_ASSETS_DAILY_SNAPSHOT_CRON", "15 0 * * *")

    @property
    def dagster_home(self) -> Path:
        """`DAGSTER_HOME`, else the project's `./.dagster_home`."""
        return Path(self._get("DAGSTER_HOME", ".dagster_home")).resolve()

    @property
    def postgres(self) -> dict[str, str]:
        """The `postgres` warehouse's connection (`CC_ASSETS_PG_*`), unset values left out."""
        found = {
            key: self.environ.get(name, default) for key, (name, default) in PG_VARIABLES.items()
        }
        return {key: value for key, value in found.items() if value}

    def client(self, **secrets: str | None) -> ClientSettings:
        """The client's settings; `secrets` (fields of `SECRETS`) replace what the environment
        holds, as a resource resolved them."""
        given = {SECRETS[k]: v or "" for k, v in secrets.items() if v is not None}
        return ClientSettings.from_env({**self.environ, **given})

    @property
    def has_credentials(self) -> bool:
        """Whether any Constant Contact credential is set (else the edge offers the sandbox)."""
        return self.client().has_credentials


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of this process (or of `environ`, a test's)."""
    return Settings(dict(os.environ if environ is None else environ))


def state_dir() -> Path:
    """`CC_ASSETS_STATE_DIR`: machine-local shared state (rate limiter, token store), read
    when used: every process of a run, and the sandbox, must meet in the same folder."""
    return Path(os.environ.get("CC_ASSETS_STATE_DIR", Path.home() / ".cache" / "cc_assets"))


def export(variables: Mapping[str, str]) -> None:
    """Set `variables` in this process's environment, for what it starts (a run's processes, a
    code server, dbt): an edge's choices (the sandbox's credentials, the demo's places)."""
    os.environ.update(variables)
