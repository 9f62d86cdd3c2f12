"""The lake as PostgreSQL tables, for dbt's `postgres` target.

PostgreSQL cannot read Parquet in place, so every raw asset becomes a table of `cc_assets_raw`
and every metric asset a table of `cc_assets_metrics` (the dbt sources' schemas on that target),
rebuilt from all of the asset's partition files, local or on an object store. The whole load
is one transaction: dbt, reading at the same time, sees the previous load or this one, never a
half-loaded table. The tables' columns are the assets' fixed schemas.

    python -m cc_assets.lake.postgres_load   # the lake of CC_ASSETS_STORAGE into CC_ASSETS_PG_*
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.constant_contact.schemas import RAW_TABLES, AssetTable
from cc_assets.defs.metrics.tables import METRIC_TABLES, METRICS_PREFIX
from cc_assets.lake.paths import RAW_PREFIX, lake_root, partition_files

RAW_SCHEMA = "cc_assets_raw"
METRICS_SCHEMA = "cc_assets_metrics"
LOADED: tuple[tuple[str, str, dict[str, AssetTable]], ...] = (
    (RAW_SCHEMA, RAW_PREFIX, RAW_TABLES),
    (METRICS_SCHEMA, METRICS_PREFIX, METRIC_TABLES),
)
"""(schema, lake prefix, tables): what the warehouse holds of the lake."""
SQL_TYPES = {
    pa.string(): "text",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.date32(): "date",
}


def sql_type(dtype: pa.DataType) -> str:
    """An Arrow column's SQL type, spelled as PostgreSQL and DuckDB both read it: the type of
    the warehouse's lake tables here, and so the `data_type` the dbt sources over them declare
    (`cc_assets.defs.analytics.sources`). Every timestamp of the lake is UTC."""
    return "timestamp with time zone" if pa.types.is_timestamp(dtype) else SQL_TYPES[dtype]


def load_lake(conn: Any, root: UPath | None = None) -> dict[str, int]:
    """Replace the warehouse's lake tables (`LOADED`) with the lake at `root`, over the psycopg
    connection `conn`, in one transaction (committed here). Returns rows loaded per table."""
    root = root or lake_root()
    loaded: dict[str, int] = {}
    with conn.cursor() as cur:
        for schema, prefix, tables in LOADED:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for name, table in tables.items():
                columns = ", ".join(f'"{f.name}" {sql_type(f.type)}' for f in table.schema)
                names = ", ".join(f'"{f.name}"' for f in table.schema)
                # emptied, not dropped: dbt's views over the table stay valid
                cur.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{name} ({columns})")
                cur.execute(f"TRUNCATE {schema}.{name}")
                key = f"{schema}.{name}"
                loaded[key] = 0
                with cur.copy(f"COPY {schema}.{name} ({names}) FROM STDIN") as copy:
                    for file in partition_files(table, root, prefix=prefix):
                        with UPath(file, **root.storage_options).open("rb") as handle:
                            rows = pq.read_table(handle).to_pylist()
                        for row in rows:  # a column the file lacks (captured_at) loads as null
                            copy.write_row([row.get(c) for c in table.schema.names])
                        loaded[key] += len(rows)
    conn.commit()
    return loaded


def connection_settings() -> dict[str, str]:
    """The warehouse dbt's `postgres` profile uses: the same CC_ASSETS_PG_* variables."""
    env = os.environ
    settings = {
        "host": env.get("CC_ASSETS_PG_HOST", "127.0.0.1"),
        "port": env.get("CC_ASSETS_PG_PORT", "5432"),
        "user": env.get("CC_ASSETS_PG_USER", "postgres"),
        "password": env.get("CC_ASSETS_PG_PASSWORD", ""),
        "dbname": env.get("CC_ASSETS_PG_DATABASE", "test"),
    }
    return {k: v for k, v in settings.items() if v}


def main() -> int:
    import psycopg  # noqa: PLC0415 - the `postgres` extra

    with psycopg.connect(**connection_settings()) as conn:
        loaded = load_lake(conn)
    for name, rows in loaded.items():
        print(f"{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
