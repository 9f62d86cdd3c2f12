"""Where each asset's files live: `{root}/{prefix}/{asset}/{dimension}={key}/part-0.parquet`."""

from __future__ import annotations

import os

from upath import UPath

from cc_assets.lake.schemas import AssetTable

RAW_PREFIX = "constant_contact"
PART_FILE = "part-0.parquet"
PART_GLOB = "part-*.parquet"


def lake_root(root: str | os.PathLike[str] | None = None) -> UPath:
    """`CC_ASSETS_STORAGE` (a local path or an fsspec URL), default `./data/lake`.

    A local path is made absolute, so dbt and DuckDB, started elsewhere, read the same files.
    """
    raw = str(root) if root is not None else os.environ.get("CC_ASSETS_STORAGE", "data/lake")
    if "://" in raw:
        return UPath(raw)
    return UPath(os.path.abspath(raw))


def asset_dir(table: AssetTable, root: UPath | None = None, prefix: str = RAW_PREFIX) -> UPath:
    return (root or lake_root()) / prefix / table.name


def partition_dir(
    table: AssetTable, key: str | None, root: UPath | None = None, prefix: str = RAW_PREFIX
) -> UPath:
    """The hive folder of one partition (the asset folder itself when unpartitioned)."""
    folder = asset_dir(table, root, prefix)
    if table.partition_column is None:
        return folder
    if key is None:
        raise ValueError(
            f"{table.name} is partitioned by {table.partition_column}: a key is needed"
        )
    return folder / f"{table.partition_column}={key}"


def partition_file(
    table: AssetTable, key: str | None, root: UPath | None = None, prefix: str = RAW_PREFIX
) -> UPath:
    return partition_dir(table, key, root, prefix) / PART_FILE
