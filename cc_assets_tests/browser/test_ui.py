"""The Dagster UI as a user sees it: `dagster dev` against a sandbox, driven in Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import httpx
import pytest

from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.metrics.assets import activity_metrics
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.metrics.lake import account, build_lake

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
COVER = ".bp5-overlay-backdrop"  # what a Dagster dialog lays over the page while it is open
# A launched run may queue behind the sensors' own runs for the one `constant_contact_api` slot.
RUN_SECONDS = 480
SHUTDOWN_SECONDS = 180
"""`make ui` on Ctrl-C waits `cc_assets.ui.STOP_SECONDS` (60 s) for its three processes, then
SIGTERM (10 s) and SIGKILL for what is left: 180 s leaves a loaded machine room beyond that."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SUMMARIES = ["constant_contact", "email_campaign_summaries"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture
def dagster_ui(sandbox: SandboxServer, tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {
        **os.environ,
        **sandbox.client_env(),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STORAGE": str(tmp_path / "lake"),
        "CC_ASSETS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "CC_ASSETS_STATE_DIR": str(tmp_path / "state"),
        "DAGSTER_HOME": str(home),
    }
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(  # what `make ui` runs, on a port of its own
        [sys.executable, "-m", "cc_assets.ui", "-p", str(port), "-h", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            time.sleep(1)
        else:
            pytest.fail("make ui did not answer /server_info within 300 s")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            process.wait(timeout=SHUTDOWN_SECONDS)
            left = _survivors(process.pid, seconds=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            log.close()
    assert not left, f"processes of `make ui` still running after Ctrl-C: {left}"


def _survivors(group: int, seconds: float) -> list[str]:
    """The command lines still running in a process group once its leader has exited."""
    deadline = time.monotonic() + seconds
    while True:
        listed = subprocess.run(
            ["ps", "-o", "args=", "--sid", str(group)], capture_output=True, text=True, check=False
        ).stdout
        left = [line for line in listed.splitlines() if line.strip()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1)


LOADED = """
{
  repositoriesOrError { ... on RepositoryConnection { nodes {
    name schedules { name } sensors { name }
    assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
  } } }
}
"""

LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def _close_dialogs_that_cover_an_action(page: Page) -> Locator:
    """Dagster's first-visit community dialog covers the page until skipped, and it opens when
    the UI gets round to it: seconds after load on a busy machine, after any fixed wait. So a
    Playwright locator handler skips it whenever it covers an action, and the backdrop of any
    other dialog is closed with Escape. Returns the handler's locator, to remove it by."""
    cover = page.locator(COVER).first

    def close() -> None:
        skip = page.get_by_role("button", name="Skip")
        community = skip.count() > 0
        print("closing a dialog that covers the page:", "Skip" if community else "Escape")
        if community:
            skip.first.click()
        else:
            page.keyboard.press("Escape")

    page.add_locator_handler(cover, close)
    return cover


def _materialize_one_activity(home: Path, lake: Path) -> tuple[str, str]:
    """The metrics of one activity, really materialized on the UI's instance over a lake from
    the ground truth. Returns (activity id, campaign name)."""
    truth = account("seed-example")
    (activity_id,) = build_lake(truth, lake)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, [activity_id])
        result = dg.materialize(
            [activity_metrics],
            instance=instance,
            resources={"lake": LakeResource(storage=str(lake))},
            partition_key=activity_id,
        )
    assert result.success
    return activity_id, truth.account.campaigns[0].name


def _wait_until_loaded(base: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        data = _graphql(base, LOADED)["repositoriesOrError"]
        if data.get("nodes"):
            return data["nodes"][0]
        assert time.monotonic() < deadline, data
        time.sleep(2)


@pytest.mark.slow
@pytest.mark.timeout(1080)  # a loaded machine: UI start, a queued run, three pages, Ctrl-C
def test_everything_loads_runs_and_shows_in_the_browser(dagster_ui: str, tmp_path: Path) -> None:
    repository = _wait_until_loaded(dagster_ui)
    assets = {"/".join(n["assetKey"]["path"]) for n in repository["assetNodes"]}
    assert {"constant_contact/email_opens", "constant_contact/email_campaign_stats"} <= assets
    checks = {
        c["name"]
        for n in repository["assetNodes"]
        for c in n["assetChecksOrError"].get("checks", [])
    }
    assert {"schema_matches", "unique_natural_key", "counts_match_activity_stats"} <= checks
    assert {"analytics/fct_campaign_performance", "analytics/fct_engagement_curve"} <= assets
    assert {s["name"] for s in repository["schedules"]} >= {
        "daily_snapshot_schedule",
        "hot_activity_refresh_schedule",
    }
    assert {s["name"] for s in repository["sensors"]} >= {
        "campaign_discovery_sensor",
        "cc_assets_automation_sensor",
    }

    today = datetime.now(UTC).date().isoformat()
    params = {
        "selector": {
            "repositoryLocationName": "cc_assets",
            "repositoryName": repository["name"],
            "jobName": "daily_snapshot_job",
            "assetSelection": [{"path": SUMMARIES}],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": today}]},
        "runConfigData": {},
    }
    launched = _graphql(dagster_ui, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUN_SECONDS
    status = None
    while time.monotonic() < deadline:
        status = _graphql(dagster_ui, STATUS, {"id": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(2)
    assert status == "SUCCESS", f"run {run_id} is {status} after {RUN_SECONDS} s"
    activity_id, campaign_name = _materialize_one_activity(
        tmp_path / "dagster_home", tmp_path / "lake"
    )

    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only browser tests need it

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        cover = _close_dialogs_that_cover_an_action(page)
        try:
            page.goto(
                f"{dagster_ui}/assets/{'/'.join(SUMMARIES)}", wait_until="load", timeout=120_000
            )
            page.get_by_text("email_campaign_summaries").first.wait_for(timeout=60_000)
            page.get_by_text("sandbox").first.wait_for(timeout=60_000)  # `source` metadata
            body = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "asset-page.png"), full_page=True)
            page.goto(
                f"{dagster_ui}/assets/email_metrics/activity_engagement"
                f"?view=partitions&partition={activity_id}",
                wait_until="load",
                timeout=120_000,
            )
            page.get_by_text(campaign_name).first.wait_for(timeout=60_000)
            picture = page.locator('img[src^="data:image/svg+xml;base64,"]')
            if not picture.count():  # markdown metadata may sit behind its "show" button
                page.get_by_text("[Show Markdown]").first.click()
                # The dialog just opened is the one to look at: closing covers stops here.
                page.remove_locator_handler(cover)
            picture.first.wait_for(timeout=60_000)
            assert picture.first.evaluate("img => img.naturalWidth") > 100
            page.screenshot(path=str(ARTIFACTS / "activity-page.png"), full_page=True)
            page.goto(f"{dagster_ui}/asset-groups", wait_until="load", timeout=120_000)
            page.get_by_text("constant_contact").first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "asset-graph.png"))
        finally:
            page.screenshot(path=str(ARTIFACTS / "last-page.png"))
        browser.close()
    assert "dagster/row_count" in body or "Row count" in body
    assert "source" in body
