"""Reports the lake can answer from the events it already holds, without an API call.

- `didnotopens` is every send whose contact has neither opened nor bounced (its `created_time`
  is the send's), which is exactly what CC's `em_not_opened` counts
  (`em_sends - em_opens - em_bounces`, floored at 0).
- `unique_opens` is each contact's newest open: the first row per contact of the opens report
  in the API's own newest-first order (the file keeps that order), so ties within a second
  resolve as the API resolves them. Its row count is `em_opens`.
- A link's `unique_clicks` is the number of distinct contacts who clicked its `url_id`.

Reading these reports from the API costs a full read every refresh (a contact leaving
`didnotopens` cannot be seen newest-first). Deriving them costs nothing; the derived count is
checked against CC's stats (`stats_match`), and the caller reads the API's report only when they
disagree.
All of it is one DuckDB query over the Parquet files, streamed into the writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
from upath import UPath

from cc_assets.constant_contact.schemas import EMAIL_LINKS, TRACKING_TABLES
from cc_assets.lake.paths import connect, location, partition_file
from cc_assets.lake.writer import WriteResult, write_partition
from cc_assets.pipeline.tracking import TrackingRefresh, previous_watermark

DERIVABLE_REPORTS = ("didnotopens", "unique_opens")
"""Tracking reports the lake derives from the other reports of the same activity."""

SOURCES: dict[str, tuple[str, ...]] = {
    "didnotopens": ("sends", "opens", "bounces"),
    "unique_opens": ("opens",),
}
"""What each derivation reads: all of them must be in the lake first."""

BATCH_ROWS = 65_536

_EVENT_COLUMNS = (
    "campaign_activity_id, contact_id, tracking_activity_type, email_address, first_name, "
    "last_name, created_time, deleted_at"
)
_DIDNOTOPEN_COLUMNS = _EVENT_COLUMNS.replace(
    "tracking_activity_type", "'em_didnotopens' AS tracking_activity_type"
)


def _file(report: str, activity_id: str, root: UPath | None) -> str:
    return location(partition_file(TRACKING_TABLES[report], activity_id, root))


def can_derive(report: str, activity_id: str, root: UPath | None = None) -> bool:
    """True when every report the derivation reads is already in the lake."""
    return all(
        partition_file(TRACKING_TABLES[source], activity_id, root).exists()
        for source in SOURCES[report]
    )


def _query(report: str, activity_id: str, root: UPath | None) -> tuple[str, list[str]]:
    if report == "didnotopens":
        sends, opens, bounces = (_file(r, activity_id, root) for r in SOURCES[report])
        sql = (
            f"SELECT {_DIDNOTOPEN_COLUMNS} "
            "FROM read_parquet(?) AS s WHERE s.contact_id NOT IN ("
            "SELECT contact_id FROM read_parquet(?) UNION SELECT contact_id FROM read_parquet(?)"
            ") ORDER BY s.created_time DESC, s.contact_id"
        )
        return sql, [sends, opens, bounces]
    if report == "unique_opens":
        sql = (
            f"SELECT {_EVENT_COLUMNS}, device_type FROM ("
            f"SELECT *, row_number() OVER (PARTITION BY contact_id "
            "ORDER BY created_time DESC, file_row_number) AS newest "
            "FROM read_parquet(?, file_row_number = true, hive_partitioning = false)"
            ") WHERE newest = 1 ORDER BY created_time DESC, file_row_number"
        )
        return sql, [_file("opens", activity_id, root)]
    raise ValueError(f"{report!r} cannot be derived; one of {DERIVABLE_REPORTS}")


def _stream(sql: str, parameters: list[str], root: UPath | None) -> Iterator[pa.RecordBatch]:
    with connect(root) as con:
        reader = con.sql(sql, params=parameters).to_arrow_reader(BATCH_ROWS)
        yield from reader


def derive_tracking(
    report: str, activity_id: str, *, captured_at: datetime, root: UPath | None = None
) -> WriteResult:
    """Write `report` of `activity_id` from the events held (see the module docstring)."""
    sql, parameters = _query(report, activity_id, root)
    return write_partition(
        TRACKING_TABLES[report],
        activity_id,
        _stream(sql, parameters, root),
        captured_at=captured_at,
        root=root,
    )


def derived_refresh(
    report: str, activity_id: str, *, captured_at: datetime, root: UPath | None = None
) -> TrackingRefresh:
    """`derive_tracking` as a refresh result (no call, no new rows)."""
    result = derive_tracking(report, activity_id, captured_at=captured_at, root=root)
    return TrackingRefresh(
        report=report,
        rows=result.rows,
        new_rows=0,
        pages=0,
        api_calls=0,
        watermark=previous_watermark(UPath(result.path)),
        path=result.path,
        full_read=False,
        read="derived",
    )


def links_need_api(activity_id: str, root: UPath | None = None) -> bool:
    """The links report must be read when it was never read, or when a click names a `url_id`
    the stored links do not have (a link the lake has never seen)."""
    links = partition_file(EMAIL_LINKS, activity_id, root)
    clicks = partition_file(TRACKING_TABLES["clicks"], activity_id, root)
    if not links.exists():
        return True
    if not clicks.exists():
        return False
    with connect(root) as con:
        (unknown,) = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT url_id FROM read_parquet(?)) "
            "WHERE url_id NOT IN (SELECT url_id FROM read_parquet(?))",
            [location(clicks), location(links)],
        ).fetchone()
    return unknown > 0


def derive_links(
    activity_id: str, *, captured_at: datetime, root: UPath | None = None
) -> WriteResult:
    """The stored links with `unique_clicks` recounted from the clicks held (links without a
    click keep 0), in the order the API served them."""
    links = location(partition_file(EMAIL_LINKS, activity_id, root))
    clicks = partition_file(TRACKING_TABLES["clicks"], activity_id, root)
    counted = (
        "SELECT url_id, count(DISTINCT contact_id) AS n FROM read_parquet(?) GROUP BY url_id"
        if clicks.exists()
        else "SELECT NULL::VARCHAR AS url_id, 0::BIGINT AS n WHERE FALSE"
    )
    sql = (
        "SELECT l.* EXCLUDE (unique_clicks, captured_at, file_row_number), "
        "coalesce(c.n, 0)::BIGINT AS unique_clicks "
        "FROM read_parquet(?, file_row_number = true, hive_partitioning = false) "
        f"AS l LEFT JOIN ({counted}) AS c USING (url_id) ORDER BY l.file_row_number"
    )
    parameters = [links, location(clicks)] if clicks.exists() else [links]
    return write_partition(
        EMAIL_LINKS, activity_id, _stream(sql, parameters, root), captured_at=captured_at, root=root
    )
