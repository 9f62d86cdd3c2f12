"""One interface to an account's reports, whatever API version serves them.

A v3 account and a legacy v2 account land the same assets with the same columns. `Reports` is
all that the assets, the discovery sensor, the batched activity job and the preflight call;
`account_type` is the one place that asks which version the settings name
(`CONSTANT_CONTACT_API_VERSION`). `V3Account` reads v3's reports (`snapshots`, `discovery`,
`activity_reads`, `contact_backlog`); `V2Account` reads v2's through `V2Reports`
(`v2_snapshots`, `v2_tracking`), mapped to the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
from upath import UPath

from cc_assets.constant_contact.client import V3_CREDENTIALS_HINT, ConstantContactClient
from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.schemas import AssetTable
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.v2 import V2_CREDENTIALS_HINT, V2Reports, require_v2_credentials
from cc_assets.pipeline import (
    activity_reads,
    contact_backlog,
    discovery,
    snapshots,
    v2_snapshots,
)
from cc_assets.pipeline.tracking import TrackingRefresh

Batches = Iterable[pa.RecordBatch]
PlannedRead = tuple[AssetTable, Callable[[], TrackingRefresh | None]]


class Reports(Protocol):
    """An account's reports in the lake's columns. A snapshot returns batches, or a
    `snapshots.Capture` when some of its calls may fail without failing it."""

    client: ConstantContactClient
    version: str

    def campaign_rows(self) -> snapshots.Capture | Batches: ...
    def campaign_summaries(self) -> Batches: ...
    def campaign_stats(self, campaign_ids: list[str]) -> snapshots.Capture | Batches: ...
    def activity_stats(self, activity_ids: list[str]) -> snapshots.Capture | Batches: ...
    def contact_activity(
        self,
        root: UPath,
        captured_at: datetime,
        reserved: int,
        log: Callable[[str], None],
        limit: int | None,
    ) -> Batches: ...
    def list_campaigns(self, after: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Campaigns updated after `after`, under the v3 list's names (`campaign_id`,
        `updated_at`, `current_status`); a generator, so the preflight reads one page."""

    def campaign_activities(
        self,
        campaigns: Iterable[dict[str, Any]],
        snapshot: Mapping[str, discovery.SnapshotCampaign] | None,
    ) -> list[discovery.ActivityStatus]: ...
    def fetch_stats(self, activity_ids: list[str]) -> dict[str, activity_reads.ActivityStats]:
        """The change detector's stats; an activity without any is read in full."""

    def planned_reads(
        self,
        activity_id: str,
        *,
        stats: activity_reads.ActivityStats | None,
        captured_at: datetime,
        root: UPath,
        selected: set[str],
    ) -> Iterator[PlannedRead]:
        """What to refresh of one activity: (table, read) pairs, each read run before the next
        pair is asked for (what is derived depends on what was read)."""


class V3Account:
    version = "v3"

    def __init__(self, client: ConstantContactClient) -> None:
        self.client = client

    def campaign_rows(self) -> snapshots.Capture:
        return snapshots.campaign_rows(self.client)

    def campaign_summaries(self) -> Batches:
        return self.client.iter_campaign_summaries()

    def campaign_stats(self, campaign_ids: list[str]) -> snapshots.Capture:
        return snapshots.campaign_stats(self.client, campaign_ids)

    def activity_stats(self, activity_ids: list[str]) -> snapshots.Capture:
        return snapshots.activity_stats(self.client, activity_ids)

    def contact_activity(self, *args: Any) -> Batches:
        return contact_backlog.landing_page_activity(self.client, *args)

    def list_campaigns(self, after: datetime | None = None) -> Iterator[dict[str, Any]]:
        return self.client.iter_campaigns(after_date=after)

    def campaign_activities(self, campaigns, snapshot) -> list[discovery.ActivityStatus]:
        return discovery.campaign_activities(self.client, campaigns, snapshot)

    def fetch_stats(self, activity_ids: list[str]) -> dict[str, activity_reads.ActivityStats]:
        return activity_reads.fetch_stats(self.client, activity_ids)

    def planned_reads(self, activity_id: str, **when: Any) -> Iterator[PlannedRead]:
        return activity_reads.planned_reads(self.client, activity_id, **when)


class V2Account:
    """A v2 campaign is its own activity; v2 has no per-activity stats call, so every
    selected report is refreshed (`activity_reads.v2_reads`)."""

    version = "v2"

    def __init__(self, client: ConstantContactClient) -> None:
        self.client = client
        self.v2 = V2Reports(client)

    def campaign_rows(self) -> Batches:
        return v2_snapshots.campaign_rows(self.v2)

    def campaign_summaries(self) -> Batches:
        return v2_snapshots.campaign_summaries(self.v2)

    def campaign_stats(self, campaign_ids: list[str]) -> Batches:
        return v2_snapshots.campaign_stats(self.v2, campaign_ids)

    def activity_stats(self, activity_ids: list[str]) -> Batches:
        return v2_snapshots.activity_stats(self.v2, activity_ids)

    def contact_activity(self, *args: Any) -> Batches:
        return v2_snapshots.contact_activity(self.v2, *args)

    def list_campaigns(self, after: datetime | None = None) -> Iterator[dict[str, Any]]:
        return v2_snapshots.list_campaigns(self.v2, after)

    def campaign_activities(self, campaigns, snapshot) -> list[discovery.ActivityStatus]:
        return v2_snapshots.campaign_activities(campaigns)

    def fetch_stats(self, activity_ids: list[str]) -> dict[str, activity_reads.ActivityStats]:
        return {}

    def planned_reads(self, activity_id: str, **when: Any) -> Iterator[PlannedRead]:
        when.pop("stats")
        return activity_reads.v2_reads(self.v2, activity_id, **when)


def account_type(settings: ClientSettings) -> type[V3Account] | type[V2Account]:
    """The implementation the settings name: the only question of the API version asked."""
    return V2Account if settings.api_version == "v2" else V3Account


@contextmanager
def open_reports(settings: ClientSettings, **callbacks: Any) -> Iterator[Reports]:
    """The account's reports over one client (`on_event`, `on_warning` as the client's)."""
    account = account_type(settings)
    hint = V2_CREDENTIALS_HINT if account is V2Account else V3_CREDENTIALS_HINT
    with ConstantContactClient(settings, credentials_hint=hint, **callbacks) as client:
        yield account(client)


def check_credentials(settings: ClientSettings) -> None:
    """Credentials that fit the API version: v2 takes an API key and a token, v3 a token."""
    if account_type(settings) is V2Account:
        require_v2_credentials(settings)  # the key and a token: v2 checks both on every call
    elif settings.api_key and not (settings.access_token or settings.can_refresh):
        raise ConfigurationError(
            "CONSTANT_CONTACT_ACCESS_TOKEN",
            "the v3 API needs an access token or the refresh settings "
            "(CONSTANT_CONTACT_CLIENT_ID, _CLIENT_SECRET, _REFRESH_TOKEN); an API key alone is "
            "for CONSTANT_CONTACT_API_VERSION=v2",
        )


def sandbox_environment(settings: ClientSettings, info: Mapping[str, str]) -> dict[str, str]:
    """The variables that aim `settings` at a built-in sandbox (`info`: its
    `ensure_local_sandbox` answer), through the endpoints of the settings' API version."""
    v2 = account_type(settings) is V2Account
    names = ("access_token", "client_id", "client_secret", "refresh_token", "token_url")
    return {
        "CONSTANT_CONTACT_BASE_URL": info["v2_base_url" if v2 else "base_url"],
        **{f"CONSTANT_CONTACT_{name.upper()}": info[name] for name in names},
        **({"CONSTANT_CONTACT_API_KEY": info["api_key"]} if v2 else {}),
    }


def source_metadata(reports: Reports) -> dict[str, str]:
    """Where a raw asset's rows came from: `source` (`sandbox` or `constant_contact`) and the
    API version that served them."""
    host = reports.client.settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
    local = host in {"127.0.0.1", "localhost"}  # the built-in sandbox, or a test's
    return {"source": "sandbox" if local else "constant_contact", "api_version": reports.version}
