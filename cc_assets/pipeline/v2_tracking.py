"""Incremental refresh of one v2 campaign's tracking reports, into the v3 lake assets.

v2 filters on `created_since` ("on or after"), so a refresh asks only for what happened since
the partition's newest event, less `OVERLAP` for events that share its second: the fresh rows
(created at or after the cutoff) replace the stored ones from the cutoff on, older stored rows
are carried over, and the fresh rows are de-duplicated on the natural key. Calls grow with the
new events only: ceil(k / 500) + 1 per report, whatever order the pages come in.

v2 has no unique-opens or did-not-open report; both are derived from the events just landed
(`pipeline.derived`, as for v3 once its stats agree: the last open of each contact; sent, never
opened and not bounced), so they are exactly as complete as the opens, sends and bounces the
lake holds. `email_links` comes from the
campaign's `click_through_details` (its urls) with unique clicks counted from the lake.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.constant_contact.parsing import api_schema
from cc_assets.constant_contact.schemas import EMAIL_LINKS, TRACKING_TABLES, AssetTable
from cc_assets.constant_contact.v2 import V2_TRACKING, V2Reports
from cc_assets.lake.paths import partition_file
from cc_assets.lake.writer import WriteResult, write_partition
from cc_assets.pipeline.derived import DERIVABLE_REPORTS
from cc_assets.pipeline.tracking import OVERLAP, TrackingRefresh, previous_watermark

LINKS_SQL = """
SELECT ? AS campaign_activity_id, l.url_id, l.link_url,
       count(DISTINCT c.contact_id) AS unique_clicks,
       NULL AS list_action, NULL AS list_id, NULL AS link_tag
FROM links AS l LEFT JOIN clicks AS c USING (url_id)
GROUP BY ALL ORDER BY l.url_id
"""


def _stored(table: AssetTable, campaign_id: str, root: UPath | None) -> pa.Table:
    """The partition as held, without the writer's capture time (empty if none yet)."""
    target = partition_file(table, campaign_id, root)
    if not target.exists():
        return api_schema(table).empty_table()
    with target.open("rb") as handle:
        return pq.read_table(handle).drop_columns(["captured_at"])


def dedupe(table: pa.Table, key: Iterable[str]) -> pa.Table:
    """The first row of each natural key (a retried or overlapping page never doubles one)."""
    if table.num_rows == 0:
        return table
    indexed = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    first = indexed.group_by(list(key), use_threads=False).aggregate([("_row", "min")])
    rows = first["_row_min"]
    return table.take(pc.take(rows, pc.sort_indices(rows)))


V2_REPORT_OF_LAKE = {lake: v2 for v2, (lake, _, _) in V2_TRACKING.items()}


def refresh_lake_report(
    v2: V2Reports,
    campaign_id: str,
    lake_report: str,
    *,
    captured_at: datetime,
    root: UPath | None = None,
) -> TrackingRefresh:
    """One lake tracking report of a v2 campaign, read from its v2 report (`V2_TRACKING`) and
    merged into its partition. `unique_opens` and `didnotopens` have no v2 report: they are
    derived (`derived.derived_refresh`)."""
    report = V2_REPORT_OF_LAKE[lake_report]
    table = TRACKING_TABLES[lake_report]
    client = v2.client
    target = partition_file(table, campaign_id, root)
    watermark = previous_watermark(target)
    cutoff = watermark - OVERLAP if watermark is not None else None
    calls, pages = client.calls, client.pages
    schema = api_schema(table)
    fresh = pa.Table.from_batches(
        list(v2.iter_tracking(campaign_id, report, created_since=cutoff)), schema
    )
    if cutoff is not None:  # never trust the filter: a row before the cutoff is already held
        fresh = fresh.filter(
            pc.greater_equal(fresh["created_time"], pa.scalar(cutoff, fresh["created_time"].type))
        )
    fresh = dedupe(fresh, table.natural_key)
    parts = [fresh]
    if cutoff is not None:
        old = _stored(table, campaign_id, root)
        parts.append(
            old.filter(pc.less(old["created_time"], pa.scalar(cutoff, old["created_time"].type)))
        )
    result = write_partition(
        table, campaign_id, _batches(parts), captured_at=captured_at, root=root
    )
    return TrackingRefresh(
        report=lake_report,
        rows=result.rows,
        new_rows=fresh.num_rows,
        pages=client.pages - pages,
        api_calls=client.calls - calls,
        watermark=previous_watermark(UPath(result.path)),
        path=result.path,
        full_read=cutoff is None,
    )


def _batches(tables: list[pa.Table]) -> list[pa.RecordBatch]:
    return [batch for table in tables for batch in table.to_batches() if batch.num_rows]


def refresh_links(
    v2: V2Reports, campaign_id: str, *, captured_at: datetime, root: UPath | None = None
) -> WriteResult:
    """The campaign's tracked links (one call) with unique clicks counted from the lake."""
    detail = v2.get_campaign(campaign_id)
    tracked = detail.get("click_through_details") or []
    # a link's click_count counts every click; the lake counts unique clickers itself
    v2.client.unknown.note_items(
        "/v2/emailmarketing/campaigns/{id} click_through_details",
        tracked,
        ("url", "url_uid", "click_count"),
    )
    links = pa.table(
        {
            "url_id": [str(d.get("url_uid")) for d in tracked],
            "link_url": [d.get("url") for d in tracked],
        },
        schema=pa.schema([("url_id", pa.string()), ("link_url", pa.string())]),
    )
    clicks = _stored(TRACKING_TABLES["clicks"], campaign_id, root)
    with duckdb.connect() as con:
        con.register("links", links)
        con.register("clicks", clicks)
        rows = con.sql(LINKS_SQL, params=[campaign_id]).to_arrow_table()
    rows = rows.cast(api_schema(EMAIL_LINKS))
    return write_partition(
        EMAIL_LINKS, campaign_id, _batches([rows]), captured_at=captured_at, root=root
    )


def in_refresh_order(tables: Iterable[AssetTable]) -> list[AssetTable]:
    """Read reports first, then the derived ones (they need the fresh opens, sends and
    bounces), then the links (they count the fresh clicks)."""
    derived = {TRACKING_TABLES[report].name for report in DERIVABLE_REPORTS}

    def rank(table: AssetTable) -> int:
        return 2 if table is EMAIL_LINKS else 1 if table.name in derived else 0

    return sorted(tables, key=rank)
