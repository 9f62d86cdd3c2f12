"""Where each asset's files live, and how every reader opens them.

Layout: `{root}/{prefix}/{asset}/{dimension}={key}/part-0.parquet`, under
`{root}/account=<name>/` for each account of an accounts file (`account_root`). The root is a
local folder or an object-store URL (`s3://bucket/prefix`); this module is the only place that
turns the layout into paths, lists partition files and opens a DuckDB connection that can read
them, so a local lake and an object-store lake are read the same way by every asset, check and
sensor.

Object stores are reached through fsspec (s3fs for `s3://`), configured only by the standard
AWS variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_DEFAULT_REGION`), which botocore reads itself. DuckDB gets the same fsspec filesystem
registered on its connection, so it needs no extension of its own (httpfs) to read the lake.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
from upath import UPath

from cc_assets.constant_contact.accounts import SINGLE
from cc_assets.constant_contact.accounts import VARIABLE as ACCOUNTS_VARIABLE
from cc_assets.constant_contact.schemas import AssetTable
from cc_assets.settings import Settings, load_settings

RAW_PREFIX = "constant_contact"
PART_FILE = "part-0.parquet"
PART_GLOB = "part-*.parquet"
DUCKDB_MEMORY_LIMIT = "128MB"
"""What a lake connection's DuckDB may hold before it spills to disk when it runs beside other
work in its process (checks, sensors, previews, a report's de-duplication). DuckDB's default is
80% of the machine's RAM, so a GROUP BY or join over a 1,000,000-row partition grew the
process by hundreds of megabytes; the design holds every process of a refresh to 400 MB, and
DuckDB's aggregates, joins and sorts spill to `temp_directory` instead of failing. Distinct
contacts are counted by grouping (`GROUP BY contact_id`, then `count`), never with
`count(DISTINCT ...)`: that one does not spill, and at 128MB the metrics over 10,000,000
events failed with DuckDB's out-of-memory error while it was used."""
DUCKDB_THREADS = 1
"""DuckDB threads of such a connection. Each thread holds its own share of an aggregate
before DuckDB spills: on two threads the metrics over 10,000,000 events (then one grouping of
the whole lake) failed out of memory at 128MB in some runs, on one they never did."""
PROCESS_MEMORY_BOUND_MB = 400
"""The design's bound on every process of a refresh (resident memory)."""
RESULT_RESERVE_MB = 120
"""What a stage keeps free beside DuckDB's own limit: the Arrow results it fetches, pyarrow's
pool and DuckDB's allocations outside its buffer manager (per-thread state, Parquet reads)."""
STAGE_MEMORY_MB = (128, 256)
"""The least and the most a stage's DuckDB gets (`stage_limits`)."""
STAGE_THREADS_MAX = 2
"""Threads of a stage's DuckDB at most: more threads only add per-thread memory on a machine
where the refresh's stages run one at a time and the bound is per process."""


@dataclass(frozen=True)
class DuckDBLimits:
    """The memory limit (MB) and thread count of one DuckDB connection."""

    memory_mb: int
    threads: int


SHARED = DuckDBLimits(int(DUCKDB_MEMORY_LIMIT.removesuffix("MB")), DUCKDB_THREADS)
"""A connection that runs beside other work in its process: the default of `connect`."""


def resident_mb() -> float:
    """This process's resident memory now (Linux `/proc/self/statm`), else its peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def stage_limits() -> DuckDBLimits:
    """The limits of a heavy stage's own DuckDB work (the activity metrics): the process runs
    it alone (a stage's runs go one after another, each stage in a process of its own), so it
    may use every core the process may run on, up to `STAGE_THREADS_MAX`, and the memory the
    process has left under `PROCESS_MEMORY_BOUND_MB` after what it holds now and
    `RESULT_RESERVE_MB`, within `STAGE_MEMORY_MB`. A Dagster stage process that has loaded its
    definitions (~250 MB) gets the least; a lean process (the benchmark's) more."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    left = PROCESS_MEMORY_BOUND_MB - resident_mb() - RESULT_RESERVE_MB
    low, high = STAGE_MEMORY_MB
    return DuckDBLimits(int(min(max(left, low), high)), max(1, min(cores or 1, STAGE_THREADS_MAX)))


LOCAL_PROTOCOLS = frozenset({"", "file", "local"})


def lake_root(root: str | os.PathLike[str] | None = None) -> UPath:
    """`root`, else the settings' (`CC_ASSETS_STORAGE`): a local path or an fsspec URL.

    A local path is made absolute, so dbt and DuckDB, started elsewhere, read the same files.
    An object store is opened without fsspec's listings cache: sensors and code servers live
    for days while runs in other processes add partitions, and a cached listing would hide them.
    """
    raw = str(root) if root is not None else load_settings().lake
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


ACCOUNT_LEVEL = "account"


def account_root(root: UPath, account: str | None) -> UPath:
    """The lake of one account of an accounts file: a whole single-account lake under
    `{root}/account=<name>/`, so every reader works on it unchanged, one account's data is
    dropped or re-read as one folder, and DuckDB's hive partitioning gives rows read across
    accounts an `account` column. None (no file): the root itself, the lake as it always was."""
    return root if account is None else root / f"{ACCOUNT_LEVEL}={account}"


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


def partition_key(file: str) -> str:
    """The partition key of a file listed by `partition_files` (`.../<column>=<key>/part-0...`)."""
    return file.rsplit("/", 2)[-2].split("=", 1)[1]


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


def connect(root: UPath | None = None, limits: DuckDBLimits = SHARED) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC that reads the lake at `root` (default `lake_root()`): for an
    object store, its fsspec filesystem is registered, so `read_parquet('s3://...')` works.
    Its memory and threads are bounded (`limits`: `SHARED` unless the caller runs alone, see
    `stage_limits`); beyond the memory limit DuckDB spills to a temporary folder of its own."""
    root = root or lake_root()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{int(limits.memory_mb)}MB'")
    # One folder per connection (DuckDB removes it on close): the default, `.tmp` in the
    # working directory, would be shared by every process started there.
    spill = os.path.join(tempfile.gettempdir(), f"cc_assets-duckdb-{uuid.uuid4().hex}")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"SET threads = {int(limits.threads)}")
    if not is_local(root):
        con.register_filesystem(root.fs)
    return con


def per_account_lake(settings: Settings | None = None) -> bool:
    """Whether the lake is one lake per account: the settings name an accounts file
    (`CC_ASSETS_ACCOUNTS`). Without one the one account's lake is the root itself."""
    settings = settings or load_settings()
    return bool(settings.environ.get(ACCOUNTS_VARIABLE, "").strip())


def account_lakes(root: UPath, per_account: bool) -> list[tuple[str, UPath]]:
    """Each account's name and lake root (`account_root`), by name: every `account=<name>`
    folder of a per-account lake (what dbt's `account=*` reads), else the single account
    (`default`) at the root."""
    if not per_account:
        return [(SINGLE, root)]
    folders = root.glob(f"{ACCOUNT_LEVEL}=*") if root.exists() else []
    return sorted((f.name.split("=", 1)[1], f) for f in folders if f.is_dir())
