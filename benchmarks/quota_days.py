"""Days of an account under the product's own automation: calls a day, lag, and the minimum.

The sandbox replays D days of an account of N contacts sending S campaigns a week (its clock
starts D days before the account's `now` and moves in 5-minute steps). At their real cadence the
product's own definitions run against it, in process on one Dagster instance:

- `campaign_discovery_sensor` every 5 minutes, and the partition runs it requests;
- `hot_activity_refresh_schedule` at 00, 06, 12 and 18 h and the `activity_refresh_job` run
  it plans;
- `daily_snapshot_schedule` at 00:15 and its `daily_snapshot_job` run (campaigns, summaries,
  stats, the contact backlog's reports).

The product's clock is moved to the simulated time (`time-machine`), so its "today" (daily
partitions, the quota's UTC day, token expiry, arrival rates) is the simulated one; the day's
quota is the client's own (`CONSTANT_CONTACT_DAILY_QUOTA`, counted by the shared budget).
Metrics and dbt spend no call and are not run.

Printed: calls per simulated day by what spent them, from the sandbox's request log; the
lake's lag behind the sandbox's ground truth (for every tracking event: the simulated time its
partition first held it minus its `created_time`; events never landed count from the end); the
minimum calls any correct client needs for the same days and lag (below), and the ratio.

The minimum, per day: one list call per discovery tick; for every activity, report and 6-hour
window with k new events, ceil(k / 500) pages; one campaign list, one summaries, one account
summary (the account's identity, recorded daily) and ceil(activities / 10) stats calls for the
day's snapshot; one contact report for every contact
first engaged that day (nothing lists who has landing-page activity, so a client that lands
every engaged contact's must ask each one at least once after its engagement).

Many accounts (`--accounts N`, N > 1): N sandbox accounts of one application key (sizes
`--account-contacts`, weights `--weights`) share its quota. The product runs with an accounts
file naming them (each refresh token by a variable), set before its definitions are imported;
its schedules launch a run per account. Printed: the key's calls per day (each day within the
quota) with the fresh data's minimum (every account's, as above, without the contact reports)
and the history's and the contact backlog's calls; then per account its calls and share of the
key's, its fresh calls against its minimum, the p95 lag of its events behind its own ground
truth, its history's progress (calls spent on it / its minimum, activities held) and the
contact backlog's (engaged contacts read at least once); then the history's fairness: among
accounts of one weight whose history is not complete, the most history calls done over the
least (weighted fair turns make them equal). With `--history-days` H every account's campaigns
span H more days, already sent when the replay starts: a backlog the key's quota must defer.

    .venv/bin/python benchmarks/quota_days.py [--days 14 --contacts 100000 --per-week 3]
    .venv/bin/python benchmarks/quota_days.py --contacts 100000 1000000   # several sizes
    .venv/bin/python benchmarks/quota_days.py --accounts 5 [--account-contacts 300,1000,... \
        --weights 1,2,... --history-days 0 --tick-minutes 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa
import time_machine

from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.defs.automation.planning import first_read_calls
from cc_assets.lake.paths import (
    account_root,
    asset_dir,
    lake_root,
    location,
    partition_files,
    partition_key,
)
from cc_assets.sandbox.account import UNSENT_CYCLE, AccountConfig
from cc_assets.sandbox.accounts import account_name, derived_seed, parse_sizes
from cc_assets.sandbox.contact_activity import LANDING_TYPES, landing_page_events
from cc_assets.sandbox.ground_truth import GroundTruth
from cc_assets.sandbox.process import SandboxServer

HOT_HOURS = (0, 6, 12, 18)
SNAPSHOT_AT = timedelta(minutes=15)
EVENT_REPORTS = ("sends", "opens", "clicks", "bounces", "optouts", "forwards")
ENGAGEMENT = ("opens", "clicks", "bounces", "optouts", "forwards")
PAGE_ROWS = 500
WINDOW_HOURS = 6
PARTNER_KEY_QUOTA = 250_000
LAG_TARGET_HOURS = 6.0
RATIO_TARGET = 1.5
FAIRNESS_TARGET = 2.0
ACCOUNT_CONTACTS = (300, 1_000, 3_000, 10_000, 30_000)
"""The accounts' sizes without `--account-contacts`, in turn: an application serves small
and large accounts together."""
REPORT = re.compile(r"/v3/reports/email_reports/([^/]+)/")
NO_EVENTS = pa.table(
    {
        "activity": pa.array([], pa.string()),
        "report": pa.array([], pa.string()),
        "contact_id": pa.array([], pa.string()),
        "created": pa.array([], pa.int64()),
    }
)
"""The events of an account of an application that sent nothing in the replayed days."""


def campaigns_for(per_week: float, days: int) -> int:
    """How many generated campaigns give `per_week` sends a week over `days` (the sandbox
    leaves a few positions unsent: scheduled, draft, error, removed)."""
    wanted = max(round(per_week * days / 7), 1)
    count = 0
    sent = 0
    while sent < wanted:
        sent += (count % 16) not in UNSENT_CYCLE
        count += 1
    return count + 1  # the last position is a scheduled send after the simulated days


def family(path: str) -> str:
    """What a call is for, by its path."""
    if path == "/v3/emails":
        return "campaign list"
    if path.startswith("/v3/reports/stats/"):
        return "stats"
    if path.startswith("/v3/reports/email_reports/"):
        return "tracking"
    if path.startswith("/v3/reports/contact_reports/"):
        return "contact reports"
    if path.startswith("/v3/reports/summary_reports/"):
        return "summaries"
    return "campaign details"


@dataclass
class Day:
    calls: Counter[str] = field(default_factory=Counter)  # by "step: family"
    minimum: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def share(self, prefix: str) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(prefix))


class Simulation:
    """One account, one lake, one instance; `run` walks the days.

    With `--history-days` H the account's campaigns span H + D days: the first H days' are
    already sent when the replay starts (its history, which `_purpose` names and the lag
    leaves out), the last D days' are sent as the clock moves. `seed` and `lake` make it one
    account of an application (`Application`): the sandbox account's seed, its lake."""

    def __init__(
        self,
        args: argparse.Namespace,
        contacts: int,
        folder: Path,
        seed: int | None = None,
        lake: Path | None = None,
    ) -> None:
        self.days = args.days
        self.quota = args.quota
        self.folder = folder
        self.end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.end -= timedelta(days=1)  # every simulated event is dated before the real time
        self.start = self.end - timedelta(days=self.days)
        span = args.history_days + self.days
        self.config = AccountConfig(
            seed=args.seed if seed is None else seed,
            contacts=contacts,
            campaigns=campaigns_for(args.per_week, span),
            days=span,
            now=self.end,
        )
        self.history: set[str] = (
            {
                a["campaign_activity_id"]
                for a in GroundTruth(self.config, as_of=self.start).reportable_activities()
            }
            if args.history_days
            else set()
        )
        self.by_day: dict[str, Day] = defaultdict(Day)
        self.lake = lake or folder / "lake"
        self.alone = lake is None  # not one account of an application, which may send nothing
        self.landed = duckdb.connect()
        self.landed.execute(
            "CREATE TABLE landed (activity VARCHAR, report VARCHAR, contact_id VARCHAR, "
            "created BIGINT, landed BIGINT)"
        )
        self._mtimes: dict[Path, float] = {}
        self.deferrals = 0  # activities hot refreshes deferred (or runs skipped)
        self.tick = timedelta(minutes=args.tick_minutes)  # the discovery sensor's interval

    # -- the account and the product ------------------------------------------------------

    @contextmanager
    def serving(self) -> Iterator[SandboxServer]:
        """The sandbox, and the product's environment set before its definitions are imported
        (`run`): the accounts file is read when they load."""
        with SandboxServer.start(**self._server_options()) as server:
            os.environ.update(self._environment(server))
            yield server

    def _server_options(self) -> dict[str, object]:
        config = self.config
        return {
            "seed": config.seed,
            "contacts": config.contacts,
            "campaigns": config.campaigns,
            "days": config.days,
            "now": config.now,
            "clock_start": self.start,
            "requests_per_second": 0,
            "daily_quota": 0,  # the client counts the quota per simulated day
        }

    def _environment(self, server: SandboxServer) -> dict[str, str]:
        return {
            **server.client_env(),
            "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
            "CONSTANT_CONTACT_DAILY_QUOTA": str(self.quota),
            "CC_ASSETS_STORAGE": str(self.lake),
            "CC_ASSETS_WAREHOUSE": str(self.folder / "warehouse.duckdb"),
            "CC_ASSETS_STATE_DIR": str(self.folder / "state"),
            # the planner keeps back the ticks still to come at the interval replayed
            "CC_ASSETS_DISCOVERY_MINUTES": str(int(self.tick.total_seconds() // 60)),
        }

    def run(self, server: SandboxServer, log: Callable[[str], None]) -> None:
        from cc_assets.definitions import defs  # noqa: PLC0415 - after the environment is set
        from cc_assets.defs.automation.schedules import (  # noqa: PLC0415
            daily_snapshot_schedule,
            hot_activity_refresh_schedule,
        )
        from cc_assets.defs.automation.sensors import campaign_discovery_sensor  # noqa: PLC0415
        from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES  # noqa: PLC0415
        from cc_assets.defs.ingestion.resources import (  # noqa: PLC0415
            ConstantContactResource,
            LakeResource,
        )

        definitions = defs()
        resources = {"constant_contact": ConstantContactResource(), "lake": LakeResource()}
        jobs = {
            name: definitions.resolve_job_def(name)
            for name in (
                campaign_discovery_sensor.job_name,  # the discovered partition's own asset run
                "activity_refresh_job",
                "daily_snapshot_job",
            )
        }
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

        def launch(job: str, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
            """What the daemon would launch for `request`, in process."""
            return jobs[job].execute_in_process(
                instance=instance,
                run_config={**request.run_config, **quiet},
                tags=request.tags,
                partition_key=request.partition_key,
                resources=resources,
                raise_on_error=False,
            )

        cursor: str | None = None
        now = self.start
        (self.folder / "dagster").mkdir()
        with (
            dg.instance_for_test(temp_dir=str(self.folder / "dagster")) as instance,
            time_machine.travel(self.start, tick=True) as traveller,
        ):
            while now < self.end:
                day = now.date().isoformat()
                traveller.move_to(now)  # the product's own clock: its "today" and quota day
                if now.hour == 0 and now.minute == 0 and now > self.start:
                    yesterday = (now - timedelta(days=1)).date().isoformat()
                    log(f"{yesterday}: {self.by_day[yesterday].total:,} calls")
                if now.minute == 0 and now.hour in HOT_HOURS:
                    context = dg.build_schedule_context(
                        instance=instance, scheduled_execution_time=now
                    )
                    planned = hot_activity_refresh_schedule(context)
                    self._show_deferrals(now, planned)
                    for request in [] if isinstance(planned, dg.SkipReason) else planned:
                        self._step(
                            server,
                            day,
                            "hot refresh",
                            now,
                            lambda r=request: launch("activity_refresh_job", r),
                        )
                # the first tick at or after the schedule's time (00:30 at 30-minute ticks)
                if timedelta(0) <= now - now.replace(hour=0, minute=0) - SNAPSHOT_AT < self.tick:
                    context = dg.build_schedule_context(
                        instance=instance, scheduled_execution_time=now
                    )
                    for request in daily_snapshot_schedule(context):
                        self._step(
                            server,
                            day,
                            "daily snapshot",
                            now,
                            lambda r=request: launch("daily_snapshot_job", r),
                        )
                with dg.build_sensor_context(
                    instance=instance, cursor=cursor, resources=resources
                ) as context:
                    context.log.setLevel(logging.WARNING)  # a line a tick and account
                    result = self._step(
                        server,
                        day,
                        "discovery",
                        now,
                        lambda c=context: campaign_discovery_sensor(c),
                    )
                cursor = result.cursor
                for added in result.dynamic_partitions_requests:
                    instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, list(added.partition_keys))
                for request in result.run_requests:
                    self._step(
                        server,
                        day,
                        "first read",
                        now,
                        lambda r=request: launch(campaign_discovery_sensor.job_name, r),
                    )
                server.advance_clock(self.tick.total_seconds())
                now += self.tick

    def _show_deferrals(self, now: datetime, planned: list[dg.RunRequest] | dg.SkipReason) -> None:
        """A hot refresh that defers activities, with its plan's estimate and budget."""
        if isinstance(planned, dg.SkipReason):
            if "(0 deferred" not in (planned.skip_message or ""):  # over the day's quota
                self.deferrals += 1
                print(f"  {now:%Y-%m-%d %H:%M} hot refresh skipped: {planned.skip_message}")
            return
        for request in planned:
            self._show_run_deferrals(now, request)

    def _show_run_deferrals(self, now: datetime, request: dg.RunRequest) -> None:
        count = int(request.tags.get("cc_assets/deferred_count", "0"))
        if count:
            self.deferrals += count
            account = request.tags.get("cc_assets/account")
            print(
                f"  {now:%Y-%m-%d %H:%M} hot refresh deferred {count}"
                + (f" of {account}" if account else "")
                + ": estimated "
                f"{request.tags['estimated_api_calls']} calls within a run budget of "
                f"{request.tags['run_budget']} (the day's: {request.tags['day_budget']})",
                flush=True,
            )

    def _step(self, server: SandboxServer, day: str, step: str, now: datetime, work):
        server.reset_requests()
        outcome = work()
        logging.getLogger("dagster").setLevel(logging.WARNING)  # a run resets it
        if isinstance(outcome, dg.ExecuteInProcessResult) and not outcome.success:
            failed = [e.message for e in outcome.all_events if e.is_failure][:2]
            print(f"  {now:%Y-%m-%d %H:%M} {step} run failed: {failed}", flush=True)
        self._count(day, step, server.requests())
        if step != "discovery":
            self._record_landed(int(now.timestamp()))
        return outcome

    def _count(self, day: str, step: str, seen: dict) -> None:
        """The API calls of a step (the sandbox's request log), by purpose."""
        for _, path, _status in seen["log"]:
            if path.startswith("/v3/"):
                self.by_day[day].calls[self._purpose(step, path)] += 1

    def _purpose(self, step: str, path: str) -> str:
        """What a call of `step` was for, in the table's columns (a history activity's reports,
        wherever read, are the history's)."""
        found = REPORT.match(path)
        if found and found.group(1) in self.history:
            return "history: tracking"
        return f"{step}: {family(path)}"

    def _record_landed(self, moment: int) -> None:
        """Every tracking row a partition holds for the first time lands at `moment`."""
        root = lake_root(self.lake)
        for report in EVENT_REPORTS:
            folder = Path(location(asset_dir(TRACKING_TABLES[report], root)))
            for path in folder.rglob("part-0.parquet"):
                mtime = path.stat().st_mtime
                if self._mtimes.get(path) == mtime:
                    continue
                self._mtimes[path] = mtime
                activity = path.parent.name.split("=", 1)[1]
                self.landed.execute(
                    "INSERT INTO landed SELECT DISTINCT ?, ?, f.contact_id, "
                    "epoch(f.created_time)::BIGINT, ? FROM read_parquet(?) f "
                    "WHERE NOT EXISTS (SELECT 1 FROM landed l WHERE l.activity = ? "
                    "AND l.report = ? AND l.contact_id = f.contact_id "
                    "AND l.created = epoch(f.created_time)::BIGINT)",
                    [activity, report, moment, str(path), activity, report],
                )

    # -- the ground truth and the minimum --------------------------------------------------

    def judge(self) -> dict[str, float]:
        truth = GroundTruth(self.config, as_of=self.end)
        activities = [a["campaign_activity_id"] for a in truth.reportable_activities()]
        events, engaged = [], set()
        for activity in self._measured(activities):
            for report in EVENT_REPORTS:
                table = truth.tracking(activity, report).select(["contact_id", "created_time"])
                created = table["created_time"].cast(pa.timestamp("s", "UTC")).cast(pa.int64())
                events.append(
                    pa.table(
                        {
                            "activity": pa.array([activity] * table.num_rows, pa.string()),
                            "report": pa.array([report] * table.num_rows, pa.string()),
                            "contact_id": table["contact_id"],
                            "created": created,
                        }
                    )
                )
                if report in ENGAGEMENT:
                    engaged.update(table["contact_id"].to_pylist())
        if not events and self.alone:
            raise SystemExit(
                "no activity was sent in the simulated days: raise --days or --per-week"
            )
        everything = pa.concat_tables(events) if events else NO_EVENTS
        con = self.landed
        con.register("everything", everything)  # also for what a sibling measures after
        end = int(self.end.timestamp())
        lags = con.execute(
            "SELECT coalesce(min(l.landed), ?) - e.created, min(l.landed) IS NULL "
            "FROM everything e LEFT JOIN landed l ON l.activity = e.activity "
            "AND l.report = e.report AND l.contact_id = e.contact_id AND l.created = e.created "
            "GROUP BY e.activity, e.report, e.contact_id, e.created",
            [end],
        ).fetchnumpy()
        lag_column, missing_column = lags
        hours = lags[lag_column] / 3600
        missing = int(lags[missing_column].sum())
        windows = con.execute(
            f"SELECT strftime(to_timestamp(w * {WINDOW_HOURS * 3600}), '%Y-%m-%d'), "
            f"sum(ceil(n / {PAGE_ROWS})) FROM (SELECT activity, report, "
            f"created // {WINDOW_HOURS * 3600} AS w, count(*) AS n FROM everything "
            "GROUP BY ALL) GROUP BY 1"
        ).fetchall()
        for day, pages in windows:
            self.by_day[day].minimum["tracking pages"] += int(pages)
        ticks = int(timedelta(days=1) / self.tick)
        for day in self._day_names():
            minimum = self.by_day[day].minimum
            minimum["discovery ticks"] = ticks
            minimum["snapshot"] = 3 + math.ceil(len(activities) / 10)
        account = truth.account
        epoch = truth.service.clock.epoch()
        first_engaged = con.execute(
            "SELECT strftime(to_timestamp(first), '%Y-%m-%d'), count(*) FROM (SELECT contact_id, "
            f"min(created) AS first FROM everything WHERE report IN {ENGAGEMENT} GROUP BY 1) "
            "GROUP BY 1"
        ).fetchall()
        for day, contacts in first_engaged:  # each must be asked at least once after it
            self.by_day[day].minimum["contact reports"] += contacts
        return {
            "events": float(len(hours)),
            "p50": _percentile(hours, 50),
            "p95": _percentile(hours, 95),
            "max": _percentile(hours, 100),
            "missing": float(missing),
            "landing": self._landing_coverage(account, epoch, engaged),
            "contacts_read": self._contacts_read(engaged),
        }

    def _measured(self, activities: list[str]) -> list[str]:
        """The activities whose events the lag and the minimum are measured over: the sends of
        the replayed days (the history has its own minimum, `history_minimum`)."""
        return [a for a in activities if a not in self.history]

    def _held(self) -> set[str]:
        """Activities whose sends landed (their first read wrote every report at once)."""
        root = lake_root(self.lake)
        return {partition_key(f) for f in partition_files(TRACKING_TABLES["sends"], root)}

    def history_minimum(self) -> int:
        """Every report of every history activity read once (`planning.first_read_calls` of
        its exact stats at the end: the sandbox's stats are exact)."""
        truth = GroundTruth(self.config, as_of=self.end)
        return sum(first_read_calls(truth.activity_stats(a)) for a in self.history)

    def _contacts_read(self, engaged: set[str]) -> float:
        """Share of the engaged contacts the backlog has read at least once."""
        files = list((self.lake / "constant_contact").glob("contact_report_reads/*.parquet"))
        if not engaged or not files:
            return 0.0
        read = {
            c
            for (c,) in duckdb.execute(
                "SELECT DISTINCT contact_id FROM read_parquet(?)", [[str(f) for f in files]]
            ).fetchall()
        }
        return len(read & engaged) / len(engaged)

    def _landing_coverage(self, account, epoch: int, engaged: set[str]) -> float:
        """Share of engaged contacts' landing-page rows (by the end) that the lake holds."""
        expected = set()
        for contact in range(0, self.config.contacts, 11):
            contact_id = account.contacts.contact_id(contact)
            if contact_id in engaged:
                for event in landing_page_events(account, contact, epoch, set(LANDING_TYPES)):
                    expected.add((contact_id, event.tracking_activity_type, event.time))
        files = list((self.lake / "constant_contact").glob("contact_activity_details/**/*.parquet"))
        if not expected:
            return 1.0
        if not files:
            return 0.0
        held = {
            (c, t, int(s))
            for c, t, s in duckdb.execute(
                "SELECT DISTINCT contact_id, tracking_activity_type, epoch(created_time) "
                "FROM read_parquet(?)",
                [[str(f) for f in files]],
            ).fetchall()
        }
        return len(expected & held) / len(expected)

    def _day_names(self) -> list[str]:
        return [(self.start + timedelta(days=d)).date().isoformat() for d in range(self.days)]

    # -- the report -------------------------------------------------------------------------

    def report(self, lag: dict[str, float], seconds: float) -> dict[str, float]:
        """Two budgets, judged apart: the tracking data (discovery, reads, snapshot), which has a
        minimum to compare with, and the contact backlog, which spends what the day leaves."""
        steps = ("discovery", "first read", "hot refresh", "daily snapshot")
        print(
            f"\n{self.config.contacts:,} contacts, {self.config.campaigns} campaigns, "
            f"{self.days} days, quota {self.quota:,}/day ({seconds / 60:.1f} min)"
        )
        head = f"{'day':<11}" + "".join(f"{s:>15}" for s in steps)
        print(
            head + f"{'| w/o contacts':>14}{'minimum':>8}{'ratio':>6}"
            f"{'| contact reads':>15}{'newly engaged':>14}{'| calls':>8}"
        )
        totals, rest, rest_minima, contact_reads, engaged = [], [], [], [], []
        for day in self._day_names():
            entry = self.by_day[day]
            contacts = entry.calls["daily snapshot: contact reports"]
            minimum = sum(n for k, n in entry.minimum.items() if k != "contact reports")
            totals.append(entry.total)
            rest.append(entry.total - contacts)
            rest_minima.append(minimum)
            contact_reads.append(contacts)
            engaged.append(entry.minimum["contact reports"])
            print(
                f"{day:<11}"
                + "".join(
                    f"{entry.share(s) - (contacts if s == 'daily snapshot' else 0):>15,}"
                    for s in steps
                )
                + f"{rest[-1]:>14,}{minimum:>8,}{rest[-1] / minimum:>6.2f}"
                f"{contacts:>15,}{engaged[-1]:>14,}{entry.total:>8,}"
            )
        days = len(totals)
        summary = {
            "contacts": self.config.contacts,
            "max": max(totals),
            "mean": sum(totals) / days,
            "max_without_backlog": max(rest),
            "mean_without_backlog": sum(rest) / days,
            "minimum_without_backlog": sum(rest_minima) / days,
            "ratio_without_backlog": sum(rest) / sum(rest_minima),
            "contact_reads": sum(contact_reads),
            "deferrals": self.deferrals,
            "engaged_contacts": sum(engaged),
            **{f"lag_{name}": value for name, value in lag.items()},
        }
        print(
            f"calls a day: max {summary['max']:,}, mean {summary['mean']:,.0f}; without the "
            f"contact backlog: max {summary['max_without_backlog']:,}, mean "
            f"{summary['mean_without_backlog']:,.0f} against a minimum of "
            f"{summary['minimum_without_backlog']:,.0f} "
            f"(ratio {summary['ratio_without_backlog']:.2f})"
        )
        print(
            f"lag of {lag['events']:,.0f} tracking events (hours): p50 {lag['p50']:.2f}, "
            f"p95 {lag['p95']:.2f}, max {lag['max']:.2f}; "
            f"not landed by the end {lag['missing']:,.0f}; hot-refresh deferrals "
            f"{self.deferrals}"
        )
        print(
            f"contact backlog: {summary['contact_reads']:,} contact reports for "
            f"{summary['engaged_contacts']:,} engaged contacts (each needs one); engaged contacts "
            f"read at least once: {lag['contacts_read']:.1%}; their landing-page rows in the "
            f"lake: {lag['landing']:.1%}"
        )
        (self.folder / "result.json").write_text(json.dumps(summary, indent=2))
        print(f"figures: {self.folder / 'result.json'}")
        return summary


class Application(Simulation):
    """N sandbox accounts of one application key, sharing its quota: the product runs with an
    accounts file naming them (each one's refresh token by a variable), on one instance and
    one lake (`account=<name>/` each). `self.by_day` counts the key's calls; each account's
    own `Simulation` (`views`: its seed, its lake) counts its calls, its landed rows, its lag
    and its minimum, exactly as a single account's."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        sizes = args.account_contacts
        super().__init__(args, sizes[0], folder)
        self.weights = dict(zip(map(account_name, range(len(sizes))), args.weights, strict=True))
        root = lake_root(self.lake)
        self.views = {
            account_name(i): Simulation(
                args,
                size,
                folder,
                seed=derived_seed(args.seed, i),
                lake=Path(location(account_root(root, account_name(i)))),
            )
            for i, size in enumerate(sizes)
        }

    def _server_options(self) -> dict[str, object]:
        sizes = [view.config.contacts for view in self.views.values()]
        return {**super()._server_options(), "accounts": len(sizes), "account_contacts": sizes}

    def _environment(self, server: SandboxServer) -> dict[str, str]:
        """The application's variables, an accounts file naming every sandbox account by its
        refresh token's variable, and those variables."""
        env = super()._environment(server)
        del env["CONSTANT_CONTACT_ACCESS_TOKEN"], env["CONSTANT_CONTACT_REFRESH_TOKEN"]
        entries = []
        for name, view in self.views.items():
            served = server.account(name)["config"]
            if (served["seed"], served["contacts"]) != (view.config.seed, view.config.contacts):
                raise SystemExit(f"sandbox account {name} is not the one measured: {served}")
            variable = f"QUOTA_DAYS_{name.upper()}_REFRESH_TOKEN"
            env[variable] = server.account(name)["refresh_token"]
            entries.append(
                {"name": name, "refresh_token_env": variable, "weight": self.weights[name]}
            )
        accounts_file = self.folder / "accounts.yaml"
        accounts_file.write_text(json.dumps({"accounts": entries}, indent=1))  # YAML too
        env["CC_ASSETS_ACCOUNTS"] = str(accounts_file)
        return env

    def _count(self, day: str, step: str, seen: dict) -> None:
        super()._count(day, step, seen)
        for (_, path, _status), account in zip(seen["log"], seen["accounts"], strict=True):
            view = self.views.get(account)
            if view is not None and path.startswith("/v3/"):
                view.by_day[day].calls[view._purpose(step, path)] += 1

    def _record_landed(self, moment: int) -> None:
        for view in self.views.values():
            view._record_landed(moment)

    def judge_accounts(self) -> dict[str, dict[str, float]]:
        """Each account's lag and figures, each against its own ground truth."""
        return {name: view.judge() for name, view in self.views.items()}

    def report_accounts(self, lags: dict[str, dict[str, float]], seconds: float) -> bool:
        """The key's calls a day (against the quota) and the minimum, then each account's
        share, lag and backlog; True when every target was met."""
        views = self.views.values()
        failures = []
        print(
            f"\n{len(self.views)} accounts of one key ({self.config.campaigns} campaigns each over "
            f"{self.config.days} days, {self.days} replayed), quota {self.quota:,}/day, "
            f"discovery every {self.tick / timedelta(minutes=1):g} min ({seconds / 60:.1f} min)"
        )
        print(
            f"{'day':<11}{'calls':>8}{'fresh':>8}{'minimum':>9}{'ratio':>6}{'history':>9}"
            f"{'contacts':>9}{'  <= quota'}"
        )
        for day in self._day_names():
            total = self.by_day[day].total
            history = sum(v.by_day[day].share("history") for v in views)
            contacts = sum(v.by_day[day].calls["daily snapshot: contact reports"] for v in views)
            fresh = total - history - contacts
            minimum = sum(_fresh_minimum(v.by_day[day]) for v in views)
            print(
                f"{day:<11}{total:>8,}{fresh:>8,}{minimum:>9,}{fresh / minimum:>6.2f}"
                f"{history:>9,}{contacts:>9,}  {'yes' if total <= self.quota else 'NO'}"
            )
            if total > self.quota:
                failures.append(f"{day}: {total:,} calls over the quota")
        print(
            f"\n{'account':<8}{'contacts':>9}{'weight':>7}{'calls/day':>10}{'share':>7}"
            f"{'fresh/day':>10}{'min/day':>8}{'ratio':>6}{'p95 lag h':>10}{'max h':>7}"
            f"{'missing':>8}{'history done/needed':>21}{'held':>8}{'contact reads/engaged':>23}"
        )
        all_calls = sum(self.by_day[d].total for d in self._day_names())
        fresh_total = minimum_total = 0
        progress: dict[str, tuple[int, int]] = {}
        backlog: dict[str, tuple[int, int]] = {}
        for name, view in self.views.items():
            days = view._day_names()
            calls = sum(view.by_day[d].total for d in days)
            history = sum(view.by_day[d].share("history") for d in days)
            contacts = sum(view.by_day[d].calls["daily snapshot: contact reports"] for d in days)
            fresh = calls - history - contacts
            minimum = sum(_fresh_minimum(view.by_day[d]) for d in days)
            fresh_total += fresh
            minimum_total += minimum
            needed = view.history_minimum()
            held = len(view.history & view._held())
            progress[name] = (history, needed)
            engaged = sum(view.by_day[d].minimum["contact reports"] for d in days)
            backlog[name] = (contacts, engaged)
            lag = lags[name]
            read = lag["contacts_read"]  # engaged contacts read at least once
            print(
                f"{name:<8}{view.config.contacts:>9,}{self.weights[name]:>7g}"
                f"{calls / len(days):>10,.0f}{calls / all_calls:>7.1%}{fresh / len(days):>10,.0f}"
                f"{minimum / len(days):>8,.0f}{fresh / minimum:>6.2f}{lag['p95']:>10.2f}"
                f"{lag['max']:>7.1f}{lag['missing']:>8,.0f}"
                f"{f'{history:,}/{needed:,}':>21}{f'{held}/{len(view.history)}':>8}"
                f"{f'{contacts:,}/{engaged:,} ({read:.0%})':>23}"
            )
            if lag["p95"] > LAG_TARGET_HOURS:
                failures.append(f"{name}: p95 lag {lag['p95']:.2f} h")
        ratio = fresh_total / minimum_total
        print(
            f"fresh data (every call but the history's and the contact backlog's): "
            f"{fresh_total:,} calls against a minimum of {minimum_total:,} (ratio {ratio:.2f}, "
            f"target <= {RATIO_TARGET}); worst p95 lag "
            f"{np.nanmax([lag['p95'] for lag in lags.values()]):.2f} h (target <= "
            f"{LAG_TARGET_HOURS:g}); max calls a day "
            f"{max(self.by_day[d].total for d in self._day_names()):,} (quota {self.quota:,})"
        )
        if ratio > RATIO_TARGET:
            failures.append(f"fresh calls {ratio:.2f} x the minimum")
        self._fresh_breakdown()
        failures += self._fairness("history", progress)
        failures += self._fairness("contact backlog", backlog)
        for failure in failures:
            print(f"MISSED: {failure}")
        return not failures

    def _fresh_breakdown(self) -> None:
        """The fresh calls of every account and day by what spent them (step: family), and
        the minimum by its parts: where a ratio above the target goes."""
        spent: Counter[str] = Counter()
        least: Counter[str] = Counter()
        for view in self.views.values():
            for day in view._day_names():
                entry = view.by_day[day]
                spent.update(
                    {
                        name: n
                        for name, n in entry.calls.items()
                        if not name.startswith("history")
                        and name != "daily snapshot: contact reports"
                    }
                )
                least.update({k: n for k, n in entry.minimum.items() if k != "contact reports"})
        print("fresh calls by what spent them: " + _counts(spent))
        print("the minimum by its parts: " + _counts(least))

    def _fairness(self, backlog: str, progress: dict[str, tuple[int, int]]) -> list[str]:
        """A backlog's calls done (of `progress`: done, needed) among accounts of one weight
        whose backlog is not done (one that needed less is not behind): the most over the
        least. Shared by weight, they get equal calls; 2 x is the target. The contact
        backlog's need is its engaged contacts (a report each)."""
        failures = []
        for weight in sorted(set(self.weights.values())):
            behind = {
                name: done
                for name, (done, needed) in progress.items()
                if self.weights[name] == weight and needed and done < needed
            }
            if len(behind) < 2:
                print(f"{backlog} of weight {weight:g}: {len(behind)} account(s) not complete")
                continue
            most, least = max(behind.values()), min(behind.values())
            if not most:  # none spent yet (kept back for the history): none is ahead
                print(f"{backlog} of weight {weight:g}: no account's has been read yet")
                continue
            spread = most / least if least else math.inf
            print(
                f"{backlog} of weight {weight:g}, {len(behind)} accounts not complete: calls done "
                f"{least:,} to {most:,}, max/min {spread:.2f} (target <= {FAIRNESS_TARGET:g})"
            )
            if spread > FAIRNESS_TARGET:
                failures.append(f"{backlog} of weight {weight:g}: max/min {spread:.2f}")
        return failures


def _percentile(hours: np.ndarray, q: float) -> float:
    """A percentile of the lags; NaN for an account that sent nothing in the replayed days."""
    return float(np.percentile(hours, q)) if len(hours) else math.nan


def _counts(counts: Counter[str]) -> str:
    """`counts`, largest first, on one line."""
    return ", ".join(f"{name} {n:,}" for name, n in counts.most_common())


def _fresh_minimum(day: Day) -> int:
    """A day's minimum without the contact reports (the backlog is judged apart)."""
    return sum(n for name, n in day.minimum.items() if name != "contact reports")


def run_application(args: argparse.Namespace) -> int:
    """`--accounts N`: the N accounts of one key, their shares, lags and backlogs."""
    count = args.accounts
    if args.account_contacts is None:
        args.account_contacts = [ACCOUNT_CONTACTS[i % len(ACCOUNT_CONTACTS)] for i in range(count)]
    args.weights = args.weights or [1.0] * count
    if len(args.account_contacts) != count or len(args.weights) != count:
        raise SystemExit("--account-contacts and --weights name one value per account")
    folder = Path(tempfile.mkdtemp(prefix=f"quota-days-{count}-accounts-"))
    application = Application(args, folder)
    started = time.monotonic()
    with application.serving() as server:
        application.run(server, lambda line: print(line, flush=True))
    lags = application.judge_accounts()
    ok = application.report_accounts(lags, time.monotonic() - started)
    print(f"folder: {folder} ({datetime.now(UTC):%H:%M} UTC)")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--contacts", type=int, nargs="+", default=[100_000])
    parser.add_argument("--per-week", type=float, default=3.0, help="campaigns sent a week")
    parser.add_argument("--quota", type=int, default=10_000, help="calls a day for the key")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="days of campaigns already sent when the replay starts (each account's history)",
    )
    parser.add_argument(
        "--tick-minutes",
        type=int,
        default=5,
        help="discovery's interval (CC_ASSETS_DISCOVERY_MINUTES, the daemon's default: 5)",
    )
    parser.add_argument(
        "--accounts", type=int, default=1, help="accounts of one application key sharing its quota"
    )
    parser.add_argument(
        "--account-contacts",
        type=parse_sizes,
        default=None,
        help="contacts of each account, comma-separated (default: 300, 1,000, 3,000, 10,000, "
        "30,000 in turn; --contacts is the single account's)",
    )
    parser.add_argument(
        "--weights",
        type=lambda raw: [float(w) for w in raw.split(",")],
        default=None,
        help="each account's weight, comma-separated (default 1 each)",
    )
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.WARNING)  # the run logs of ~4,000 ticks
    if args.accounts > 1:
        return run_application(args)
    results = []
    for contacts in args.contacts:
        folder = Path(tempfile.mkdtemp(prefix=f"quota-days-{contacts}-"))
        simulation = Simulation(args, contacts, folder)
        started = time.monotonic()
        with simulation.serving() as server:
            simulation.run(server, lambda line: print(line, flush=True))
        lag = simulation.judge()
        results.append(simulation.report(lag, time.monotonic() - started))
    within = [r for r in results if r["max"] <= args.quota and r["lag_p95"] <= LAG_TARGET_HOURS]
    if within:
        best = max(within, key=lambda r: r["contacts"])
        served = int(PARTNER_KEY_QUOTA // best["mean_without_backlog"])
        print(
            f"\nlargest measured account within {args.quota:,} calls a day at p95 lag <= "
            f"{LAG_TARGET_HOURS:g} h: {best['contacts']:,} contacts; a partner key "
            f"({PARTNER_KEY_QUOTA:,} a day) serves {served} such accounts at their mean "
            f"{best['mean_without_backlog']:,.0f} calls a day before the contact backlog, "
            "which only spends what is left"
        )
    else:
        print(f"\nno measured account stayed within {args.quota:,} calls a day at p95 <= 6 h")
    return 0 if len(within) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
