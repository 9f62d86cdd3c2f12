"""The daily snapshots: what the API says today about campaigns, summaries and stats.

The API keeps no history for these, so a snapshot is only ever of "now": the caller refuses
any snapshot date but today's (UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from upath import UPath

from cc_assets.constant_contact.accounts import SINGLE
from cc_assets.constant_contact.client import (
    CAMPAIGN_FIELDS,
    CAMPAIGN_STATS_BATCH,
    ConstantContactClient,
)
from cc_assets.constant_contact.errors import ConstantContactError, NotFoundError
from cc_assets.constant_contact.parsing import api_schema, batch
from cc_assets.constant_contact.schemas import (
    ACCOUNT_SUMMARY,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGN_STATS,
    EMAIL_CAMPAIGNS,
    SNAPSHOT_DATE,
    AssetTable,
)
from cc_assets.lake.writer import read_partition
from cc_assets.pipeline.discovery import REPORTED_ROLES, WAITING_STATUSES, listed_as

Warn = Callable[[str], None]


@dataclass
class Capture:
    """One daily snapshot's fresh rows, and which entities they hold incompletely.

    `incomplete` holds the entity keys (the natural key without `snapshot_date`) whose fresh row
    is missing or degraded because a call failed, not because the API dropped them: a same-day
    rerun keeps the earlier capture's row for those (see `merge_same_day`). `errors` are the
    one-line reasons, for the run log and the metadata."""

    rows: pa.Table
    incomplete: set[tuple[Any, ...]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


class BackfillRefusedError(ValueError):
    """A snapshot for a day other than today: the API cannot answer "as of" a past day."""


def require_today(partition_key: str, now: datetime | None = None) -> None:
    today = (now or datetime.now(UTC)).date().isoformat()
    if partition_key != today:
        raise BackfillRefusedError(
            f"snapshot_date={partition_key} is not today ({today} UTC): Constant Contact keeps no "
            "history of summaries and stats, so a past snapshot cannot be taken. Materialize "
            "today's partition; past days hold what was captured on them."
        )


def _optional(capture: Capture, key: tuple[Any, ...], what: str, fetch: Callable[[], Any]) -> Any:
    """An optional source of a snapshot row: on an API error the row keeps a null field and the
    reason is recorded, so one endpoint an account lacks never costs the snapshot."""
    try:
        return fetch()
    except ConstantContactError as error:
        capture.incomplete.add(key)
        capture.errors.append(f"{what} unavailable ({error}); its fields are null")
        return None


def campaign_rows(client: ConstantContactClient, previous: pa.Table | None = None) -> Capture:
    """Campaigns x activities, with role, status, subject and the last completed send.

    Every activity the campaign lists is a row, but only the reported roles (`primary_email`,
    `resend`) cost calls: every real campaign has a `permalink` activity, and reading its
    details every day would spend a call per campaign for nothing the project reports on, so
    its status, subject and sender stay null. The statuses are stored as the API sends them
    (the list says `Done`, the detail `DONE`); staging normalizes them once.

    The activity details and the send history are optional sources: when one fails, the row
    lands with those fields null and a warning (a campaign's own listing is not optional).

    A campaign listed as `previous` (an earlier day's snapshot) read it keeps that snapshot's
    rows (`settled_campaigns`), stamped with this capture's time (today's list vouches for
    them): read again every day, each campaign cost its detail, an activity call and a send
    history a day, so an account with years of campaigns would spend its day's quota on this
    one snapshot (20 accounts of 8 campaigns: 823 of 6,041 fresh calls in two replayed
    days)."""
    schema = api_schema(EMAIL_CAMPAIGNS)
    capture = Capture(schema.empty_table())
    earlier = _api_columns(previous, schema)
    settled = settled_campaigns(earlier)
    kept: list[int] = []  # rows of `earlier`
    rows: list[dict[str, Any]] = []
    for campaign in client.iter_campaigns():
        held = settled.get(campaign["campaign_id"])
        if held is not None and listed_as(campaign, held.updated_at, held.status):
            kept.extend(held.rows)
            continue
        detail = client.get_campaign(campaign["campaign_id"])
        for ref in detail.get("campaign_activities", []):
            activity_id = ref["campaign_activity_id"]
            key = (detail.get("campaign_id"), activity_id)
            reported = ref.get("role") in REPORTED_ROLES
            activity = (
                _optional(
                    capture,
                    key,
                    f"activity {activity_id}",
                    lambda activity_id=activity_id: client.get_activity(activity_id),
                )
                if reported
                else None
            ) or {}
            sent_time = None
            if reported and activity.get("current_status") == "DONE":
                history = _optional(
                    capture,
                    key,
                    f"send history of {activity_id}",
                    lambda activity_id=activity_id: client.get_send_history(activity_id),
                )
                done = [h["run_date"] for h in history or [] if h.get("send_status") == "COMPLETED"]
                sent_time = max(done) if done else None
            rows.append(
                {
                    **{k: detail.get(k) for k in CAMPAIGN_FIELDS},
                    "campaign_activity_id": ref["campaign_activity_id"],
                    "role": ref.get("role"),
                    "activity_status": activity.get("current_status"),
                    "subject": activity.get("subject"),
                    "from_name": activity.get("from_name"),
                    "from_email": activity.get("from_email"),
                    "reply_to_email": activity.get("reply_to_email"),
                    "sent_time": sent_time,
                }
            )
    fresh = pa.Table.from_batches([batch(rows, schema)], schema)
    capture.rows = pa.concat_tables([fresh, earlier.take(kept)]) if kept else fresh
    return capture


@dataclass(frozen=True)
class SettledCampaign:
    """A campaign's rows in an earlier `email_campaigns` snapshot, and how it was listed."""

    updated_at: datetime | None
    status: str
    rows: list[int] = field(default_factory=list)


def _api_columns(previous: pa.Table | None, schema: pa.Schema) -> pa.Table | None:
    """`previous` in the client's columns; None when it lacks one (a snapshot taken before
    the column existed cannot stand for today's: every campaign is read again)."""
    if previous is None or not set(schema.names) <= set(previous.column_names):
        return None
    return previous.select(schema.names).cast(schema)


def settled_campaigns(earlier: pa.Table | None) -> dict[str, SettledCampaign]:
    """The campaigns of `earlier` whose rows can stand for today's while the list shows them
    unchanged: every reported activity read (a status, and a send time when done) and none
    about to be sent (scheduled or executing: read again until done). A row an optional call
    failed to fill is read again."""
    found: dict[str, SettledCampaign] = {}
    unsettled: set[str] = set()
    for index, row in enumerate([] if earlier is None else earlier.to_pylist()):
        campaign_id = row["campaign_id"]
        if row["role"] in REPORTED_ROLES:
            status = str(row["activity_status"] or "").upper()
            unsent = status == "DONE" and not row["sent_time"]
            if not status or status in WAITING_STATUSES or unsent:
                unsettled.add(campaign_id)
        held = found.setdefault(
            campaign_id, SettledCampaign(row["updated_at"], str(row["current_status"] or ""))
        )
        held.rows.append(index)
    return {cid: held for cid, held in found.items() if cid not in unsettled}


def sent_ids(campaigns: pa.Table) -> tuple[list[str], list[str]]:
    """(campaign ids, activity ids) with sent reported activities: the only ones with stats.
    One unsent campaign id would make CC answer 404 for the whole stats call."""
    rows = campaigns.to_pylist()
    done = [r for r in rows if r["role"] in REPORTED_ROLES and r["activity_status"] == "DONE"]
    return sorted({r["campaign_id"] for r in done}), sorted(
        {r["campaign_activity_id"] for r in done}
    )


def campaign_stats(client: ConstantContactClient, campaign_ids: Sequence[str]) -> Capture:
    """Campaign stats for `campaign_ids`, the good ones landed even when some id has none.

    One campaign without stats makes CC answer 404 for the whole call, so a 404 batch is split
    in halves until the id(s) at fault are alone: they are reported, the others land, at a cost
    of about 2 x log2(batch) extra calls per id at fault."""
    schema = api_schema(EMAIL_CAMPAIGN_STATS)
    capture = Capture(schema.empty_table())
    batches: list[pa.RecordBatch] = []

    def read(ids: Sequence[str]) -> None:
        try:
            batches.append(client.get_campaign_stats(ids).batch)
        except NotFoundError as error:
            if len(ids) == 1:
                capture.incomplete.add((ids[0],))
                capture.errors.append(f"campaign {ids[0]}: {error}")
                return
            middle = len(ids) // 2
            read(ids[:middle])
            read(ids[middle:])

    size = CAMPAIGN_STATS_BATCH
    for start in range(0, len(campaign_ids), size):
        read(list(campaign_ids[start : start + size]))
    capture.rows = pa.Table.from_batches(batches, schema)
    return capture


def activity_stats(client: ConstantContactClient, activity_ids: Sequence[str]) -> Capture:
    """Activity stats; CC answers a partial batch with results plus `errors`, so the results
    land and every id left without stats is reported."""
    result = client.get_activity_stats(activity_ids)
    rows = pa.Table.from_batches([result.batch], api_schema(EMAIL_CAMPAIGN_ACTIVITY_STATS))
    returned = set(rows["campaign_activity_id"].to_pylist())
    missing = [i for i in activity_ids if i not in returned]
    errors = [f"{e.error_key}: {e.error_message}" for e in result.errors]
    if missing and not errors:
        errors = [f"no stats returned for {len(missing)} activities"]
    return Capture(rows, {(i,) for i in missing}, errors)


def account_summary(
    client: ConstantContactClient, encoded_account_id: str | None, organization_name: str | None
) -> list[pa.RecordBatch]:
    """The account's one row of the day: its name in cc_assets (the accounts file's, `default`
    for the one account of the variables) and the identity Constant Contact gave it."""
    row = {
        "account": client.settings.account or SINGLE,
        "encoded_account_id": encoded_account_id,
        "organization_name": organization_name,
    }
    return [batch([row], api_schema(ACCOUNT_SUMMARY))]


def merge_same_day(
    table: AssetTable, day: str, capture: Capture, root: UPath | None = None
) -> pa.Table:
    """A same-day rerun replaces the snapshot with the newer capture, except for the entities
    this capture holds incompletely: for those the earlier capture's rows (with their own
    `captured_at`) stay. An entity the API no longer lists at all disappears, as it should."""
    previous = read_partition(table, day, root=root) if capture.incomplete else None
    if previous is None or previous.num_rows == 0:
        return capture.rows
    names = [c for c in table.natural_key if c != SNAPSHOT_DATE]
    kept_keys = set(zip(*(previous[c].to_pylist() for c in names), strict=True)) & set(
        capture.incomplete
    )
    if not kept_keys:
        return capture.rows

    def mask(rows: pa.Table) -> pa.Array:
        keys = zip(*(rows[c].to_pylist() for c in names), strict=True)
        return pa.array([k in kept_keys for k in keys], pa.bool_())

    fresh = capture.rows.filter(pc.invert(mask(capture.rows)))
    stamp = previous.schema.field("captured_at").type
    fresh = fresh.append_column("captured_at", pa.nulls(fresh.num_rows, stamp))
    carried = previous.filter(mask(previous))
    for column in fresh.schema:  # a column the schema gained since that capture: null
        if column.name not in carried.column_names:
            carried = carried.append_column(column, pa.nulls(carried.num_rows, column.type))
    carried = carried.select(fresh.column_names)
    return pa.concat_tables([fresh, carried.cast(fresh.schema)])


def union_same_day(
    table: AssetTable, day: str, fresh: Iterator[pa.RecordBatch], root: UPath | None = None
) -> Iterator[pa.RecordBatch]:
    """Every capture of the day, merged on the natural key: the fresh rows, then the rows of the
    day's earlier capture that the fresh ones do not repeat (with their own `captured_at`).

    For the contact reports: a rerun reads only the contacts active since the previous capture,
    so rewriting the day with those alone would drop everyone read before. An event the lake
    already holds and a contact report shows again is taken once."""
    names = [c for c in table.natural_key if c != SNAPSHOT_DATE]
    seen: set[tuple[Any, ...]] = set()

    def new_rows(rows: pa.RecordBatch) -> pa.RecordBatch:
        keep = []
        for key in zip(*(rows[c].to_pylist() for c in names), strict=True):
            keep.append(key not in seen)
            seen.add(key)
        return rows.filter(pa.array(keep, pa.bool_()))

    for rows in fresh:
        yield new_rows(rows)
    previous = read_partition(table, day, root=root)
    if previous is None:
        return
    for rows in previous.drop_columns([SNAPSHOT_DATE]).to_batches():
        yield new_rows(rows)
