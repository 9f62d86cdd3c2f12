"""An account connected with H days of history, then D days of sends: how the past arrives.

The same replay as `quota_days.py` (the product's own sensor and schedules at their cadence,
in process, the product's clock moved to the simulated time, the key's daily quota counted by
the client), over an account whose campaigns span H + D days: when the replay starts, the
first H days' activities are already sent (the history), the last D days' are sent as the
clock moves (the new sends).

Printed per simulated day: the calls by purpose (discovery, first reads of new sends, the
history's reads, the hot refreshes' other calls, the snapshot, the contact backlog), the
history activities held at the end of the day, the p95 lag of the new sends' events created
that day, and the history's expected finish as the planner said at the day's last hot refresh.
Then: the day the history was complete against the target of 1.15 x (minimum calls / the
daily budget left after fresh data), the day-1 estimate against it, and the ratio of the
history's calls to the minimum.

The history's minimum: every report of every history activity read once, a page per 500 rows
(an empty report one page) plus the links page: `planning.first_read_calls` of the activity's
exact stats at the end (the sandbox's stats are exact). Its calls: the tracking and links
calls of history activities, wherever spent (the change detector's batched stats calls are
counted with the hot refreshes). Fresh data: every call but the history's and the contact
backlog's.

    .venv/bin/python benchmarks/history_days.py [--history-days 365 --days 6 \
        --contacts 50000 --per-week 3 --quota 10000 --tick-minutes 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
from quota_days import Simulation

HISTORY_TARGET = 1.15
LAG_TARGET_HOURS = 6.0
ESTIMATE_TOLERANCE = 0.20


class HistorySimulation(Simulation):
    """`quota_days.Simulation` over an account with `history_days` of campaigns before it."""

    def __init__(self, args: argparse.Namespace, contacts: int, folder: Path) -> None:
        super().__init__(args, contacts, folder)
        self.held_by_day: dict[str, int] = {}
        self.estimate_by_day: dict[str, str] = {}
        self.complete_at: datetime | None = None

    def _step(self, server, day: str, step: str, now: datetime, work):
        outcome = super()._step(server, day, step, now, work)
        if step == "discovery":
            return outcome
        held = self._held() & self.history
        self.held_by_day[day] = len(held)
        if held == self.history and self.complete_at is None:
            self.complete_at = now
        if isinstance(outcome, dg.ExecuteInProcessResult):
            for event in outcome.get_asset_observation_events():
                metadata = event.asset_observation_data.asset_observation.metadata
                if "history_expected_finish" in metadata:
                    self.estimate_by_day[day] = str(metadata["history_expected_finish"].value)
        return outcome

    def save(self) -> Path:
        """The raw figures, before they are judged: a failed judgement keeps the replay."""
        path = self.folder / "history.json"
        path.write_text(
            json.dumps(
                {
                    "calls": {day: dict(entry.calls) for day, entry in self.by_day.items()},
                    "held": self.held_by_day,
                    "estimates": self.estimate_by_day,
                    "complete_at": self.complete_at.isoformat() if self.complete_at else None,
                    "history": sorted(self.history),
                },
                indent=1,
            )
        )
        self.landed.execute(f"COPY landed TO '{self.folder / 'landed.parquet'}'")
        return path

    def history_report(self) -> bool:
        """The per-day table and the verdicts; True when every target was met."""
        minimum = self.history_minimum()
        lag_by_day = dict(
            self.landed.execute(
                "SELECT strftime(to_timestamp(created), '%Y-%m-%d'), quantile_cont(lag, 0.95) "
                "FROM (SELECT e.created, (coalesce(min(l.landed), ?) - e.created) / 3600 AS lag "
                "FROM everything e LEFT JOIN landed l ON l.activity = e.activity "
                "AND l.report = e.report AND l.contact_id = e.contact_id "
                "AND l.created = e.created GROUP BY e.activity, e.report, e.contact_id, "
                "e.created) GROUP BY 1",
                [int(self.end.timestamp())],
            ).fetchall()
        )
        steps = ("discovery", "first read", "history", "hot refresh", "daily snapshot")
        print(
            f"\n{self.config.contacts:,} contacts, {len(self.history)} history activities "
            f"({self.config.days - self.days} days), {self.days} days replayed, quota "
            f"{self.quota:,}/day"
        )
        print(
            f"{'day':<11}"
            + "".join(f"{s:>15}" for s in steps)
            + f"{'contacts':>10}{'total':>8}{'held':>7}{'p95 lag h':>10}{'  expected finish'}"
        )
        fresh_days, history_calls, failures = [], 0, []
        for day in self._day_names():
            entry = self.by_day[day]
            contacts = entry.calls["daily snapshot: contact reports"]
            spent = entry.share("history")
            history_calls += spent
            shares = [entry.share(s) for s in steps]
            shares[steps.index("daily snapshot")] -= contacts
            lag = lag_by_day.get(day)
            held = self.held_by_day.get(day, 0)
            if held < len(self.history) or spent:
                fresh_days.append(entry.total - spent - contacts)
            print(
                f"{day:<11}"
                + "".join(f"{n:>15,}" for n in shares)
                + f"{contacts:>10,}{entry.total:>8,}{held:>7}"
                + (f"{lag:>10.2f}" if lag is not None else f"{'-':>10}")
                + f"  {self.estimate_by_day.get(day, '-')}"
            )
            if entry.total > self.quota:
                failures.append(f"{day}: {entry.total:,} calls over the quota")
            if lag is not None and lag > LAG_TARGET_HOURS:
                failures.append(f"{day}: new sends' p95 lag {lag:.2f} h")
        fresh = float(np.mean(fresh_days)) if fresh_days else 0.0
        budget = self.quota - fresh
        target = HISTORY_TARGET * minimum / budget if budget > 0 else math.inf
        if self.complete_at is None:
            taken = math.inf
            failures.append("the history was not complete by the end: raise --days")
        else:
            taken = (self.complete_at - self.start) / timedelta(days=1)
        finished = (self.start + timedelta(days=taken)).date() if self.complete_at else None
        first_day = self._day_names()[0]
        estimate = self.estimate_by_day.get(first_day)
        print(
            f"history: {len(self.history)} activities, minimum {minimum:,} calls, spent "
            f"{history_calls:,} (ratio {history_calls / minimum:.2f}); fresh data "
            f"{fresh:,.0f} calls a day, leaving {budget:,.0f}: target "
            f"{HISTORY_TARGET} x {minimum:,} / {budget:,.0f} = {target:.2f} days; complete "
            f"after {taken:.2f} days (on {finished})"
        )
        if taken > target:
            failures.append(f"history took {taken:.2f} days, target {target:.2f}")
        if estimate and finished:
            estimated_days = (date.fromisoformat(estimate) - self.start.date()).days + 1
            real_days = (finished - self.start.date()).days + 1
            error = abs(estimated_days - real_days) / real_days
            print(
                f"day-1 estimate: complete on {estimate} ({estimated_days} days); real: "
                f"{finished} ({real_days} days); off by {error:.0%}"
            )
            if error > ESTIMATE_TOLERANCE:
                failures.append(f"the day-1 estimate is off by {error:.0%}")
        for failure in failures:
            print(f"MISSED: {failure}")
        return not failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--days", type=int, default=6, help="days replayed after connecting")
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--per-week", type=float, default=3.0, help="campaigns sent a week")
    parser.add_argument("--quota", type=int, default=10_000, help="calls a day for the key")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--tick-minutes",
        type=int,
        default=5,
        help="discovery's interval (5, the daemon's; more replays faster, at fewer discovery "
        "calls and up to that much more lag of a new send's first read)",
    )
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix=f"history-days-{args.contacts}-"))
    simulation = HistorySimulation(args, args.contacts, folder)
    started = time.monotonic()
    with simulation.serving() as server:
        simulation.run(server, lambda line: print(line, flush=True))
    print(f"raw figures: {simulation.save()}", flush=True)
    lag = simulation.judge()
    simulation.report(lag, time.monotonic() - started)
    ok = simulation.history_report()
    print(f"({(time.monotonic() - started) / 60:.1f} min, {datetime.now(UTC):%H:%M} UTC)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
