"""How the dbt project is wired into Dagster: keys, lineage, checks, manifest preparation."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtProject

from cc_assets.definitions import defs as load_defs
from cc_assets.defs.analytics import project
from cc_assets.defs.analytics.assets import DBT_ASSETS_SELECTION, cc_assets_dbt
from cc_assets.lake.schemas import RAW_TABLES


def test_sources_map_to_the_raw_assets_and_models_are_analytics() -> None:
    specs = {spec.key: spec for spec in cc_assets_dbt.specs}
    for name in RAW_TABLES:
        staging = specs[dg.AssetKey(["analytics", f"stg_constant_contact__{name}"])]
        assert [dep.asset_key for dep in staging.deps] == [dg.AssetKey(["constant_contact", name])]
    for spec in specs.values():
        assert spec.group_name == "analytics"
        assert spec.owners == ["team:data-engineering"]
        assert spec.automation_condition is not None
    mart = dg.AssetKey(["analytics", "fct_campaign_activity_performance"])
    checks = {c.name for c in cc_assets_dbt.check_specs if c.asset_key == mart}
    assert "unique_fct_campaign_activity_performance_campaign_activity_id" in checks


def test_one_lineage_graph_from_the_api_to_the_marts() -> None:
    graph = load_defs().resolve_asset_graph()
    raw = dg.AssetKey(["constant_contact", "email_opens"])
    mart = dg.AssetKey(["analytics", "fct_campaign_activity_performance"])
    assert _reaches(graph, raw, mart)
    selected = DBT_ASSETS_SELECTION.resolve(graph)
    assert mart in selected and raw not in selected
    metrics = dg.AssetSelection.groups("email_metrics").resolve(graph)
    assert dg.AssetKey(["email_metrics", "activity_engagement"]) in metrics


def _reaches(graph, source: dg.AssetKey, target: dg.AssetKey) -> bool:
    frontier, seen = [source], set()
    while frontier:
        key = frontier.pop()
        if key == target:
            return True
        seen.add(key)
        frontier.extend(k for k in graph.get(key).child_keys if k not in seen)
    return False


def test_a_missing_manifest_is_prepared(tmp_path: Path) -> None:
    fresh = DbtProject(
        project_dir=project.PROJECT_DIR,
        profiles_dir=project.PROJECT_DIR,
        target_path=tmp_path / "target",
    )
    assert not fresh.manifest_path.exists()
    assert project.prepare_manifest(fresh).exists()
