"""API rows to Arrow record batches of the lake's fixed schemas, a page at a time.

Built column by column (one list comprehension per field, vectorised casts for timestamps,
dates and numeric strings) because a per-row conversion would cap ingest far below 100k rows/s.
Tolerates the documented variants: dotted stats keys, counts as strings,
`aggregate_percents` as an object, a one-element array or missing, `url_id` as a number.
Anything else that does not fit its column (an object for a string, a number for an id, a
timestamp without a zone offset) raises `FieldError` naming the column: never a silent `str()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import pyarrow as pa

from cc_assets.constant_contact.schemas import AssetTable

log = logging.getLogger("cc_assets.constant_contact")
WRITER_COLUMNS = frozenset({"captured_at", "snapshot_date"})
NUMERIC_TEXT = frozenset({"url_id"})
"""String columns the API documents as sometimes numeric: stored as their decimal text."""


class FieldError(ValueError):
    """A value that does not fit its column; `field` names the column."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def api_schema(table: AssetTable) -> pa.Schema:
    """The columns the client fills: the asset's schema minus what the lake writer adds."""
    return pa.schema([f for f in table.schema if f.name not in WRITER_COLUMNS])


class UnknownFields:
    """Fields the API sent that no column holds, by where they were seen (an endpoint, or a
    nested object of one). The contract: a field is never dropped in silence. Each is warned
    once per client (one asset step of one run opens one client) and handed to the asset's
    metadata by `take`, so a user sees which fields a real account sends that the lake lacks."""

    def __init__(self, warn: Callable[[str], None] | None = None) -> None:
        self._warn = warn or log.warning
        self._seen: dict[str, set[str]] = {}
        self._untaken: dict[str, set[str]] = {}

    def note(self, where: str, seen: Iterable[str], known: Iterable[str]) -> None:
        """Warn of the names in `seen` that are not `known` (once per `where` and name)."""
        new = set(seen) - set(known) - self._seen.get(where, set())
        if not new:
            return
        self._seen.setdefault(where, set()).update(new)
        self._untaken.setdefault(where, set()).update(new)
        self._warn(
            f"Constant Contact sent {', '.join(sorted(new))} in {where}, which no column "
            "holds: not stored (named in the asset's unknown_fields metadata)"
        )

    def note_items(
        self, where: str, items: Iterable[Mapping[str, Any]], known: Iterable[str]
    ) -> None:
        """`note` over the union of every item's keys."""
        self.note(where, {key for item in items for key in item}, known)

    def take(self) -> dict[str, list[str]]:
        """Everything noted since the last `take`, {where: sorted names}, for one asset's
        metadata."""
        taken = {where: sorted(names) for where, names in sorted(self._untaken.items())}
        self._untaken.clear()
        return taken


def normalize_stats_key(key: str) -> str:
    """`em_opens.all.mobile` (the docs' spelling) -> `em_opens_all_mobile` (the spec's)."""
    return key.replace(".", "_")


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return int(float(value)) if isinstance(value, str) else int(value)


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if name in NUMERIC_TEXT and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


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
        try:
            arrays.append(_column(field, values))
        except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise FieldError(field.name, _reason(exc)) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _column(field: pa.Field, values: list[Any]) -> pa.Array:
    kind = field.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        text = pa.array([_text(field.name, v) for v in values], pa.string())
        try:
            return text.cast(kind)
        except pa.ArrowInvalid:
            bad = next(v for v in values if v is not None and _unparsable(v, kind))
            reason = f"not a strict ISO-8601 value with a zone offset: {bad[:40]!r}"
            raise ValueError(reason) from None
    if pa.types.is_integer(kind):
        return pa.array([to_int(v) for v in values], kind)
    if pa.types.is_floating(kind):
        return pa.array([to_float(v) for v in values], kind)
    if pa.types.is_string(kind):
        return pa.array([_text(field.name, v) for v in values], kind)
    return pa.array(values, kind)


def _unparsable(value: str, kind: pa.DataType) -> bool:
    try:
        pa.array([value], pa.string()).cast(kind)
    except pa.ArrowInvalid:
        return True
    return False


def _reason(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]


def tracking_rows(
    items: list[dict[str, Any]], where: str, schema: pa.Schema, unknown: UnknownFields
) -> pa.RecordBatch:
    """A tracking or contact-activity page. The newer docs name the type field
    `tracking_activities_list`; either spelling lands in one column."""
    if items and any("tracking_activities_list" in item for item in items):
        for item in items:
            if "tracking_activity_type" not in item and "tracking_activities_list" in item:
                item["tracking_activity_type"] = item.pop("tracking_activities_list")
    unknown.note_items(where, items, schema.names)
    return batch(items, schema)


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FieldError(field, f"expected an object, got {type(value).__name__}")
    return value


def stats_row(
    result: Mapping[str, Any],
    keys: Sequence[str],
    where: str,
    schema: pa.Schema,
    unknown: UnknownFields,
) -> dict[str, Any]:
    """One stats result flattened: `stats` keys normalised, `percents` as `percents_<key>`.
    Anything left that `schema` lacks (a result field, a percent the report does not define)
    is noted as unknown, under its flattened name."""
    stats = {normalize_stats_key(k): v for k, v in _mapping(result.get("stats"), "stats").items()}
    unknown.note(f"{where} stats", stats, keys)
    row: dict[str, Any] = {k: v for k, v in result.items() if k not in {"stats", "percents"}}
    row.update({key: stats.get(key) for key in keys})
    for key, value in _mapping(result.get("percents"), "percents").items():
        row[f"percents_{key}"] = value
    unknown.note(f"{where} results", row, schema.names)
    return row


def aggregate_percents(value: Any) -> dict[str, Any]:
    """The bulk summary's page-level percents: object, one-element array, or absent."""
    if isinstance(value, list):
        value = value[0] if value else {}
    percents = _mapping(value, "aggregate_percents")
    return {f"aggregate_percents_{k}": v for k, v in percents.items()}
