"""A full `cc-assets refresh` on a local lake vs an S3 lake, same sandbox account.

    .venv/bin/python -m benchmarks.s3_lake [--contacts 600] [--campaigns 6]

Run it as a module from the repository root: it borrows the test suite's moto_server fixture.

The S3 lake is a `moto_server` on 127.0.0.1 (the dev extra installs it), reached through s3fs
exactly as AWS would be: only AWS_ENDPOINT_URL and the AWS credentials variables differ. Each
refresh is a fresh CLI process (discovery, snapshots, tracking, contact reports, metrics, dbt)
on its own state, Dagster home and warehouse; the sandbox is unthrottled, so the figure is what
the lake costs, not the API's rate limit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.fixtures.object_store import ObjectStore, moto_server

CLI = str(Path(sys.executable).with_name("cc-assets"))


def timed_refresh(server: SandboxServer, storage: str, extra: dict[str, str]) -> float:
    work = Path(tempfile.mkdtemp(prefix="cc-s3-bench-"))
    (work / "home").mkdir()
    env = {
        **os.environ,
        **server.client_env(),
        **extra,
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STORAGE": storage,
        "CC_ASSETS_WAREHOUSE": str(work / "warehouse.duckdb"),
        "CC_ASSETS_STATE_DIR": str(work / "state"),
        "DAGSTER_HOME": str(work / "home"),
    }
    start = time.perf_counter()
    done = subprocess.run([CLI, "refresh"], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"refresh on {storage} failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=600)
    parser.add_argument("--campaigns", type=int, default=6)
    args = parser.parse_args()
    account = {"seed": 11, "contacts": args.contacts, "campaigns": args.campaigns}
    with SandboxServer.start(**account, requests_per_second=0) as server, moto_server() as url:
        store = ObjectStore(url, f"bench-{uuid.uuid4().hex[:8]}")
        os.environ.update(store.env())
        store.client().create_bucket(Bucket=store.bucket)
        local = timed_refresh(server, tempfile.mkdtemp(prefix="cc-local-lake-"), {})
        s3 = timed_refresh(server, store.url(), store.env())
    print(f"account: {args.contacts} contacts, {args.campaigns} campaigns (seed 11)")
    print(f"full refresh, local lake: {local:7.1f} s")
    print(f"full refresh, S3 lake   : {s3:7.1f} s  (moto_server on 127.0.0.1)")
    print(f"S3 / local              : {s3 / local:7.2f}x")


if __name__ == "__main__":
    main()
