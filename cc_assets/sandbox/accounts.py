"""The accounts one sandbox application serves: their names, data and identities.

Constant Contact counts its limits per application key, and one key may be authorized by many
accounts; a sandbox serving several accounts under one client id lets a client prove that it
keeps their data apart and shares the key's budget among them. Account 0 is exactly the account
a single-account sandbox serves (its seed and size are the server's own), so `--accounts 1`
changes nothing; account i > 0 gets a seed derived from the base seed and i, so the same flags
always serve the same accounts.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from cc_assets.sandbox.account import FIRST_NAMES, LAST_NAMES, AccountConfig

ORGANIZATION_WORDS = (
    "Harbor", "Maple", "Granite", "Summit", "Willow", "Beacon", "Copper", "Meadow", "Atlas",
    "Juniper", "Lantern", "Orchard", "Pioneer", "Riverside", "Cedar", "Northwind",
)  # fmt: skip
ORGANIZATION_KINDS = ("Bakery", "Books", "Fitness", "Garden Supply", "Dental", "Brewing", "Travel")
US_STATES = (  # (state_code, time_zone_id, city)
    ("MA", "US/Eastern", "Boston"),
    ("NY", "US/Eastern", "Albany"),
    ("IL", "US/Central", "Chicago"),
    ("CO", "US/Mountain", "Denver"),
    ("CA", "US/Pacific", "Sacramento"),
    ("WA", "US/Pacific", "Seattle"),
)
ENCODED_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def account_name(index: int) -> str:
    """`acct0`, `acct1`, ...: the slug a client may use as the account's name."""
    return f"acct{index}"


def derived_seed(seed: int, index: int) -> int:
    """Account 0 keeps the base seed (a one-account server is unchanged); the others get a
    stable seed of their own, so no two accounts share their contacts or campaigns."""
    if index == 0:
        return seed
    digest = hashlib.blake2b(f"account:{seed}:{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class SandboxAccount:
    """One account of the application: its name and the definition of its data."""

    index: int
    config: AccountConfig

    @property
    def name(self) -> str:
        return account_name(self.index)

    @cached_property
    def customer(self) -> dict[str, Any]:
        """The account's `Customer` object (`GET /account/summary`) with every optional part,
        generated from its seed: the route drops what `extra_fields` did not ask for."""
        rng = random.Random(f"customer:{self.config.seed}:{self.index}")
        encoded = "".join(rng.choice(ENCODED_ID_ALPHABET) for _ in range(14))
        organization = f"{rng.choice(ORGANIZATION_WORDS)} {rng.choice(ORGANIZATION_KINDS)}"
        slug = organization.lower().replace(" ", "")
        state, time_zone, city = rng.choice(US_STATES)
        phone = f"{rng.randint(200, 989)}-555-{rng.randint(0, 9999):04d}"
        return {
            "contact_email": f"owner@{slug}.example.com",
            "contact_phone": phone.replace("-", ""),
            "country_code": "US",
            "encoded_account_id": encoded,
            "first_name": rng.choice(FIRST_NAMES),
            "last_name": rng.choice(LAST_NAMES),
            "organization_name": organization,
            "organization_phone": phone,
            "state_code": state,
            "time_zone_id": time_zone,
            "website": f"https://www.{slug}.example.com",
            "physical_address": {
                "address_line1": f"{rng.randint(1, 999)} {rng.choice(ORGANIZATION_WORDS)} Street",
                "city": city,
                "state_code": state,
                "postal_code": f"{rng.randint(1000, 99999):05d}",
                "country_code": "US",
            },
        }

    def credentials(self, tokens: dict[str, object]) -> dict[str, object]:
        """What `cc-sandbox serve` prints for the account: who it is and its first tokens."""
        return {
            "name": self.name,
            "encoded_account_id": self.customer["encoded_account_id"],
            "organization_name": self.customer["organization_name"],
            "refresh_token": tokens["refresh_token"],
            "access_token": tokens["access_token"],
        }


def parse_sizes(raw: str) -> list[int]:
    """`--account-contacts 300,2000,100000`: one contact count per account."""
    try:
        sizes = [int(part) for part in raw.split(",")]
    except ValueError:
        raise ValueError(
            f"--account-contacts {raw!r}: a comma-separated list of integers"
        ) from None
    return sizes


def application_accounts(
    base: AccountConfig, count: int = 1, contacts: list[int] | None = None
) -> list[SandboxAccount]:
    """The `count` accounts of one application; `contacts` (one per account) sizes each, else
    every account has the base's contact count."""
    if count < 1:
        raise ValueError("--accounts must be at least 1")
    if contacts is not None and len(contacts) != count:
        raise ValueError(f"--account-contacts names {len(contacts)} sizes for {count} accounts")
    return [
        SandboxAccount(
            index,
            replace(
                base,
                seed=derived_seed(base.seed, index),
                contacts=base.contacts if contacts is None else contacts[index],
            ),
        )
        for index in range(count)
    ]


def find_account(accounts: list[SandboxAccount], name: str | None) -> SandboxAccount:
    """The account called `name` (None: account 0); ValueError names the ones there are."""
    if name is None:
        return accounts[0]
    for account in accounts:
        if account.name == name:
            return account
    known = ", ".join(a.name for a in accounts)
    raise ValueError(f"no sandbox account {name!r} (this server has {known})")
