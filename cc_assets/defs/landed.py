"""One asset partition written, recorded the same way by an asset's own run and by a batched op.

A partitioned asset's run holds one partition; the batched jobs (`activity_refresh_job`,
`activity_metrics_job`) refresh many activity partitions in one run, because a run per activity
costs a process and seconds of start-up each. Both build a `Landed` per asset and partition, so
the UI shows the same materialization metadata and the same asset-check results whichever ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg


@dataclass
class Landed:
    key: dg.AssetKey
    partition: str | None
    metadata: dict[str, Any]
    checks: list[dg.AssetCheckResult] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def results(self) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """Inside the asset's own run (its partition is the run's)."""
        yield dg.MaterializeResult(
            asset_key=self.key, metadata=self.metadata, tags=self.tags or None
        )
        yield from self.checks

    def log(self, context: dg.OpExecutionContext) -> None:
        """From a batched op: a materialization of this partition and each check's result."""
        context.log_event(
            dg.AssetMaterialization(
                asset_key=self.key,
                partition=self.partition,
                metadata=self.metadata,
                tags=self.tags or None,
            )
        )
        for check in self.checks:
            context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=check.asset_key or self.key,
                    check_name=check.check_name or "",
                    passed=check.passed,
                    metadata=check.metadata,
                    severity=check.severity,
                )
            )
