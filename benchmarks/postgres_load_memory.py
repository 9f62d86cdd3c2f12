"""Peak memory of `python -m cc_assets.lake.postgres_load` on a 1,000,000-row partition.

    .venv/bin/python benchmarks/postgres_load_memory.py [--rows 1000000]

Writes one `email_sends` partition of `--rows` rows into a fresh lake with the project's own
writer (`lake.writer.write_partition`: zstd, row groups of 65,536 rows, the asset's fixed
schema; every value distinct, as a real report's contacts and addresses are), creates a
database of its own on the local PostgreSQL (127.0.0.1:5432, trust; `CC_ASSETS_PG_*` as the
loader reads them), runs the loader as a user would, in a process of its own, and reads that
process's `VmHWM` (the kernel's peak RSS since its exec) from /proc every 0.05 s until it
exits. (`getrusage` would not do: a child's `ru_maxrss` keeps the high-water mark of the
parent's memory it was forked from, here the 1,000,000 rows just written.) Then it counts the
loaded rows and drops the database.

Exits 1 if the loader failed, peaked above 400 MB (DESIGN: every process of the project within
400 MB), or loaded a different number of rows than the lake holds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from refresh_memory import peak_rss_mb  # a sibling benchmark (benchmarks/ is on sys.path)
from upath import UPath

from cc_assets.constant_contact.parsing import api_schema
from cc_assets.constant_contact.schemas import TIMESTAMP, TRACKING_TABLES
from cc_assets.lake.paths import partition_file
from cc_assets.lake.postgres_load import RAW_SCHEMA
from cc_assets.lake.writer import write_partition
from cc_assets.settings import load_settings

LIMIT_MB = 400.0
BATCH = 100_000
SENDS = TRACKING_TABLES["sends"]
POLL_SECONDS = 0.05


def sends_batches(rows: int, activity_id: str) -> list[pa.RecordBatch]:
    """`rows` distinct send rows of one activity, in the API's column form."""
    schema = api_schema(SENDS)
    start = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)
    batches = []
    for low in range(0, rows, BATCH):
        index = np.arange(low, min(low + BATCH, rows))
        text = index.astype(str).astype(object)
        columns = {
            "campaign_activity_id": pa.array([activity_id] * len(index)),
            "contact_id": pa.array([f"00000000-0000-4000-8000-{i:0>12}" for i in text]),
            "tracking_activity_type": pa.array(["em_sends"] * len(index)),
            "email_address": pa.array([f"contact.{i}@example.com" for i in text]),
            "first_name": pa.array(["Ada"] * len(index)),
            "last_name": pa.array([f"Lovelace {i}" for i in text]),
            "created_time": pa.array(start + index, pa.int64()).cast(TIMESTAMP),
            "deleted_at": pa.nulls(len(index), pa.date32()),
        }
        batches.append(pa.RecordBatch.from_pydict(columns, schema=schema))
    return batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    settings = load_settings().postgres
    database = f"cc_assets_load_bench_{os.getpid()}"
    admin = {**settings, "autocommit": True}
    with tempfile.TemporaryDirectory(prefix="cc-pg-load-") as scratch:
        root = Path(scratch) / "lake"
        activity_id = "11111111-1111-4111-8111-111111111111"
        written = write_partition(
            SENDS,
            activity_id,
            sends_batches(args.rows, activity_id),
            captured_at=datetime.now(UTC),
            root=UPath(root),
        )
        in_lake = pq.ParquetFile(partition_file(SENDS, activity_id, UPath(root))).metadata.num_rows
        size_mb = os.path.getsize(written.path) / 1e6
        print(f"lake: {in_lake:,} rows in one partition ({size_mb:.1f} MB of Parquet)")
        with psycopg.connect(**admin) as conn:
            conn.execute(f"CREATE DATABASE {database}")
        try:
            env = {
                **os.environ,
                "CC_ASSETS_STORAGE": str(root),
                "CC_ASSETS_PG_DATABASE": database,
            }
            started = time.monotonic()
            loader = subprocess.Popen(
                [sys.executable, "-m", "cc_assets.lake.postgres_load"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            peak_mb = 0.0
            while loader.poll() is None:
                peak_mb = max(peak_mb, peak_rss_mb(loader.pid) or 0.0)
                time.sleep(POLL_SECONDS)
            seconds = time.monotonic() - started
            if loader.returncode != 0:
                print(loader.stderr.read()[-3000:] if loader.stderr else "")
                print("FAIL: the load failed")
                return 1
            with psycopg.connect(**{**settings, "dbname": database}) as conn:
                (loaded,) = conn.execute(
                    f"SELECT count(*) FROM {RAW_SCHEMA}.{SENDS.name}"
                ).fetchone()
        finally:
            with psycopg.connect(**admin) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {database}")
    print(f"postgres_load: {seconds:.1f} s, peak RSS {peak_mb:.0f} MB, {loaded:,} rows loaded")
    failures = []
    if peak_mb > LIMIT_MB:
        failures.append(f"peak RSS {peak_mb:.0f} MB > {LIMIT_MB:.0f} MB")
    if loaded != in_lake:
        failures.append(f"{loaded:,} rows loaded, the lake holds {in_lake:,}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
