"""What the lake holds against Constant Contact's activity stats, under one rule.

The rule: CC refreshes an activity's stats in batches, so the stats describe its reports as they
stood at their `last_refresh_time`. The lake is compared with them by counting what it holds up
to that moment (`created_time <= last_refresh_time`); events after it are the stats' lag, never
a difference. Stats without a refresh time are compared with everything held.

`match_activity` answers, as data (`StatsMatch`), what each report of an activity holds against
the stats: per stats key the count held as of the refresh, CC's count and whether they agree,
plus when each report's file was last written and how many events are held after the refresh.
It is one DuckDB query over the activity's report files. The change detector and the
derived-report decisions (`activity_reads`) and the metric checks (`defs/metrics/compute`) all
read its answer; none of them counts or filters by time on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from upath import UPath

from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.lake.paths import connect, location, partition_file
from cc_assets.pipeline.derived import SOURCES

COUNTS_OF_REPORT: dict[str, dict[str, str]] = {
    "sends": {"em_sends": "count(DISTINCT contact_id)"},
    "opens": {"em_opens": "count(DISTINCT contact_id)", "em_opens_all": "count(*)"},
    "clicks": {"em_clicks": "count(DISTINCT contact_id)", "em_clicks_all": "count(*)"},
    "bounces": {"em_bounces": "count(DISTINCT contact_id)"},
    "optouts": {"em_optouts": "count(DISTINCT contact_id)"},
    "forwards": {"em_forwards": "count(DISTINCT contact_id)"},
}
"""Event report -> {CC stats key: the SQL aggregate over the report's events that must equal
it}."""

DERIVED_STATS: dict[str, str] = {"didnotopens": "em_not_opened", "unique_opens": "em_opens"}
"""Derived report -> the CC stats key its row count must equal. Their files cannot be counted as
of the refresh (a contact who opened after it has left `didnotopens`; `unique_opens` keeps only
each contact's newest open), so what they are held against is the derivation from the events
held up to the refresh."""

KEYS_OF_REPORT: dict[str, tuple[str, ...]] = {
    **{report: tuple(counts) for report, counts in COUNTS_OF_REPORT.items()},
    **{report: (key,) for report, key in DERIVED_STATS.items()},
}
"""The stats keys that say whether a report (event or derived) agrees with the stats."""


@dataclass(frozen=True)
class ActivityStats:
    """One activity's stats: CC's counts (`em_*`, the keys it gave) as of `last_refresh_time`."""

    activity_id: str
    last_refresh_time: datetime | None
    counts: dict[str, int]


@dataclass(frozen=True)
class Count:
    """One stats key: what the lake holds as of the stats' refresh, and CC's count (None when
    the stats do not give it: then nothing proves the lake right)."""

    held: int
    stats: int | None

    @property
    def matches(self) -> bool:
        return self.stats is not None and self.held == self.stats


@dataclass(frozen=True)
class StatsMatch:
    """What one activity's reports hold against its stats (see the module docstring).

    `counts` has a key only when the reports it is counted from are in the lake; `written` has
    a report only when its file exists (its newest `captured_at`, when asked); `later` counts
    the events held after the refresh in the reports counted; `lagging` says the lake holds
    events after the refresh: the stats' lag, shown, never compared."""

    activity_id: str
    as_of: datetime | None
    counts: dict[str, Count]
    written: dict[str, datetime | None]
    later: int
    lagging: bool

    def agrees(self, report: str) -> bool:
        """True when every stats key of `report` is held and equals CC's count."""
        keys = KEYS_OF_REPORT[report]
        return all(key in self.counts and self.counts[key].matches for key in keys)

    @property
    def mismatches(self) -> dict[str, Count]:
        return {key: count for key, count in self.counts.items() if not count.matches}

    def note(self) -> str:
        """How the comparison was made, for a check's metadata."""
        if self.as_of is None:
            return "stats without a refresh time: compared with every event held"
        if self.lagging:
            return (
                f"stats lag: compared the events up to the stats' refresh at {self.as_of} "
                f"({self.later} held after it, not compared)"
            )
        return f"compared every event held (all up to the stats' refresh at {self.as_of})"


def lags(refreshed: datetime | None, newest_event: datetime | None) -> bool:
    """True when the lake holds an event after the stats' refresh (`newest_event`, the newest
    held): those stats are compared with the events up to the refresh, not with everything.
    Stats without a refresh time never lag: they are compared with everything held."""
    return newest_event is not None and refreshed is not None and newest_event > refreshed


def _report_sql(report: str, keep: str, written: bool) -> str:
    counts = ", ".join(
        f"{expression} FILTER (WHERE {keep}) AS {key}"
        for key, expression in COUNTS_OF_REPORT[report].items()
    )
    later = f"count(*) FILTER (WHERE NOT ({keep}))" if keep != "TRUE" else "0"
    stamp = "max(captured_at)" if written else "NULL::TIMESTAMPTZ"
    return (
        f"(SELECT {stamp} AS written_{report}, {later} AS later_{report}, {counts} "
        f"FROM read_parquet($f_{report})) AS {report}"
    )


def _not_opened_sql(keep: str) -> str:
    """CC's `em_not_opened`: the sends whose contact neither opened nor bounced, as of."""
    return (
        "(SELECT count(DISTINCT contact_id) AS em_not_opened FROM read_parquet($f_sends) "
        f"WHERE {keep} AND contact_id NOT IN ("
        f"SELECT contact_id FROM read_parquet($f_opens) WHERE {keep} UNION "
        f"SELECT contact_id FROM read_parquet($f_bounces) WHERE {keep})) AS not_opened"
    )


def match_activity(
    activity_id: str,
    stats: ActivityStats,
    root: UPath | None,
    reports: Iterable[str] = tuple(KEYS_OF_REPORT),
    *,
    written: bool = False,
) -> StatsMatch:
    """`reports` (event or derived) of `activity_id` against `stats`, counted in one query.
    A report without a file, or a derived report missing one of its sources, has no count:
    nothing is invented for it. `written`: also each file's newest `captured_at` (the change
    detector's trickle; the lake writer stamps it), else `written` maps each file to None."""
    reports = list(reports)
    wanted = [r for r in reports if r in COUNTS_OF_REPORT]
    for report in reports:
        wanted += [s for s in SOURCES.get(report, ()) if s not in wanted]
    files = {
        report: partition_file(TRACKING_TABLES[report], activity_id, root) for report in wanted
    }
    held = [report for report in wanted if files[report].exists()]
    as_of = stats.last_refresh_time
    keep = "created_time <= $as_of" if as_of is not None else "TRUE"
    parts = [_report_sql(report, keep, written) for report in held]
    if "didnotopens" in reports and all(s in held for s in SOURCES["didnotopens"]):
        parts.append(_not_opened_sql(keep))
    if not parts:
        return StatsMatch(activity_id, as_of, {}, {}, later=0, lagging=False)
    parameters: dict[str, Any] = {f"f_{report}": location(files[report]) for report in held}
    if as_of is not None:
        parameters["as_of"] = as_of
    with connect(root) as con:
        cursor = con.execute(f"SELECT * FROM {' CROSS JOIN '.join(parts)}", parameters)
        names = [column[0] for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    later = sum(int(row[f"later_{report}"]) for report in held)
    counts = {
        key: Count(int(row[key]), stats.counts.get(key))
        for key in dict.fromkeys(k for r in reports for k in KEYS_OF_REPORT[r])
        if key in row
    }
    return StatsMatch(
        activity_id,
        as_of,
        counts,
        {report: row[f"written_{report}"] for report in held},
        later=later,
        lagging=later > 0,
    )


def match_counts(
    stats: ActivityStats,
    counts: Mapping[str, int],
    newest_event: datetime | None,
    root: UPath | None,
) -> StatsMatch:
    """Counts already taken over everything the lake holds of the activity (a metric row, by
    stats key) against `stats`: when no event held is after the stats' refresh, they are the
    counts as of it and compared as they are, without reading a file; otherwise the lake is
    counted as of the refresh (`match_activity`) for the same keys."""
    refreshed = stats.last_refresh_time
    if not lags(refreshed, newest_event):
        compared = {key: Count(int(n), stats.counts.get(key)) for key, n in counts.items()}
        return StatsMatch(stats.activity_id, refreshed, compared, {}, later=0, lagging=False)
    reports = [r for r in KEYS_OF_REPORT if set(KEYS_OF_REPORT[r]) & set(counts)]
    found = match_activity(stats.activity_id, stats, root, reports)
    held = {key: found.counts.get(key, Count(0, stats.counts.get(key))) for key in counts}
    return StatsMatch(
        stats.activity_id, refreshed, held, found.written, later=found.later, lagging=True
    )
