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
- Every candidate is returned: chosen, deferred (due but over budget), resting (settled, due
  in the day's first run), waiting (history over budget) or excluded (sent before `since`),
  never dropped; the schedule records the deferred on the run (tags)
  and the op logs them.
- The daily snapshot's contact backlog spends what the day leaves over: it keeps back the
  discovery ticks still to come and, for the tracking reads still to come today, the larger of
  every hot refresh still to come at what one costs by the candidates' measured costs and the
  busiest day of the last `BUSY_DAYS` days (first reads of new sends included: at 1,000,000
  contacts one costs about 2,800 calls), plus `QUOTA_MARGIN` of the quota for what no estimate
  foresees. The snapshots' own calls are not in that busiest day: the schedule keeps back every
  account's snapshot not taken yet at its last cost before it shares the rest among the
  accounts' backlogs, and a backlog that runs after them sees them spent. A hot refresh
  deferred for want of calls costs its events six hours more lag, so the backlog, which can
  wait a day, gives way. The hot refreshes in turn reserve only the snapshots' own calls, not
  the backlogs', since the backlogs adapt to what is left.
- Accounts (an accounts file): one plan covers every account of the key, so the fresh data
  of every account (hot and deferred activities, then settled ones) comes before any
  account's history, and the history is taken in turns by weight (`history_turns`).
- History (an account connected with years of campaigns): an activity whose first read has not
  landed and that was sent before the hot window is history. It is always due, goes after every
  hot and settled activity, newest send first, and is chosen only within what the run's and the
  day's budget leave after them; what does not fit waits (never "deferred", so it never jumps
  the line of the next run's fresh work), and it leaves `QUOTA_MARGIN` of the quota to the
  first reads of sends discovered later in the day. Its cost is its first read's, estimated from its
  activity stats (`first_read_calls`). Activities sent before `since` (`CC_ASSETS_HISTORY_SINCE`)
  are not planned at all. While history remains, the contact backlog keeps it back too
  (`backlog_reserve`'s `history_calls`): the campaigns' reports come first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import zip_longest

DEFAULT_CALLS_PER_ACTIVITY = 9  # one page per report (8 tracking + links): a first estimate
STATS_BATCH = 10  # activities per activity-stats call: the change detector's cost
DISCOVERY_CALLS_PER_TICK = 2  # an idle tick is one list call; one more for a changed campaign
HOT_RUNS_PER_DAY = 4  # at 00, 06, 12 and 18 UTC
QUOTA_MARGIN = 0.05
BUSY_DAYS = 7
FIRST_READS_PER_TICK = 10  # newly sent activities a discovery tick reads at once
PAGE_ROWS = 500  # rows of a tracking report page
FIRST_READ_ROWS = {
    "sends": "em_sends",
    "opens": "em_opens_all",
    "unique_opens": "em_opens",
    "didnotopens": "em_not_opened",
    "clicks": "em_clicks_all",
    "bounces": "em_bounces",
    "optouts": "em_optouts",
    "forwards": "em_forwards",
}
"""Tracking report -> the activity stats count of the rows its first read pages through."""


@dataclass(frozen=True)
class Candidate:
    activity_id: str
    sent_time: datetime | None
    last_calls: int | None  # API calls its previous refresh spent (None: none since the first read)
    deferred: bool = False  # the previous run deferred it
    arrival_per_hour: float = 0.0  # new rows an hour its previous refresh found
    unread_calls: int | None = None  # its first read has not landed: what that costs
    account: str | None = None  # its account (None: the single account of the variables)
    weight: float = 1.0  # its account's share of the key's budget
    counts: Mapping[str, int] | None = None  # its activity stats (None: none held yet)


@dataclass(frozen=True)
class Plan:
    chosen: list[str]
    deferred: list[str]  # due but over budget: first in line next run
    resting: list[str]  # settled, not due until the day's first run
    estimated_calls: int
    budget: int  # what this run could spend
    waiting: list[str] = field(default_factory=list)  # history beyond today's budget
    excluded: list[str] = field(default_factory=list)  # sent before `since`: never read


def first_read_calls(counts: Mapping[str, int] | None) -> int:
    """What an activity's first read costs, from its activity stats: a page of `PAGE_ROWS` per
    report's rows (an empty report is one page), plus the links report's page. Without stats:
    one page a report."""
    if not counts:
        return DEFAULT_CALLS_PER_ACTIVITY
    pages = (max(math.ceil(counts.get(key, 0) / PAGE_ROWS), 1) for key in FIRST_READ_ROWS.values())
    return sum(pages) + 1


def reserve(
    *,
    now: datetime,
    snapshot_calls: int,
    snapshot_taken: bool,
    accounts: int = 1,
    ticks_per_day: int,
) -> int:
    """Calls kept back for the rest of the day: the discovery ticks still to come
    (`ticks_per_day`, the sensor's interval) and, when today's snapshot is not taken yet, what
    the last one cost. A tick lists every account's campaigns (`accounts` idle calls) plus one
    for a changed campaign: kept back as for one account, 20 accounts' ticks (5,760 calls a
    day) would be kept 576."""
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    ticks = math.ceil((midnight - now).total_seconds() / (86_400 / ticks_per_day))
    per_tick = DISCOVERY_CALLS_PER_TICK + max(accounts, 1) - 1
    return ticks * per_tick + (0 if snapshot_taken else snapshot_calls)


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
    history_calls: int = 0,
    accounts: int = 1,
    ticks_per_day: int,
) -> int:
    """Calls the contact backlog leaves for the rest of the day (see the module docstring):
    `busiest_day_calls` is the most the activity reads (first reads, hot refreshes) spent on
    one day of the last `BUSY_DAYS`; `history_calls` what the
    history's first reads still need (they come first); `accounts` the key's accounts, whose
    discovery ticks the reserve keeps."""
    return (
        reserve(
            now=now,
            snapshot_calls=0,
            snapshot_taken=True,
            accounts=accounts,
            ticks_per_day=ticks_per_day,
        )
        + max(hot_runs_left * hot_run_calls, busiest_day_calls)
        + history_calls
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
    report the first time). A settled one held since its first read is no different: with
    nothing measured yet, one page per report made a fully held history look unaffordable
    beside the first reads still to come."""
    if not hot:
        return 1
    if candidate.last_calls is None:
        return DEFAULT_CALLS_PER_ACTIVITY
    return max(candidate.last_calls, 1)


def _is_hot(candidate: Candidate, horizon: datetime) -> bool:
    return candidate.sent_time is None or candidate.sent_time >= horizon


def is_history(candidate: Candidate, horizon: datetime) -> bool:
    """Sent before the hot window and its first read not landed."""
    return candidate.unread_calls is not None and not _is_hot(candidate, horizon)


def first_reads_now(new: Sequence[tuple[str, str]], *, since: date | None) -> list[str]:
    """Which of a discovery tick's newly sent activities (id, its campaign's `updated_at`) are
    read at once: the newest `FIRST_READS_PER_TICK` by their campaign's change, none changed
    before `since` (a campaign's `updated_at` is never before its send, so one updated before
    `since` was sent before it). New sends arrive a few a day, so every one is read at once;
    the first tick over an account with years of campaigns reads its newest and leaves the rest
    to the plan, newest first, within the quota, instead of launching a first read of every
    activity at once, in no order, past the day's quota."""
    kept = [(stamp, activity) for activity, stamp in new if not _changed_before(stamp, since)]
    return [activity for _, activity in sorted(kept, reverse=True)[:FIRST_READS_PER_TICK]]


def share_first_reads(per_account: Sequence[Sequence[str]]) -> list[str]:
    """The first reads a discovery tick launches over the accounts of one key: each account's
    own (`first_reads_now`, newest first) taken in turns, at most `FIRST_READS_PER_TICK` in
    all. A tick of twenty new accounts would otherwise launch ten first reads of each at once,
    outside the plan and past the day's quota; what is not read now is the plan's history,
    read within the quota by weight. One account: its own first reads, unchanged."""
    turns = zip_longest(*per_account)
    return [key for turn in turns for key in turn if key is not None][:FIRST_READS_PER_TICK]


def _changed_before(stamp: str, since: date | None) -> bool:
    if since is None:
        return False
    try:
        changed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False  # no usable date: taken as new
    return changed.date() < since


def before(candidate: Candidate, since: date | None) -> bool:
    """Sent before `since` (an activity with no known send time is taken as new)."""
    return (
        since is not None and candidate.sent_time is not None and candidate.sent_time.date() < since
    )


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
    since: date | None = None,
    history_reserve: int = 0,
) -> Plan:
    """Choose what this run refreshes (see the module docstring). `budget` is the run's
    share, `remaining_today` the day's budget (the run's share when not given); nothing sent
    before `since` is planned, and history leaves `history_reserve` of the day's budget to
    the first reads of sends still to come today."""
    remaining = budget if remaining_today is None else remaining_today
    horizon = now - timedelta(days=hot_days)
    excluded = [c.activity_id for c in candidates if before(c, since)]
    candidates = [c for c in candidates if not before(c, since)]
    is_hot = {c.activity_id: _is_hot(c, horizon) for c in candidates}
    history = {c.activity_id for c in candidates if is_history(c, horizon)}
    due = [
        c
        for c in candidates
        if is_hot[c.activity_id] or include_settled or c.deferred or c.activity_id in history
    ]
    resting = [c.activity_id for c in candidates if c not in due]
    chosen, deferred, waiting, spent = [], [], [], 0
    fair = history_turns([c for c in due if c.activity_id in history], now)
    for candidate in sorted(
        due,
        key=lambda c: (
            not is_hot[c.activity_id],
            c.activity_id in history,
            fair.get(c.activity_id, 0.0),
            _order(c, now),
        ),
    ):
        if candidate.unread_calls is not None:
            cost = candidate.unread_calls
        else:
            cost = estimate(candidate, is_hot[candidate.activity_id])
        total = spent + cost + math.ceil((len(chosen) + 1) / STATS_BATCH)
        head = not chosen and not deferred
        limit = remaining - (history_reserve if candidate.activity_id in history else 0)
        if total <= limit and (total <= budget or head):
            chosen.append(candidate.activity_id)
            spent += cost
        elif candidate.activity_id in history:
            waiting.append(candidate.activity_id)
        else:
            deferred.append(candidate.activity_id)
    stats_calls = math.ceil(len(chosen) / STATS_BATCH)
    return Plan(chosen, deferred, resting, spent + stats_calls, budget, waiting, excluded)


def history_turns(history: Sequence[Candidate], now: datetime) -> dict[str, float]:
    """Each history activity's turn when accounts share the key (weighted fair queueing):
    every account's history newest first, each activity's turn the calls its account will
    have spent on history once it is read, divided by the account's weight. In turn order a
    large backlog never starves a small one, an account of weight 2 gets twice the calls,
    and an account added today takes its share at once. One account: its own order."""
    turns: dict[str, float] = {}
    spent: dict[str | None, int] = {}
    for candidate in sorted(history, key=lambda c: _order(c, now)):
        spent[candidate.account] = spent.get(candidate.account, 0) + (candidate.unread_calls or 1)
        turns[candidate.activity_id] = spent[candidate.account] / candidate.weight
    return turns


@dataclass(frozen=True)
class Backfill:
    """How far an account's history is: what a user reads in the refresh's summary, `cc-assets
    status` and the UI."""

    known: int  # sent activities (since `since`)
    held: int  # of which the first read has landed
    calls_needed: int  # the first reads still to come, by their activity stats
    calls_per_day: int  # what a day of the key's quota leaves after fresh data
    finish: date | None  # the expected day the history is complete (None: never at this quota)

    def line(self) -> str:
        """One sentence for a terminal."""
        if self.held == self.known:
            return f"history: complete, {self.held} of {self.known} activities held"
        when = f"expected complete on {self.finish}" if self.finish else "never at this quota"
        return (
            f"history: {self.held} of {self.known} activities held; about "
            f"{self.calls_needed:,} calls still needed at {self.calls_per_day:,} a day: {when}"
        )

    def metadata(self) -> dict[str, object]:
        """The figures under `history_*` names, for the UI."""
        finish = str(self.finish) if self.finish else "never"
        figures = {
            "activities_held": self.held,
            "activities_known": self.known,
            "calls_needed": self.calls_needed,
            "calls_per_day": self.calls_per_day,
        }
        return {
            **{f"history_{k}": v for k, v in figures.items()},
            "history_expected_finish": finish,
        }


def fresh_calls_per_day(
    *,
    snapshot_calls: int,
    hot_run_calls: int,
    daemon: bool = True,
    ticks_per_day: int,
) -> int:
    """What a day's fresh data is expected to cost: the snapshot, every hot refresh and every
    discovery tick (an idle one is one call) under the daemon; the snapshot, one discovery
    and one refresh for an account refreshed by `cc-assets refresh` once a day."""
    if not daemon:
        return snapshot_calls + 1 + hot_run_calls
    return ticks_per_day + snapshot_calls + HOT_RUNS_PER_DAY * hot_run_calls


def backfill(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    since: date | None,
    daily_quota: int,
    fresh_calls: int,
    left_today: int,
) -> Backfill:
    """The history's progress and its expected finish: the first reads still needed (every
    unread sent activity since `since`), spent at `daily_quota - fresh_calls` a day after the
    `left_today` calls today still allows. A quota of 0 (no local limit) finishes today."""
    wanted = [c for c in candidates if not before(c, since)]
    needed = sum(c.unread_calls or 0 for c in wanted)
    per_day = max(daily_quota - fresh_calls, 0)
    if daily_quota == 0 or needed <= left_today:
        finish: date | None = now.date()
    elif per_day == 0:
        finish = None
    else:
        finish = now.date() + timedelta(days=math.ceil((needed - left_today) / per_day))
    held = sum(c.unread_calls is None for c in wanted)
    return Backfill(len(wanted), held, needed, per_day if daily_quota else 0, finish)
