"""Calls a `cc-assets refresh` spends when nothing is new, counted by the sandbox.

Two refreshes in a row on one sandbox account (unthrottled, fixed clock): the first lands
everything, the second finds nothing new. Prints each refresh's calls by endpoint family from
the sandbox's request log, and its exit code. The second refresh's calls are the cost of a
quiet day: the change detector (activity stats), discovery and the daily snapshots.

    .venv/bin/python benchmarks/idle_refresh_calls.py [--contacts 600 --campaigns 6]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from cc_assets.sandbox.process import SandboxServer


def family(path: str) -> str:
    """`/v3/reports/stats/...` -> `reports/stats`; `/v3/emails/...` -> `emails`."""
    parts = path.strip("/").split("/")[1:]
    return "/".join(parts[:2]) if parts and parts[0] == "reports" else (parts or ["?"])[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=600)
    parser.add_argument("--campaigns", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="idle-refresh-"))
    account = {"seed": args.seed, "contacts": args.contacts, "campaigns": args.campaigns}
    with SandboxServer.start(**account, requests_per_second=0) as server:
        env = {
            **os.environ,
            **server.client_env(),
            "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
            "CC_ASSETS_STORAGE": str(folder / "lake"),
            "CC_ASSETS_WAREHOUSE": str(folder / "warehouse.duckdb"),
            "CC_ASSETS_STATE_DIR": str(folder / "state"),
            "DAGSTER_HOME": str(folder / "dagster_home"),
        }
        (folder / "dagster_home").mkdir()
        cli = str(Path(sys.executable).with_name("cc-assets"))
        for run in ("first", "second (nothing new)"):
            server.reset_requests()
            done = subprocess.run(
                [cli, "refresh"], env=env, capture_output=True, text=True, check=False
            )
            log = server.requests()["log"]
            families = Counter(family(entry[1]) for entry in log)
            print(f"{run}: exit {done.returncode}, {len(log)} calls: {dict(families)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
