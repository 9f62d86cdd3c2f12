"""Data-quality measurements of a written partition, for the asset checks.

Plain functions over Parquet files so they are testable without Dagster; the assets turn them
into asset-check results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
from upath import UPath

from cc_assets.constant_contact.schemas import AssetTable
from cc_assets.lake.paths import connect, location


@dataclass
class Finding:
    """The outcome of one data-quality measurement, as an asset check reports it."""

    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def schema_matches(table: AssetTable, path: UPath) -> Finding:
    with path.open("rb") as handle:
        actual = pq.read_schema(handle)
    same = actual.equals(table.schema)
    return Finding(same, {"expected": str(table.schema.names), "actual": str(actual.names)})


def duplicate_keys(table: AssetTable, path: UPath) -> Finding:
    """Rows sharing the natural key, counted exactly in bounded memory.

    Grouping the key columns themselves holds every distinct key's strings (hundreds of
    megabytes for a 1,000,000-row partition), so the keys are grouped by their 64-bit hash
    first, on one thread: 8 bytes a row. Distinct keys can share a hash, so only when some hash
    repeats is the exact grouping run, to count real duplicates (a clean partition, the usual
    case, never pays for it)."""
    keys = ", ".join(table.natural_key)
    by_hash = (
        f"SELECT count(*) FROM (SELECT hash({keys}) AS key_hash FROM read_parquet(?) "
        "GROUP BY key_hash HAVING count(*) > 1)"
    )
    exact = (
        f"SELECT count(*) FROM (SELECT {keys} FROM read_parquet(?) "
        f"GROUP BY {keys} HAVING count(*) > 1)"
    )
    with connect(path) as con:  # one thread (the default): one hash table
        (duplicates,) = con.execute(by_hash, [location(path)]).fetchone()
        if duplicates:
            (duplicates,) = con.execute(exact, [location(path)]).fetchone()
    return Finding(duplicates == 0, {"duplicate_keys": int(duplicates), "natural_key": keys})
