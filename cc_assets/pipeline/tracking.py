"""Incremental refresh of one tracking report of one activity.

The API serves newest first and has no date filter, so a refresh reads pages
only until it reaches what the previous snapshot holds. Everything from the previous snapshot's
newest second onwards (`cutoff`) is taken from the API again, so events that share that second
are neither lost nor doubled; older rows are carried over from the previous file, streamed.
API calls therefore grow with the new events (at most ceil(k / 500) + 1 per report), not with
the history.

`didnotopens` is the exception: a contact leaves it when they open, which a newest-first read
cannot see, so it is read in full. `unique_opens` keeps one row per contact: a contact with a
newer open is dropped from the carried-over rows.

Every row read is checked by the client (required fields, its own activity, a sane
`created_time`); a refused page raises before the partition file is swapped, so the previous
file stays exactly as it was and its watermark is never moved by a row that was not trusted.
A row whose natural key was already read in this refresh is dropped, on first reads too: the
keys are remembered as 64-bit hashes (`SeenKeys`: a sorted NumPy array, about 8 bytes a row),
not as the rows themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.constant_contact.validation import CLOCK_SKEW
from cc_assets.lake.paths import partition_file
from cc_assets.lake.writer import WriteResult, write_partition

OVERLAP = timedelta(seconds=1)
FULL_READ_REPORTS = frozenset({"didnotopens"})


@dataclass
class TrackingRefresh:
    report: str
    rows: int
    new_rows: int
    pages: int
    api_calls: int
    watermark: datetime | None
    path: str
    full_read: bool
    read: str = "api"  # or "derived": written from the events held (pipeline.derived)


def previous_watermark(path: UPath) -> datetime | None:
    """The newest `created_time` already held, read from one column only."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        column = pq.read_table(handle, columns=["created_time"])["created_time"]
    if len(column) == 0:
        return None
    return pc.max(column).as_py()


def refresh_tracking(
    client: ConstantContactClient,
    activity_id: str,
    report: str,
    *,
    captured_at: datetime,
    root: UPath | None = None,
    expected_rows: int | None = None,
) -> TrackingRefresh:
    """Refresh one report's partition. `expected_rows` (the activity's stats count for this
    report, when known) bounds the pages read; see `ConstantContactClient.iter_tracking`."""
    table = TRACKING_TABLES[report]
    target = partition_file(table, activity_id, root)
    watermark = None if report in FULL_READ_REPORTS else previous_watermark(target)
    if watermark is not None and watermark > captured_at + CLOCK_SKEW:
        watermark = None  # a future event held from before rows were checked: read in full
    calls_before, pages_before = client.calls, client.pages
    counts = {"new": 0}
    fresh_contacts: set[str] = set()
    cutoff = watermark - OVERLAP if watermark is not None else None

    def fresh() -> Iterator[pa.RecordBatch]:
        seen = SeenKeys()
        for batch in client.iter_tracking(activity_id, report, expected_rows=expected_rows):
            if cutoff is None:
                recent = _dedupe(batch, table.natural_key, seen)
                counts["new"] += recent.num_rows
                yield recent
                continue
            keep = pc.greater_equal(
                batch["created_time"], pa.scalar(cutoff, batch["created_time"].type)
            )
            recent = batch.filter(keep)
            reached_old = recent.num_rows < batch.num_rows
            recent = _dedupe(recent, table.natural_key, seen)
            counts["new"] += recent.num_rows
            if report == "unique_opens":
                fresh_contacts.update(recent["contact_id"].to_pylist())
            yield recent
            if reached_old:
                break  # this page reached rows the previous snapshot already holds

    def merged() -> Iterator[pa.RecordBatch]:
        yield from fresh()
        if cutoff is None or not target.exists():
            return
        with target.open("rb") as handle:
            for stored in pq.ParquetFile(handle).iter_batches(batch_size=65_536):
                old = stored.drop_columns(["captured_at"])
                keep = pc.less(old["created_time"], pa.scalar(cutoff, old["created_time"].type))
                if fresh_contacts:
                    newer = pc.is_in(old["contact_id"], pa.array(list(fresh_contacts)))
                    keep = pc.and_(keep, pc.invert(newer))
                yield old.filter(keep)

    result: WriteResult = write_partition(
        table, activity_id, merged(), captured_at=captured_at, root=root
    )
    newest = previous_watermark(target)
    return TrackingRefresh(
        report=report,
        rows=result.rows,
        new_rows=counts["new"],
        pages=client.pages - pages_before,
        api_calls=client.calls - calls_before,
        watermark=newest,
        path=result.path,
        full_read=cutoff is None,
    )


class SeenKeys:
    """The 64-bit hashes of the keys taken so far in one refresh, in bounded memory.

    A Python set of a million hashes costs ~77 MB (an int object and a hash-table slot each);
    here they live in a sorted int64 array (8 bytes each) plus a small set of the newest ones,
    merged into the array once it holds `MERGE_AT`, so a million-row report costs ~10 MB and
    about twenty merges."""

    MERGE_AT = 65_536

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.int64)
        self._recent: set[int] = set()

    def _held(self, hashes: np.ndarray) -> np.ndarray:
        """Which of `hashes` the sorted array already holds."""
        if not len(self._sorted):
            return np.zeros(len(hashes), dtype=bool)
        at = np.searchsorted(self._sorted, hashes).clip(max=len(self._sorted) - 1)
        return self._sorted[at] == hashes

    def take(self, hashes: list[int]) -> list[bool] | None:
        """Remember `hashes`; returns None when all are new and distinct (the usual page),
        else for each whether it is the first of its key (seen neither before nor earlier in
        `hashes`)."""
        held = self._held(np.fromiter(hashes, dtype=np.int64, count=len(hashes)))
        fresh = set(hashes)
        if len(fresh) == len(hashes) and not held.any() and self._recent.isdisjoint(fresh):
            self._add(fresh)
            return None
        mask = []
        for digest, old in zip(hashes, held.tolist(), strict=True):
            mask.append(not old and digest not in self._recent)
            self._recent.add(digest)
        self._add(set())
        return mask

    def _add(self, hashes: set[int]) -> None:
        self._recent |= hashes
        if len(self._recent) >= self.MERGE_AT:
            merged = np.concatenate([self._sorted, np.fromiter(self._recent, dtype=np.int64)])
            merged.sort()  # not np.unique: NumPy 2's hashing unique is ~50x slower here
            first = np.ones(len(merged), dtype=bool)
            first[1:] = merged[1:] != merged[:-1]
            self._sorted = merged[first]
            self._recent = set()


def _dedupe(batch: pa.RecordBatch, key: tuple[str, ...], seen: SeenKeys) -> pa.RecordBatch:
    """Drop rows whose natural key was already taken in this refresh: a server that repeats a
    row (across pages or within one) must not double it. Keys are kept as their hash, so a
    million-row report costs about ten megabytes; two different keys sharing a 64-bit hash
    (odds about 1 in 10^7 for a million rows) would drop a row, a risk taken for bounded memory.
    The activity id is left out of the key: the client has checked it is the requested one."""
    if batch.num_rows == 0:
        return batch
    columns = [batch[name].to_pylist() for name in key if name != "campaign_activity_id"]
    hashes = list(map(hash, columns[0] if len(columns) == 1 else zip(*columns, strict=True)))
    mask = seen.take(hashes)
    if mask is None:
        return batch  # the usual page: nothing repeated, no copy
    return batch.filter(pa.array(mask))
