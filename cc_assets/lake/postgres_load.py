"""The lake as PostgreSQL tables, for dbt's `postgres` target.

PostgreSQL cannot read Parquet in place, so every raw asset becomes a table of `cc_assets_raw`
and every metric asset a table of `cc_assets_metrics` (the dbt sources' schemas on that target),
rebuilt from all of the asset's partition files, local or on an object store. The whole load
is one transaction: dbt, reading at the same time, sees the previous load or this one, never a
half-loaded table. The tables' columns are the assets' fixed schemas and `account`, the
account a row is of (the `account=<name>` folder of a per-account lake, `default` for the one
account's lake: what DuckDB's hive partitioning gives dbt on the lake itself); a column a schema
gained since the table was created is added to it, and a file written before the column existed
loads it as null.

Files are streamed a record batch at a time (`ParquetFile.iter_batches` into `COPY ... FROM
STDIN`): a partition held whole as Python objects peaked at 1,259 MB at 1,000,000 rows, where every
process of the project stays within 400 MB (`benchmarks/postgres_load_memory.py`).

    python -m cc_assets.lake.postgres_load   # the lake of CC_ASSETS_STORAGE into CC_ASSETS_PG_*
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.constant_contact.schemas import RAW_TABLES, AssetTable
from cc_assets.defs.metrics.tables import METRIC_TABLES, METRICS_PREFIX
from cc_assets.lake.paths import (
    ACCOUNT_LEVEL,
    RAW_PREFIX,
    account_lakes,
    lake_root,
    partition_files,
    per_account_lake,
)
from cc_assets.settings import load_settings

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


BATCH_ROWS = 8_192
"""Rows converted to Python values at once: a few MB, whatever a partition's size."""


def _loaded_fields(table: AssetTable) -> list[pa.Field]:
    """A warehouse table's columns: the asset's, and its rows' account (unless the asset's
    schema has it already: `account_summary` writes it)."""
    fields = list(table.schema)
    if ACCOUNT_LEVEL not in table.schema.names:
        fields.append(pa.field(ACCOUNT_LEVEL, pa.string()))
    return fields


def load_lake(conn: Any, root: UPath, per_account: bool = False) -> dict[str, int]:
    """Replace the warehouse's lake tables (`LOADED`) with the lake at `root` (one lake per
    account under it when `per_account`), over the psycopg connection `conn`, in one
    transaction (committed here). Returns rows loaded per table."""
    from psycopg.copy import LibpqWriter  # noqa: PLC0415 - the `postgres` extra

    loaded: dict[str, int] = {}
    lakes = account_lakes(root, per_account)
    with conn.cursor() as cur:
        for schema, prefix, tables in LOADED:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for name, table in tables.items():
                fields = _loaded_fields(table)
                columns = ", ".join(f'"{f.name}" {sql_type(f.type)}' for f in fields)
                names = ", ".join(f'"{f.name}"' for f in fields)
                # emptied, not dropped: dbt's views over the table stay valid
                cur.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{name} ({columns})")
                for f in fields:
                    cur.execute(
                        f'ALTER TABLE {schema}.{name} ADD COLUMN IF NOT EXISTS "{f.name}" '
                        f"{sql_type(f.type)}"
                    )
                cur.execute(f"TRUNCATE {schema}.{name}")
                key = f"{schema}.{name}"
                loaded[key] = 0
                # the libpq writer waits for the server past 1 MB unsent; psycopg's default
                # queues up to 1,024 buffers for a thread (~200 MB at 1,000,000 rows)
                writer = LibpqWriter(cur)
                with cur.copy(f"COPY {schema}.{name} ({names}) FROM STDIN", writer=writer) as copy:
                    for account, lake in lakes:
                        for file in partition_files(table, lake, prefix=prefix):
                            path = UPath(file, **root.storage_options)
                            for rows in _row_batches(path, table, account):
                                for row in rows:
                                    copy.write_row(row)
                                loaded[key] += len(rows)
    conn.commit()
    return loaded


def _row_batches(file: UPath, table: AssetTable, account: str) -> Iterator[list[tuple[Any, ...]]]:
    """The file's rows in the warehouse table's column order (`_loaded_fields`), `BATCH_ROWS`
    at a time; a column the file lacks (written before the schema had it) is null, and the
    account column is `account`."""
    with file.open("rb") as handle:
        # one row group at a time, on this thread: read-ahead and parallel decoding of the
        # 65,536-row groups cost ~60 MB at 1,000,000 rows and speed nothing COPY waits on
        parquet = pq.ParquetFile(handle, pre_buffer=False)
        present = set(parquet.schema_arrow.names)
        wanted = [n for n in table.schema.names if n in present]
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted, use_threads=False)
        for batch in batches:
            nulls = [None] * batch.num_rows
            columns = [
                batch.column(n).to_pylist() if n in present else nulls for n in table.schema.names
            ]
            if ACCOUNT_LEVEL not in table.schema.names:
                columns.append([account] * batch.num_rows)
            yield list(zip(*columns, strict=True))


def main() -> int:
    import psycopg  # noqa: PLC0415 - the `postgres` extra

    # Arrow's default allocator (mimalloc) keeps what a row group freed: ~30 MB more at
    # 1,000,000 rows. This process only streams, so the system allocator costs nothing.
    pa.set_memory_pool(pa.system_memory_pool())
    settings = load_settings()
    with psycopg.connect(**settings.postgres) as conn:
        loaded = load_lake(conn, lake_root(settings.lake), per_account_lake(settings))
    for name, rows in loaded.items():
        print(f"{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
