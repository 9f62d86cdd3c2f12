"""Which contact reports the daily snapshot reads: only what the lake cannot know otherwise.

Email events (sends, opens, clicks, bounces, opt-outs, forwards) are in the tracking reports
already; the contact report adds only landing-page activity (`p_contact_open`, `..._click`,
`..._add`, `..._update`), so only those types are asked for. Nothing lists contacts with
landing-page activity, so the candidates are the engaged contacts (any email engagement in the
lake), and a persistent backlog in the lake (`contact_report_reads`: each contact's last read
and the newest engagement it covered) makes sure every one is read:

- a contact is due when it engaged after the engagement its last read covered (or was never
  read), and at most once per `PERIOD`;
- due contacts are read newest engagement first, for as many calls as the day's leftover
  allows: what is left of the day's quota when the snapshot runs, less `reserved`, the calls
  the rest of the day's scheduled work needs (the caller measures it: the daily schedule from
  the hot refreshes' recent costs); the rest stay due for the next day, so every engaged
  contact is read within days;
- a contact's pages stop at the newest landing-page row the lake already holds for it.

The backlog is written after the last contact of the run is read, just before the snapshot's
file replaces the previous one. All selection is DuckDB over the Parquet files. A v2 account
(no landing pages) goes through the same backlog with its own contact reader
(`v2_account.V2Account.contact_activity`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc
from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient, calls_used_today
from cc_assets.constant_contact.errors import NotFoundError
from cc_assets.constant_contact.schemas import (
    CONTACT_ACTIVITY_DETAILS,
    TIMESTAMP,
    TRACKING_TABLES,
    AssetTable,
)
from cc_assets.lake.paths import connect, location, partition_file, partition_files
from cc_assets.lake.writer import write_partition
from cc_assets.progress import Heartbeat

LANDING_PAGE_TYPES = ("p_contact_open", "p_contact_click", "p_contact_add", "p_contact_update")
ENGAGEMENT_REPORTS = ("opens", "clicks", "bounces", "optouts", "forwards")
"""A send alone is not engagement: every recipient has one."""

PERIOD = timedelta(days=7)
UNLIMITED_DAILY_CONTACTS = 5_000  # when no daily quota is configured

CONTACT_REPORT_READS = AssetTable(
    name="contact_report_reads",
    schema=pa.schema(
        [
            pa.field("contact_id", pa.string()),
            pa.field("engaged_until", TIMESTAMP),
            pa.field("read_at", TIMESTAMP),
            pa.field("captured_at", TIMESTAMP),
        ]
    ),
    partition_column=None,
    natural_key=("contact_id",),
)
"""The backlog's memory: when each contact's report was last read, and the newest engagement
that read covered."""


def due_contacts(root: UPath, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    """(contact, newest engagement) of the due contacts, newest engagement first."""
    files = [f for r in ENGAGEMENT_REPORTS for f in partition_files(TRACKING_TABLES[r], root)]
    if not files or limit <= 0:
        return []
    reads = partition_file(CONTACT_REPORT_READS, None, root)
    engaged = "SELECT contact_id, created_time FROM read_parquet($files, union_by_name = true)"
    if reads.exists():
        known = f"SELECT contact_id, engaged_until, read_at FROM read_parquet('{location(reads)}')"
    else:
        known = (
            "SELECT NULL::VARCHAR AS contact_id, NULL::TIMESTAMPTZ AS engaged_until, "
            "NULL::TIMESTAMPTZ AS read_at WHERE FALSE"
        )
    sql = (
        f"WITH e AS (SELECT contact_id, max(created_time) AS engaged FROM ({engaged}) "
        f"WHERE created_time <= $now GROUP BY 1), r AS ({known}) "
        "SELECT e.contact_id, e.engaged FROM e LEFT JOIN r USING (contact_id) "
        "WHERE (r.engaged_until IS NULL OR e.engaged > r.engaged_until) "
        "AND (r.read_at IS NULL OR r.read_at <= $now - $period) "
        "ORDER BY e.engaged DESC, e.contact_id LIMIT $limit"
    )
    with connect(root) as con:
        parameters = {"files": files, "now": now, "period": PERIOD, "limit": limit}
        return con.execute(sql, parameters).fetchall()


def newest_held(
    root: UPath, contacts: list[str], types: Sequence[str] | None = LANDING_PAGE_TYPES
) -> dict[str, datetime]:
    """Each contact's newest row (of `types`, or of any type) already in
    contact_activity_details."""
    files = partition_files(CONTACT_ACTIVITY_DETAILS, root)
    if not contacts or not files:
        return {}
    typed = " AND tracking_activity_type IN (SELECT unnest($types))" if types else ""
    parameters = {"files": files} | ({"types": list(types)} if types else {})
    with connect(root) as con:
        con.register("wanted", pa.table({"contact_id": contacts}))
        rows = con.execute(
            "SELECT contact_id, max(created_time) FROM read_parquet($files) "
            f"WHERE contact_id IN (SELECT contact_id FROM wanted){typed} GROUP BY 1",
            parameters,
        ).fetchall()
    return dict(rows)


def daily_calls(client: ConstantContactClient, reserved: int) -> int:
    """Calls today's contact reports may spend: what is left of today's quota after
    `reserved`. Spending every leftover call is the point: at 100,000 contacts several
    thousand contacts become engaged a day, each needing at least one call."""
    quota = client.settings.daily_quota
    if not quota:
        return UNLIMITED_DAILY_CONTACTS
    return max(quota - calls_used_today(client.settings) - reserved, 0)


def landing_page_activity(
    client: ConstantContactClient,
    root: UPath,
    captured_at: datetime,
    reserved: int,
    log: Callable[[str], None] | None = None,
    limit: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """The landing-page rows of today's due contacts (see the module docstring), then the
    backlog updated for the contacts read."""
    read = partial(_newer_than_held, client)
    return due_activity(client, root, captured_at, read, LANDING_PAGE_TYPES, reserved, log, limit)


ContactReader = Callable[[str, datetime | None], Iterator[pa.RecordBatch]]
"""(contact, newest row of it the lake holds) -> the contact's newer rows."""


def due_activity(
    client: ConstantContactClient,
    root: UPath,
    captured_at: datetime,
    read: ContactReader,
    types: Sequence[str] | None,
    reserved: int,
    log: Callable[[str], None] | None = None,
    limit: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """What `read` gives for today's due contacts, newest engagement first, each from the
    newest row (of `types`) the lake holds for it; then the backlog updated for those read.
    Reading stops when the day's calls for it (at most `limit`, the run's own cap) are spent
    (a contact may take several pages): the contacts not reached stay due."""
    allowed = daily_calls(client, reserved)
    if limit is not None:
        allowed = min(allowed, limit)
    due = due_contacts(root, captured_at, allowed)
    held = newest_held(root, [contact for contact, _ in due], types)
    if log:
        log(
            f"contact reports: {len(due)} due contacts, newest engagement first, within"
            f" {allowed} calls ({reserved} kept for the rest of the day)"
        )
    done: list[tuple[str, datetime]] = []
    start = client.calls
    say = log or (lambda _: None)
    with Heartbeat("contact reports", len(due), say, lambda: client.calls - start) as beat:
        for contact_id, engaged in due:
            if client.calls - start >= allowed:
                say(f"contact reports: {allowed} calls spent, {len(due) - len(done)} stay due")
                break
            try:
                yield from read(contact_id, held.get(contact_id))
            except NotFoundError as error:  # the contact was deleted: nothing left to read
                say(f"contact {contact_id} skipped: {error}")
            done.append((contact_id, engaged))
            beat.advance()
    _remember(root, done, captured_at)


def _newer_than_held(
    client: ConstantContactClient, contact_id: str, stop: datetime | None
) -> Iterator[pa.RecordBatch]:
    """A contact's landing-page pages, newest first, until they reach what the lake holds."""
    for batch in client.iter_contact_activity(contact_id, LANDING_PAGE_TYPES):
        if stop is None:
            yield batch
            continue
        newer = batch.filter(
            pc.greater(batch["created_time"], pa.scalar(stop, batch["created_time"].type))
        )
        yield newer
        if newer.num_rows < batch.num_rows:
            return  # this page reached rows the lake already holds


def _remember(root: UPath, done: list[tuple[str, datetime]], now: datetime) -> None:
    """Merge the contacts just read into the backlog's memory (one row per contact)."""
    if not done:
        return
    reads = partition_file(CONTACT_REPORT_READS, None, root)
    fresh = pa.table(
        {
            "contact_id": [c for c, _ in done],
            "engaged_until": pa.array([e for _, e in done], TIMESTAMP),
            "read_at": pa.array([now] * len(done), TIMESTAMP),
        }
    )
    with connect(root) as con:
        con.register("fresh", fresh)
        sql = "SELECT * FROM fresh"
        if reads.exists():
            sql += (
                f" UNION ALL SELECT contact_id, engaged_until, read_at FROM "
                f"read_parquet('{location(reads)}') WHERE contact_id NOT IN "
                "(SELECT contact_id FROM fresh)"
            )
        merged = con.sql(sql).to_arrow_reader(65_536)
        write_partition(CONTACT_REPORT_READS, None, merged, captured_at=now, root=root)
