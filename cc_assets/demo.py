"""`make demo`: the main job on the embedded default, start to finish.

Starts the built-in sandbox account (`cc_assets.sandbox.builtin`: the same account `make ui`
and a credential-less `cc-assets refresh` use, on the same clock) in its own server at the
configured request rate (Constant Contact's real 4 requests/second by default), runs
`cc-assets refresh` against it exactly as a user would with real credentials, then prints a
campaign performance table and where the files are. Run twice on one day, it prints the same
table.
`--api-version v2` (`make demo API_VERSION=v2`) does the same through the account's legacy v2
endpoints, with a v2 API key and token, into a lake, warehouse and Dagster instance of its own
(`data/v2`, `.dagster_home_v2`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from upath import UPath

from cc_assets.constant_contact.schemas import EMAIL_CAMPAIGNS
from cc_assets.defs.metrics.tables import CAMPAIGN_ENGAGEMENT, METRICS_PREFIX
from cc_assets.lake.paths import connect, lake_root, location, partition_files
from cc_assets.sandbox.builtin import BUILTIN_CLOCK, builtin_options, describe
from cc_assets.sandbox.process import SandboxServer
from cc_assets.settings import export, load_settings

V2_PLACES = {
    "CC_ASSETS_STORAGE": "data/v2/lake",
    "CC_ASSETS_WAREHOUSE": "data/v2/warehouse.duckdb",
    "DAGSTER_HOME": ".dagster_home_v2",
}
"""Where the v2 demo writes unless told otherwise: apart from the v3 demo's partitions."""


def performance_table(root: UPath) -> str:
    """Campaign, sends, open rate, click rate, mobile share of opens: our own metrics."""
    query = """
        WITH names AS (SELECT DISTINCT campaign_id, name FROM read_parquet($campaigns))
        SELECT coalesce(n.name, m.campaign_id) AS campaign, m.sends,
               round(m.open_rate, 1), round(m.click_rate, 1), round(m.mobile_open_share, 1)
        FROM read_parquet($metrics) m LEFT JOIN names n USING (campaign_id)
        ORDER BY m.sends DESC
    """
    files = {
        "campaigns": partition_files(EMAIL_CAMPAIGNS, root),
        "metrics": partition_files(CAMPAIGN_ENGAGEMENT, root, prefix=METRICS_PREFIX),
    }
    with connect(root) as con:
        rows = con.execute(query, files).fetchall()
    header = ("campaign", "sends", "open %", "click %", "mobile opens %")
    rows = [tuple("n/a" if v is None else v for v in row) for row in rows]  # v2: no devices
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True))
        for line in [header, *rows]
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cc_assets.demo", description=__doc__)
    parser.add_argument("--api-version", choices=("v3", "v2"), default="v3")
    v2 = parser.parse_args(argv).api_version == "v2"
    if v2:
        held = load_settings().environ
        export({k: str(Path(v).resolve()) for k, v in V2_PLACES.items() if k not in held})
    settings = load_settings()
    rate = settings.application().requests_per_second
    print(f"Starting the built-in sandbox account ({rate:g} requests/second, like the real API)...")
    with SandboxServer.start(**builtin_options(), requests_per_second=rate) as server:
        account = describe(server.config.as_dict(), BUILTIN_CLOCK)
        print(f"Sandbox account {server.fingerprint}: {account}")
        print(f"Its clock: {server.now():%Y-%m-%d %H:%M} UTC")
        env = {**settings.environ, **(server.v2_client_env() if v2 else server.client_env())}
        cli = Path(sys.executable).with_name("cc-assets")
        # the table needs no contact report: a newcomer's first look is not kept waiting for
        # the landing pages of ~1,000 engaged contacts (a call each)
        refresh = [str(cli), "refresh", "--contact-calls", "0"]
        done = subprocess.run(refresh, env=env, check=False)
    if done.returncode != 0:
        print("The demo refresh failed; see the message above.", file=sys.stderr)
        return done.returncode
    lake = lake_root(settings.lake)
    print()
    print("Campaign performance (email_metrics/campaign_engagement; click = click-to-open):")
    print(performance_table(lake))
    print()
    print(f"Parquet lake: {location(lake)}")
    print(f"DuckDB warehouse (dbt marts): {settings.warehouse}")
    print(f"Dagster instance (runs, materializations): {settings.dagster_home}")
    print("Open it in the UI with `make ui`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
