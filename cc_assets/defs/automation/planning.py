"""Which activities a hot refresh covers, within what is left of the day's API quota.

Plain functions, so the plan is testable without Dagster: the schedule gathers candidates
(activity, sent time, what its last refresh cost, whether the previous run deferred it) and the
quota state, and this decides. The rules:

- The day's budget is the quota left today minus a reserve sized from measured costs (the
  discovery ticks still to come today and the daily snapshot, if not yet taken); a run gets an
  even share of that budget over the runs left today, or more when the runs after it still keep
  what one hot run is measured to cost. Nothing is ever planned past the day's budget.
- Order: activities the previous run deferred (they waited longest), then activities never
  refreshed since their first read (a new send is where the news is), then the rest by their
  observed arrival rate (new rows an hour at their last refresh), then the most recently sent.
- The first activity in that order runs even when it alone costs more than one run's share (a
  million-send first read is larger than a share, and would otherwise be deferred forever), as
  long as it fits the day's budget.
- Settled activities (sent more than `hot_days` ago) are included in the first run of each day
  only: with the activity stats as change detector they cost about one stats call per ten.
- Every candidate is returned: chosen, deferred (due but over budget) or resting (settled, due
  in the day's first run), never dropped; the schedule records the deferred on the run (tags)
  and the op logs them.
- The daily snapshot's contact backlog spends what the day leaves over: it keeps back the
  discovery ticks still to come and, for the tracking reads still to come today, the larger of
  every hot refresh still to come at what one costs by the candidates' measured costs and the
  busiest day of the last `BUSY_DAYS` days (first reads of new sends included: at 1,000,000
  contacts one costs about 2,800 calls), plus `QUOTA_MARGIN` of the quota for what no estimate
  foresees. A hot refresh deferred for want of calls costs its events six hours more lag, so the
  backlog, which can wait a day, gives way. The hot refreshes in turn reserve only the
  snapshot's own calls, not the backlog's, since the backlog adapts to what is left.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_CALLS_PER_ACTIVITY = 9  # one page per report (8 tracking + links): a first estimate
STATS_BATCH = 10  # activities per activity-stats call: the change detector's cost
DISCOVERY_CALLS_PER_TICK = 2  # an idle tick is one list call; one more for a changed campaign
DISCOVERY_TICKS_PER_DAY = 288  # every 5 minutes
HOT_RUNS_PER_DAY = 4  # at 00, 06, 12 and 18 UTC
QUOTA_MARGIN = 0.05
BUSY_DAYS = 7


@dataclass(frozen=True)
class Candidate:
    activity_id: str
    sent_time: datetime | None
    last_calls: int | None  # API calls its previous refresh spent (None: none since the first read)
    deferred: bool = False  # the previous run deferred it
    arrival_per_hour: float = 0.0  # new rows an hour its previous refresh found


@dataclass(frozen=True)
class Plan:
    chosen: list[str]
    deferred: list[str]  # due but over budget: first in line next run
    resting: list[str]  # settled, not due until the day's first run
    estimated_calls: int
    budget: int  # what this run could spend


def reserve(*, now: datetime, snapshot_calls: int, snapshot_taken: bool) -> int:
    """Calls kept back for the rest of the day: the discovery ticks still to come and, when
    today's snapshot is not taken yet, what the last one cost."""
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    ticks = math.ceil((midnight - now).total_seconds() / (86_400 / DISCOVERY_TICKS_PER_DAY))
    return ticks * DISCOVERY_CALLS_PER_TICK + (0 if snapshot_taken else snapshot_calls)


def hot_runs_after(now: datetime) -> int:
    """Hot refreshes still to come today after `now`."""
    return HOT_RUNS_PER_DAY - 1 - now.hour * HOT_RUNS_PER_DAY // 24


def hot_run_cost(candidates: Sequence[Candidate], *, now: datetime, hot_days: int) -> int:
    """What one hot refresh of every hot candidate costs by their measured costs."""
    hot = [c for c in candidates if _is_hot(c, now - timedelta(days=hot_days))]
    return sum(estimate(c, hot=True) for c in hot) + math.ceil(len(hot) / STATS_BATCH)


def backlog_reserve(
    *,
    now: datetime,
    daily_quota: int,
    hot_runs_left: int,
    hot_run_calls: int,
    busiest_day_calls: int = 0,
) -> int:
    """Calls the contact backlog leaves for the rest of the day (see the module docstring):
    `busiest_day_calls` is the most the tracking reads (first reads, hot refreshes, snapshots
    without the backlog) spent on one day of the last `BUSY_DAYS`."""
    return (
        reserve(now=now, snapshot_calls=0, snapshot_taken=True)
        + max(hot_runs_left * hot_run_calls, busiest_day_calls)
        + margin(daily_quota)
    )


def margin(daily_quota: int) -> int:
    """Calls the contact backlog never spends: `QUOTA_MARGIN` of the quota."""
    return math.ceil(daily_quota * QUOTA_MARGIN)


def day_budget(daily_quota: int, used_today: int, reserved: int) -> int:
    """What hot refreshes may still spend today."""
    return max(daily_quota - used_today - reserved, 0)


def run_budget(remaining: int, runs_left_today: int, later_run_calls: int | None = None) -> int:
    """One run's even share of what is left today, or more when the runs after it still keep
    `later_run_calls` each (one hot run's measured cost): once the contact backlog has spent
    the day's leftover, an even share of the rest is smaller than the run after a send costs,
    and a deferred activity's events wait six hours more."""
    runs = max(runs_left_today, 1)
    share = math.ceil(remaining / runs)
    if later_run_calls is None:
        return share
    return max(share, remaining - (runs - 1) * later_run_calls)


def estimate(candidate: Candidate, hot: bool) -> int:
    """Calls the candidate's refresh is expected to cost. A settled activity usually costs its
    share of a stats call; a hot one what its previous refresh cost (at least one page per
    report the first time)."""
    if candidate.last_calls is None:
        return DEFAULT_CALLS_PER_ACTIVITY
    if not hot:
        return 1
    return max(candidate.last_calls, 1)


def _is_hot(candidate: Candidate, horizon: datetime) -> bool:
    return candidate.sent_time is None or candidate.sent_time >= horizon


def _order(candidate: Candidate, now: datetime) -> tuple:
    sent = candidate.sent_time or now
    return (
        not candidate.deferred,
        candidate.last_calls is not None,
        -candidate.arrival_per_hour,
        -sent.timestamp(),
        candidate.activity_id,
    )


def plan_hot_refresh(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    hot_days: int,
    budget: int,
    remaining_today: int | None = None,
    include_settled: bool = False,
) -> Plan:
    """Choose what this run refreshes (see the module docstring). `budget` is the run's
    share, `remaining_today` the day's budget (the run's share when not given)."""
    remaining = budget if remaining_today is None else remaining_today
    horizon = now - timedelta(days=hot_days)
    is_hot = {c.activity_id: _is_hot(c, horizon) for c in candidates}
    due = [c for c in candidates if is_hot[c.activity_id] or include_settled or c.deferred]
    resting = [c.activity_id for c in candidates if c not in due]
    chosen, deferred, spent = [], [], 0
    for candidate in sorted(due, key=lambda c: (not is_hot[c.activity_id], _order(c, now))):
        cost = estimate(candidate, is_hot[candidate.activity_id])
        total = spent + cost + math.ceil((len(chosen) + 1) / STATS_BATCH)
        head = not chosen and not deferred
        if total <= remaining and (total <= budget or head):
            chosen.append(candidate.activity_id)
            spent += cost
        else:
            deferred.append(candidate.activity_id)
    stats_calls = math.ceil(len(chosen) / STATS_BATCH)
    return Plan(chosen, deferred, resting, spent + stats_calls, budget)
