"""Ingestion tests: the project's own resources, pointed at a sandbox through the environment."""

from __future__ import annotations

import dagster as dg
import pytest

from cc_assets.defs.ingestion.assets import campaign_activity_reports
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.defs.ingestion.resources import ConstantContactResource, LakeResource
from cc_assets.sandbox.process import SandboxServer

RESOURCES = {"constant_contact": ConstantContactResource(), "lake": LakeResource()}


def point_at(server: SandboxServer, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """The environment a user would set for a real account, aimed at the sandbox."""
    env = {**server.client_env(), "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0", **extra}
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def materialize_activity(instance: dg.DagsterInstance, activity_id: str) -> dg.ExecuteInJobResult:
    if not instance.has_dynamic_partition(CAMPAIGN_ACTIVITIES, activity_id):
        instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, [activity_id])
    return dg.materialize(
        [campaign_activity_reports],
        instance=instance,
        resources=RESOURCES,
        partition_key=activity_id,
    )
