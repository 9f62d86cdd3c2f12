"""`cc-assets accounts add NAME` and `cc-assets accounts list`: the accounts of one app key.

`add` authorizes the app for one more account (`constant_contact.authorize`: the browser, a
one-answer listener on 127.0.0.1, PKCE), stores the pair in the token store under the
account's name, reads whose account it is (`/account/summary`) and, when `CC_ASSETS_ACCOUNTS`
names a file, adds the account to it. An account that is already in the file under another
name is refused: two names for one account would read its data twice into one lake.

`list` reads each account's identity (one call each) and shows its token health: a refused
grant names the command that re-authorizes it. No token is ever printed.
"""

from __future__ import annotations

import webbrowser
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tabulate import tabulate

from cc_assets.cli import error_line
from cc_assets.constant_contact.accounts import NAME, VARIABLE, Account, append_account
from cc_assets.constant_contact.authorize import authorize_account
from cc_assets.constant_contact.token_store import token_store
from cc_assets.instance import ensure_dagster_home
from cc_assets.pipeline.preflight import check, same_account
from cc_assets.progress import account_prefix, say
from cc_assets.settings import Settings, load_settings


def add(name: str, port: int, open_browser: bool) -> int:
    """Authorize account `name`, store its pair, record it in the accounts file."""
    if not NAME.fullmatch(name):
        error_line(f"{name!r}: an account name is a slug of a-z, 0-9, _ and -")
        return 2
    settings = load_settings()

    def show(url: str) -> None:
        say(f"open this page and log in as the owner of account {name!r}:")
        print(url, flush=True)
        if open_browser:
            webbrowser.open(url)

    account = authorize_account(settings.application(), name, show, port=port)
    (added,) = check([Account(name, 1.0, account)])
    if added.identity is None:
        error_line(f"authorized, but the account cannot be read: {added.problem}")
        return 1
    others = [a for a in _listed(settings) if a.name != name]
    clash = same_account([added, *check(others)])
    if clash is not None:
        error_line(clash)
        return 1
    org = added.identity.organization_name or "(no organization name)"
    say(f"authorized {name}: {org} ({added.identity.encoded_account_id})")
    path = settings.environ.get(VARIABLE, "").strip()
    if not path:
        say(
            f"set {VARIABLE} to an accounts file listing it (`- name: {name}` with "
            f"`token_store_key: {name}`) to read it"
        )
    elif append_account(Path(path), name):
        say(f"added {name} to {path}")
    return 0


def _listed(settings: Settings) -> tuple[Account, ...]:
    """The accounts of the file, or none while there is no file (`add` creates it)."""
    path = settings.environ.get(VARIABLE, "").strip()
    return settings.accounts() if path and Path(path).exists() else ()


def list_accounts() -> int:
    """A table of every account: identity, weight, token health, last token refresh."""
    checked = check(load_settings().accounts())
    rows = []
    for item in checked:
        identity = item.identity
        rows.append(
            [
                item.account.name,
                identity.organization_name if identity else "",
                identity.encoded_account_id if identity else "",
                f"{item.account.weight:g}",
                "ok" if item.problem is None else f"REFUSED: {item.problem}",
                _last_token_refresh(item.account),
            ]
        )
    headers = ["account", "organization", "encoded_account_id", "weight", "token", "token saved"]
    print(tabulate(rows, headers=headers), flush=True)
    for line in _progress(datetime.now(UTC)):  # the accounts' lakes and the instance
        print(line, flush=True)
    clash = same_account(checked)
    if clash is not None:
        error_line(clash)
    return 0 if clash is None and all(item.problem is None for item in checked) else 1


def _last_token_refresh(account: Account) -> str:
    """When the token store last wrote the account's pair (a refresh or an authorization)."""
    if not account.settings.can_refresh:
        return "-"
    pair = token_store(account.settings).read()
    if pair is None or pair.saved_at is None:
        return "never"
    return datetime.fromtimestamp(pair.saved_at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _progress(now: datetime) -> list[str]:
    """Each account the pipeline reads, on the instance: its last refresh (its newest activity
    stats snapshot, which every refresh takes), how long ago, and its history (no call)."""
    ensure_dagster_home()
    import dagster as dg  # noqa: PLC0415 - a second's import, for this command alone

    from cc_assets.defs.automation.jobs import HISTORY_KEY  # noqa: PLC0415
    from cc_assets.defs.automation.schedules import history_progress  # noqa: PLC0415
    from cc_assets.defs.ingestion.partitions import accounts, snapshot_key  # noqa: PLC0415

    days = [(now.date() - timedelta(days=back)).isoformat() for back in range(LAG_DAYS)]
    lines = []
    with dg.DagsterInstance.get() as instance:
        for account in accounts():
            keys = [snapshot_key(account, day) for day in days]
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=HISTORY_KEY, asset_partitions=keys), limit=1
            ).records
            history = history_progress(instance, now, account).line()
            lines += [f"{account_prefix(account)}{_last_refresh(found, now)}", f"  {history}"]
    return lines


LAG_DAYS = 30
"""How far back `accounts list` looks for an account's last refresh."""


def _last_refresh(records: list, now: datetime) -> str:
    if not records:
        return f"last refresh: none in the last {LAG_DAYS} days"
    at = datetime.fromtimestamp(records[0].timestamp, UTC)
    minutes = int((now - at).total_seconds() // 60)
    age = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"last refresh: {at:%Y-%m-%d %H:%M} UTC ({age} ago)"
