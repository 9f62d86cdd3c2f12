"""dbt on a warehouse: the lake lives on S3 (moto's real S3 server), the metrics are computed
from the bucket, `python -m cc_assets.lake.postgres_load` loads the raw and metric tables into
PostgreSQL (as a user runs it), and dbt's `postgres` target builds every mart from them, equal
to the metric assets."""

from __future__ import annotations

from pathlib import Path

import psycopg
import psycopg.rows
import pytest
import s3fs

from cc_assets.constant_contact.schemas import RAW_TABLES
from cc_assets_tests.analytics.test_dbt import (
    MART_OF_METRIC,
    assert_marts_equal_metrics,
    dbt_invocation,
    messages,
)
from cc_assets_tests.fixtures.object_store import ObjectStore
from cc_assets_tests.fixtures.services import load_lake_into_postgres
from cc_assets_tests.metrics.lake import account, build_lake
from cc_assets_tests.metrics.test_metrics import materialize_all


@pytest.mark.slow
@pytest.mark.services
def test_postgres_target_builds_every_mart_from_the_s3_lake(
    object_store: ObjectStore, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = tmp_path / "built"
    ids = build_lake(account(), built)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.put(f"{built}/", f"{object_store.bucket}/lake/", recursive=True)
    monkeypatch.setenv("CC_ASSETS_STORAGE", object_store.url())
    monkeypatch.setenv("CC_ASSETS_DBT_TARGET", "postgres")
    monkeypatch.setenv("CC_ASSETS_PG_DATABASE", pg_database)
    materialize_all(object_store.url(), ids)  # metrics read from and written to the bucket

    load = load_lake_into_postgres()
    for name in RAW_TABLES:
        assert f"cc_assets_raw.{name}: " in load.stdout
    assert "cc_assets_raw.email_sends: 0 rows" not in load.stdout
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_database}") as conn:
        invocation = dbt_invocation(["build", "--target", "postgres"])
        lines = list(messages(invocation))
        assert invocation.is_successful(), "\n".join(lines[-40:])
        marts = {}
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            for mart in MART_OF_METRIC.values():
                cur.execute(f"select * from marts.{mart}")
                marts[mart] = cur.fetchall()
    assert all(marts.values()), {n: len(r) for n, r in marts.items()}
    fs.get(f"{object_store.bucket}/lake/", f"{tmp_path / 'downloaded'}/", recursive=True)
    assert_marts_equal_metrics(marts, tmp_path / "downloaded")
