"""Which reports of an activity a refresh reads, derives or leaves alone.

CC's activity stats (ten activities a call) count what every tracking report holds, so they are
the change detector: a report is read only when its stats count moved away from what the lake
holds. The rules, per report:

- `sends`, `opens`, `clicks`, `bounces`, `optouts`, `forwards`: read (incrementally) when the
  lake has no file, when what it holds disagrees with the stats under `stats_match`'s one rule
  (the events up to the stats' `last_refresh_time` are counted; later ones are the stats' lag),
  or when the file was last written more than `TRICKLE` ago (a settled activity's slow
  trickle). Once a send is complete and read, `em_sends` never moves again, so `sends` is read
  once.
- `didnotopens`, `unique_opens`: read from the API once (the first refresh); afterwards derived
  from the events held whenever a report they derive from was read, and the derived count
  (`stats_match`, after those reads) is checked against `em_not_opened` / `em_opens`: only a
  disagreement reads the API's report.
- `email_links`: read once; afterwards its unique clicks are recounted from the clicks held,
  and the report is read again only when a click names a link the lake does not know, or on
  the trickle.
- Without stats (an unsent activity, or stats the API did not give) every report is read as
  before: nothing can prove it unchanged.
- A v2 account has no per-activity stats call: every selected report is refreshed, read reports
  first (incrementally, `created_since`), then the ones v2 has no endpoint for (derived from
  them), then the links (`v2_tracking`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.schemas import (
    EMAIL_LINKS,
    TRACKING_REPORTS,
    TRACKING_TABLES,
    AssetTable,
)
from cc_assets.constant_contact.v2 import V2Reports
from cc_assets.lake.paths import connect, location, partition_file
from cc_assets.lake.writer import write_partition
from cc_assets.pipeline import derived, stats_match, v2_tracking
from cc_assets.pipeline.stats_match import ActivityStats, StatsMatch
from cc_assets.pipeline.tracking import TrackingRefresh, refresh_tracking

TRICKLE = timedelta(days=7)
"""A report whose stats have not moved is still re-read this often (the API's stats could be
wrong; a week bounds how long the lake could be)."""

LINKS = "links"
"""The links report in the refresh results (its table is `email_links`)."""

REPORT_OF_TABLE = {table.name: report for report, table in TRACKING_TABLES.items()}

READ, DERIVE, LINKS_READ = "read", "derive", "links"
"""How a planned table is refreshed: read from the API; derived from the events held (or read
when the derivation disagrees with the stats); the links report's own rule."""


@dataclass(frozen=True)
class PlannedRead:
    """One step of an activity's read plan (`planned_reads`): a table and how it is
    refreshed (`READ`, `DERIVE`, `LINKS_READ`)."""

    table: AssetTable
    how: str


def fetch_stats(
    client: ConstantContactClient, activity_ids: Sequence[str]
) -> dict[str, ActivityStats]:
    """Stats of `activity_ids`, ten a call. An id the API gives no stats for (unsent, unknown)
    is simply absent: its reports are then read in full, never skipped. A v2 account has no
    such call (its summary is per campaign): `reports.V2Account` asks for none."""
    if not activity_ids:
        return {}
    found: dict[str, ActivityStats] = {}
    for row in client.get_activity_stats(list(activity_ids)).batch.to_pylist():
        counts = {k: int(v) for k, v in row.items() if k.startswith("em_") and v is not None}
        activity_id = row.get("campaign_activity_id")
        if activity_id in activity_ids and counts:
            found[activity_id] = ActivityStats(activity_id, row.get("last_refresh_time"), counts)
    return found


def _moved(report: str, held: StatsMatch, now: datetime) -> bool:
    """True when `report` must be read: no file, stale, or it disagrees with the stats."""
    if report not in held.written:
        return True
    written = held.written[report]
    return written is None or now - written > TRICKLE or not held.agrees(report)


def _must_read_derivable(
    report: str, activity_id: str, held: StatsMatch | None, root: UPath
) -> bool:
    """The API's report is read the first time, without stats, or when the count derived from
    the events held disagrees with CC's stats."""
    target = partition_file(TRACKING_TABLES[report], activity_id, root)
    if held is None or not target.exists() or not derived.can_derive(report, activity_id, root):
        return True
    return not held.agrees(report)


def planned_reads(
    activity_id: str,
    *,
    stats: ActivityStats | None,
    captured_at: datetime,
    root: UPath,
    selected: set[str],
) -> list[PlannedRead]:
    """The read plan of the `selected` tables (names) of one activity, by the rules of the
    module docstring: the event reports whose stats moved (`READ`), then the derivable reports
    (`DERIVE`: derived or read when run, after the reads before them), then the links
    (`LINKS_READ`). Reports left alone are not planned: their files are unchanged. The caller runs
    each step in order (`run_read`), so that one failing report costs only itself."""

    def chosen(reports: Iterable[str]) -> list[str]:
        return [r for r in reports if TRACKING_TABLES[r].name in selected]

    direct = chosen(r for r in TRACKING_REPORTS if r not in derived.DERIVABLE_REPORTS)
    held = None
    if stats is not None:
        held = stats_match.match_activity(activity_id, stats, root, direct, written=True)
    plan = [
        PlannedRead(TRACKING_TABLES[report], READ)
        for report in direct
        if held is None or _moved(report, held, captured_at)
    ]
    plan += [PlannedRead(TRACKING_TABLES[r], DERIVE) for r in chosen(derived.DERIVABLE_REPORTS)]
    if EMAIL_LINKS.name in selected:
        plan.append(PlannedRead(EMAIL_LINKS, LINKS_READ))
    return plan


def run_read(
    client: ConstantContactClient,
    activity_id: str,
    step: PlannedRead,
    *,
    stats: ActivityStats | None,
    captured_at: datetime,
    root: UPath,
    read: set[str],
) -> TrackingRefresh | None:
    """One step of `planned_reads`. `read` holds the reports this run has read from the API so
    far (a `READ` step adds its own, even when it then fails); a derivable report is derived
    only when one of its sources is in it, and the links recounted only when `clicks` is. None
    when the step leaves its table alone."""
    if step.how == LINKS_READ:
        return _refresh_links(client, activity_id, stats, captured_at, root, "clicks" in read)
    report = REPORT_OF_TABLE[step.table.name]
    if step.how == READ:
        read.add(report)
        return refresh_tracking(client, activity_id, report, captured_at=captured_at, root=root)
    held = None if stats is None else stats_match.match_activity(activity_id, stats, root, [report])
    if _must_read_derivable(report, activity_id, held, root):
        return refresh_tracking(client, activity_id, report, captured_at=captured_at, root=root)
    if read & set(derived.SOURCES[report]):
        return derived.derived_refresh(report, activity_id, captured_at=captured_at, root=root)
    return None


def v2_planned_reads(
    campaign_id: str, *, captured_at: datetime, root: UPath, selected: set[str]
) -> list[PlannedRead]:
    """Every selected report of a v2 campaign (its own activity), in `in_refresh_order`: the
    v2 account's plan (it has no stats to skip a report by)."""
    tables = [*TRACKING_TABLES.values(), EMAIL_LINKS]
    return [
        PlannedRead(table, _v2_how(table))
        for table in v2_tracking.in_refresh_order(t for t in tables if t.name in selected)
    ]


def _v2_how(table: AssetTable) -> str:
    if table is EMAIL_LINKS:
        return LINKS_READ
    return DERIVE if REPORT_OF_TABLE[table.name] in derived.DERIVABLE_REPORTS else READ


def v2_run_read(
    v2: V2Reports, campaign_id: str, step: PlannedRead, *, captured_at: datetime, root: UPath
) -> TrackingRefresh | None:
    """One step of `v2_planned_reads`: v2 has no endpoint for the derivable reports, so they
    are always derived, unless a source report is missing (its read failed: left alone)."""
    if step.how == LINKS_READ:
        return _v2_links(v2, campaign_id, captured_at, root)
    report = REPORT_OF_TABLE[step.table.name]
    if step.how == READ:
        return v2_tracking.refresh_lake_report(
            v2, campaign_id, report, captured_at=captured_at, root=root
        )
    if not derived.can_derive(report, campaign_id, root):
        return None
    return derived.derived_refresh(report, campaign_id, captured_at=captured_at, root=root)


def _v2_links(
    v2: V2Reports, campaign_id: str, captured_at: datetime, root: UPath
) -> TrackingRefresh:
    calls = v2.client.calls
    result = v2_tracking.refresh_links(v2, campaign_id, captured_at=captured_at, root=root)
    return _links_result(result.rows, result.path, v2.client.calls - calls, "api")


def _refresh_links(
    client: ConstantContactClient,
    activity_id: str,
    stats: ActivityStats | None,
    captured_at: datetime,
    root: UPath,
    clicks_read: bool,
) -> TrackingRefresh | None:
    target = partition_file(EMAIL_LINKS, activity_id, root)
    if stats is None or derived.links_need_api(activity_id, root) or _stale(target, captured_at):
        calls = client.calls
        result = write_partition(
            EMAIL_LINKS,
            activity_id,
            [client.get_links(activity_id)],
            captured_at=captured_at,
            root=root,
        )
        return _links_result(result.rows, result.path, client.calls - calls, "api")
    if not clicks_read:
        return None
    result = derived.derive_links(activity_id, captured_at=captured_at, root=root)
    return _links_result(result.rows, result.path, 0, "derived")


def _links_result(rows: int, path: str, calls: int, read: str) -> TrackingRefresh:
    return TrackingRefresh(
        report=LINKS,
        rows=rows,
        new_rows=0,
        pages=calls,
        api_calls=calls,
        watermark=None,
        path=path,
        full_read=read == "api",
        read=read,
    )


def _stale(path: UPath, now: datetime) -> bool:
    with connect(path) as con:
        (written,) = con.execute(
            "SELECT max(captured_at) FROM read_parquet(?)", [location(path)]
        ).fetchone()
    return written is None or now - written > TRICKLE
