"""The dbt models as Dagster assets (group `analytics`), their tests as asset checks.

Each dbt source maps, through its `meta.dagster.asset_key`, to the asset that writes it: the
raw `constant_contact/*` assets and the `email_metrics/*` assets, so the UI shows one lineage
graph API -> raw -> metrics -> marts.
"""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from cc_assets.defs.analytics.project import (
    apply_dbt_environment,
    build_target,
    dbt_cli,
    dbt_project,
    prepared_manifest,
)
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.metadata import OWNERS
from cc_assets.lake.paths import DUCKDB_MEMORY_LIMIT
from cc_assets.settings import load_settings

GROUP = "analytics"
AUTOMATION = dg.AutomationCondition.eager().replace(
    "any_deps_missing",
    dg.AutomationCondition.any_deps_missing().allow(dg.AssetSelection.groups(GROUP)),
)
"""Rebuild when an upstream asset is updated, once the models it reads exist (or are requested
with it). Only the models count as missing deps: an old daily snapshot never taken (the daily
partitions start in 2025) must not hold the models back, while a mart requested before the
intermediate model it joins (whose snapshot had not landed) failed its run on the missing
table."""


class AnalyticsTranslator(DagsterDbtTranslator):
    """Refines dagster-dbt's default spec: models keyed `analytics/<model>` whatever their
    schema (staging, intermediate, marts), group, owners, eager automation. Sources keep the
    default (their `meta.dagster.asset_key`)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([GROUP, dbt_resource_props["name"]])

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
    manifest=prepared_manifest(),
    project=dbt_project,
    dagster_dbt_translator=translator,
    name="cc_assets_dbt",
    pool=WAREHOUSE_POOL,
)
def cc_assets_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource):
    """`dbt build` of the selected models (staging views, intermediate, marts, tests), each
    table's materialization carrying its `dagster/row_count`."""
    environment = apply_dbt_environment(lake.root())
    target = load_settings().dbt_target
    context.log.info(
        f"dbt target {target}: lake {environment['CC_ASSETS_STORAGE']}, "
        f"warehouse {environment['CC_ASSETS_WAREHOUSE']}"
    )
    with build_target(context.run_id) as target_path:
        invocation = dbt.cli(["build"], context=context, target_path=target_path)
        if target != "duckdb":
            yield from invocation.stream().fetch_row_counts()
            return
        # DuckDB lets no second process open the file while dbt writes it: count once it is done.
        events = list(invocation.stream())
    yield from with_row_counts(events, environment["CC_ASSETS_WAREHOUSE"], context)


def with_row_counts(
    events: list[Any], warehouse: str, context: dg.AssetExecutionContext
) -> Iterator[Any]:
    """The events of a finished `dbt build`, each table's output with its row count."""
    manifest = dbt_project.manifest_path
    nodes = _relation_names(manifest)
    # Bounded like every lake connection (`DUCKDB_MEMORY_LIMIT`, one thread): counting a view
    # over a 1,000,000-row partition with DuckDB's defaults grew this process by ~300 MB.
    settings = {"memory_limit": DUCKDB_MEMORY_LIMIT, "threads": 1}
    with duckdb.connect(warehouse, read_only=True, config=settings) as con:
        for event in events:
            unique_id = _unique_id(event)
            relation = nodes.get(unique_id) if unique_id else None
            if relation is None or not isinstance(event, dg.Output | dg.AssetMaterialization):
                yield event
                continue
            try:
                (rows,) = con.execute(f"select count(*) from {relation}").fetchone()
            except duckdb.Error as error:
                context.log.warning(f"row count of {relation}: {error}")
                yield event
                continue
            yield event.with_metadata({**event.metadata, "dagster/row_count": int(rows)})


def _unique_id(event: Any) -> str | None:
    value = getattr(event, "metadata", {}).get("unique_id")
    return None if value is None else str(getattr(value, "value", value))


def _relation_names(manifest_path) -> dict[str, str]:
    """Model unique_id -> its relation (`"schema"."name"`) as built in the warehouse, for the
    models stored as tables. Views are left out, as dagster-dbt's own `fetch_row_counts` does:
    counting one runs its query over the whole lake (the staging views over a
    1,000,000-send activity grew this process from ~350 to ~510 MB)."""
    manifest = json.loads(manifest_path.read_text())
    return {
        unique_id: f'"{node["schema"]}"."{node["alias"]}"'
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in {"model", "seed", "snapshot"}
        and node["config"].get("materialized") != "view"
    }


dbt_build_job = dg.define_asset_job(
    "dbt_build_job",
    selection=dg.AssetSelection.assets(cc_assets_dbt),
    description="`dbt build` of every model, with its tests as asset checks.",
)

defs = dg.Definitions(
    assets=[cc_assets_dbt],
    jobs=[dbt_build_job],
    resources={"dbt": dbt_cli(dbt_project)},
)
