"""The hot-refresh plan: within the day's quota, newest news first, nothing starved or dropped."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cc_assets.defs.automation.planning import (
    DISCOVERY_CALLS_PER_TICK,
    STATS_BATCH,
    Candidate,
    backfill,
    backlog_reserve,
    day_budget,
    first_read_calls,
    first_reads_now,
    hot_run_cost,
    hot_runs_after,
    plan_hot_refresh,
    reserve,
    run_budget,
)

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
TICKS = 288  # discovery every 5 minutes, the default interval


def test_newest_first_within_budget_rest_deferred() -> None:
    candidates = [
        Candidate("old", NOW - timedelta(days=30), 9),
        Candidate("a", NOW - timedelta(days=1), 20),
        Candidate("b", NOW - timedelta(days=2), 30),
        Candidate("c", NOW - timedelta(days=3), 40),
    ]
    plan = plan_hot_refresh(candidates, now=NOW, hot_days=14, budget=55)
    assert plan.chosen == ["a", "b"]
    assert plan.deferred == ["c"]
    assert plan.resting == ["old"]
    assert plan.estimated_calls == 51  # 50 for the reports, one stats call for both


def test_a_new_send_and_the_previously_deferred_go_first() -> None:
    candidates = [
        Candidate("recent", NOW - timedelta(hours=2), 20),
        Candidate("new", NOW - timedelta(days=3), None),
        Candidate("waited", NOW - timedelta(days=5), 20, deferred=True),
    ]
    plan = plan_hot_refresh(candidates, now=NOW, hot_days=14, budget=1_000)
    assert plan.chosen == ["waited", "new", "recent"]


def test_a_read_larger_than_a_run_is_not_starved_but_never_past_the_day() -> None:
    big = Candidate("big", NOW - timedelta(days=1), 2_821)
    small = [Candidate(f"s{i}", NOW - timedelta(hours=i), 9) for i in range(5)]
    plan = plan_hot_refresh(
        [big, *small], now=NOW, hot_days=14, budget=2_375, remaining_today=9_000
    )
    assert "big" in plan.chosen or "big" in plan.deferred
    runs = 0
    candidates = [big, *small]
    while True:  # each run: what was deferred waits first in the next
        runs += 1
        plan = plan_hot_refresh(
            candidates, now=NOW, hot_days=14, budget=2_375, remaining_today=9_000
        )
        if "big" in plan.chosen:
            break
        candidates = [replace(c, deferred=c.activity_id in plan.deferred) for c in candidates]
        assert runs < 3
    assert plan.estimated_calls <= 9_000
    tight = plan_hot_refresh([big], now=NOW, hot_days=14, budget=2_375, remaining_today=2_000)
    assert tight.chosen == [] and tight.deferred == ["big"]


def test_never_past_the_quota_never_drops_an_activity() -> None:
    rng = random.Random(4)
    for _ in range(300):
        candidates = [
            Candidate(
                f"a{i}",
                NOW - timedelta(hours=rng.uniform(0, 40 * 24)),
                rng.choice([None, 0, 3, 9, 40, 700, 3_000]),
                deferred=rng.random() < 0.2,
                arrival_per_hour=rng.uniform(0, 50),
            )
            for i in range(rng.randint(0, 40))
        ]
        remaining = rng.randint(0, 5_000)
        budget = run_budget(remaining, rng.randint(1, 4))
        plan = plan_hot_refresh(
            candidates,
            now=NOW,
            hot_days=14,
            budget=budget,
            remaining_today=remaining,
            include_settled=rng.random() < 0.5,
        )
        assert plan.estimated_calls <= remaining
        every = plan.chosen + plan.deferred + plan.resting
        assert sorted(every) == sorted(c.activity_id for c in candidates)


def test_settled_activities_rest_until_the_first_run_of_the_day() -> None:
    settled = Candidate("settled", NOW - timedelta(days=20), 9)
    assert plan_hot_refresh([settled], now=NOW, hot_days=14, budget=100).resting == ["settled"]
    first = plan_hot_refresh([settled], now=NOW, hot_days=14, budget=100, include_settled=True)
    assert first.chosen == ["settled"] and first.estimated_calls == 2


def test_the_reserve_is_sized_from_measured_costs() -> None:
    late = datetime(2026, 11, 24, 23, tzinfo=UTC)  # 12 discovery ticks left today
    assert reserve(now=late, snapshot_calls=40, snapshot_taken=True, ticks_per_day=TICKS) == 12 * (
        DISCOVERY_CALLS_PER_TICK
    )
    assert (
        reserve(now=late, snapshot_calls=40, snapshot_taken=False, ticks_per_day=TICKS)
        == 12 * 2 + 40
    )
    assert day_budget(10_000, 9_990, 24) == 0
    assert day_budget(10_000, 1_000, 600) == 8_400
    assert run_budget(8_400, 4) == 2_100
    # the three runs after this one keep what one costs: this one may take the rest
    assert run_budget(1_000, 4, later_run_calls=150) == 1_000 - 3 * 150
    assert run_budget(1_000, 4, later_run_calls=400) == 250  # never less than the even share


def test_the_reserve_keeps_every_accounts_discovery_ticks() -> None:
    """Each tick lists every account's campaigns: the reserve keeps an idle call per account
    and one for a changed campaign, so the backlog and the history never spend the calls the
    evening's discovery of 20 accounts needs."""
    late = datetime(2026, 11, 24, 23, tzinfo=UTC)  # 12 discovery ticks left today
    one = reserve(now=late, snapshot_calls=40, snapshot_taken=True, ticks_per_day=TICKS)
    assert one == reserve(
        now=late, snapshot_calls=40, snapshot_taken=True, accounts=1, ticks_per_day=TICKS
    )
    assert one == 12 * DISCOVERY_CALLS_PER_TICK
    assert (
        reserve(now=late, snapshot_calls=40, snapshot_taken=True, accounts=20, ticks_per_day=TICKS)
        == 12 * 21
    )
    assert (
        reserve(now=late, snapshot_calls=40, snapshot_taken=False, accounts=5, ticks_per_day=TICKS)
        == 12 * 6 + 40
    )
    midnight = datetime(2026, 11, 24, tzinfo=UTC)
    assert (
        reserve(
            now=midnight, snapshot_calls=0, snapshot_taken=True, accounts=20, ticks_per_day=TICKS
        )
        == 288 * 21
    )
    backlog = backlog_reserve(
        now=late,
        daily_quota=10_000,
        hot_runs_left=0,
        hot_run_calls=0,
        accounts=20,
        ticks_per_day=TICKS,
    )
    assert backlog == 12 * 21 + 500


def test_the_contact_backlog_leaves_the_rest_of_the_days_refreshes_their_measured_cost() -> None:
    snapshot_time = datetime(2026, 11, 24, 0, 15, tzinfo=UTC)
    assert [hot_runs_after(snapshot_time.replace(hour=h)) for h in (0, 5, 6, 12, 18, 23)] == [
        3,
        3,
        2,
        1,
        0,
        0,
    ]
    candidates = [
        Candidate("new", snapshot_time, None),  # never read: a first estimate
        Candidate("hot", snapshot_time - timedelta(days=2), 40),
        Candidate("settled", snapshot_time - timedelta(days=30), 900),  # not hot: not counted
    ]
    one_run = hot_run_cost(candidates, now=snapshot_time, hot_days=14)
    assert (
        one_run
        == plan_hot_refresh(
            candidates[:2], now=snapshot_time, hot_days=14, budget=10**6
        ).estimated_calls
    )
    assert one_run == 9 + 40 + math.ceil(2 / STATS_BATCH)
    reserved = backlog_reserve(
        now=snapshot_time,
        daily_quota=10_000,
        hot_runs_left=3,
        hot_run_calls=one_run,
        ticks_per_day=TICKS,
    )
    discovery = reserve(
        now=snapshot_time, snapshot_calls=0, snapshot_taken=True, ticks_per_day=TICKS
    )
    assert reserved == discovery + 3 * one_run + 500  # 5% of the quota for the unforeseen
    # a week with a first read of 2,800 calls keeps that much back, not three quiet runs' worth
    busy = backlog_reserve(
        now=snapshot_time,
        daily_quota=10_000,
        hot_runs_left=3,
        hot_run_calls=one_run,
        busiest_day_calls=2_800,
        ticks_per_day=TICKS,
    )
    assert busy == discovery + 2_800 + 500
    late = backlog_reserve(
        now=snapshot_time.replace(hour=23),
        daily_quota=10_000,
        hot_runs_left=0,
        hot_run_calls=0,
        ticks_per_day=TICKS,
    )
    assert late == 9 * DISCOVERY_CALLS_PER_TICK + 500  # 23:15: nine ticks left


def _history(count: int, calls: int = 100) -> list[Candidate]:
    """`count` never-read activities sent a week apart, the newest 20 days ago."""
    return [
        Candidate(f"h{i}", NOW - timedelta(days=20 + 7 * i), None, unread_calls=calls)
        for i in range(count)
    ]


def test_history_goes_after_fresh_work_newest_first_and_waits_without_jumping_the_line() -> None:
    fresh = [
        Candidate("new", NOW - timedelta(hours=3), None, unread_calls=50),
        Candidate("recent", NOW - timedelta(days=2), 40),
    ]
    history = _history(5)
    plan = plan_hot_refresh([*history, *fresh], now=NOW, hot_days=14, budget=400)
    assert plan.chosen == ["new", "recent", "h0", "h1", "h2"]
    assert plan.waiting == ["h3", "h4"] and plan.deferred == []
    assert plan.estimated_calls == 50 + 40 + 300 + 1
    # the next run: the waiting history never goes before a send that arrived since
    held = {"new", "recent", "h0", "h1", "h2"}
    later = [
        Candidate("newer", NOW, None, unread_calls=60),
        *[
            replace(c, unread_calls=None, last_calls=1) if c.activity_id in held else c
            for c in [*history, *fresh]
        ],
    ]
    plan = plan_hot_refresh(later, now=NOW, hot_days=14, budget=200)
    assert plan.chosen[0] == "newer" and plan.chosen[-1] == "h3"
    assert "h4" in plan.waiting


def test_nothing_sent_before_since_is_planned() -> None:
    history = _history(6)
    since = (NOW - timedelta(days=35)).date()  # h0 (20 days ago), h1 (27), h2 (34)
    plan = plan_hot_refresh(history, now=NOW, hot_days=14, budget=10_000, since=since)
    assert plan.chosen == ["h0", "h1", "h2"]
    assert plan.excluded == ["h3", "h4", "h5"]
    progress = backfill(
        history, now=NOW, since=since, daily_quota=1_000, fresh_calls=600, left_today=0
    )
    assert (progress.known, progress.held, progress.calls_needed) == (3, 0, 300)


def test_backfill_progress_and_expected_finish() -> None:
    history = _history(10)
    held = [replace(c, unread_calls=None) for c in history[:4]]
    progress = backfill(
        [*held, *history[4:]],
        now=NOW,
        since=None,
        daily_quota=1_000,
        fresh_calls=800,
        left_today=100,
    )
    assert (progress.known, progress.held, progress.calls_needed) == (10, 4, 600)
    assert progress.calls_per_day == 200
    assert progress.finish == NOW.date() + timedelta(days=3)  # 100 today, then 200 a day
    assert "4 of 10 activities held" in progress.line() and str(progress.finish) in progress.line()
    starved = backfill(history, now=NOW, since=None, daily_quota=500, fresh_calls=600, left_today=0)
    assert starved.finish is None and "never" in starved.line()


def test_first_read_cost_from_the_activity_stats() -> None:
    counts = {
        "em_sends": 50_000,
        "em_opens_all": 12_001,
        "em_opens": 9_000,
        "em_not_opened": 40_000,
    }
    # sends 100, opens 25, unique opens 18, did-not-opens 80, four empty reports, links: one each
    assert first_read_calls(counts) == 100 + 25 + 18 + 80 + 4 + 1
    assert first_read_calls(None) == first_read_calls({}) == 9


def test_discovery_reads_at_once_only_the_newest_few_and_nothing_before_since() -> None:
    stamps = [(f"a{i}", (NOW - timedelta(days=i)).isoformat()) for i in range(30)]
    assert first_reads_now(stamps[::-1], since=None) == [f"a{i}" for i in range(10)]
    assert first_reads_now(stamps[:3], since=None) == ["a0", "a1", "a2"]  # new sends: all
    since = (NOW - timedelta(days=1)).date()
    assert first_reads_now(stamps[:3], since=since) == ["a0", "a1"]
