"""One `cc-assets refresh` of an application of several accounts, at the key's real limits.

    .venv/bin/python benchmarks/accounts_refresh.py
        [--account-contacts 300,2000,10000,30000,100000 --campaigns 3 --rate 4 --quota 10000]

Starts a sandbox application whose accounts have the given sizes, all under one client id, with
the key's per-second limit on (counted across the accounts, as Constant Contact counts it),
writes an accounts file naming them (each refresh token by variable), and runs one
`cc-assets refresh` as a user would (`--contact-calls` caps the contact reports, read last).

Printed: the wall time; per account its calls and whether its lake equals its ground truth
(every tracking partition's rows, every reportable activity held); the most requests the key
was served in any second and the day's total against the quota. Exits 1 if the refresh
failed, any second saw more than the limit, the total passed the quota or an account's lake
differs from its truth.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from cc_assets.constant_contact.schemas import TRACKING_REPORTS, TRACKING_TABLES
from cc_assets.sandbox.process import SandboxServer

CLI = str(Path(sys.executable).parent / "cc-assets")


def environment(server: SandboxServer, home: Path, rate: int, quota: int) -> dict[str, str]:
    """The application's variables, an accounts file of every sandbox account, the places."""
    names = [account["name"] for account in server.accounts]
    (home / "accounts.yaml").write_text(
        yaml.safe_dump(
            {"accounts": [{"name": n, "refresh_token_env": f"{n.upper()}_TOKEN"} for n in names]}
        )
    )
    (home / "dagster_home").mkdir()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CONSTANT_", "CC_"))}
    return {
        **keep,
        **server.application_env(),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": str(rate),
        "CONSTANT_CONTACT_DAILY_QUOTA": str(quota),
        "CC_ASSETS_ACCOUNTS": str(home / "accounts.yaml"),
        "CC_ASSETS_STORAGE": str(home / "lake"),
        "CC_ASSETS_WAREHOUSE": str(home / "warehouse.duckdb"),
        "CC_ASSETS_STATE_DIR": str(home / "state"),
        "DAGSTER_HOME": str(home / "dagster_home"),
        **{f"{a['name'].upper()}_TOKEN": a["refresh_token"] for a in server.accounts},
    }


def differences(server: SandboxServer, name: str, lake: Path) -> list[str]:
    """Where the account's lake differs from its ground truth (row counts per partition)."""
    truth = server.ground_truth(name)
    found = []
    for activity in truth.reportable_activities():
        aid = activity["campaign_activity_id"]
        for report in TRACKING_REPORTS:
            table = TRACKING_TABLES[report].name
            path = lake / "constant_contact" / table / f"campaign_activity_id={aid}/part-0.parquet"
            held = pq.read_metadata(path).num_rows if path.exists() else None
            expected = truth.tracking(aid, report).num_rows
            if held != expected:
                found.append(f"{table}[{aid}]: {held} rows, truth {expected}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--account-contacts", default="300,2000,10000,30000,100000")
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rate", type=int, default=4)
    parser.add_argument("--quota", type=int, default=10_000)
    parser.add_argument("--contact-calls", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(n) for n in args.account_contacts.split(",")]
    with (
        tempfile.TemporaryDirectory(prefix="cc-accounts-") as folder,
        SandboxServer.start(
            seed=args.seed,
            contacts=sizes[0],
            campaigns=args.campaigns,
            requests_per_second=args.rate,
            accounts=len(sizes),
            account_contacts=sizes,
        ) as server,
    ):
        home = Path(folder)
        env = environment(server, home, args.rate, args.quota)
        print(
            f"{len(sizes)} accounts ({', '.join(f'{n:,}' for n in sizes)} contacts), one key "
            f"at {args.rate}/s and {args.quota:,}/day",
            flush=True,
        )
        started = time.monotonic()
        done = subprocess.run(
            [CLI, "refresh", "--contact-calls", str(args.contact_calls)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        seen = server.requests()
        calls = Counter(seen["accounts"])
        print(f"cc-assets refresh: exit {done.returncode} in {seconds:,.0f} s")
        failed = done.returncode != 0
        if failed:
            print(done.stderr[-3000:])
        print(f"{'account':<8} {'contacts':>9} {'calls':>7}  lake vs ground truth")
        for account, size in zip(server.accounts, sizes, strict=True):
            name = account["name"]
            wrong = differences(server, name, home / "lake" / f"account={name}")
            failed |= bool(wrong)
            verdict = "equal" if not wrong else f"{len(wrong)} differ, e.g. {wrong[0]}"
            print(f"{name:<8} {size:>9,} {calls[name]:>7,}  {verdict}")
        others = sum(n for a, n in calls.items() if a not in {x["name"] for x in server.accounts})
        print(f"token and unauthenticated calls: {others:,}")
        most = seen["max_in_any_second"]
        print(f"most requests in any second: {most} (limit {args.rate})")
        total, throttled = seen["total"], seen["throttled"]
        print(f"calls in all: {total:,} (quota {args.quota:,}); throttled: {throttled}")
        failed |= most > args.rate or total > args.quota
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
