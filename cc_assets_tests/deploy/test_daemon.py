"""Dagster as deployed: deploy/dagster.yaml on PostgreSQL, a code location server, the daemon
and the webserver as separate processes. Nothing is launched by hand: the discovery sensor
adds the sent activities and requests their runs, the daily schedule ticks (a one-minute cron
through CC_ASSETS_DAILY_SNAPSHOT_CRON), and the automation sensor then builds the metrics and
the dbt models. Everything is watched through the webserver's GraphQL API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cc_assets.defs.automation.jobs import ACCOUNT_TAG
from cc_assets.defs.ingestion.partitions import activity_key
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.fixtures.accounts import accounts_env
from cc_assets_tests.fixtures.object_store import free_port
from cc_assets_tests.fixtures.services import dagster_pg_env

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEADLINE_SECONDS = 1500
RUNS_QUERY = """
{ runsOrError(limit: 500) { __typename ... on Runs { results {
    runId status tags { key value } assetSelection { path } } } } }
"""


def graphql(url: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def runs(url: str) -> list[dict[str, Any]]:
    found = graphql(url, RUNS_QUERY)["runsOrError"]
    assert found["__typename"] == "Runs", found
    for run in found["results"]:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        run["assets"] = {"/".join(a["path"]) for a in run["assetSelection"] or []}
    return found["results"]


def by(runs_: list[dict[str, Any]], tag: str, value: str) -> list[dict[str, Any]]:
    return [r for r in runs_ if r["tags"].get(tag) == value]


LOCATION_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename } } } } }
"""


def location_loaded(url: str) -> bool:
    entries = graphql(url, LOCATION_QUERY)["workspaceOrError"].get("locationEntries", [])
    return any(
        e["loadStatus"] == "LOADED"
        and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        for e in entries
    )


def _holds(check: Callable[[], bool]) -> bool:
    """A server still starting answers with an error or not at all: not yet."""
    try:
        return check()
    except httpx.HTTPError:
        return False


def wait_for(check: Callable[[], bool], what: str, deadline: float, logs: Path) -> None:
    while not _holds(check):
        if time.monotonic() > deadline:
            tails = {p.name: p.read_text(errors="replace")[-2000:] for p in logs.glob("*.log")}
            pytest.fail(f"not seen within {DEADLINE_SECONDS} s: {what}\n{tails}")
        time.sleep(5)


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.timeout(DEADLINE_SECONDS + 300)
@pytest.mark.parametrize("accounts", [1, 2], ids=["single-account", "accounts-file"])
def test_daemon_on_postgres_runs_sensor_schedule_and_automation(
    sandbox_factory, pg_database: str, processes, tmp_path: Path, accounts: int
) -> None:
    """With an accounts file the same deployment covers every account: the sensor discovers
    each one's sends (account-qualified partitions), the schedule launches a run per account,
    and the automation builds each account's metrics."""
    server: SandboxServer = sandbox_factory(
        seed=5, contacts=150, campaigns=3, accounts=accounts, account_contacts=[150, 300][:accounts]
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    grpc_port, web_port = free_port(), free_port()
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
        f"      port: {grpc_port}\n      location_name: cc_assets\n"
    )
    deployment = {
        **dagster_pg_env(pg_database),
        "DAGSTER_HOME": str(home),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STORAGE": str(tmp_path / "lake"),
        "CC_ASSETS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "CC_ASSETS_STATE_DIR": str(tmp_path / "state"),
        "CC_ASSETS_DAILY_SNAPSHOT_CRON": "* * * * *",
    }
    if accounts == 1:
        env = {**os.environ, **server.client_env(), **deployment}
        names: list[str | None] = [None]
    else:
        env = {**accounts_env(server, tmp_path), **deployment}
        names = [a["name"] for a in server.accounts]
    workspace = ["-w", str(tmp_path / "workspace.yaml")]
    code_server = ["code-server", "start", "-h", "127.0.0.1", "-p", str(grpc_port)]
    code_server += ["-m", "cc_assets.definitions", "--location-name", "cc_assets", "-d", str(REPO)]
    processes("code-server", [str(BIN / "dagster"), *code_server], env)
    processes("daemon", [str(BIN / "dagster-daemon"), "run", *workspace], env)
    processes(
        "webserver",
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), *workspace],
        env,
    )
    url = f"http://127.0.0.1:{web_port}"
    deadline = time.monotonic() + DEADLINE_SECONDS

    wait_for(lambda: location_loaded(url), "the code location loaded", deadline, tmp_path)
    sent_by = {
        name: {a["campaign_activity_id"] for a in server.ground_truth(name).reportable_activities()}
        for name in names
    }
    assert all(sent_by.values()), "every account has a send to discover"
    sent = {activity_key(name, activity) for name, ids in sent_by.items() for activity in ids}

    def succeeded(tag: str, value: str, asset_prefix: str = "") -> Callable[[], bool]:
        """A successful run so launched, of assets under `asset_prefix` when one is given (a
        job's own runs, like the schedule's, list no asset selection)."""

        def check() -> bool:
            done = [r for r in by(runs(url), tag, value) if r["status"] == "SUCCESS"]
            if not asset_prefix:
                return bool(done)
            return any(a.startswith(asset_prefix) for r in done for a in r["assets"])

        return check

    def every_activity_tracked() -> bool:
        found = by(runs(url), "dagster/sensor_name", "campaign_discovery_sensor")
        done = {r["tags"].get("dagster/partition") for r in found if r["status"] == "SUCCESS"}
        return done == sent

    wait_for(
        every_activity_tracked, "a successful discovery run per sent activity", deadline, tmp_path
    )

    def daily_of_every_account() -> bool:
        done = by(runs(url), "dagster/schedule_name", "daily_snapshot_schedule")
        done = [r for r in done if r["status"] == "SUCCESS"]
        return {r["tags"].get(ACCOUNT_TAG) for r in done} >= set(names)

    wait_for(
        daily_of_every_account, "the daily schedule's run of every account", deadline, tmp_path
    )
    # a one-minute cron would retake the snapshot every minute: stop it, with Dagster's tooling
    stop = subprocess.run(
        [str(BIN / "dagster"), "schedule", "stop", "daily_snapshot_schedule", *workspace],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert stop.returncode == 0, stop.stdout + stop.stderr
    automation = ("dagster/sensor_name", "cc_assets_automation_sensor")
    wait_for(succeeded(*automation, "email_metrics/"), "automation: metrics", deadline, tmp_path)
    for name in filter(None, names):  # each account's own metrics, in its own lake
        metrics = tmp_path / "lake" / f"account={name}" / "email_metrics"
        wait_for(metrics.exists, f"{name}'s metrics in its lake", deadline, tmp_path)
    wait_for(succeeded(*automation, "analytics/"), "automation: dbt models", deadline, tmp_path)

    every = runs(url)
    launched_by = {"dagster/sensor_name", "dagster/schedule_name"}
    assert all(launched_by & set(r["tags"]) for r in every), "a run nobody automated"
    # No run fails: not ingestion, nor an automation run of a model whose inputs were not built
    # yet (a mart requested before the first daily snapshot's intermediate model, or a test of
    # an unbuilt mart run by a subset build, failed such runs until both were fixed).
    failed = [(r["tags"], sorted(r["assets"])[:3]) for r in every if r["status"] == "FAILURE"]
    assert not failed
    assert (tmp_path / "warehouse.duckdb").exists()
