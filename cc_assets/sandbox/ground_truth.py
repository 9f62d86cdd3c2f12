"""The exact rows every report yields for an account at a moment, for tests to compare against.

Computed in-process from the same account config and clock as the server, without HTTP, so a
test can prove that an ingest lost nothing and duplicated nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cc_assets.constant_contact.schemas import (
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_LINKS,
    TRACKING_REPORTS,
    TRACKING_TABLES,
    AssetTable,
)
from cc_assets.sandbox.account import AccountConfig
from cc_assets.sandbox.contact_activity import ALL_TYPES, contact_events
from cc_assets.sandbox.render import link_url, url_id
from cc_assets.sandbox.service import SandboxService
from cc_assets.sandbox.stats import activity_stats, campaign_stats, percents

_DROP = {"captured_at", "snapshot_date"}


def lake_schema(table: AssetTable) -> pa.Schema:
    """The asset's columns without what the lake writer adds (capture time, snapshot date)."""
    return pa.schema([f for f in table.schema if f.name not in _DROP])


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """API-shaped rows (timestamps as CC's strings) to a table of the lake's types."""
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if pa.types.is_timestamp(field.type):
            raw = pa.array(values, pa.string())
            columns[field.name] = pc.strptime(
                pc.utf8_slice_codeunits(raw, 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="ms"
            ).cast(field.type)
        elif pa.types.is_date(field.type):
            columns[field.name] = pc.strptime(pa.array(values, pa.string()), "%Y-%m-%d", "s").cast(
                field.type
            )
        else:
            columns[field.name] = pa.array(values, field.type)
    return pa.table(columns, schema=schema)


class GroundTruth:
    """What the account holds at `as_of` (default: the config's start)."""

    def __init__(self, config: AccountConfig, as_of: datetime | None = None) -> None:
        self.service = SandboxService(config, clock_start=as_of)
        self.account = self.service.account

    @property
    def now_iso(self) -> str:
        return self.service.iso(self.service.clock.epoch())

    def all_activities(self) -> list[dict[str, str]]:
        epoch = self.service.clock.epoch()
        return [
            {
                "campaign_id": c.campaign_id,
                "campaign_activity_id": a.activity_id,
                "role": a.role,
                "current_status": a.status_at(epoch),
            }
            for c in self.account.campaigns
            for a in c.activities
        ]

    def reportable_activities(self) -> list[dict[str, str]]:
        """Sent (`DONE`) primary_email and resend activities: the ones with reports and stats."""
        return [
            a
            for a in self.all_activities()
            if a["role"] in {"primary_email", "resend"} and a["current_status"] == "DONE"
        ]

    def tracking(self, activity_id: str, report: str) -> pa.Table:
        activity = self.account.activity_by_id[activity_id]
        columns = self.service.report(activity, report)
        rows = orjson.loads(self.service.renderer.page(activity, report, columns))
        return rows_to_table(rows, lake_schema(TRACKING_TABLES[report]))

    def links(self, activity_id: str, partition_key: str | None = None) -> pa.Table:
        """The links report; `partition_key` names the partition if it is not the activity id
        (a v2 campaign's numeric id)."""
        activity = self.account.activity_by_id[activity_id]
        events = self.service.events(activity)
        clicks = events.clicks.as_of(self.service.clock.epoch())
        rows = [
            {
                "campaign_activity_id": partition_key or activity_id,
                "url_id": url_id(activity, link),
                "link_url": link_url(activity, link),
                "unique_clicks": len(set(clicks.contact[clicks.extra == link].tolist())),
            }
            for link in range(events.links)
        ]
        return rows_to_table(rows, lake_schema(EMAIL_LINKS))

    def activity_stats(self, activity_id: str) -> dict[str, int]:
        activity = self.account.activity_by_id[activity_id]
        return activity_stats(self.service.events(activity), self.service.stats_time())

    def campaign_stats(self, campaign_id: str) -> dict[str, Any]:
        epoch = self.service.clock.epoch()
        campaign = self.account.campaign_by_id[campaign_id]
        done = [a for a in campaign.activities if a.reported and a.status_at(epoch) == "DONE"]
        stats = campaign_stats([self.activity_stats(a.activity_id) for a in done])
        return {"stats": stats, "percents": percents(stats)}

    def contacts_with_activity(self, since: datetime, until: datetime) -> list[str]:
        """Contacts with any tracking event in [since, until]: whom contact reports cover."""
        lo, hi = int(since.timestamp()), int(until.timestamp())
        found: set[int] = set()
        for entry in self.reportable_activities():
            events = self.service.events(self.account.activity_by_id[entry["campaign_activity_id"]])
            for report in ("sends", "opens", "clicks", "bounces", "optouts", "forwards"):
                cols = getattr(events, report).as_of(self.service.clock.epoch())
                times = cols.time
                found.update(cols.contact[(times >= lo) & (times <= hi)].tolist())
        return sorted(self.account.contacts.contact_id(i) for i in found)

    def contact_activity(self, contact_id: str) -> pa.Table:
        index = self.account.contacts.index_of(contact_id)
        if index is None:
            raise KeyError(contact_id)
        rows = [
            {
                "contact_id": contact_id,
                "campaign_activity_id": e.campaign_activity_id,
                "tracking_activity_type": e.tracking_activity_type,
                "created_time": self.service.iso(e.time),
                "campaign_activity_name": e.campaign_activity_name,
            }
            for e in contact_events(self.service, index, set(ALL_TYPES))
        ]
        return rows_to_table(rows, lake_schema(CONTACT_ACTIVITY_DETAILS))

    def write_lake(self, root: Path) -> int:
        """Every activity report in the lake's hive layout; returns the number of files."""
        written = 0
        for entry in self.reportable_activities():
            activity_id = entry["campaign_activity_id"]
            tables = {report: self.tracking(activity_id, report) for report in TRACKING_REPORTS}
            tables["links"] = self.links(activity_id)
            for report, table in tables.items():
                name = "email_links" if report == "links" else TRACKING_TABLES[report].name
                folder = root / "constant_contact" / name / f"campaign_activity_id={activity_id}"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, folder / "part-0.parquet")
                written += 1
        return written
