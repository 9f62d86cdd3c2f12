"""The accounts of one application key, as the file named by `CC_ASSETS_ACCOUNTS` declares them.

Constant Contact counts its limits per application key, and an agency's app is authorized by
many accounts, each with its own token pair. The file names each account and says where its
credentials are, *by reference* (an environment variable, or the token store's entry that
`cc-assets accounts add` wrote), so no secret is ever in the file:

    accounts:
      - name: acme                              # slug: in partition keys, paths, marts
        refresh_token_env: ACME_CC_REFRESH_TOKEN
        weight: 2                               # share of the key's budget (default 1)
      - name: globex
        token_store_key: globex

Everything is checked when the file is read, before any call: a name that is not a slug or is
repeated, a key the format does not know, an account with no or two credential references, a
variable that is unset. Each is one `ConfigurationError` naming the account and what to fix.
The application itself (client id and secret, or the v2 API key) and every other setting stay
the `CONSTANT_CONTACT_*` variables, shared by all accounts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings

VARIABLE = "CC_ASSETS_ACCOUNTS"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
REFERENCES = ("refresh_token_env", "access_token_env", "token_store_key")
KEYS = {"name", "weight", *REFERENCES}


@dataclass(frozen=True)
class AccountSpec:
    """One account of the file: its name, where its credentials are, its share of the budget."""

    name: str
    refresh_token_env: str | None = None
    access_token_env: str | None = None
    token_store_key: str | None = None
    weight: float = 1.0

    def client_settings(self, app: ClientSettings, env: Mapping[str, str]) -> ClientSettings:
        """The application's settings with this account's credentials: a variable's value, or
        nothing but the store's entry (the token manager reads the pair from there)."""
        account = replace(
            app,
            account=self.name,
            token_store_key=self.token_store_key or self.name,
            access_token=None,
            refresh_token=None,
        )
        if self.refresh_token_env:
            return replace(account, refresh_token=_variable(env, self, self.refresh_token_env))
        if self.access_token_env:
            return replace(account, access_token=_variable(env, self, self.access_token_env))
        return account


def _variable(env: Mapping[str, str], spec: AccountSpec, name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(
            VARIABLE, f"account {spec.name!r} takes its token from {name}, which is not set"
        )
    return value


def read_accounts(path: Path) -> tuple[AccountSpec, ...]:
    """The accounts `path` declares, every one checked (see the module docstring)."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(VARIABLE, f"{path} does not exist") from None
    except (OSError, yaml.YAMLError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise ConfigurationError(VARIABLE, f"{path} cannot be read ({reason})") from None
    entries = data.get("accounts") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigurationError(VARIABLE, f"{path} must hold `accounts:`, a list of accounts")
    specs = tuple(_spec(entry, index) for index, entry in enumerate(entries))
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigurationError(VARIABLE, f"account {spec.name!r} is listed twice")
        seen.add(spec.name)
    return specs


def _spec(entry: object, index: int) -> AccountSpec:
    if not isinstance(entry, dict):
        raise ConfigurationError(VARIABLE, f"account #{index + 1} must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigurationError(
            VARIABLE,
            f"account #{index + 1}: name {name!r} must be a slug of a-z, 0-9, _ and - "
            "(it is part of partition keys and paths)",
        )
    unknown = sorted(str(key) for key in entry if key not in KEYS)
    if unknown:
        raise ConfigurationError(
            VARIABLE,
            f"account {name!r}: unknown key(s) {', '.join(unknown)}; known: "
            + ", ".join(sorted(KEYS)),
        )
    given = [key for key in REFERENCES if entry.get(key) is not None]
    if len(given) != 1:
        raise ConfigurationError(
            VARIABLE,
            f"account {name!r} needs exactly one of {', '.join(REFERENCES)}"
            + (f", not {len(given)}" if given else ""),
        )
    reference = entry[given[0]]
    if not isinstance(reference, str) or not reference.strip():
        raise ConfigurationError(VARIABLE, f"account {name!r}: {given[0]} must be a name")
    weight = entry.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise ConfigurationError(
            VARIABLE, f"account {name!r}: weight must be a number above 0, not {weight!r}"
        )
    return AccountSpec(name=name, weight=float(weight), **{given[0]: reference.strip()})


def append_account(path: Path, name: str) -> bool:
    """Add `name` to the file (created if missing) with its credentials in the token store;
    False when the file already lists it. The file is rewritten whole, so comments are lost
    only when an account is added by command."""
    data: dict[str, object] = {"accounts": []}
    if path.exists():
        read_accounts(path)  # a broken file is reported, never overwritten
        data = yaml.safe_load(path.read_text())
    entries = data["accounts"]
    assert isinstance(entries, list)
    if any(entry.get("name") == name for entry in entries):
        return False
    entries.append({"name": name, "token_store_key": name})
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.tmp")
    draft.write_text(yaml.safe_dump(data, sort_keys=False))
    draft.replace(path)  # whole or not at all: a crash never leaves half a file
    return True


@dataclass(frozen=True)
class Account:
    """An account the deployment reads: its name, share of the budget and client settings."""

    name: str
    weight: float
    settings: ClientSettings


SINGLE = "default"
"""The name shown for the one account of the `CONSTANT_CONTACT_*` variables (no file)."""


def configured_accounts(app: ClientSettings, env: Mapping[str, str]) -> tuple[Account, ...]:
    """The accounts of the file `CC_ASSETS_ACCOUNTS` names, with the application's settings;
    without the variable, the one account of the `CONSTANT_CONTACT_*` variables."""
    path = env.get(VARIABLE, "").strip()
    if not path:
        return (Account(SINGLE, 1.0, app),)
    return tuple(
        Account(spec.name, spec.weight, spec.client_settings(app, env))
        for spec in read_accounts(Path(path))
    )
