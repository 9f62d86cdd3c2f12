"""The accounts file (`CC_ASSETS_ACCOUNTS`): what it declares, every mistake one line before
any call, and what the accounts of one application key share (the budget) and do not (their
token pairs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_assets.constant_contact.accounts import read_accounts
from cc_assets.constant_contact.client import request_budget
from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.token_store import TokenPair, token_store
from cc_assets.settings import load_settings

APP = {
    "CONSTANT_CONTACT_CLIENT_ID": "app-1",
    "CONSTANT_CONTACT_CLIENT_SECRET": "secret-1",
    "CONSTANT_CONTACT_BASE_URL": "http://127.0.0.1:9/v3",
    "CONSTANT_CONTACT_TOKEN_URL": "http://127.0.0.1:9/oauth2/default/v1/token",
}
TWO = """
accounts:
  - name: acme
    refresh_token_env: ACME_REFRESH
    weight: 2
  - name: globex
    token_store_key: globex-store
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(text)
    return path


def test_two_accounts_share_the_application_and_keep_their_own_credentials(
    tmp_path: Path,
) -> None:
    env = {**APP, "CC_ASSETS_ACCOUNTS": str(write(tmp_path, TWO)), "ACME_REFRESH": "r-acme"}
    acme, globex = load_settings(env).accounts()

    assert (acme.name, acme.weight, globex.name, globex.weight) == ("acme", 2.0, "globex", 1.0)
    assert acme.settings.refresh_token == "r-acme"
    assert acme.settings.client_id == globex.settings.client_id == "app-1"
    assert globex.settings.refresh_token is None and globex.settings.can_refresh
    assert "r-acme" not in repr(acme.settings)
    assert load_settings(env).client("globex") == globex.settings
    with pytest.raises(ConfigurationError, match=r"no account None \(it lists acme, globex\)"):
        load_settings(env).client()  # which account's? with a file, a name is needed


def test_without_a_file_the_single_account_is_the_variables_one(tmp_path: Path) -> None:
    env = {**APP, "CONSTANT_CONTACT_REFRESH_TOKEN": "r-single"}
    (single,) = load_settings(env).accounts()

    assert single.settings == ClientSettings.from_env(env)
    assert load_settings(env).client() == single.settings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accounts: []", "must hold `accounts:`"),
        ("[1, 2]", "must hold `accounts:`"),
        ("accounts: [{name: Acme, token_store_key: a}]", "name 'Acme' must be a slug"),
        ("accounts: [{name: a, token_store_key: a}, {name: a, token_store_key: b}]", "twice"),
        ("accounts: [{name: a, token_store_key: a, colour: red}]", "unknown key.s. colour"),
        ("accounts: [{name: a}]", "needs exactly one of"),
        (
            "accounts: [{name: a, token_store_key: a, refresh_token_env: X}]",
            "needs exactly one of .*, not 2",
        ),
        ("accounts: [{name: a, token_store_key: a, weight: 0}]", "weight must be a number above"),
        ("accounts: [{name: a, token_store_key: a, weight: yes}]", "weight must be a number"),
        ("accounts: [{name: a, refresh_token_env: UNSET_VAR}]", "UNSET_VAR, which is not set"),
        ("accounts: [{name: a, token_store_key: [1]}]", "token_store_key must be a name"),
        ("accounts: {", "cannot be read"),
    ],
)
def test_every_mistake_is_one_line_naming_the_variable(
    tmp_path: Path, text: str, message: str
) -> None:
    env = {**APP, "CC_ASSETS_ACCOUNTS": str(write(tmp_path, text))}
    with pytest.raises(ConfigurationError, match=message) as raised:
        load_settings(env).accounts()
    assert str(raised.value).startswith("CC_ASSETS_ACCOUNTS: ")
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_accounts(tmp_path / "nowhere.yaml")


def test_each_account_rotates_in_its_own_store_entry(tmp_path: Path) -> None:
    env = {**APP, "CC_ASSETS_ACCOUNTS": str(write(tmp_path, TWO)), "ACME_REFRESH": "r-acme"}
    acme, globex = load_settings(env).accounts()
    single = ClientSettings.from_env({**APP, "CONSTANT_CONTACT_REFRESH_TOKEN": "r"})

    token_store(acme.settings).write(TokenPair("a-acme", "r-acme-2"))

    assert token_store(acme.settings).read() == TokenPair("a-acme", "r-acme-2")
    assert token_store(globex.settings).read() is None
    assert token_store(single).read() is None


def test_the_accounts_of_one_key_spend_one_budget(tmp_path: Path) -> None:
    env = {**APP, "CC_ASSETS_ACCOUNTS": str(write(tmp_path, TWO)), "ACME_REFRESH": "r-acme"}
    acme, globex = load_settings(env).accounts()
    other_app = ClientSettings.from_env({**APP, "CONSTANT_CONTACT_CLIENT_ID": "app-2"})

    for _ in range(3):
        request_budget(acme.settings).acquire("/v3/emails")
    request_budget(globex.settings).acquire("/v3/emails")

    assert (
        request_budget(acme.settings).used_today()
        == request_budget(globex.settings).used_today()
        == 4
    )
    assert request_budget(other_app).used_today() == 0
