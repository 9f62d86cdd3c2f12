"""The hot-refresh plan: newest sends first, within the budget, the rest deferred."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cc_assets.defs.automation.planning import Candidate, plan_hot_refresh, run_budget

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_newest_first_within_budget_rest_deferred() -> None:
    candidates = [
        Candidate("old", NOW - timedelta(days=30), 9),
        Candidate("a", NOW - timedelta(days=1), 20),
        Candidate("b", NOW - timedelta(days=2), 30),
        Candidate("c", NOW - timedelta(days=3), None),
    ]
    plan = plan_hot_refresh(candidates, now=NOW, hot_days=14, budget=55)
    assert plan.chosen == ["a", "b"]
    assert plan.deferred == ["c"]
    assert plan.estimated_calls == 50


def test_budget_is_a_share_of_the_quota_after_the_reserve() -> None:
    assert run_budget(10_000, 4) == 2_375
    assert run_budget(100, 4) == 0
    assert plan_hot_refresh([Candidate("a", NOW, 5)], now=NOW, hot_days=14, budget=0).chosen == []
