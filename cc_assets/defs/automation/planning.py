"""Which recently sent activities a hot refresh covers, within the daily API budget.

Plain functions, so the plan is testable without Dagster: the schedule gathers candidates
(activity, sent time, calls its last refresh cost) and this decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_CALLS_PER_ACTIVITY = 9  # one page per report (8 tracking + links) when nothing is new
SNAPSHOT_RESERVE = 500  # calls kept back for the daily snapshots and discovery


@dataclass(frozen=True)
class Candidate:
    activity_id: str
    sent_time: datetime | None
    last_calls: int | None  # API calls its previous refresh spent, if known


@dataclass(frozen=True)
class Plan:
    chosen: list[str]
    deferred: list[str]
    estimated_calls: int


def plan_hot_refresh(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    hot_days: int,
    budget: int,
) -> Plan:
    """The most recently sent activities first (their opens still arrive), as many as the
    budget allows; what does not fit is deferred to the next run, never silently dropped."""
    horizon = now - timedelta(days=hot_days)
    hot = [c for c in candidates if c.sent_time is None or c.sent_time >= horizon]
    hot.sort(key=lambda c: c.sent_time or now, reverse=True)
    chosen, deferred, spent = [], [], 0
    for candidate in hot:
        cost = max(candidate.last_calls or DEFAULT_CALLS_PER_ACTIVITY, DEFAULT_CALLS_PER_ACTIVITY)
        if spent + cost <= budget:
            chosen.append(candidate.activity_id)
            spent += cost
        else:
            deferred.append(candidate.activity_id)
    return Plan(chosen, deferred, spent)


def run_budget(daily_quota: int, runs_per_day: int) -> int:
    """One run's share of the day's calls, after the snapshot reserve."""
    return max((daily_quota - SNAPSHOT_RESERVE) // max(runs_per_day, 1), 0)
