"""API rows to Arrow record batches of the lake's fixed schemas, a page at a time.

Built column by column (one list comprehension per field, vectorised casts for timestamps,
dates and numeric strings) because a per-row conversion would cap ingest far below 100k rows/s.
Tolerates the documented variants (reference §10): dotted stats keys, counts as strings,
`aggregate_percents` as an object, a one-element array or missing, `url_id` as a number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import pyarrow as pa

from cc_assets.lake.schemas import AssetTable

log = logging.getLogger("cc_assets.constant_contact")
_warned: set[tuple[str, str]] = set()
WRITER_COLUMNS = frozenset({"captured_at", "snapshot_date"})


def api_schema(table: AssetTable) -> pa.Schema:
    """The columns the client fills: the asset's schema minus what the lake writer adds."""
    return pa.schema([f for f in table.schema if f.name not in WRITER_COLUMNS])


def warn_unknown(where: str, seen: Iterable[str], known: Iterable[str]) -> None:
    """Fields the API sent that no column holds: said once per field, never silently dropped."""
    for name in set(seen) - set(known):
        if (where, name) not in _warned:
            _warned.add((where, name))
            log.warning(
                "Constant Contact sent an unknown field %r in %s; it is not stored", name, where
            )


def normalize_stats_key(key: str) -> str:
    """`em_opens.all.mobile` (the docs' spelling) -> `em_opens_all_mobile` (the spec's)."""
    return key.replace(".", "_")


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(float(value)) if isinstance(value, str) else int(value)


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


@cache
def _loose(schema: pa.Schema) -> pa.Schema:
    """The schema with timestamps and dates as strings: the shape JSON delivers them in."""
    return pa.schema(
        [
            pa.field(f.name, pa.string())
            if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
            else f
            for f in schema
        ]
    )


def batch(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Rows (dicts keyed by column name, values as the API sends them) to one record batch.

    The fast path converts in Arrow's C++ (then casts timestamp strings vectorised); a page
    with a documented oddity (a count as a string, a numeric url_id) takes the tolerant path.
    """
    try:
        return pa.RecordBatch.from_pylist(list(rows), schema=_loose(schema)).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _tolerant_batch(rows, schema)


def _tolerant_batch(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        kind = field.type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            arrays.append(pa.array(values, pa.string()).cast(kind))
        elif pa.types.is_integer(kind):
            arrays.append(pa.array([to_int(v) for v in values], kind))
        elif pa.types.is_floating(kind):
            arrays.append(pa.array([to_float(v) for v in values], kind))
        elif pa.types.is_string(kind):
            try:
                arrays.append(pa.array(values, kind))
            except (pa.ArrowTypeError, pa.ArrowInvalid):  # e.g. url_id sent as a number
                arrays.append(pa.array([None if v is None else str(v) for v in values], kind))
        else:
            arrays.append(pa.array(values, kind))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def tracking_rows(items: list[dict[str, Any]], where: str, schema: pa.Schema) -> pa.RecordBatch:
    """A tracking or contact-activity page. The newer docs name the type field
    `tracking_activities_list` (reference §10-O); either spelling lands in one column."""
    if items and "tracking_activities_list" in items[0]:
        for item in items:
            if "tracking_activity_type" not in item:
                item["tracking_activity_type"] = item.pop("tracking_activities_list")
    warn_unknown(where, set().union(*items), schema.names)
    return batch(items, schema)


def stats_row(result: Mapping[str, Any], keys: Sequence[str], where: str) -> dict[str, Any]:
    """One stats result flattened: `stats` keys normalised, `percents` as `percents_<key>`."""
    stats = {normalize_stats_key(k): v for k, v in (result.get("stats") or {}).items()}
    warn_unknown(where, stats, keys)
    row: dict[str, Any] = {k: v for k, v in result.items() if k not in {"stats", "percents"}}
    row.update({key: stats.get(key) for key in keys})
    for key, value in (result.get("percents") or {}).items():
        row[f"percents_{key}"] = value
    return row


def aggregate_percents(value: Any) -> dict[str, Any]:
    """The bulk summary's page-level percents: object, one-element array, or absent."""
    if isinstance(value, list):
        value = value[0] if value else {}
    return {f"aggregate_percents_{k}": v for k, v in (value or {}).items()}
