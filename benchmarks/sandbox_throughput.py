"""Pages per second the sandbox serves unthrottled at limit=500, and its peak memory.

    .venv/bin/python benchmarks/sandbox_throughput.py [--seconds 20] [--contacts 1000000]

Reads one large activity's sends report page after page over one keep-alive connection (the
way an ingest does), then prints pages/s, rows/s and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import time

import httpx
import orjson
import psutil

from cc_assets.sandbox.process import SandboxServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--report", default="sends")
    args = parser.parse_args()
    with SandboxServer.start(
        contacts=args.contacts, campaigns=3, requests_per_second=0, daily_quota=0
    ) as server:
        truth = server.ground_truth()
        activity = max(  # the longest report as of now (not the largest audience planned)
            truth.reportable_activities(),
            key=lambda a: len(
                truth.service.report(
                    truth.account.activity_by_id[a["campaign_activity_id"]], args.report
                )
            ),
        )["campaign_activity_id"]
        proc = psutil.Process(server.process.pid)
        first = f"/v3/reports/email_reports/{activity}/tracking/{args.report}?limit=500"
        peak, pages, rows = 0, 0, 0
        with httpx.Client(
            base_url=server.root_url,
            headers={"Authorization": f"Bearer {server.access_token}"},
            timeout=60,
        ) as http:
            http.get(first)  # generate the activity's events once (cached afterwards)
            url, start = first, time.perf_counter()
            while time.perf_counter() - start < args.seconds:
                body = orjson.loads(http.get(url).content)
                pages += 1
                rows += len(body["tracking_activities"])
                url = body.get("_links", {}).get("next", {}).get("href") or first
                if pages % 200 == 0:
                    peak = max(peak, proc.memory_info().rss)
            elapsed = time.perf_counter() - start
        peak = max(peak, proc.memory_info().rss)
    print(f"contacts={args.contacts} report={args.report} pages={pages} seconds={elapsed:.1f}")
    print(f"pages_per_second={pages / elapsed:.0f} rows_per_second={rows / elapsed:.0f}")
    print(f"server_peak_rss_mb={peak / 2**20:.0f}")


if __name__ == "__main__":
    main()
