"""Schedules where wall-clock time matters: the daily snapshot and the hot-activity refresh."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from upath import UPath

from cc_assets.constant_contact.client import calls_used_today
from cc_assets.constant_contact.schemas import (
    CONTACT_ACTIVITY_DETAILS,
    EMAIL_CAMPAIGN_ACTIVITY_STATS,
    EMAIL_CAMPAIGNS,
)
from cc_assets.defs.automation.jobs import (
    ACCOUNT_TAG,
    ACTIVITY_ASSET_KEYS,
    CLI_PID_TAG,
    DAILY_ASSET_KEYS,
    DEFERRED_TAG,
    KIND_TAG,
    WAITING_COUNT_TAG,
    activity_refresh_job,
    daily_snapshot_job,
)
from cc_assets.defs.automation.planning import (
    BUSY_DAYS,
    FIRST_READ_ROWS,
    HOT_RUNS_PER_DAY,
    Backfill,
    Candidate,
    Plan,
    backfill,
    backlog_reserve,
    day_budget,
    first_read_calls,
    fresh_calls_per_day,
    hot_run_cost,
    hot_runs_after,
    margin,
    plan_hot_refresh,
    reserve,
    run_budget,
)
from cc_assets.defs.ingestion.assets import (
    ACTIVITY_TABLES,
    BACKLOG_RESERVE_TAG,
    CONTACT_CALLS_TAG,
    asset_key,
)
from cc_assets.defs.ingestion.partitions import (
    ACCOUNTS,
    CAMPAIGN_ACTIVITIES,
    Scope,
    accounts,
    activity_scope,
    snapshot_key,
)
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.lake.paths import connect, partition_files, partition_key
from cc_assets.settings import Settings, load_settings

CONTACTS_KEY = asset_key(CONTACT_ACTIVITY_DETAILS)


@dg.schedule(
    job=daily_snapshot_job,
    # a deployment may move it (UTC); every tick takes today's snapshot again. Read when the
    # code location loads: a schedule's cron is part of its definition, not of a tick.
    cron_schedule=load_settings().daily_snapshot_cron,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Today's snapshots of campaigns, summaries, stats and contact reports; the "
    "contact backlog spends what the day's quota leaves after the hot refreshes still to come.",
)
def daily_snapshot_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """One run per account. The contact backlog of each spends what the day's quota leaves
    after every account's fresh data (the reserve, counted over all accounts of the key); with
    an accounts file each account's backlog is capped at its share of that by weight."""
    now = context.scheduled_execution_time.astimezone(UTC)
    day = now.date().isoformat()
    project = load_settings()
    settings = project.application()
    candidates = all_candidates(context.instance)
    history = backfill(
        candidates,
        now=now,
        since=settings.history_since,
        daily_quota=settings.daily_quota,
        fresh_calls=0,
        left_today=0,
    )
    # an activity never read and without stats yet (an account connected today) has no
    # estimate: the whole day is kept for the history then, or the backlog would take it
    unknown = any(c.unread_calls is not None and c.counts is None for c in candidates)
    reserved = backlog_reserve(
        now=now,
        daily_quota=settings.daily_quota,
        hot_runs_left=hot_runs_after(now),
        hot_run_calls=hot_run_cost(candidates, now=now, hot_days=project.hot_days),
        busiest_day_calls=max(activity_calls_by_day(context.instance, now).values(), default=0),
        history_calls=settings.daily_quota if unknown else history.calls_needed,
        accounts=len(accounts()),
        ticks_per_day=project.discovery_ticks_per_day,
    )
    # the day's snapshots spend their own calls (summaries, stats, identity) before or beside
    # the backlogs: shared before them, the shares of the runs that come last were spent
    pending = pending_snapshot_calls(snapshot_costs(context.instance, now, accounts()))
    left = max(settings.daily_quota - calls_used_today(settings) - reserved - pending, 0)
    shares = weighted_shares(left, account_weights(project))
    return [
        dg.RunRequest(
            partition_key=snapshot_key(account, day),
            run_key=f"daily-{day}" + (f"-{account}" if account else ""),
            tags={
                BACKLOG_RESERVE_TAG: str(reserved),
                **account_tags(account),
                **({CONTACT_CALLS_TAG: str(shares[account])} if account else {}),
            },
        )
        for account in accounts()
    ]


def account_weights(project: Settings) -> dict[str | None, float]:
    """Each account's weight (the file's; 1 for the single account)."""
    if not ACCOUNTS:
        return {None: 1.0}
    return {spec.name: spec.weight for spec in project.account_specs()}


def weighted_shares(total: int, weights: Mapping[str | None, float]) -> dict[str | None, int]:
    """`total` calls shared by weight, rounded down."""
    whole = sum(weights.values()) or 1.0
    return {account: int(total * weight / whole) for account, weight in weights.items()}


def account_tags(account: str | None) -> dict[str, str]:
    """The tag that names a run's account (none for the single account)."""
    return {ACCOUNT_TAG: account} if account else {}


def sent_times(root: UPath) -> dict[str, datetime]:
    """Each activity's last send, from the latest campaigns snapshots in the lake."""
    files = partition_files(EMAIL_CAMPAIGNS, root)
    if not files:
        return {}
    with connect() as con:
        rows = con.execute(
            "SELECT campaign_activity_id, max(sent_time) FROM read_parquet(?) "
            "WHERE sent_time IS NOT NULL GROUP BY 1",
            [files],
        ).fetchall()
    return {activity: sent for activity, sent in rows}


def held_activities(root: UPath) -> set[str]:
    """Activities whose first read has landed: the lake holds every report of theirs. The lake,
    not the instance, is what is held, so a killed run or a lost instance reads nothing twice."""
    held: set[str] | None = None
    for table in ACTIVITY_TABLES:
        keys = {partition_key(file) for file in partition_files(table, root)}
        held = keys if held is None else held & keys
    return held or set()


def activity_counts(root: UPath) -> dict[str, dict[str, int]]:
    """Each activity's stats counts of the rows its reports hold, from the newest activity stats
    snapshot in the lake (0 calls): what its first read is estimated by."""
    files = partition_files(EMAIL_CAMPAIGN_ACTIVITY_STATS, root)
    if not files:
        return {}
    columns = sorted(set(FIRST_READ_ROWS.values()))
    with connect() as con:
        rows = con.execute(
            f"SELECT campaign_activity_id, {', '.join(columns)} FROM read_parquet(?)", [files[-1]]
        ).fetchall()
    return {
        row[0]: {key: int(n) for key, n in zip(columns, row[1:], strict=True) if n is not None}
        for row in rows
    }


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str, limit: int = 1):
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=limit
    ).records


def last_refresh(instance: dg.DagsterInstance, activity_id: str) -> tuple[int | None, float]:
    """(API calls the activity's latest refresh run spent, new opens an hour it found): the
    latest run's materializations only, since reports whose stats did not move are not
    re-materialized and keep an older (first read's) cost.

    An activity only its first read has materialized is reported as never refreshed (None):
    the first read's cost (every send, every did-not-open) says nothing of what a refresh
    costs, and with no arrival rate yet the planner would rank the newest send last. A
    simulated fortnight at 100,000 contacts deferred exactly such sends, costing their
    events six hours."""
    latest = {key: _latest(instance, key, activity_id, 2) for key in ACTIVITY_ASSET_KEYS}
    records = [found[0] for found in latest.values() if found]
    runs = {record.run_id for found in latest.values() for record in found}
    if len(runs) < 2:
        return None, 0.0
    run_id = max(records, key=lambda r: r.timestamp).run_id
    calls = sum(
        int(r.asset_materialization.metadata["api_calls"].value)
        for r in records
        if r.run_id == run_id and "api_calls" in r.asset_materialization.metadata
    )
    opens = _latest(instance, dg.AssetKey(["constant_contact", "email_opens"]), activity_id, 2)
    rate = 0.0
    if len(opens) == 2 and "new_rows" in opens[0].asset_materialization.metadata:
        hours = max((opens[0].timestamp - opens[1].timestamp) / 3600, 1.0)
        rate = int(opens[0].asset_materialization.metadata["new_rows"].value) / hours
    return calls, rate


def hot_candidates(
    instance: dg.DagsterInstance,
    account: str | None = None,
    weight: float = 1.0,
    partitions: Sequence[str] | None = None,
) -> list[Candidate]:
    """Every known activity of `account` with its send time and its latest refresh's measured
    cost; `activity_id` is its partition key. `partitions`: the activity partitions, when the
    caller read them once for every account."""
    root = LakeResource().root(account)
    sent = sent_times(root)
    deferred = previously_deferred(instance, account)
    held = held_activities(root)
    counts = activity_counts(root)
    candidates = []
    if partitions is None:
        partitions = instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES)
    for partition in partitions:
        scope = activity_scope_or_none(partition)
        if scope is None or scope.account != account:
            continue
        activity_id = scope.key
        calls, rate = last_refresh(instance, partition)
        found = counts.get(activity_id)
        unread = None if activity_id in held else first_read_calls(found)
        candidates.append(
            Candidate(
                partition,
                sent.get(activity_id),
                calls,
                partition in deferred,
                rate,
                unread,
                account=account,
                weight=weight,
                counts=found,
            )
        )
    return candidates


def all_candidates(
    instance: dg.DagsterInstance, only: Sequence[str | None] | None = None
) -> list[Candidate]:
    """`hot_candidates` of every account (of `only`, when given), each with its weight."""
    weights = account_weights(load_settings())
    partitions = instance.get_dynamic_partitions(CAMPAIGN_ACTIVITIES)  # once, not per account
    return [
        candidate
        for account in accounts()
        if only is None or account in only
        for candidate in hot_candidates(instance, account, weights[account], partitions)
    ]


def activity_scope_or_none(partition: str) -> Scope | None:
    """The partition's scope, None for a key that names no account of the file (an account
    removed from it: its partitions stay, unplanned)."""
    try:
        return activity_scope(partition)
    except ValueError:
        return None


def refreshed_by_cli(instance: dg.DagsterInstance, account: str | None = None) -> bool:
    """The latest `activity_refresh_job` run was launched by `cc-assets refresh` (its tag), not
    by the daemon's schedule: the account is refreshed at the CLI's cadence."""
    runs = instance.get_runs(
        dg.RunsFilter(job_name=activity_refresh_job.name, tags=account_tags(account)), limit=1
    )
    return bool(runs) and CLI_PID_TAG in runs[0].tags


def history_progress(
    instance: dg.DagsterInstance, now: datetime, account: str | None = None
) -> Backfill:
    """`account`'s history now (`planning.backfill`), at its share by weight of the key's
    daily quota less what a day of fresh data costs by measured costs (discovery, the
    snapshot, the hot refreshes) at the cadence the account is refreshed
    (`refreshed_by_cli`)."""
    project = load_settings()
    settings = project.application()
    weights = account_weights(project)
    share = weights[account] / sum(weights.values())
    candidates = hot_candidates(instance, account)
    daemon = not refreshed_by_cli(
        instance, account
    )  # which leaves a margin to later sends (the plan)
    costs = snapshot_costs(instance, now, accounts())
    return backfill(
        candidates,
        now=now,
        since=settings.history_since,
        daily_quota=int(settings.daily_quota * share),
        fresh_calls=fresh_calls_per_day(
            snapshot_calls=costs[account].calls,
            hot_run_calls=hot_run_cost(candidates, now=now, hot_days=project.hot_days),
            daemon=daemon,
            ticks_per_day=project.discovery_ticks_per_day,
        )
        + (margin(settings.daily_quota) if daemon else 0),
        left_today=int(left_today(now, project, costs) * share),
    )


def left_today(now: datetime, project: Settings, costs: Mapping[str | None, SnapshotCost]) -> int:
    """Calls the key has left today for activity reads: the daily quota less what was spent
    and what the snapshots of every account not taken yet today still need (`costs`,
    `snapshot_costs`; `planning.reserve`)."""
    settings = project.application()
    pending = pending_snapshot_calls(costs)
    reserved = reserve(
        now=now,
        snapshot_calls=pending,
        snapshot_taken=not pending,
        accounts=len(costs),
        ticks_per_day=project.discovery_ticks_per_day,
    )
    return day_budget(settings.daily_quota, calls_used_today(settings), reserved)


def previously_deferred(instance: dg.DagsterInstance, account: str | None = None) -> set[str]:
    """What the previous hot refresh of `account` deferred (its run's tag): first in line now."""
    tags = {KIND_TAG: HOT_REFRESH, **account_tags(account)}
    runs = instance.get_runs(dg.RunsFilter(tags=tags), limit=1)
    return set(filter(None, runs[0].tags.get(DEFERRED_TAG, "").split(","))) if runs else set()


def activity_calls_by_day(instance: dg.DagsterInstance, now: datetime) -> dict[str, int]:
    """API calls of the activity reports' materializations over the `BUSY_DAYS` days before
    `now`, by UTC day: what first reads and hot refreshes spend. The snapshots are counted
    apart (`snapshot_costs`): a run's backlog sees their calls spent once they are, and a
    reserve that kept them as well would count them twice."""
    since = (now - timedelta(days=BUSY_DAYS)).timestamp()
    by_day: dict[str, int] = defaultdict(int)
    for key in ACTIVITY_ASSET_KEYS:
        for record in _records(
            instance,
            dg.AssetRecordsFilter(
                asset_key=key, after_timestamp=since, before_timestamp=now.timestamp()
            ),
        ):
            calls = record.asset_materialization.metadata.get("api_calls")
            if calls is not None:
                day = datetime.fromtimestamp(record.timestamp, UTC).date().isoformat()
                by_day[day] += int(calls.value)
    return dict(by_day)


def _records(instance: dg.DagsterInstance, records_filter: dg.AssetRecordsFilter):
    """Every materialization record `records_filter` selects, newest first, a page at a time."""
    cursor = None
    while True:
        page = instance.fetch_materializations(records_filter, limit=1_000, cursor=cursor)
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


@dataclass(frozen=True)
class SnapshotCost:
    """What an account's latest daily snapshot of the last `BUSY_DAYS` spent (the contact
    backlog's calls not counted: it spends only what the day leaves over), and whether
    today's is taken."""

    calls: int = 0
    taken: bool = False


def snapshot_costs(
    instance: dg.DagsterInstance, now: datetime, names: Sequence[str | None]
) -> dict[str | None, SnapshotCost]:
    """The `SnapshotCost` of every account of `names` (`accounts()`), each its own: with 20
    accounts, one account's snapshot kept back for all of them is a twentieth of what the
    day's snapshots spend. One query per snapshot asset for all accounts, so a caller per
    account stays linear in the accounts."""
    days = [(now - timedelta(days=n)).date().isoformat() for n in range(BUSY_DAYS + 1)]
    owner = {snapshot_key(a, day): a for a in names for day in days}
    today = {snapshot_key(a, days[0]) for a in names}
    calls: dict[str | None, int] = dict.fromkeys(names, 0)
    taken: dict[str | None, bool] = dict.fromkeys(names, False)
    for key in DAILY_ASSET_KEYS:
        if key == CONTACTS_KEY:
            continue
        seen: set[str | None] = set()
        records = dg.AssetRecordsFilter(asset_key=key, asset_partitions=list(owner))
        for record in _records(instance, records):
            account = owner[record.partition_key]
            if account in seen:
                continue  # an older snapshot of an account already counted
            seen.add(account)
            value = record.asset_materialization.metadata.get("api_calls")
            calls[account] += int(value.value) if value is not None else 0
            taken[account] = taken[account] or record.partition_key in today
    return {account: SnapshotCost(calls[account], taken[account]) for account in names}


def pending_snapshot_calls(costs: Mapping[str | None, SnapshotCost]) -> int:
    """What the snapshots not taken yet today will spend, each at its account's last cost."""
    return sum(cost.calls for cost in costs.values() if not cost.taken)


HOT_REFRESH = "hot_refresh"
"""The hot schedule's runs of `activity_refresh_job` (tag `cc_assets/kind`): the previous one's
deferred activities go first."""


@dg.schedule(
    job=activity_refresh_job,
    cron_schedule="0 */6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refreshes the activities sent in the last CC_ASSETS_HOT_DAYS (14) days (every "
    "activity in the day's first run), in one batched run planned within what is left of the "
    "day's API quota; reports whose stats did not move are not read.",
)
def hot_activity_refresh_schedule(
    context: dg.ScheduleEvaluationContext,
) -> list[dg.RunRequest] | dg.SkipReason:
    """One plan over every account's activities (fresh data of all before any history, the
    history shared by weight: `planning`), launched as one run per account, so an account's
    refusal ends only its own run. Each run names what its account has deferred."""
    now = context.scheduled_execution_time.astimezone(UTC)
    candidates = all_candidates(context.instance)
    project = load_settings()
    settings = project.application()
    remaining = left_today(now, project, snapshot_costs(context.instance, now, accounts()))
    runs_left = hot_runs_after(now) + 1  # this one too
    days = project.hot_days
    plan = plan_hot_refresh(
        candidates,
        now=now,
        hot_days=days,
        budget=run_budget(remaining, runs_left, hot_run_cost(candidates, now=now, hot_days=days)),
        remaining_today=remaining,
        include_settled=now.hour * HOT_RUNS_PER_DAY < 24,
        since=settings.history_since,
        history_reserve=margin(settings.daily_quota),
    )
    if plan.deferred:
        context.log.info(
            f"hot refresh: {len(plan.deferred)} activities deferred to the next run: "
            f"{plan.deferred}"
        )
    requests = []
    for account, part in split_by_account(plan).items():
        if not part.chosen:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"hot-{now:%Y%m%dT%H%M}" + (f"-{account}" if account else ""),
                run_config={
                    "ops": {
                        "refresh_activities": {
                            "config": {"activity_ids": part.chosen, "deferred": part.deferred}
                        }
                    }
                },
                tags={
                    KIND_TAG: HOT_REFRESH,
                    **account_tags(account),
                    "estimated_api_calls": str(plan.estimated_calls),
                    "run_budget": str(plan.budget),
                    "day_budget": str(remaining),
                    DEFERRED_TAG: ",".join(part.deferred),
                    "cc_assets/deferred_count": str(len(part.deferred)),
                    WAITING_COUNT_TAG: str(len(part.waiting)),
                },
            )
        )
    if not requests:
        return dg.SkipReason(
            f"nothing to refresh within {remaining} calls left today "
            f"({len(plan.deferred)} deferred, {len(plan.resting)} settled, "
            f"{len(plan.waiting)} of the history waiting)"
        )
    return requests


def split_by_account(plan: Plan) -> dict[str | None, Plan]:
    """The plan's lists of each account, in the plan's order (every account of `accounts()`)."""

    def of(account: str | None, keys: list[str]) -> list[str]:
        return [key for key in keys if activity_scope(key).account == account]

    return {
        account: Plan(
            of(account, plan.chosen),
            of(account, plan.deferred),
            of(account, plan.resting),
            plan.estimated_calls,
            plan.budget,
            of(account, plan.waiting),
            of(account, plan.excluded),
        )
        for account in accounts()
    }
