"""The dbt project, really built: on DuckDB through the Dagster assets, on an empty lake, and on
Postgres from tables loaded with COPY. The marts must equal the metric assets."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import psycopg
import psycopg.rows
import pytest

from cc_assets.defs.analytics import project
from cc_assets.defs.analytics.assets import cc_assets_dbt
from cc_assets.defs.metrics.tables import RATE_COLUMNS
from cc_assets.lake.paths import lake_root
from cc_assets.lake.postgres_load import load_raw_tables
from cc_assets_tests.metrics.lake import account, build_lake
from cc_assets_tests.metrics.test_metrics import materialize_all, read

SCHEMA = "cc_assets_dbt"


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "lake"
    monkeypatch.setenv("CC_ASSETS_STORAGE", str(root))
    monkeypatch.setenv("CC_ASSETS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("CC_ASSETS_DBT_TARGET", "duckdb")
    return root


def same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    )


def assert_marts_equal_metrics(marts: dict[str, list[dict[str, Any]]], root: Path) -> None:
    engagement = {r["campaign_activity_id"]: r for r in read(root, "activity_engagement")}
    performance = {r["campaign_activity_id"]: r for r in marts["performance"]}
    assert set(performance) == set(engagement)
    for activity_id, ours in engagement.items():
        theirs = performance[activity_id]
        for column in ("campaign_id", "sends", "bounces", "opens", "clicks", "optouts"):
            assert theirs[column] == ours[column], (activity_id, column)
        assert theirs["seconds_to_first_open"] == ours["seconds_to_first_open"]
        for rate in RATE_COLUMNS:
            assert same(theirs[rate], ours[rate]), (activity_id, rate, theirs[rate], ours[rate])
    devices = {
        (r["campaign_activity_id"], r["event_type"], r["device_type"]): r
        for r in read(root, "activity_device_breakdown")
    }
    breakdown = {
        (r["campaign_activity_id"], r["event_type"], r["device_type"]): r for r in marts["devices"]
    }
    assert set(breakdown) == set(devices)
    campaigns = {r["campaign_id"]: r for r in read(root, "campaign_engagement")}
    by_campaign = {r["campaign_id"]: r for r in marts["campaigns"]}
    assert set(by_campaign) == set(campaigns)
    for campaign_id, ours in campaigns.items():
        for rate in RATE_COLUMNS:
            assert same(by_campaign[campaign_id][rate], ours[rate]), (campaign_id, rate)
    for key, ours in devices.items():
        assert breakdown[key]["events"] == ours["events"]
        assert same(breakdown[key]["share_percent"], ours["share_percent"])


def duckdb_marts(warehouse: Path) -> dict[str, list[dict[str, Any]]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: con.sql(f"select * from main.{table}").to_arrow_table().to_pylist()
            for name, table in (
                ("performance", "fct_campaign_activity_performance"),
                ("devices", "fct_device_breakdown"),
                ("campaigns", "fct_campaign_performance"),
            )
        }


def test_dbt_assets_build_on_duckdb_and_equal_the_metrics(lake: Path, tmp_path: Path) -> None:
    ids = build_lake(account(), lake)
    materialize_all(lake, ids)
    result = dg.materialize(
        [cc_assets_dbt],
        resources={"dbt": project.dbt_cli(project.dbt_project)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 50
    assert all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    marts = duckdb_marts(tmp_path / "warehouse.duckdb")
    assert_marts_equal_metrics(marts, lake)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        (events,) = con.execute("select count(*) from main.fct_email_events").fetchone()
        (daily,) = con.execute("select count(*) from main.fct_activity_stats_daily").fetchone()
    assert events > 0 and daily == len(ids)


def test_dbt_build_on_an_empty_lake(lake: Path) -> None:
    lines: list[str] = []
    assert project.run_dbt_build(log=lines.append), "\n".join(lines[-30:])
    assert any("no lake files for email_opens" in line for line in lines)


def test_seed_example_marts_give_the_seed_numbers(lake: Path, tmp_path: Path) -> None:
    build_lake(account("seed-example"), lake)
    lines: list[str] = []
    assert project.run_dbt_build(log=lines.append), "\n".join(lines[-30:])
    (row,) = duckdb_marts(tmp_path / "warehouse.duckdb")["performance"]
    assert {r: round(row[r], 1) for r in ("open_rate", "click_rate", "bounce_rate")} == {
        "open_rate": 66.7,
        "click_rate": 33.3,
        "bounce_rate": 40.0,
    }
    assert round(row["did_not_open_rate"], 1) == 33.3
    assert round(row["unsubscribe_rate"], 1) == 11.1
    assert (round(row["mobile_open_rate"], 1), round(row["desktop_open_rate"], 1)) == (83.3, 16.7)


# --- Postgres --------------------------------------------------------------------------------


def load_postgres(conn, root: Path) -> None:
    """Every raw asset as a table of `cc_assets_raw` (the product's loader), no marts yet."""
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    load_raw_tables(conn, lake_root(root))


@pytest.mark.services
def test_dbt_build_on_postgres_equals_the_metrics(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = build_lake(account(), lake)
    materialize_all(lake, ids)
    monkeypatch.setenv("CC_ASSETS_DBT_TARGET", "postgres")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as conn:
        load_postgres(conn, lake)
        lines: list[str] = []
        assert project.run_dbt_build(log=lines.append), "\n".join(lines[-40:])
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            marts = {}
            for name, table in (
                ("performance", "fct_campaign_activity_performance"),
                ("devices", "fct_device_breakdown"),
                ("campaigns", "fct_campaign_performance"),
            ):
                cur.execute(f"select * from {SCHEMA}.{table}")
                marts[name] = [
                    {k: (float(v) if isinstance(v, float) else v) for k, v in r.items()}
                    for r in cur.fetchall()
                ]
    for row in marts["performance"] + marts["campaigns"]:
        row["seconds_to_first_open"] = (
            None if row["seconds_to_first_open"] is None else int(row["seconds_to_first_open"])
        )
    assert_marts_equal_metrics(marts, lake)
