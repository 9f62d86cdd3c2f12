"""The raw lake as PostgreSQL tables, for dbt's `postgres` target.

PostgreSQL cannot read Parquet in place, so every raw asset becomes a table of one schema
(`cc_assets_raw`, the dbt sources' schema on that target), rebuilt from all of the asset's
partition files, local or on an object store. The whole load is one transaction: dbt, reading
at the same time, sees the previous load or this one, never a half-loaded table. The tables'
columns are the assets' fixed schemas.

    python -m cc_assets.lake.postgres_load   # the lake of CC_ASSETS_STORAGE into CC_ASSETS_PG_*
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.lake.paths import lake_root, partition_files
from cc_assets.lake.schemas import RAW_TABLES

RAW_SCHEMA = "cc_assets_raw"
PG_TYPES = {
    pa.string(): "text",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.date32(): "date",
}


def pg_type(dtype: pa.DataType) -> str:
    return "timestamptz" if pa.types.is_timestamp(dtype) else PG_TYPES[dtype]


def load_raw_tables(
    conn: Any, root: UPath | None = None, schema: str = RAW_SCHEMA
) -> dict[str, int]:
    """Replace `schema`'s tables with the lake at `root`, over the psycopg connection `conn`
    (committed here). Returns the rows loaded per table."""
    root = root or lake_root()
    loaded: dict[str, int] = {}
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for name, table in RAW_TABLES.items():
            columns = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in table.schema)
            names = ", ".join(f'"{f.name}"' for f in table.schema)
            # emptied, not dropped: dbt's views over the table stay valid
            cur.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{name} ({columns})")
            cur.execute(f"TRUNCATE {schema}.{name}")
            loaded[name] = 0
            with cur.copy(f"COPY {schema}.{name} ({names}) FROM STDIN") as copy:
                for file in partition_files(table, root):
                    with UPath(file, **root.storage_options).open("rb") as handle:
                        rows = pq.read_table(handle).to_pylist()
                    for row in rows:  # a column the file lacks (captured_at) loads as null
                        copy.write_row([row.get(c) for c in table.schema.names])
                    loaded[name] += len(rows)
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
        loaded = load_raw_tables(conn)
    for name, rows in loaded.items():
        print(f"{RAW_SCHEMA}.{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
