"""The dbt files that restate the Arrow schemas, generated from them: one declaration per column.

A lake column is declared once: its name and type in the asset's Arrow schema
(`cc_assets/constant_contact/schemas.py` for the raw lake, `cc_assets/defs/metrics/tables.py`
for `email_metrics`), its meaning beside it (`RAW_COLUMN_DESCRIPTIONS`,
`METRIC_COLUMN_DESCRIPTIONS`, and each table's `description`). dbt needs those columns again,
typed, in files it parses:

- the sources' YAML (`models/staging/<source>/_<source>__sources.yml`): the source tables, where
  each lives in the lake, the Dagster asset that writes it, and its typed, described columns
  (the empty-lake guard `cc_lake_guard` casts to these types; a mart passes its metric table's
  columns through by this list, `cc_columns_of`);
- the staging models over `email_metrics` (`models/staging/email_metrics/stg_*.sql` and
  `.yml`): each selects, typed, exactly the columns its metric asset writes, no more, no fewer.

This module writes them all (`python -m cc_assets.defs.analytics.sources`, `make sources`), and
a test fails when a committed file differs from what it writes, so a schema changed without
regenerating fails CI. They are generated into the repository rather than rendered by a macro at
compile time because dbt's YAML cannot be computed, and committed files keep the dbt project a
plain one: `dbt build` works from a checkout, and a review shows every column that changed.
The staging models over the raw lake rename and type their columns by hand, so only their
sources are generated.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from cc_assets.constant_contact.schemas import RAW_COLUMN_DESCRIPTIONS, RAW_TABLES, AssetTable
from cc_assets.defs.analytics.project import LAKE_ACCOUNTS, PROJECT_DIR
from cc_assets.defs.metrics.tables import METRIC_COLUMN_DESCRIPTIONS, METRIC_TABLES, METRICS_PREFIX
from cc_assets.lake.paths import RAW_PREFIX
from cc_assets.lake.postgres_load import LOADED, METRICS_SCHEMA, RAW_SCHEMA, sql_type

COMMAND = "python -m cc_assets.defs.analytics.sources"


SOURCE_DESCRIPTIONS: dict[str, str] = {
    RAW_PREFIX: (
        "The raw Parquet lake written by the Dagster assets of group constant_contact. On "
        "DuckDB every table is read in place (read_parquet over the hive folders); on a "
        "warehouse (Postgres, Snowflake, BigQuery) the tables are loaded into schema "
        f"{RAW_SCHEMA}."
    ),
    METRICS_PREFIX: (
        "The metric tables written by the Dagster assets of group email_metrics: the "
        "project's one computation of counts, rates and shares. On DuckDB each table is read "
        f"in place from the lake; on Postgres they are loaded into schema {METRICS_SCHEMA}."
    ),
}


@dataclass(frozen=True)
class LakeSource:
    """One dbt source: a top folder of the lake, its tables, and where their columns are
    described (`descriptions`, by name, beside the tables' schemas in the module `declared_in`).

    `name` is the source's name, its lake folder and the first part of its assets' keys.
    `hive_partitioning`: DuckDB reads the partition folders' `key=value` names as a column too.
    `staged`: its staging models are generated as well."""

    name: str
    tables: Mapping[str, AssetTable]
    descriptions: Mapping[str, str]
    declared_in: str
    hive_partitioning: bool = True
    staged: bool = False

    @property
    def description(self) -> str:
        return SOURCE_DESCRIPTIONS[self.name]

    @property
    def warehouse_schema(self) -> str:
        """Where a warehouse that cannot read the lake in place holds the tables: the schema
        `lake/postgres_load.py` loads them into."""
        return next(schema for schema, prefix, _ in LOADED if prefix == self.name)

    @property
    def folder(self) -> Path:
        return Path("models") / "staging" / self.name


SOURCES: tuple[LakeSource, ...] = (
    LakeSource(
        name=RAW_PREFIX,
        tables=RAW_TABLES,
        descriptions=RAW_COLUMN_DESCRIPTIONS,
        declared_in="cc_assets/constant_contact/schemas.py",
    ),
    LakeSource(
        name=METRICS_PREFIX,
        tables=METRIC_TABLES,
        descriptions=METRIC_COLUMN_DESCRIPTIONS,
        declared_in="cc_assets/defs/metrics/tables.py",
        hive_partitioning=False,
        staged=True,
    ),
)

STAGING_CASTS: dict[pa.DataType, str] = {
    pa.string(): "{{ dbt.type_string() }}",
    pa.int32(): "{{ dbt.type_int() }}",
    pa.int64(): "{{ dbt.type_bigint() }}",
    pa.float64(): "{{ cc_type_double() }}",
    pa.date32(): "date",
}
"""The type a staging model casts an Arrow type to, through dbt's cross-database type macros.
Timestamps are selected as they are: every lake timestamp is UTC, already a `timestamp with time
zone` on each target, and `dbt.type_timestamp()` would drop the zone on Postgres."""


STAGING_SQL = """\
{{# {header} #}}
with

source as (

    select * from {{{{ cc_lake_guard(source('{source}', '{table}')) }}}}

),

renamed as (

    select
        {columns}

    from source

)

select * from renamed
"""


class UndescribedError(ValueError):
    """A table or column has no description to generate its dbt YAML from."""


def _header(source: LakeSource) -> str:
    return (
        f"Generated from {source.declared_in} (the tables' Arrow schemas and descriptions) by "
        f"`{COMMAND}`: edit those and run it again, never this file."
    )


PARTITIONED_FILES = "{name}/*/part-*.parquet"
"""A partitioned table's files, one folder per partition, below the source's folder (`{name}`
is dbt-duckdb's placeholder for the table's name); an unpartitioned table's file is at the top
of its folder, and its source table says so (`meta.partitioned: false`, read by
`cc_lake_glob`)."""


PER_ACCOUNT = f"env_var('{LAKE_ACCOUNTS}', '') == '1'"
"""Jinja: the lake is per account (`{root}/account=<name>/...`, `macros/cc_accounts.sql`)."""


def _read_parquet(source: LakeSource, files: str) -> str:
    """The DuckDB relation of a table's `files`, in the lake of one account or of many: there
    every account's files, with the `account` of their `account=<name>` folder (hive
    partitioning, even for a source whose own folders are not read as columns; the folder
    names' values read as text, so an account `007` stays `007`)."""
    hive = "true" if source.hive_partitioning else f"{{{{ 'true' if {PER_ACCOUNT} else 'false' }}}}"
    return (
        "read_parquet('{{ env_var('CC_ASSETS_STORAGE', '../data/lake') }}"
        f"{{{{ '/account=*' if {PER_ACCOUNT} else '' }}}}/{source.name}/{files}', "
        f"hive_partitioning = {hive}, union_by_name = true"
        f"{{{{ ', hive_types_autocast = false' if {PER_ACCOUNT} else '' }}}})"
    )


def _columns(source: LakeSource, table: AssetTable) -> list[dict[str, str]]:
    columns = []
    for field in table.schema:
        if field.name not in source.descriptions:
            raise UndescribedError(
                f"column {field.name} of {source.name}.{table.name} has no description: add it "
                f"to the column descriptions beside the schemas in {source.declared_in}, then "
                f"run `{COMMAND}`"
            )
        columns.append(
            {
                "name": field.name,
                "description": source.descriptions[field.name],
                "data_type": sql_type(field.type),
            }
        )
    return columns


def _source_table(source: LakeSource, table: AssetTable) -> dict:
    if not table.description:
        raise UndescribedError(
            f"table {source.name}.{table.name} has no description: give its AssetTable one in "
            f"{source.declared_in}, then run `{COMMAND}`"
        )
    meta: dict = {}
    if table.partition_column is None:
        files = f"{table.name}/part-*.parquet"
        meta = {"partitioned": False, "external_location": _read_parquet(source, files)}
    meta["dagster"] = {"asset_key": [source.name, table.name]}
    return {
        "name": table.name,
        "description": table.description,
        "config": {"meta": meta},
        "columns": _columns(source, table),
    }


def sources_yaml(source: LakeSource) -> str:
    """The source's `_<source>__sources.yml`."""
    document = {
        "version": 2,
        "sources": [
            {
                "name": source.name,
                "description": source.description,
                "schema": (
                    f"{{{{ 'main' if target.type == 'duckdb' else '{source.warehouse_schema}' }}}}"
                ),
                "config": {"meta": {"external_location": _read_parquet(source, PARTITIONED_FILES)}},
                "tables": [_source_table(source, t) for t in source.tables.values()],
            }
        ],
    }
    return _dump(document, _header(source))


def staging_model_name(source: LakeSource, table: AssetTable) -> str:
    return f"stg_{source.name}__{table.name}"


ACCOUNT = "account"
"""The column every staging model adds first: the row's account (`macros/cc_accounts.sql`)."""


def _account_column() -> dict[str, str]:
    return {
        "name": ACCOUNT,
        "description": RAW_COLUMN_DESCRIPTIONS[ACCOUNT],
        "data_type": sql_type(pa.string()),
    }


def staging_yaml(source: LakeSource, table: AssetTable) -> str:
    """A staging model's YAML: its account, then its source table's columns, as the model
    selects them."""
    model = {
        "name": staging_model_name(source, table),
        "description": f"{table.description} One row per row of the metric asset; typed.",
        "columns": [_account_column(), *_columns(source, table)],
    }
    return _dump({"version": 2, "models": [model]}, _header(source))


def staging_sql(source: LakeSource, table: AssetTable) -> str:
    """A staging model: the row's account, then every column of the source table, typed, in
    the schema's order."""
    selects = [f"{{{{ cc_account() }}}} as {ACCOUNT}"] + [
        field.name
        if pa.types.is_timestamp(field.type)
        else f"cast({field.name} as {STAGING_CASTS[field.type]}) as {field.name}"
        for field in table.schema
    ]
    return STAGING_SQL.format(
        header=_header(source),
        source=source.name,
        table=table.name,
        columns=",\n        ".join(selects),
    )


def generated_files(sources: tuple[LakeSource, ...] = SOURCES) -> dict[Path, str]:
    """Every generated file, by its path in the dbt project, with its text."""
    files: dict[Path, str] = {}
    for source in sources:
        files[source.folder / f"_{source.name}__sources.yml"] = sources_yaml(source)
        if source.staged:
            for table in source.tables.values():
                model = source.folder / staging_model_name(source, table)
                files[model.with_suffix(".sql")] = staging_sql(source, table)
                files[model.with_suffix(".yml")] = staging_yaml(source, table)
    return files


def strays(project_dir: Path, sources: tuple[LakeSource, ...] = SOURCES) -> list[Path]:
    """Files in a generated staging folder that the generator no longer writes (the model of a
    metric table since removed)."""
    wanted = set(generated_files(sources))
    return sorted(
        path.relative_to(project_dir)
        for source in sources
        if source.staged
        for path in (project_dir / source.folder).iterdir()
        if path.relative_to(project_dir) not in wanted
    )


def stale_files(
    project_dir: Path = PROJECT_DIR, sources: tuple[LakeSource, ...] = SOURCES
) -> list[Path]:
    """Generated files whose committed text differs from what the schemas generate (or that
    are missing), then the strays: empty when the dbt project is up to date."""
    stale = [
        path
        for path, text in generated_files(sources).items()
        if not (project_dir / path).is_file() or (project_dir / path).read_text() != text
    ]
    return stale + strays(project_dir, sources)


def write(project_dir: Path = PROJECT_DIR, sources: tuple[LakeSource, ...] = SOURCES) -> list[Path]:
    """Bring the dbt project up to date: write what changed, remove the strays. Returns the
    paths touched (an unchanged file keeps its modification time, so the manifest is parsed
    again only when something changed)."""
    touched = stale_files(project_dir, sources)
    files = generated_files(sources)
    for path in touched:
        target = project_dir / path
        if path in files:
            target.write_text(files[path])
        else:
            target.unlink()
    return touched


class _Dumper(yaml.SafeDumper):
    """dbt's own layout: list items indented under their key, a list of names on one line
    (`asset_key`), long strings on one line, and a string holding single quotes (Jinja's, an
    apostrophe) in double quotes rather than with its quotes doubled."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)

    def represent_str(self, data: str) -> yaml.ScalarNode:
        return self.represent_scalar(
            "tag:yaml.org,2002:str", data, style='"' if "'" in data else None
        )

    def represent_list(self, data: list) -> yaml.SequenceNode:
        names = all(isinstance(item, str) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=names)


_Dumper.add_representer(str, _Dumper.represent_str)
_Dumper.add_representer(list, _Dumper.represent_list)


def _dump(document: dict, header: str) -> str:
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, width=sys.maxsize, allow_unicode=True
    )
    return f"# {header}\n{body}"


def main() -> None:
    """`python -m cc_assets.defs.analytics.sources`: regenerate, print what changed."""
    touched = write()
    for path in touched:
        print(PROJECT_DIR / path)
    if not touched:
        print("dbt sources and email_metrics staging models already match the Arrow schemas")


if __name__ == "__main__":
    main()
