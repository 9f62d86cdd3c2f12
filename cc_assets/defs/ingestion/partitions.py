"""The partitionings every asset uses, declared once and imported everywhere, and what a
partition key says: which account, which day or activity.

`daily` is keyed by the UTC date a snapshot was captured. `end_offset=1` makes today's key exist
today: a snapshot is taken during its own day, not after it.
`campaign_activities` is filled by the discovery sensor with each sent (`DONE`) `primary_email`
or `resend` activity: the only activities Constant Contact keeps reports for.

Accounts. Without an accounts file (`CC_ASSETS_ACCOUNTS`) the deployment reads the one account
of the `CONSTANT_CONTACT_*` variables and its keys are what they always were: a date, an
activity id. With a file, every key names its account, so one account's partitions can be
re-read, failed or dropped without touching another's, and the UI shows whose they are:

- snapshots are a multi-partition of `account` x `snapshot_date` (key `acme|2026-12-07`);
- activity keys are `<account>:<activity id>` (`acme:2b5c...`): a multi-partition of account x
  activity would list every account's activities under every other account;
- `campaign_engagement` is partitioned by account (`account_partitions`; None, unpartitioned,
  without a file).

The accounts are read from the file when the code location loads (`ACCOUNTS`): adding one
(`cc-assets accounts add`) takes effect when the code location is reloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from cc_assets.constant_contact.accounts import SINGLE
from cc_assets.settings import load_settings

DAILY_START_DATE = "2025-01-01"
CAMPAIGN_ACTIVITIES = "campaign_activities"
ACCOUNT_DIMENSION = "account"
DATE_DIMENSION = "snapshot_date"
ACTIVITY_SEPARATOR = ":"
"""Between the account and the activity id in an activity key: in neither an account's slug
nor an activity id (a UUID, or v2's number)."""

ACCOUNTS: tuple[str, ...] = load_settings().account_names()
"""The accounts of the file, in its order; empty without a file (the single account)."""

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=DAILY_START_DATE, timezone="UTC", end_offset=1
)
account_partitions = dg.StaticPartitionsDefinition(list(ACCOUNTS)) if ACCOUNTS else None
snapshot_partitions: dg.PartitionsDefinition = (
    dg.MultiPartitionsDefinition(
        {ACCOUNT_DIMENSION: account_partitions, DATE_DIMENSION: daily_partitions}
    )
    if account_partitions is not None
    else daily_partitions
)
campaign_activity_partitions = dg.DynamicPartitionsDefinition(name=CAMPAIGN_ACTIVITIES)


@dataclass(frozen=True)
class Scope:
    """One partition key read: the account (None: the single account of the variables, whose
    lake has no account level) and the day or activity id within it."""

    account: str | None
    key: str
    partition: str
    """The partition key itself."""

    @property
    def name(self) -> str:
        """The account's name as users read it (`default` for the single account)."""
        return self.account or SINGLE


def accounts() -> list[str | None]:
    """Every account the deployment reads, as scopes name them."""
    return list(ACCOUNTS) if ACCOUNTS else [None]


def snapshot_key(account: str | None, day: str) -> str:
    if account is None:
        return day
    return str(dg.MultiPartitionKey({ACCOUNT_DIMENSION: account, DATE_DIMENSION: day}))


def activity_key(account: str | None, activity_id: str) -> str:
    return activity_id if account is None else f"{account}{ACTIVITY_SEPARATOR}{activity_id}"


def snapshot_scope(partition: str | dg.MultiPartitionKey) -> Scope:
    if not ACCOUNTS:
        return Scope(None, str(partition), str(partition))
    keys = (
        partition.keys_by_dimension
        if isinstance(partition, dg.MultiPartitionKey)
        else snapshot_partitions.get_partition_key_from_str(partition).keys_by_dimension
    )
    return Scope(keys[ACCOUNT_DIMENSION], keys[DATE_DIMENSION], str(partition))


def activity_scope(partition: str) -> Scope:
    if not ACCOUNTS:
        return Scope(None, partition, partition)
    account, separator, activity_id = partition.partition(ACTIVITY_SEPARATOR)
    if not separator or account not in ACCOUNTS:
        raise ValueError(f"activity partition {partition!r} names no account of the file")
    return Scope(account, activity_id, partition)


def account_of(partition: str | None) -> str | None:
    """The account a partition key names, whatever its kind (snapshot, activity, account);
    None for the single account's keys and for no key."""
    if not ACCOUNTS or partition is None:
        return None
    head = partition.split("|", 1)[0].split(ACTIVITY_SEPARATOR, 1)[0]
    return head if head in ACCOUNTS else None


def partition_tags(partitions: dg.PartitionsDefinition, key: str) -> dict[str, str]:
    """The tags of a run of partition `key` (a multi-partition's names each dimension too)."""
    if isinstance(partitions, dg.MultiPartitionsDefinition):
        parsed = partitions.get_partition_key_from_str(key)
        return {
            "dagster/partition": key,
            **{f"dagster/partition/{d}": k for d, k in parsed.keys_by_dimension.items()},
        }
    return {"dagster/partition": key}
