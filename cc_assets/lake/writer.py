"""Crash-safe partition writes: a partition appears whole or not at all.

On a local disk, batches stream into a temporary file beside the target (named so no
`part-*.parquet` glob sees it), which is renamed over `part-0.parquet` only once complete. A
crash leaves the previous file (or nothing) readable, plus at worst a stray temporary file that
the next write removes.

On an object store (S3), batches stream as the parts of a multipart upload of the target
itself, which is completed only once the file is whole: until then readers see the previous
object (or none), and an upload abandoned by a crash is never readable (a bucket lifecycle rule
that aborts incomplete multipart uploads reclaims its parts). A failed write aborts it.
Every batch is checked against the asset's one fixed schema, so a drifted API field fails
loudly here instead of producing a file dbt cannot read.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.constant_contact.schemas import SNAPSHOT_DATE, AssetTable
from cc_assets.lake.paths import PART_FILE, RAW_PREFIX, is_local, location, partition_dir

TMP_PREFIX = ".tmp-"
ROW_GROUP_ROWS = 65_536
"""Pages are small (500 rows); buffering them into row groups of this size keeps files
compact and fast to read, while memory stays bounded whatever the report's size."""


class SchemaMismatchError(ValueError):
    """A batch does not fit the asset's fixed schema."""


@dataclass(frozen=True)
class WriteResult:
    rows: int
    path: str


def conform(
    table: AssetTable, batch: pa.RecordBatch, key: str | None, captured_at: datetime
) -> pa.RecordBatch:
    """Add what the writer owns (capture time, snapshot date) and cast to the fixed schema."""
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    n = batch.num_rows
    if "captured_at" in table.schema.names:
        now = pa.array([captured_at] * n, table.schema.field("captured_at").type)
        held = columns.get("captured_at")
        # rows carried over from an earlier capture keep their own time; new rows get this one
        columns["captured_at"] = now if held is None else pc.fill_null(held.cast(now.type), now)
    if table.partition_column == SNAPSHOT_DATE and key is not None:
        columns[SNAPSHOT_DATE] = pa.array([date.fromisoformat(key)] * n, pa.date32())
    unknown = set(columns) - set(table.schema.names)
    missing = set(table.schema.names) - set(columns)
    if unknown or missing:
        raise SchemaMismatchError(
            f"{table.name}: unknown columns {sorted(unknown)}, missing columns {sorted(missing)}"
        )
    arrays = []
    for field in table.schema:
        try:
            arrays.append(columns[field.name].cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaMismatchError(f"{table.name}.{field.name}: {exc}") from None
    return pa.RecordBatch.from_arrays(arrays, schema=table.schema)


def write_partition(
    table: AssetTable,
    key: str | None,
    batches: Iterable[pa.RecordBatch],
    *,
    captured_at: datetime,
    root: UPath | None = None,
    prefix: str = RAW_PREFIX,
) -> WriteResult:
    """Stream `batches` into the partition and swap it in atomically. Returns rows written."""
    target = partition_dir(table, key, root, prefix) / PART_FILE
    rows = 0
    with (
        _atomic_sink(target) as handle,
        pq.ParquetWriter(handle, table.schema, compression="zstd") as writer,
    ):
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in batches:
            if batch.num_rows:
                pending.append(conform(table, batch, key, captured_at))
                rows += batch.num_rows
                pending_rows += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending))
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending))
    return WriteResult(rows=rows, path=location(target))


@contextmanager
def _atomic_sink(target: UPath) -> Iterator[BinaryIO]:
    """A writable handle whose bytes become `target` only when the block exits cleanly."""
    if not is_local(target):
        # autocommit=False: parts are uploaded as they fill, the upload completes at commit()
        handle = target.fs.open(target.path, "wb", autocommit=False)
        try:
            yield handle
            handle.close()
        except BaseException:
            handle.discard()
            raise
        handle.commit()
        return
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{TMP_PREFIX}*"):
        stale.unlink()
    temp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}.parquet"
    try:
        with temp.open("wb") as handle:
            yield handle
        os.replace(temp.path, target.path)
    except BaseException:
        if temp.exists():
            temp.unlink()
        raise


def read_partition(
    table: AssetTable, key: str | None, *, root: UPath | None = None, prefix: str = RAW_PREFIX
) -> pa.Table | None:
    """The partition's rows, or None when it was never written."""
    target = partition_dir(table, key, root, prefix) / PART_FILE
    if not target.exists():
        return None
    with target.open("rb") as handle:
        return pq.read_table(handle)


def read_head(
    table: AssetTable,
    key: str | None,
    rows: int,
    *,
    root: UPath | None = None,
    prefix: str = RAW_PREFIX,
) -> pa.Table | None:
    """The partition's first `rows` rows, or None when it was never written.

    For previews: reading the whole partition to show five rows held a 1,000,000-row report
    in memory (hundreds of megabytes); this decodes only the first row group's first batch."""
    target = partition_dir(table, key, root, prefix) / PART_FILE
    if not target.exists():
        return None
    with target.open("rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=max(rows, 1)):
            return pa.Table.from_batches([batch])
    return table.schema.empty_table()
