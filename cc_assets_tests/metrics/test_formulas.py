"""Constant Contact's formulas, pinned on the seed document's example: the one definition of
each rate and share (`compute.RATES_SQL`), for event counts and for CC's own daily stats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from upath import UPath

from cc_assets.constant_contact.schemas import EMAIL_CAMPAIGN_ACTIVITY_STATS
from cc_assets.defs.metrics import compute
from cc_assets.defs.metrics.tables import PERCENT_COLUMNS

SEED_COUNTS = {
    "sends": 15,
    "bounces": 6,
    "delivered": 9,
    "opens": 6,
    "not_opened": 3,
    "clicks": 2,
    "optouts": 1,
    "opens_all": 6,
    "mobile_opens_all": 5,
    "clicks_all": 2,
    "mobile_clicks_all": 1,
}
SEED_PERCENTS = {
    "open_rate": 66.7,
    "click_rate": 33.3,
    "click_through_rate": 22.2,
    "bounce_rate": 40.0,
    "did_not_open_rate": 33.3,
    "unsubscribe_rate": 11.1,
    "mobile_open_share": 83.3,
    "desktop_open_share": 16.7,
    "mobile_click_share": 50.0,
    "desktop_click_share": 50.0,
}


def percents_of(counts: dict[str, int]) -> dict[str, float | None]:
    table = pa.table({k: pa.array([v], pa.int64()) for k, v in counts.items()})
    with duckdb.connect() as con:
        con.register("counts", table)
        return con.sql(f"SELECT {compute.RATES_SQL} FROM counts").to_arrow_table().to_pylist()[0]


def test_seed_example_counts_give_the_seed_documents_percents() -> None:
    found = percents_of(SEED_COUNTS)
    assert set(found) == set(PERCENT_COLUMNS)
    assert {k: round(v, 1) for k, v in found.items()} == SEED_PERCENTS
    assert found["open_rate"] == pytest.approx(200 / 3, rel=1e-15)  # full precision


def test_a_zero_denominator_gives_null_not_an_error() -> None:
    found = percents_of(dict.fromkeys(SEED_COUNTS, 0))
    assert all(value is None for value in found.values())


def test_cc_daily_stats_go_through_the_same_formulas(tmp_path: Path) -> None:
    """The seed example as CC's own activity stats snapshot (two captures that day: the later
    one counts) gives the same percents as the events."""
    day = date(2026, 11, 20)
    seed = {
        "em_sends": 15,
        "em_bounces": 6,
        "em_opens": 6,
        "em_not_opened": 3,
        "em_clicks": 2,
        "em_optouts": 1,
        "em_opens_all": 6,
        "em_opens_all_mobile": 4,
        "em_opens_all_tablet": 1,
        "em_opens_all_other": 1,
        "em_clicks_all": 2,
        "em_clicks_all_mobile": 1,
        "em_clicks_all_other": 1,
    }
    early = {k: 0 for k in seed} | {"em_sends": 15}
    base = {"snapshot_date": day, "campaign_id": "c1", "campaign_activity_id": "a1"}
    rows = [
        base | {"captured_at": datetime(2026, 11, 20, 1, tzinfo=UTC)} | early,
        base | {"captured_at": datetime(2026, 11, 20, 9, tzinfo=UTC)} | seed,
    ]
    schema = EMAIL_CAMPAIGN_ACTIVITY_STATS.schema
    folder = (
        tmp_path / "constant_contact" / EMAIL_CAMPAIGN_ACTIVITY_STATS.name / f"snapshot_date={day}"
    )
    folder.mkdir(parents=True)
    columns = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}
    pq.write_table(pa.table(columns, schema=schema), folder / "part-0.parquet")

    (row,) = compute.activity_stats_daily(UPath(str(tmp_path)), day, datetime.now(UTC)).to_pylist()
    assert (row["sends"], row["delivered"], row["opens"], row["not_opened"]) == (15, 9, 6, 3)
    assert {k: round(row[k], 1) for k in SEED_PERCENTS} == SEED_PERCENTS
    assert (
        compute.activity_stats_daily(
            UPath(str(tmp_path)), date(2026, 11, 21), datetime.now(UTC)
        ).num_rows
        == 0
    )
