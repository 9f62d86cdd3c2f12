"""The lake on an object store: `CC_ASSETS_STORAGE=s3://bucket/prefix` against moto's real S3
HTTP server. A refresh lands every asset in the bucket, the metrics and the dbt marts are built
from it, and a SIGKILL mid-upload never leaves a readable partial object."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import s3fs

from cc_assets.constant_contact.schemas import RAW_TABLES, AssetTable
from cc_assets.defs.metrics.tables import (
    ACTIVITY_DEVICE_BREAKDOWN,
    ACTIVITY_ENGAGEMENT,
    CAMPAIGN_ENGAGEMENT,
    METRICS_PREFIX,
)
from cc_assets.lake.paths import RAW_PREFIX, lake_root
from cc_assets.lake.writer import read_partition, write_partition
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.analytics.test_dbt import assert_marts_equal_metrics, warehouse_marts
from cc_assets_tests.fixtures.object_store import ObjectStore
from cc_assets_tests.ingestion.test_refresh_cli import (
    assert_no_partial_files,
    assert_tracking_equals_truth,
    environment,
    kill_refresh_after,
    refresh,
)

REFRESH_TIMEOUT = 1200  # a generous bound, not a figure: S3 round trips on a loaded machine
METRICS_TABLES = (ACTIVITY_ENGAGEMENT, ACTIVITY_DEVICE_BREAKDOWN, CAMPAIGN_ENGAGEMENT)


def s3_environment(server: SandboxServer, store: ObjectStore, tmp_path: Path) -> dict[str, str]:
    return environment(server, tmp_path, CC_ASSETS_STORAGE=store.url(), **store.env())


def download(store: ObjectStore, into: Path) -> Path:
    """The bucket's lake as local files, so it is compared exactly like a local lake."""
    into.mkdir(parents=True)
    if store.keys("lake/"):  # a refresh killed early may have written nothing yet
        s3fs.S3FileSystem(skip_instance_cache=True).get(
            f"{store.bucket}/lake/", f"{into}/", recursive=True
        )
    return into


@pytest.mark.slow
@pytest.mark.timeout(REFRESH_TIMEOUT + 300)
def test_refresh_on_s3_lands_every_asset_and_builds_metrics_and_marts(
    sandbox: SandboxServer, object_store: ObjectStore, tmp_path: Path
) -> None:
    done = refresh(s3_environment(sandbox, object_store, tmp_path), timeout=REFRESH_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refresh complete" in done.stdout
    assert not (tmp_path / "lake").exists(), "nothing was written to the local default"

    keys = object_store.keys("lake/")
    for prefix, tables in ((RAW_PREFIX, RAW_TABLES.values()), (METRICS_PREFIX, METRICS_TABLES)):
        for table in tables:
            landed = [k for k in keys if k.startswith(f"lake/{prefix}/{table.name}/")]
            assert landed and all(k.endswith("/part-0.parquet") for k in landed), table.name
    assert not object_store.open_uploads()

    lake = download(object_store, tmp_path / "downloaded")
    assert_no_partial_files(lake)
    assert_tracking_equals_truth(lake, sandbox)
    assert_marts_equal_metrics(warehouse_marts(tmp_path / "warehouse.duckdb"), lake)


WRITER_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from datetime import UTC, datetime
    import pyarrow as pa
    from upath import UPath
    from cc_assets.constant_contact.schemas import AssetTable
    from cc_assets.lake.writer import write_partition

    table = AssetTable("big", pa.schema([("id", pa.int64()), ("blob", pa.string())]), "k", ("id",))
    # 5 MiB blocks (S3's smallest part); each row group (65,536 random 96-character strings)
    # is larger, so parts are uploaded while the partition is still being written
    root = UPath(sys.argv[1], default_block_size=5 * 2**20)

    def batches():
        for start in range(0, 3 * 65_536, 65_536):
            ids = list(range(start, start + 65_536))
            yield pa.record_batch([pa.array(ids), pa.array([os.urandom(48).hex() for _ in ids])],
                                  schema=table.schema)
        print("parts uploaded", flush=True)
        time.sleep(3600)  # killed here: the upload is begun, never completed

    write_partition(table, "1", batches(), captured_at=datetime.now(UTC), root=root)
    """
)


def test_sigkill_mid_upload_keeps_the_previous_object(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    """A writer killed with parts uploaded: readers still see the previous partition whole, no
    partial object exists; the rerun replaces it whole."""
    root = lake_root(object_store.url())
    table = AssetTable("big", pa.schema([("id", pa.int64()), ("blob", pa.string())]), "k", ("id",))
    previous = pa.table({"id": [1, 2], "blob": ["a", "b"]}, schema=table.schema)
    write_partition(table, "1", previous.to_batches(), captured_at=_now(), root=root)

    child = subprocess.Popen(
        [sys.executable, "-c", WRITER_CHILD, object_store.url()],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "parts uploaded"
    assert object_store.open_uploads() == ["lake/constant_contact/big/k=1/part-0.parquet"]
    child.send_signal(signal.SIGKILL)
    child.wait()

    assert object_store.keys("lake/") == ["lake/constant_contact/big/k=1/part-0.parquet"]
    assert read_partition(table, "1", root=root).equals(previous)

    rows = pa.table({"id": list(range(200_000)), "blob": ["x"] * 200_000}, schema=table.schema)
    written = write_partition(table, "1", rows.to_batches(), captured_at=_now(), root=root)
    assert written.rows == 200_000
    assert read_partition(table, "1", root=root).equals(rows)


def test_failed_write_aborts_its_upload(object_store: ObjectStore) -> None:
    root = lake_root(object_store.url())
    table = AssetTable("small", pa.schema([("id", pa.int64())]), "k", ("id",))

    def failing():
        yield pa.record_batch([pa.array([1])], schema=table.schema)
        raise RuntimeError("the API failed mid-report")

    with pytest.raises(RuntimeError, match="mid-report"):
        write_partition(table, "1", failing(), captured_at=_now(), root=root)
    assert object_store.keys("lake/") == []
    assert object_store.open_uploads() == []


@pytest.mark.slow
@pytest.mark.timeout(REFRESH_TIMEOUT + 300)
def test_killed_s3_refresh_then_rerun_equals_ground_truth(
    sandbox_factory, object_store: ObjectStore, tmp_path: Path
) -> None:
    server = sandbox_factory(latency_ms=15)
    env = s3_environment(server, object_store, tmp_path)
    rng = random.Random(20261202)
    for trial in range(2):
        kill_refresh_after(env, rng.uniform(3.0, 9.0))
        assert_no_partial_files(download(object_store, tmp_path / f"killed-{trial}"))
    done = refresh(env, timeout=REFRESH_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    lake = download(object_store, tmp_path / "downloaded")
    assert_no_partial_files(lake)
    assert_tracking_equals_truth(lake, server)


def _now() -> datetime:
    return datetime.now(UTC)
