"""Where each asset's files live, and how every reader opens them.

Layout: `{root}/{prefix}/{asset}/{dimension}={key}/part-0.parquet`. The root is a local folder
or an object-store URL (`s3://bucket/prefix`); this module is the only place that turns the
layout into paths, lists partition files and opens a DuckDB connection that can read them, so
a local lake and an object-store lake are read the same way by every asset, check and sensor.

Object stores are reached through fsspec (s3fs for `s3://`), configured only by the standard
AWS variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_DEFAULT_REGION`), which botocore reads itself. DuckDB gets the same fsspec filesystem
registered on its connection, so it needs no extension of its own (httpfs) to read the lake.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence

import duckdb
from upath import UPath

from cc_assets.constant_contact.schemas import AssetTable

RAW_PREFIX = "constant_contact"
PART_FILE = "part-0.parquet"
PART_GLOB = "part-*.parquet"
DUCKDB_MEMORY_LIMIT = "128MB"
"""What one lake connection's DuckDB may hold before it spills to disk. DuckDB's default is
80% of the machine's RAM, so a GROUP BY or join over a 1,000,000-row partition grew the
process by hundreds of megabytes; the design holds every process of a refresh to 400 MB, and
DuckDB's aggregates, joins and sorts spill to `temp_directory` instead of failing. Distinct
contacts are counted by grouping (`GROUP BY contact_id`, then `count`), never with
`count(DISTINCT ...)`: that one does not spill, and at 128MB the metrics over 10,000,000
events failed with DuckDB's out-of-memory error while it was used."""
DUCKDB_THREADS = 1
"""DuckDB threads of one lake connection. Each thread holds its own share of an aggregate
before DuckDB spills: on two threads the metrics over 10,000,000 events failed out of memory
at 128MB in some runs (one in two, on a loaded machine), on one they never did."""
LOCAL_PROTOCOLS = frozenset({"", "file", "local"})


def lake_root(root: str | os.PathLike[str] | None = None) -> UPath:
    """`CC_ASSETS_STORAGE` (a local path or an fsspec URL), default `./data/lake`.

    A local path is made absolute, so dbt and DuckDB, started elsewhere, read the same files.
    An object store is opened without fsspec's listings cache: sensors and code servers live
    for days while runs in other processes add partitions, and a cached listing would hide them.
    """
    raw = str(root) if root is not None else os.environ.get("CC_ASSETS_STORAGE", "data/lake")
    if "://" in raw:
        path = UPath(raw)
        return path if is_local(path) else UPath(raw, use_listings_cache=False)
    return UPath(os.path.abspath(raw))


def is_local(path: UPath) -> bool:
    return path.protocol in LOCAL_PROTOCOLS


def location(path: UPath) -> str:
    """`path` as DuckDB, dbt and logs name it: a plain local path, or the full URL
    (`UPath.path` alone would drop the `s3://` scheme and read the bucket as a folder)."""
    return str(path.path) if is_local(path) else str(path)


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


def partition_files(
    table: AssetTable,
    root: UPath | None = None,
    keys: Sequence[str] | None = None,
    prefix: str = RAW_PREFIX,
) -> list[str]:
    """The written files of `table` (of the partitions `keys`, or all), as `location()`s in
    partition order (so the last of a daily asset is its newest snapshot).

    A list rather than a glob: DuckDB fails on a glob that matches nothing, and listing once
    here is one request on an object store, where a glob per reader would be one each."""
    if keys is not None:
        files = [partition_file(table, key, root, prefix) for key in keys]
        return [location(f) for f in files if f.exists()]
    folder = asset_dir(table, root, prefix)
    if table.partition_column is None:
        found = list(folder.glob(PART_GLOB)) if folder.exists() else []
    else:
        found = list(folder.glob(f"*/{PART_GLOB}")) if folder.exists() else []
    return sorted(location(f) for f in found)


def connect(root: UPath | None = None, threads: int = DUCKDB_THREADS) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC that reads the lake at `root` (default `lake_root()`): for an
    object store, its fsspec filesystem is registered, so `read_parquet('s3://...')` works.
    Its memory is bounded (`DUCKDB_MEMORY_LIMIT` on `threads` threads); beyond that DuckDB
    spills to a temporary folder of its own."""
    root = root or lake_root()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    # One folder per connection (DuckDB removes it on close): the default, `.tmp` in the
    # working directory, would be shared by every process started there.
    spill = os.path.join(tempfile.gettempdir(), f"cc_assets-duckdb-{uuid.uuid4().hex}")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"SET threads = {int(threads)}")
    if not is_local(root):
        con.register_filesystem(root.fs)
    return con
