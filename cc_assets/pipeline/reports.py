"""One interface to an account's reports, whatever API version serves them.

A v3 account and a legacy v2 account land the same assets with the same columns. `Reports` is
all that the assets, the discovery sensor, the batched activity job and the preflight call;
`identity` is whose account the credentials read (`account_summary`).
`account_type` is the one place that asks which version the settings name
(`CONSTANT_CONTACT_API_VERSION`). `V3Account` reads v3's reports (`snapshots`, `discovery`,
`activity_reads`, `contact_backlog`); `V2Account` (`v2_account`) reads v2's (`V2Reports`,
`v2_tracking`). A snapshot returns batches, or a `snapshots.Capture` when some of its calls
may fail without failing it; `list_campaigns` is a generator (the preflight reads one page);
`planned_reads` returns an activity's read plan, a list of `PlannedRead` steps (data) that the
caller runs in order with `run_read`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from cc_assets.constant_contact.client import V3_CREDENTIALS_HINT, ConstantContactClient
from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.pipeline import activity_reads, contact_backlog, discovery, snapshots
from cc_assets.pipeline.activity_reads import ActivityStats, PlannedRead
from cc_assets.pipeline.discovery import ActivityStatus
from cc_assets.pipeline.tracking import TrackingRefresh
from cc_assets.pipeline.v2_account import V2Account

Snapshot = snapshots.Capture | Iterable[pa.RecordBatch]
Campaigns = Iterable[dict[str, Any]]


class Reports(Protocol):
    """An account's reports, in the lake's columns (see the module docstring)."""

    client: ConstantContactClient
    version: str

    def campaign_rows(self, previous: pa.Table | None) -> Snapshot: ...
    def campaign_summaries(self) -> Snapshot: ...
    def campaign_stats(self, campaign_ids: list[str]) -> Snapshot: ...
    def identity(self) -> Snapshot: ...
    def activity_stats(self, activity_ids: list[str]) -> Snapshot: ...
    def contact_activity(self, *backlog: Any) -> Iterator[pa.RecordBatch]: ...
    def list_campaigns(self, after: datetime | None = None) -> Iterator[dict[str, Any]]: ...
    def campaign_activities(self, campaigns: Campaigns, snapshot: Any) -> list[ActivityStatus]: ...
    def fetch_stats(self, activity_ids: list[str]) -> dict[str, ActivityStats]: ...
    def planned_reads(self, activity_id: str, **when: Any) -> list[PlannedRead]: ...
    def run_read(
        self, activity_id: str, step: PlannedRead, read: set[str], **when: Any
    ) -> TrackingRefresh | None: ...


class V3Account:
    version, credentials_hint = "v3", V3_CREDENTIALS_HINT

    def __init__(self, client: ConstantContactClient) -> None:
        self.client = client

    def campaign_rows(self, previous: pa.Table | None) -> Snapshot:
        return snapshots.campaign_rows(self.client, previous)

    def campaign_summaries(self) -> Snapshot:
        return self.client.iter_campaign_summaries()

    def campaign_stats(self, campaign_ids: list[str]) -> Snapshot:
        return snapshots.campaign_stats(self.client, campaign_ids)

    def activity_stats(self, activity_ids: list[str]) -> Snapshot:
        return snapshots.activity_stats(self.client, activity_ids)

    def identity(self) -> Snapshot:
        """`GET /account/summary`: whose account the token reads (one call)."""
        found = self.client.get_account_identity()
        return snapshots.account_summary(
            self.client, found.encoded_account_id, found.organization_name
        )

    def contact_activity(self, *backlog: Any) -> Iterator[pa.RecordBatch]:
        return contact_backlog.landing_page_activity(self.client, *backlog)

    def list_campaigns(self, after: datetime | None = None) -> Iterator[dict[str, Any]]:
        return self.client.iter_campaigns(after_date=after)

    def campaign_activities(self, campaigns: Campaigns, snapshot: Any) -> list[ActivityStatus]:
        return discovery.campaign_activities(self.client, campaigns, snapshot)

    def fetch_stats(self, activity_ids: list[str]) -> dict[str, ActivityStats]:
        return activity_reads.fetch_stats(self.client, activity_ids)

    def planned_reads(self, activity_id: str, **when: Any) -> list[PlannedRead]:
        return activity_reads.planned_reads(activity_id, **when)

    def run_read(
        self, activity_id: str, step: PlannedRead, read: set[str], **when: Any
    ) -> TrackingRefresh | None:
        return activity_reads.run_read(self.client, activity_id, step, read=read, **when)


def account_type(settings: ClientSettings) -> type[V3Account] | type[V2Account]:
    """The implementation the settings name: the only question of the API version asked."""
    return V2Account if settings.api_version == "v2" else V3Account


@contextmanager
def open_reports(settings: ClientSettings, **callbacks: Any) -> Iterator[Reports]:
    """The account's reports over one client (`on_event`, `on_warning` as the client's)."""
    account = account_type(settings)
    hint = account.credentials_hint
    with ConstantContactClient(settings, credentials_hint=hint, **callbacks) as client:
        yield account(client)


def check_credentials(settings: ClientSettings) -> None:
    """Credentials that fit the API version: v2 takes an API key and a token, v3 a token."""
    if account_type(settings) is V2Account:
        settings.require_v2_credentials()  # the key and a token: v2 checks both on every call
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
    """Where a raw asset's rows came from: `source` (`sandbox` or `constant_contact`), the
    API version that served them and, with an accounts file, the account."""
    settings = reports.client.settings
    host = settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
    local = host in {"127.0.0.1", "localhost"}  # the built-in sandbox, or a test's
    found = {"source": "sandbox" if local else "constant_contact", "api_version": reports.version}
    return {**found, **({"account": settings.account} if settings.account else {})}
