"""The built-in account: the one `make demo`, `make ui` and a credential-less `cc-assets
refresh` serve, defined once so the three agree and their numbers can share one lake.

It is anchored at a fixed instant (its campaigns, sends and contacts never change) and runs on
the `daily` clock: "now" is 00:00 UTC of the current day. So the same commands on the same day
give the same numbers, a daily snapshot holds the account as of the start of its own date, and
no event is ever dated after the real time (the client refuses events later than a response).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cc_assets.sandbox.account import AccountConfig, account_fingerprint

BUILTIN_ACCOUNT = AccountConfig(
    seed=7, contacts=1_500, campaigns=8, days=45, now=datetime(2026, 11, 1, tzinfo=UTC)
)
BUILTIN_CLOCK = "daily"
BUILTIN_FINGERPRINT = account_fingerprint(BUILTIN_ACCOUNT, BUILTIN_CLOCK)


def builtin_options() -> dict[str, Any]:
    """`cc-sandbox serve` options that serve the built-in account."""
    return {**BUILTIN_ACCOUNT.as_dict(), "clock": BUILTIN_CLOCK}


def describe(account: dict[str, Any], clock: str) -> str:
    """One line naming an account as the control API reports it (`/__sandbox__/info`)."""
    return (
        f"seed {account.get('seed')}, {account.get('contacts'):,} contacts, "
        f"{account.get('campaigns')} campaigns, anchored at {account.get('now')}, {clock} clock"
    )
