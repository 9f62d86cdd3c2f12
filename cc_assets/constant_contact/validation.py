"""Tracking rows checked at the edge, a page at a time, before any of them is trusted.

A row that lands in the raw lake is used as a fact (by dbt) and its `created_time` as the
watermark of the next incremental read. So a page is refused whole, naming the field and the
reason, when a required field is missing or empty, when a row belongs to another activity (or
contact), or when an event is dated after the response that carries it: such a time would
become the watermark and hide every later event for good. Checks are vectorised Arrow compute
calls, cheap enough for a million-row report.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from cc_assets.constant_contact.parsing import FieldError

CLOCK_SKEW = timedelta(minutes=5)
"""How far an event may be dated after the response's own time: clocks differ a little."""

REQUIRED = (
    "contact_id",
    "campaign_activity_id",
    "created_time",
    "tracking_activity_type",
    "email_address",
)
REQUIRED_EXTRA: dict[str, tuple[str, ...]] = {
    "clicks": ("url_id", "link_url"),
    "bounces": ("bounce_code",),
}
CONTACT_ACTIVITY_REQUIRED = (
    "contact_id",
    "campaign_activity_id",
    "created_time",
    "tracking_activity_type",
)


def required_fields(report: str) -> tuple[str, ...]:
    """The fields every row of `report` must carry."""
    return REQUIRED + REQUIRED_EXTRA.get(report, ())


def check_rows(
    batch: pa.RecordBatch,
    required: tuple[str, ...],
    equal: dict[str, str],
    not_after: datetime,
) -> None:
    """Raise `FieldError` unless every row has every `required` field (non-empty), each
    `equal` column holds exactly its value, and no `created_time` is after `not_after`."""
    if batch.num_rows == 0:
        return
    for name in required:
        column = batch[name]
        if column.null_count:
            raise FieldError(name, f"missing or null in {column.null_count} row(s)")
        if pa.types.is_string(column.type) and pc.any(pc.equal(column, "")).as_py():
            raise FieldError(name, "empty")
    for name, expected in equal.items():
        differs = pc.invert(pc.equal(batch[name], expected))
        if pc.any(differs).as_py():
            other = batch[name].filter(differs)[0].as_py()
            raise FieldError(name, f"{str(other)[:40]!r} where {expected!r} was requested")
    latest = pc.max(batch["created_time"]).as_py()
    limit = not_after + CLOCK_SKEW
    if latest is not None and latest > limit:
        raise FieldError(
            "created_time",
            f"{latest:%Y-%m-%dT%H:%M:%SZ} is later than the response"
            f" ({not_after:%Y-%m-%dT%H:%M:%SZ}): refused, it would become the watermark",
        )
