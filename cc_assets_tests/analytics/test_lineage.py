"""The lineage graph as the UI serves it (GraphQL over the real code location): one straight
lineage API -> raw -> email_metrics -> marts."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from cc_assets.constant_contact.schemas import TRACKING_TABLES

ROOT = Path(__file__).resolve().parents[2]
MART = "analytics/fct_campaign_performance"

GRAPH = """
{
  assetNodes { assetKey { path } dependencyKeys { path } }
}
"""


def children_of_every_asset() -> dict[str, set[str]]:
    workspace = str(ROOT / "workspace.yaml")
    with (
        dg.instance_for_test() as instance,
        define_out_of_process_context(workspace, None, instance) as context,
    ):
        result = execute_dagster_graphql(context, GRAPH)
    assert result.errors is None, result.errors
    children: dict[str, set[str]] = {}
    for node in result.data["assetNodes"]:
        key = "/".join(node["assetKey"]["path"])
        children.setdefault(key, set())
        for parent in node["dependencyKeys"]:
            children.setdefault("/".join(parent["path"]), set()).add(key)
    return children


def reachable(children: dict[str, set[str]], start: str, avoid: Iterable[str] = ()) -> set[str]:
    blocked, seen, frontier = set(avoid), set(), [start]
    while frontier:
        key = frontier.pop()
        for child in children.get(key, ()):
            if child not in seen and child not in blocked:
                seen.add(child)
                frontier.append(child)
    return seen


def test_every_raw_tracking_asset_reaches_the_campaign_mart_through_email_metrics() -> None:
    children = children_of_every_asset()
    assert MART in children
    metrics = {key for key in children if key.startswith("email_metrics/")}
    assert "email_metrics/activity_engagement" in metrics
    for table in TRACKING_TABLES.values():
        raw = f"constant_contact/{table.name}"
        downstream = reachable(children, raw)
        through = {m for m in metrics & downstream if MART in reachable(children, m)}
        assert through, f"{raw} reaches {MART} through no email_metrics asset"
        # and never around them: the marts take every number from email_metrics
        assert MART not in reachable(children, raw, avoid=metrics), raw
