"""The dbt project, really built: on DuckDB through the Dagster assets, on an empty lake, and on
Postgres from tables loaded with COPY. The marts must equal the email_metrics assets they read,
answer a BI user's questions in one query each, and compute no rate of their own."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import psycopg
import psycopg.rows
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cc_assets.constant_contact.schemas import TRACKING_TABLES, AssetTable
from cc_assets.defs.analytics import project
from cc_assets.defs.analytics.assets import cc_assets_dbt
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.metrics.tables import METRIC_TABLES, PERCENT_COLUMNS
from cc_assets.lake.paths import lake_root
from cc_assets.lake.postgres_load import METRICS_SCHEMA, RAW_SCHEMA, load_lake, sql_type
from cc_assets_tests.metrics.lake import NOW, account, build_lake
from cc_assets_tests.metrics.test_formulas import SEED_PERCENTS
from cc_assets_tests.metrics.test_metrics import materialize_all, read

BUILT_SCHEMAS = ("staging", "intermediate", "marts")

MART_OF_METRIC = {
    "activity_engagement": "fct_campaign_activity_performance",
    "campaign_engagement": "fct_campaign_performance",
    "activity_device_breakdown": "fct_device_breakdown",
    "activity_engagement_curve": "fct_engagement_curve",
    "activity_link_clicks": "fct_link_clicks",
    "activity_stats_daily": "fct_activity_stats_daily",
}
NAMES = ("campaign_name", "subject", "role", "sent_time")


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "lake"
    monkeypatch.setenv("CC_ASSETS_STORAGE", str(root))
    monkeypatch.setenv("CC_ASSETS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("CC_ASSETS_DBT_TARGET", "duckdb")
    monkeypatch.setenv("CC_ASSETS_STATE_DIR", str(tmp_path / "state"))
    return root


def metric_columns(table: AssetTable) -> list[str]:
    return [name for name in table.schema.names if name != "computed_at"]


def assert_marts_equal_metrics(marts: dict[str, list[dict[str, Any]]], root: Path) -> None:
    """Every mart holds exactly its metric asset's rows and values, plus names."""
    for metric, mart in MART_OF_METRIC.items():
        table = METRIC_TABLES[metric]
        columns = metric_columns(table)
        ours = sorted(tuple(r[c] for c in columns) for r in read(root, metric))
        theirs = sorted(tuple(r[c] for c in columns) for r in marts[mart])
        assert ours, metric
        assert theirs == ours, mart
        for row in marts[mart]:
            assert all(name in row for name in NAMES), mart


def warehouse_marts(warehouse: Path) -> dict[str, list[dict[str, Any]]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            mart: con.sql(f"select * from marts.{mart}").to_arrow_table().to_pylist()
            for mart in MART_OF_METRIC.values()
        }


def build_with_dagster() -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [cc_assets_dbt],
        resources={"dbt": project.dbt_cli(project.dbt_project), "lake": LakeResource()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


@pytest.mark.slow
def test_dbt_assets_build_on_duckdb_and_equal_the_metrics(lake: Path, tmp_path: Path) -> None:
    truth = account()
    ids = build_lake(truth, lake)
    materialize_all(lake, ids)
    result = build_with_dagster()
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 60
    assert all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    assert {f"{mart}_equals_email_metrics" for mart in MART_OF_METRIC.values()} <= {
        c.check_name for c in checks
    }

    warehouse = tmp_path / "warehouse.duckdb"
    marts = warehouse_marts(warehouse)
    assert_marts_equal_metrics(marts, lake)
    names = {a.activity_id: a for c in truth.account.campaigns for a in c.activities}
    for row in marts["fct_campaign_activity_performance"]:
        activity = names[row["campaign_activity_id"]]
        assert row["subject"] == activity.subject
        assert row["role"] == activity.role
        assert row["campaign_name"] == truth.account.campaign_by_id[activity.campaign_id].name

    materialized = [m.materialization for m in result.get_asset_materialization_events()]
    counts = {
        m.asset_key.path[-1]: m.metadata["dagster/row_count"].value
        for m in materialized
        if "dagster/row_count" in m.metadata
    }
    assert counts["fct_campaign_activity_performance"] == len(ids)
    assert counts["fct_engagement_curve"] == len(marts["fct_engagement_curve"])
    # the models stored as tables are counted; views are not, as dagster-dbt does
    models = json.loads(project.dbt_project.manifest_path.read_text())["nodes"].values()
    views = {n["name"] for n in models if n["config"].get("materialized") == "view"}
    built = {m.asset_key.path[-1] for m in materialized}
    assert set(counts) == built - views and built & views
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schemas = {
            r[0]
            for r in con.execute("select schema_name from information_schema.schemata").fetchall()
        }
        assert set(BUILT_SCHEMAS) <= schemas
        (in_main,) = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'main'"
        ).fetchone()
        assert in_main == 0
    assert_staging_selects_the_metric_columns(warehouse)
    assert_bi_questions(warehouse, truth, lake)


@pytest.mark.slow
def test_the_next_build_reuses_the_deployments_parse(
    lake: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A deployment's profile differs from `make manifest`'s (its warehouse path at least), so
    its first build parses the whole project; the next one starts from the parse the first
    left in the state folder, and each build's own target folder is gone after it."""
    build_with_dagster()
    store = tmp_path / "state" / "dbt"
    assert [p.name for p in store.iterdir()] == [project.PARTIAL_PARSE]
    capfd.readouterr()
    build_with_dagster()
    output = capfd.readouterr().out
    assert "Completed successfully" in output, output[-3000:]
    assert "Unable to do partial parsing" not in output, output[-3000:]
    assert [p.name for p in store.iterdir()] == [project.PARTIAL_PARSE]


def assert_staging_selects_the_metric_columns(warehouse: Path) -> None:
    """Each staging view over email_metrics has the row's account, then its metric table's
    columns, no more, no fewer, in the Arrow schema's order and of its types."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, table in METRIC_TABLES.items():
            built = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'staging' and table_name = ? order by ordinal_position",
                [f"stg_email_metrics__{name}"],
            ).fetchall()
            declared = [
                (f.name, str(con.sql(f"select cast(null as {sql_type(f.type)})").types[0]))
                for f in (pa.field("account", pa.string()), *table.schema)
            ]
            assert built == declared, name


def assert_bi_questions(warehouse: Path, truth, root: Path) -> None:
    """Three questions a BI user asks, each one query over one mart."""
    engagement = {r["campaign_id"]: r for r in read(root, "campaign_engagement")}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        by_campaign = con.execute(
            "select campaign_name, sent_time, open_rate, click_rate "
            "from marts.fct_campaign_performance order by sent_time"
        ).fetchall()
        assert len(by_campaign) == len(engagement)
        named = {truth.account.campaign_by_id[c].name: r for c, r in engagement.items()}
        for name, sent_time, open_rate, click_rate in by_campaign:
            assert sent_time is not None
            assert (open_rate, click_rate) == (named[name]["open_rate"], named[name]["click_rate"])

        clicked = max(engagement.values(), key=lambda r: r["clicks"])
        campaign = truth.account.campaign_by_id[clicked["campaign_id"]]
        primary = next(a for a in campaign.activities if a.role == "primary_email")
        opens_by_hour = con.execute(
            "select hours_since_send, cumulative_unique_opens from marts.fct_engagement_curve "
            "where campaign_name = ? and role = 'primary_email' order by hours_since_send",
            [campaign.name],
        ).fetchall()
        curve = sorted(
            (r["hours_since_send"], r["cumulative_unique_opens"])
            for r in read(root, "activity_engagement_curve")
            if r["campaign_activity_id"] == primary.activity_id
        )
        assert opens_by_hour == curve and len(curve) > 1
        assert [h for h, _ in opens_by_hour] == list(range(len(opens_by_hour)))
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(opens_by_hour))
        assert opens_by_hour[-1][1] > 0

        per_link = con.execute(
            "select link_url, unique_clicks from marts.fct_link_clicks "
            "where campaign_name = ? and role = 'primary_email' order by link_url",
            [campaign.name],
        ).fetchall()
        want = truth.links(primary.activity_id).to_pylist()
        assert per_link == sorted((r["link_url"], r["unique_clicks"]) for r in want)


@pytest.mark.slow
def test_seed_example_marts_give_the_seed_numbers(lake: Path, tmp_path: Path) -> None:
    truth = account("seed-example")
    materialize_all(lake, build_lake(truth, lake))
    build_with_dagster()
    marts = warehouse_marts(tmp_path / "warehouse.duckdb")
    (row,) = marts["fct_campaign_activity_performance"]
    assert row["campaign_name"] == truth.account.campaigns[0].name
    assert {r: round(row[r], 1) for r in PERCENT_COLUMNS} == SEED_PERCENTS
    (campaign,) = marts["fct_campaign_performance"]
    assert campaign["role"] == "primary_email" and campaign["subject"] == row["subject"]
    devices = {
        (r["event_type"], r["device_type"]): r["events"] for r in marts["fct_device_breakdown"]
    }
    assert devices == {
        ("open", "mobile"): 5,
        ("open", "other"): 1,
        ("click", "mobile"): 1,
        ("click", "other"): 1,
    }


@pytest.mark.slow
def test_a_partial_build_runs_only_the_tests_it_can(lake: Path) -> None:
    """What the automation launches after a metric lands: the models that read it, alone, on a
    warehouse that has not yet built the marts downstream. A test of such a mart that also reads
    the selected model (its equality with email_metrics) is not run: it failed the run on the
    missing table (dbt's default indirect selection, eager, picks every test that reads a
    selected model)."""
    staging = dg.AssetKey(["analytics", "stg_email_metrics__activity_stats_daily"])
    result = dg.materialize(
        [cc_assets_dbt],
        selection=[staging],
        resources={"dbt": project.dbt_cli(project.dbt_project), "lake": LakeResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success, [str(e.event_specific_data) for e in result.get_step_failure_events()]
    built = {m.asset_key for m in result.get_asset_materialization_events()}
    assert built == {staging}


def dbt_invocation(args: list[str], **kwargs: Any):
    project.apply_dbt_environment()
    return project.dbt_cli(project.dbt_project).cli(args, raise_on_error=False, **kwargs)


def messages(invocation) -> Iterator[str]:
    for event in invocation.stream_raw_events():
        message = event.raw_event.get("info", {}).get("msg")
        if message:
            yield message


@pytest.mark.slow
@pytest.mark.parametrize("per_account", [False, True], ids=["one_account", "accounts_file"])
def test_dbt_build_on_an_empty_lake(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_account: bool
) -> None:
    """Nothing landed yet: every model builds, empty; with an accounts file too, where the
    sources read `{lake}/account=*/...` (and no account has a folder yet)."""
    if per_account:
        accounts = tmp_path / "accounts.yaml"
        accounts.write_text("accounts:\n  - {name: acme, token_store_key: acme}\n")
        monkeypatch.setenv("CC_ASSETS_ACCOUNTS", str(accounts))
        monkeypatch.setenv(project.LAKE_ACCOUNTS, "1")  # apply_dbt_environment's, undone after
    invocation = dbt_invocation(["build"])
    lines = list(messages(invocation))
    assert invocation.is_successful(), "\n".join(lines[-30:])
    assert any("no lake files for email_opens" in line for line in lines)
    assert any("no lake files for activity_engagement" in line for line in lines)
    assert os.environ[project.LAKE_ACCOUNTS] == ("1" if per_account else "")


STRING_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
RATE_FORMULA = re.compile(r"/|\bnullif\s*\(|\b100(?:\.0*)?\s*\*", re.IGNORECASE)


def test_no_rate_formula_in_the_compiled_models(lake: Path, tmp_path: Path) -> None:
    """Rates are computed by the email_metrics assets only: no compiled model divides."""
    target = tmp_path / "target"
    invocation = dbt_invocation(["compile", "--select", "resource_type:model"], target_path=target)
    lines = list(messages(invocation))
    assert invocation.is_successful(), "\n".join(lines[-30:])
    compiled = sorted((target / "compiled").rglob("models/**/*.sql"))
    assert len(compiled) >= 30
    offending = {}
    for file in compiled:
        code = STRING_OR_COMMENT.sub("''", file.read_text())
        found = RATE_FORMULA.findall(code)
        if found:
            offending[file.name] = found
    assert offending == {}
    assert not (project.PROJECT_DIR / "macros" / "cc_engagement_rates.sql").exists()


# --- Postgres --------------------------------------------------------------------------------


def load_postgres(conn, root: Path) -> None:
    """A clean warehouse (no schema of an earlier build), then the product's own loader."""
    with conn.cursor() as cur:
        for schema in (RAW_SCHEMA, METRICS_SCHEMA, *BUILT_SCHEMAS):
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.commit()
    load_lake(conn, lake_root(str(root)))


@pytest.mark.slow
@pytest.mark.services
def test_dbt_build_on_postgres_equals_the_metrics(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = build_lake(account(), lake)
    materialize_all(lake, ids)
    monkeypatch.setenv("CC_ASSETS_DBT_TARGET", "postgres")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as conn:
        load_postgres(conn, lake)
        invocation = dbt_invocation(["build", "--target", "postgres"])
        lines = list(messages(invocation))
        assert invocation.is_successful(), "\n".join(lines[-40:])
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            marts = {}
            for mart in MART_OF_METRIC.values():
                cur.execute(f"select * from marts.{mart}")
                marts[mart] = list(cur.fetchall())
    assert_marts_equal_metrics(marts, lake)


# --- incremental builds ----------------------------------------------------------------------

EVENT_REPORTS = ("sends", "opens", "clicks", "forwards", "optouts", "bounces")


def stamp_captures(root: Path, at: datetime) -> None:
    """What the tracking writer does: a row the file held before keeps its capture time, a new
    row gets `at` (the ground truth writes its reports without one). The stamped rows are kept
    beside each file (`part-0.captured`, which no reader's glob matches) for the next call."""
    kind = TRACKING_TABLES["sends"].schema.field("captured_at").type

    def key(row: dict[str, Any]) -> tuple:
        return tuple(sorted((k, v) for k, v in row.items() if k != "captured_at"))

    for report in EVENT_REPORTS:
        folder = root / "constant_contact" / TRACKING_TABLES[report].name
        for file in sorted(folder.glob("*/part-0.parquet")):
            rows = pq.read_table(file)
            if "captured_at" in rows.column_names:
                rows = rows.drop_columns(["captured_at"])
            stamped = file.with_suffix(".captured")
            held = {}
            if stamped.exists():
                held = {key(r): r["captured_at"] for r in pq.read_table(stamped).to_pylist()}
            times = [held.get(key(r), at) for r in rows.to_pylist()]
            rows = rows.append_column("captured_at", pa.array(times, kind))
            pq.write_table(rows, file)
            pq.write_table(rows, stamped)


def built_tables(warehouse: Path) -> dict[str, list[tuple]]:
    """The incremental models' rows, without the build stamps."""
    tables = {
        "marts.fct_email_events": "*",
        "intermediate.int_contact_activities_aggregated": "* exclude (built_at)",
        "marts.dim_contact_engagement": "* exclude (built_at)",
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t: sorted(con.execute(f"select {c} from {t}").fetchall()) for t, c in tables.items()
        }


def land(truth, lake: Path, days: int) -> None:
    """The account `days` on: its reports in the lake (new rows captured then), its metrics."""
    truth.service.clock.advance(timedelta(days=days).total_seconds())
    ids = build_lake(truth, lake)
    stamp_captures(lake, datetime.fromtimestamp(truth.service.clock.epoch(), NOW.tzinfo))
    materialize_all(lake, ids)


def dbt_build(*args: str) -> None:
    invocation = dbt_invocation(["build", *args])
    assert invocation.is_successful(), "\n".join(list(messages(invocation))[-30:])


@pytest.mark.slow
def test_incremental_build_equals_a_full_build(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build after new events arrived (two days on: more opens and clicks of an activity
    being sent, a new activity; captured later) holds exactly what a full build of the same
    lake holds, and recomputed only some contacts."""
    truth = account()
    land(truth, lake, days=1)
    dbt_build()
    warehouse = tmp_path / "warehouse.duckdb"
    before = built_tables(warehouse)

    land(truth, lake, days=2)
    dbt_build()
    incremental = built_tables(warehouse)
    assert len(incremental["marts.fct_email_events"]) > len(before["marts.fct_email_events"])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in (
            "intermediate.int_contact_activities_aggregated",
            "marts.dim_contact_engagement",
        ):
            # some rows recomputed by the second build, the others kept from the first
            (builds,) = con.execute(f"select count(distinct built_at) from {table}").fetchone()
            assert builds == 2, table

    monkeypatch.setenv("CC_ASSETS_WAREHOUSE", str(tmp_path / "full.duckdb"))
    # a full build in parts of at most 200 rows: several statements per event model
    dbt_build("--full-refresh", "--vars", "{cc_batch_rows: 200}")
    rebuilt = built_tables(tmp_path / "full.duckdb")
    for name, rows in rebuilt.items():
        missing, extra = set(rows) - set(incremental[name]), set(incremental[name]) - set(rows)
        assert not missing and not extra, (name, sorted(missing)[:3], sorted(extra)[:3])
    assert_marts_equal_metrics(warehouse_marts(warehouse), lake)


@pytest.mark.slow
def test_a_warehouse_built_before_accounts_is_completed_by_the_next_build(
    lake: Path, tmp_path: Path
) -> None:
    """The incremental tables of a warehouse built before rows had an account (no `account`,
    no `encoded_account_id`) are read whole once by the next build: then every row has its
    account (dbt's not_null tests) and the tables equal a full build's (the first build, of a
    new warehouse over the same lake)."""
    land(account(), lake, days=1)
    dbt_build()
    warehouse = tmp_path / "warehouse.duckdb"
    full = {table: rows_by_name(warehouse, table) for table in built_tables(warehouse)}
    with duckdb.connect(str(warehouse)) as con:
        for table in full:
            for column in ("account", "encoded_account_id"):
                con.execute(f"alter table {table} drop column if exists {column}")
    dbt_build()
    for table, rows in full.items():
        completed = rows_by_name(warehouse, table)
        assert completed == rows and completed, table


def rows_by_name(warehouse: Path, table: str) -> list[tuple]:
    """A table's rows as sorted (column, value) pairs, whatever its columns' order (a column
    added to a table comes last), without the build stamps."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql(f"select * from {table}").to_arrow_table().to_pylist()
    pairs = (tuple(sorted((k, v) for k, v in r.items() if k != "built_at")) for r in rows)
    return sorted(pairs, key=repr)  # repr: a column's values may be None or not
