"""One plan over the accounts of one key: every account's fresh data before any backlog, the
backlogs (history first reads) shared by weight, a small account never starved by a large one."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from cc_assets.defs.automation.planning import (
    FIRST_READS_PER_TICK,
    Candidate,
    plan_hot_refresh,
    share_first_reads,
)

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
YEAR_AGO = NOW - timedelta(days=365)


def history(account: str, count: int, calls: int, weight: float = 1.0) -> list[Candidate]:
    """`count` activities of `account` sent over the past year, never read: each first read
    costs `calls`."""
    return [
        Candidate(
            f"{account}:h{i}",
            YEAR_AGO + timedelta(days=i),
            None,
            unread_calls=calls,
            account=account,
            weight=weight,
        )
        for i in range(count)
    ]


def fresh(account: str, count: int, calls: int) -> list[Candidate]:
    """`count` activities of `account` sent in the last days, already read once."""
    return [
        Candidate(f"{account}:f{i}", NOW - timedelta(hours=i + 1), calls, account=account)
        for i in range(count)
    ]


def spent_by_account(plan, candidates: list[Candidate]) -> Counter[str]:
    cost = {c.activity_id: c.unread_calls or c.last_calls or 0 for c in candidates}
    found: Counter[str] = Counter()
    for key in plan.chosen:
        found[key.split(":")[0]] += cost[key]
    return found


def test_fresh_data_of_every_account_before_any_history() -> None:
    candidates = [*history("big", 200, 40), *fresh("big", 3, 5), *fresh("small", 2, 5)]
    plan = plan_hot_refresh(candidates, now=NOW, hot_days=14, budget=100)
    fresh_keys = {c.activity_id for c in candidates if ":f" in c.activity_id}
    assert fresh_keys <= set(plan.chosen)
    assert set(plan.chosen[: len(fresh_keys)]) == fresh_keys, plan.chosen
    assert plan.chosen[len(fresh_keys) :], "history takes what the fresh data leaves"


def test_a_large_backlog_never_starves_a_small_one() -> None:
    candidates = [*history("big", 500, 60), *history("small", 4, 6)]
    plan = plan_hot_refresh(candidates, now=NOW, hot_days=14, budget=150)
    # the small account's newest history is read in this run, not after the big one's year
    assert any(key.startswith("small:") for key in plan.chosen), plan.chosen
    assert any(key.startswith("big:") for key in plan.chosen), plan.chosen


def test_history_is_shared_by_weight() -> None:
    candidates = [
        *history("one", 300, 10, weight=1),
        *history("two", 300, 10, weight=2),
        *history("also", 300, 10, weight=1),
    ]
    plan = plan_hot_refresh(candidates, now=NOW, hot_days=14, budget=2_000)
    spent = spent_by_account(plan, candidates)
    assert abs(spent["two"] - 2 * spent["one"]) <= 20, spent  # within one read of each
    assert abs(spent["one"] - spent["also"]) <= 10, spent
    assert sum(spent.values()) <= 2_000
    waiting = Counter(key.split(":")[0] for key in plan.waiting)
    assert set(waiting) == {"one", "two", "also"}, "what does not fit waits, never dropped"


def test_a_new_account_takes_its_share_at_once() -> None:
    """An account halfway through its history and one added today: from the first plan on,
    each gets its share (turns count each plan's own reads), not the rest of the old one's."""
    old, new = history("old", 50, 10), history("new", 100, 10)
    plan = plan_hot_refresh([*old, *new], now=NOW, hot_days=14, budget=300)
    spent = spent_by_account(plan, [*old, *new])
    assert spent["new"] >= 140 and spent["old"] >= 140, spent


def test_a_tick_of_many_new_accounts_reads_ten_in_turns() -> None:
    """Twenty accounts connected at once, each with five new sends: a tick reads ten in all,
    the newest of ten accounts, never ten of each (that is the plan's history, within the
    quota); one account keeps its own ten."""
    per_account = [[f"acct{a}:new{i}" for i in range(5)] for a in range(20)]
    chosen = share_first_reads(per_account)
    assert len(chosen) == FIRST_READS_PER_TICK
    assert chosen == [f"acct{a}:new0" for a in range(10)]
    two = share_first_reads([["a:0", "a:1", "a:2"], ["b:0"]])
    assert two == ["a:0", "b:0", "a:1", "a:2"]
    one = [f"only:new{i}" for i in range(12)]
    assert share_first_reads([one[:10]]) == one[:10]
