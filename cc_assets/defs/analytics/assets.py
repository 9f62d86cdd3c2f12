"""The dbt models as Dagster assets (group `analytics`), their tests as asset checks.

Each dbt source maps, through its `meta.dagster.asset_key`, to the raw asset that writes it,
so the UI shows one lineage graph from the API to the marts.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from cc_assets.defs.analytics.project import (
    apply_dbt_environment,
    dbt_cli,
    dbt_project,
    dbt_target,
)

GROUP = "analytics"
OWNERS = ["team:data-engineering"]
AUTOMATION = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
"""Rebuild when an upstream asset is updated; an old daily snapshot never taken (the daily
partitions start in 2025) must not hold the models back."""


class AnalyticsTranslator(DagsterDbtTranslator):
    """Refines dagster-dbt's default spec: `analytics` key prefix and group, owners, eager
    automation. Sources keep the default (their `meta.dagster.asset_key`)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        key = super().get_asset_key(dbt_resource_props)
        if dbt_resource_props["resource_type"] == "source":
            return key
        return key.with_prefix(GROUP)

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source."):
            return spec
        return spec.replace_attributes(
            group_name=GROUP,
            owners=OWNERS,
            automation_condition=AUTOMATION,
        )


WAREHOUSE_POOL = "duckdb_warehouse"
"""dbt is the DuckDB file's only writer and DuckDB allows one writer at a time: give this pool
a limit of 1 on the instance (`dagster instance concurrency set duckdb_warehouse 1`, or
`concurrency: pools:` in dagster.yaml) so two runs never build at once."""

translator = AnalyticsTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    name="cc_assets_dbt",
    pool=WAREHOUSE_POOL,
)
def cc_assets_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the selected models: staging views, intermediate, marts, tests."""
    environment = apply_dbt_environment()
    context.log.info(
        f"dbt target {dbt_target()}: lake {environment['CC_ASSETS_STORAGE']}, "
        f"warehouse {environment['CC_ASSETS_WAREHOUSE']}"
    )
    yield from dbt.cli(["build"], context=context).stream()


DBT_ASSETS_SELECTION = dg.AssetSelection.assets(cc_assets_dbt)
"""Every dbt model (and its tests as checks): the `dbt build` step of `cc-assets refresh`."""


defs = dg.Definitions(
    assets=[cc_assets_dbt],
    resources={"dbt": dbt_cli(dbt_project)},
)
