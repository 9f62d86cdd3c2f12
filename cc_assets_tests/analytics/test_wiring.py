"""How the dbt project is wired into Dagster: keys, sources, checks, and a manifest prepared by
an explicit step, never at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster_dbt import DbtProject

from cc_assets.constant_contact.schemas import RAW_TABLES
from cc_assets.definitions import defs
from cc_assets.defs.analytics import project
from cc_assets.defs.analytics.assets import cc_assets_dbt
from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES, campaign_activity_partitions
from cc_assets.defs.metrics.tables import METRIC_TABLES

ROOT = Path(__file__).resolve().parents[2]


def test_sources_map_to_the_raw_and_metric_assets_and_models_are_analytics() -> None:
    specs = {spec.key: spec for spec in cc_assets_dbt.specs}
    for prefix, tables in (("constant_contact", RAW_TABLES), ("email_metrics", METRIC_TABLES)):
        for name in tables:
            staging = specs[dg.AssetKey(["analytics", f"stg_{prefix}__{name}"])]
            assert [dep.asset_key for dep in staging.deps] == [dg.AssetKey([prefix, name])]
    for spec in specs.values():
        assert spec.group_name == "analytics"
        assert spec.owners == ["team:data-engineering"]
        assert spec.automation_condition is not None
    mart = specs[dg.AssetKey(["analytics", "fct_campaign_performance"])]
    columns = {c.name: c.type for c in mart.metadata["dagster/column_schema"].columns}
    assert columns["campaign_name"] == "text" and columns["open_rate"] == "double precision"
    assert columns["mobile_open_share"] == "double precision"
    checks = {c.name for c in cc_assets_dbt.check_specs if c.asset_key == mart.key}
    # keyed per account: a campaign id is unique within its account, and every row has one
    assert {
        "unique_combination_of_columns_fct_campaign_performance_account__campaign_id",
        "not_null_fct_campaign_performance_account",
    } <= checks
    assert "fct_campaign_performance_equals_email_metrics" in checks


def test_importing_the_definitions_writes_no_file(tmp_path: Path) -> None:
    """A fresh working directory and home stay empty, and the prepared manifest is only read
    (a `dbt parse` would rewrite it)."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    manifest = project.dbt_project.manifest_path
    before = manifest.stat().st_mtime_ns
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CC_ASSETS_", "DAGSTER_"))} | {
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", "import cc_assets.definitions as d; d.defs().resolve_asset_graph()"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(cwd.rglob("*")) == [] and list(home.rglob("*")) == []
    assert manifest.stat().st_mtime_ns == before  # not re-parsed


def test_a_missing_manifest_names_the_step_that_prepares_it(tmp_path: Path) -> None:
    fresh = DbtProject(
        project_dir=project.PROJECT_DIR,
        profiles_dir=project.PROJECT_DIR,
        target_path=tmp_path / "target",
    )
    with pytest.raises(FileNotFoundError, match="make manifest"):
        project.prepared_manifest(fresh)
    assert project.prepare_manifest(fresh).exists()
    assert project.prepared_manifest(fresh) == fresh.manifest_path


def test_the_automation_builds_no_model_before_the_models_it_reads() -> None:
    """The automation's first ticks on a new deployment, where an activity's tracking and
    metrics have landed and no daily snapshot yet: every model it requests reads models that
    exist or are requested in the same tick (a mart requested before int_campaign_activities
    failed its run on the missing table), and an old daily snapshot never taken holds nothing
    back: the models over the metrics are requested."""
    loaded = defs()
    graph = loaded.resolve_asset_graph()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, ["a1"])
    landed = [
        key
        for key in graph.get_all_asset_keys()
        if key.path[0] in {"constant_contact", "email_metrics"}
        and graph.get(key).partitions_def == campaign_activity_partitions
    ]
    assert landed
    cursor = dg.evaluate_automation_conditions(defs=loaded, instance=instance).cursor
    for key in landed:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="a1"))
    built: set[dg.AssetKey] = set()
    for _ in range(3):  # each tick's requests built, as a run would, before the next
        result = dg.evaluate_automation_conditions(defs=loaded, instance=instance, cursor=cursor)
        cursor = result.cursor
        models = {
            r.key
            for r in result.results
            if isinstance(r.key, dg.AssetKey)
            and r.key.path[0] == "analytics"
            and result.get_num_requested(r.key)
        }
        for model in models:
            unbuilt = {
                parent
                for parent in graph.get(model).parent_keys
                if parent.path[0] == "analytics" and parent not in built | models
            }
            assert not unbuilt, f"{model.to_user_string()} before {unbuilt}"
        for model in models:
            instance.report_runless_asset_event(dg.AssetMaterialization(model))
        built |= models
    assert dg.AssetKey(["analytics", "stg_email_metrics__activity_engagement"]) in built
