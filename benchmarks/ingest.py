"""Ingest one large tracking report from an unthrottled sandbox: speed and memory.

    .venv/bin/python benchmarks/ingest.py [--contacts 1700000] [--report sends]

Prints the rows landed, wall time, parse+write rows per CPU-second of this (client) process
(the per-core figure; the sandbox runs in its own process), and this process's peak RSS.
Targets: >= 100,000 rows/s per core; peak RSS <= 400 MB for 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, datetime

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.lake.paths import lake_root
from cc_assets.pipeline.discovery import DiscoveryState, discovery_tick
from cc_assets.pipeline.reports import V3Account
from cc_assets.pipeline.tracking import refresh_tracking
from cc_assets.sandbox.process import SandboxServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_800_000)
    parser.add_argument("--report", default="sends")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="cc-ingest-")
    os.environ["CC_ASSETS_STATE_DIR"] = os.path.join(work, "state")
    with SandboxServer.start(
        contacts=args.contacts, campaigns=3, requests_per_second=0, daily_quota=0
    ) as server:
        settings = ClientSettings(
            base_url=server.base_url,
            access_token=server.access_token,
            requests_per_second=0,
            daily_quota=0,
            read_timeout=300,  # a 1.8M-contact sandbox computes its first stats for a while
            deadline=300,
        )
        with ConstantContactClient(settings) as client:
            # the biggest sent activity, found through the API: this process holds no account
            sent = [a for a in discovery_tick(V3Account(client), DiscoveryState())[0] if a.sent]
            sizes = {
                a.campaign_activity_id: client.get_activity_stats([a.campaign_activity_id])
                .batch["em_sends"][0]
                .as_py()
                for a in sent
            }
            activity = max(sizes, key=sizes.get)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            result = refresh_tracking(
                client,
                activity,
                args.report,
                captured_at=datetime.now(UTC),
                root=lake_root(os.path.join(work, "lake")),
            )
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"report={args.report} rows={result.rows} pages={result.pages} api_calls={result.api_calls}"
    )
    print(f"wall_seconds={wall:.1f} rows_per_wall_second={result.rows / wall:.0f}")
    print(f"client_cpu_seconds={cpu:.1f} parse_write_rows_per_cpu_second={result.rows / cpu:.0f}")
    print(f"client_peak_rss_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
