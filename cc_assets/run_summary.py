"""What the runs of a refresh landed, read back from their own events.

A run's materializations, failed steps (with the `failed_assets` metadata a partial failure
carries), skipped steps and the executor's word on a step process that died become one
`Summary`: landed, failed (one-line reason), deferred, landed with warnings, unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cc_assets.defs.automation.planning import Backfill
from cc_assets.defs.ingestion.assets import FAILED_ASSETS
from cc_assets.pipeline.preflight import ACCOUNT_WIDE_ERRORS

ACCOUNT_WIDE = {cls.__name__ for cls in ACCOUNT_WIDE_ERRORS} | {"ConfigurationError"}
CRASH = "ChildProcessCrashException"
"""The error of a step whose own process died; the executor's engine event says how."""


@dataclass(frozen=True)
class Item:
    """One asset (and partition) of the refresh, with why it did not land when it did not."""

    asset: str
    partition: str | None = None
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.asset}[{self.partition}]" if self.partition else self.asset


@dataclass
class Summary:
    landed: list[Item] = field(default_factory=list)
    failed: list[Item] = field(default_factory=list)
    deferred: list[Item] = field(default_factory=list)
    warnings: list[Item] = field(default_factory=list)
    """Landed, but an optional source or some stats id failed (the reason names it)."""
    unchanged: list[Item] = field(default_factory=list)
    """Its step succeeded without writing: CC's stats showed nothing new, so nothing was read."""
    tracebacks: list[str] = field(default_factory=list)
    fatal: dict[str | None, str] = field(default_factory=dict)
    """Each account's account-wide refusal (credentials, quota): the rest of that account's
    refresh is deferred. Keyed by account name (None: the single account of the variables)."""
    history: dict[str | None, Backfill] = field(default_factory=dict)
    """How much of each account's history is held, and when the rest is expected."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.deferred and not self.fatal

    def defer(self, items: Iterable[Item], reason: str) -> None:
        self.deferred += [Item(i.asset, i.partition, reason) for i in items]

    def complete(self, items: Iterable[Item]) -> bool:
        """Every item landed (or had nothing new)."""
        done = {(i.asset, i.partition) for i in (*self.landed, *self.unchanged)}
        return all((i.asset, i.partition) in done for i in items)


def expected(keys: Iterable[dg.AssetKey], partitions: Sequence[str | None]) -> list[Item]:
    return [Item(key.to_user_string(), p) for p in partitions for key in keys]


def one_line(error: Any) -> tuple[str, str]:
    """(class name, `Class: message`) of the innermost cause of a step's error: the user's
    error, without the layers Dagster wraps around it and without a traceback."""
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines() or [error.cls_name or "error"]
    return error.cls_name or "", re.sub(r"^(?:[\w]+\.)+(\w+): ", r"\1: ", lines[0])


def read_run(
    summary: Summary,
    job_name: str,
    result: dg.JobExecutionResult,
    items: list[Item],
    account: str | None = None,
) -> None:
    """What the run's own events say of each item: landed, failed (with its reason),
    unchanged (its step succeeded without writing) or deferred (its step was skipped). An
    account-wide refusal is `account`'s (the run's)."""
    landed: set[tuple[str, str | None]] = set()
    steps: dict[str, str] = {}
    errors: dict[str, str] = {}
    crashes: dict[str, str] = {}
    per_asset: dict[str, str] = {}
    for event in result.all_events:
        if event.is_engine_event and event.step_key and event.engine_event_data.error:
            # a step's process that died (killed, out of memory): the executor says how
            crashes[event.step_key] = (event.message or "").split(". ")[0]
        elif event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            name = materialization.asset_key.to_user_string()
            partition = materialization.partition or event.partition
            landed.add((name, partition))
            found = materialization.metadata.get("errors")
            if found is not None and found.value:
                more = f" (and {len(found.value) - 1} more)" if len(found.value) > 1 else ""
                summary.warnings.append(Item(name, partition, f"{found.value[0]}{more}"))
        elif event.is_step_success:
            steps[event.step_key] = "success"
        elif event.is_step_skipped:
            steps[event.step_key] = "skipped"
        elif event.is_step_failure:
            data = event.step_failure_data
            cls_name, line = one_line(data.error)
            line = crashes.get(event.step_key, line) if cls_name == CRASH else line
            steps[event.step_key] = "failure"
            errors[event.step_key] = line
            summary.tracebacks.append(f"{job_name} {event.step_key}:\n{data.error.to_string()}")
            failure = data.user_failure_data
            if failure is not None and FAILED_ASSETS in failure.metadata:
                per_asset.update(failure.metadata[FAILED_ASSETS].value)
            if cls_name in ACCOUNT_WIDE:
                summary.fatal[account] = line
    for item in items:
        if (item.asset, item.partition) in landed:
            summary.landed.append(item)
            continue
        step = _step_of(item.asset, steps)
        reason = per_asset.get(item.name) or per_asset.get(item.asset)
        status = steps.get(step or "", "")
        if reason is None and status == "failure" and not per_asset:
            reason = errors[step or ""]
        if reason:
            summary.failed.append(Item(item.asset, item.partition, reason))
        elif status == "success" or (status == "failure" and per_asset):
            # a partial failure names each asset it cost: the others of its step ran, and
            # wrote nothing only because nothing was new (or their sources did not move)
            summary.unchanged.append(item)
        elif status == "skipped":
            summary.deferred.append(
                Item(item.asset, item.partition, "not run: an asset it reads failed")
            )
        else:
            reason = next(iter(errors.values()), "its run ended before it ran")
            summary.failed.append(Item(item.asset, item.partition, reason))


def _step_of(asset: str, steps: dict[str, str]) -> str | None:
    """The step that computes an asset: its own (an asset is its own op) or the run's only
    step (a multi-asset's, a batched op's, dbt's)."""
    own = dg.AssetKey.from_user_string(asset).to_python_identifier()
    if own in steps:
        return own
    return next(iter(steps)) if len(steps) == 1 else None
