"""One declaration per column: the dbt files that restate the Arrow schemas are generated from
them, and the committed ones are what the generator writes."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from cc_assets.constant_contact.schemas import RAW_COLUMN_DESCRIPTIONS, RAW_TABLES
from cc_assets.defs.analytics import sources
from cc_assets.defs.analytics.project import PROJECT_DIR
from cc_assets.defs.metrics.tables import METRIC_COLUMN_DESCRIPTIONS, METRIC_TABLES
from cc_assets.lake.postgres_load import sql_type

RAW, METRICS = sources.SOURCES


def test_the_committed_dbt_files_are_what_the_schemas_generate() -> None:
    stale = sources.stale_files()
    assert stale == [], (
        f"{[str(p) for p in stale]} differ from what the Arrow schemas generate: run "
        f"`{sources.COMMAND}` and commit the result"
    )


def source_tables(project_dir: Path, source: sources.LakeSource) -> dict[str, dict]:
    path = project_dir / source.folder / f"_{source.name}__sources.yml"
    (declared,) = yaml.safe_load(path.read_text())["sources"]
    return {table["name"]: table for table in declared["tables"]}


def test_every_lake_column_is_declared_to_dbt_with_its_arrow_type_and_asset() -> None:
    for source, tables in ((RAW, RAW_TABLES), (METRICS, METRIC_TABLES)):
        declared = source_tables(PROJECT_DIR, source)
        assert list(declared) == list(tables)
        for name, table in tables.items():
            columns = [(c["name"], c["data_type"]) for c in declared[name]["columns"]]
            assert columns == [(f.name, sql_type(f.type)) for f in table.schema], name
            asset_key = declared[name]["config"]["meta"]["dagster"]["asset_key"]
            assert asset_key == [source.name, name]


def test_every_description_describes_a_column() -> None:
    """No description outlives its column (a renamed or dropped field)."""
    for descriptions, tables in (
        (RAW_COLUMN_DESCRIPTIONS, RAW_TABLES),
        (METRIC_COLUMN_DESCRIPTIONS, METRIC_TABLES),
    ):
        used = {name for table in tables.values() for name in table.schema.names}
        assert set(descriptions) - used == set()


def copy_staging(project_dir: Path) -> Path:
    copy = project_dir / "models" / "staging"
    shutil.copytree(PROJECT_DIR / "models" / "staging", copy)
    return project_dir


def with_column(
    source: sources.LakeSource, table_name: str, field: pa.Field, description: str
) -> sources.LakeSource:
    """`source` with one more nullable column at the end of one table, described."""
    table = source.tables[table_name]
    widened = dataclasses.replace(table, schema=table.schema.append(field))
    return dataclasses.replace(
        source,
        tables={**source.tables, table_name: widened},
        descriptions={**source.descriptions, field.name: description},
    )


def test_a_new_column_is_one_regeneration_away(tmp_path: Path) -> None:
    """A column added to a schema makes the check fail, naming the files, until one run of the
    generator puts it in the source YAML and, for a metric table, in its staging model."""
    project_dir = copy_staging(tmp_path)
    raw = with_column(
        RAW,
        "email_campaign_activity_stats",
        pa.field("campaign_activity_type", pa.string()),
        "The activity's type.",
    )
    metrics = with_column(
        METRICS, "activity_engagement", pa.field("spam_reports", pa.int64()), "Spam reports."
    )
    widened = (raw, metrics)
    changed = [
        RAW.folder / "_constant_contact__sources.yml",
        METRICS.folder / "_email_metrics__sources.yml",
        METRICS.folder / "stg_email_metrics__activity_engagement.sql",
        METRICS.folder / "stg_email_metrics__activity_engagement.yml",
    ]
    assert sorted(sources.stale_files(project_dir, widened)) == sorted(changed)

    assert sorted(sources.write(project_dir, widened)) == sorted(changed)
    assert sources.stale_files(project_dir, widened) == []
    stats = source_tables(project_dir, raw)["email_campaign_activity_stats"]["columns"][-1]
    assert stats == {
        "name": "campaign_activity_type",
        "description": "The activity's type.",
        "data_type": "text",
    }
    staging = project_dir / METRICS.folder / "stg_email_metrics__activity_engagement.sql"
    assert "cast(spam_reports as {{ dbt.type_bigint() }}) as spam_reports" in staging.read_text()


def test_a_removed_metric_table_leaves_no_staging_model_behind(tmp_path: Path) -> None:
    project_dir = copy_staging(tmp_path)
    tables = {n: t for n, t in METRICS.tables.items() if n != "activity_link_clicks"}
    narrowed = (RAW, dataclasses.replace(METRICS, tables=tables))
    gone = [
        METRICS.folder / "stg_email_metrics__activity_link_clicks.sql",
        METRICS.folder / "stg_email_metrics__activity_link_clicks.yml",
    ]
    assert set(gone) <= set(sources.stale_files(project_dir, narrowed))
    sources.write(project_dir, narrowed)
    assert not any((project_dir / path).exists() for path in gone)
    assert sources.stale_files(project_dir, narrowed) == []


def test_an_undescribed_column_is_refused_with_where_to_describe_it() -> None:
    table = RAW.tables["email_campaigns"]
    undescribed = dataclasses.replace(table, schema=table.schema.append(pa.field("x", pa.int32())))
    source = dataclasses.replace(RAW, tables={"email_campaigns": undescribed})
    with pytest.raises(sources.UndescribedError, match=r"column x of constant_contact\.email_c"):
        sources.generated_files((source,))
    with pytest.raises(sources.UndescribedError, match=r"cc_assets/constant_contact/schemas\.py"):
        sources.generated_files((source,))
