"""`cc-assets refresh` end to end, as a user runs it: a subprocess, the environment, a sandbox."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.schemas import TRACKING_REPORTS, TRACKING_TABLES
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.defs.ingestion.assets import campaign_activity_reports
from cc_assets.lake.paths import lake_root
from cc_assets.pipeline.tracking import refresh_tracking
from cc_assets.sandbox.ground_truth import GroundTruth
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.client.test_auth_and_limits import assert_key_rate_kept
from cc_assets_tests.fixtures.sandbox import SMALL_ACCOUNT
from cc_assets_tests.ingestion.conftest import RESOURCES, point_at

CLI = str(Path(sys.executable).with_name("cc-assets"))


def environment(server: SandboxServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        **server.client_env(),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STORAGE": str(tmp_path / "lake"),
        "CC_ASSETS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "CC_ASSETS_STATE_DIR": str(tmp_path / "state"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        **extra,
    }
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    return env


def refresh(
    env: dict[str, str], *args: str, timeout: float = 540
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "refresh", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kill_refresh_after(env: dict[str, str], seconds: float) -> None:
    """A `cc-assets refresh` SIGKILLed `seconds` after it started: a crash at a random point."""
    process = subprocess.Popen(
        [CLI, "refresh"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait()


def assert_no_partial_files(lake: Path) -> None:
    for path in lake.rglob("*.parquet"):
        if path.name.startswith("part-"):
            pq.read_table(path)  # a readable, complete file or the test fails
    # temporary files are never named like parts, so no reader's glob can see them
    assert not [p for p in lake.rglob("part-*") if not p.name.endswith(".parquet")]


def assert_tracking_equals_truth(lake: Path, source: SandboxServer | GroundTruth) -> None:
    """Every tracking partition equals the truth (a server's now, or a given moment's)."""
    truth = source.ground_truth() if isinstance(source, SandboxServer) else source
    for activity in truth.reportable_activities():
        aid = activity["campaign_activity_id"]
        for report in TRACKING_REPORTS:
            name = TRACKING_TABLES[report].name
            got = pq.read_table(
                lake / "constant_contact" / name / f"campaign_activity_id={aid}" / "part-0.parquet"
            )
            expected = truth.tracking(aid, report)
            order = [("created_time", "descending"), ("contact_id", "ascending")]
            assert (
                got.drop_columns(["captured_at"]).sort_by(order).equals(expected.sort_by(order))
            ), (aid, report)


def assert_one_campaign_walk(paths: list[str]) -> None:
    """Discovery reads the campaign snapshot's walk: each campaign and activity is read once,
    and the list three times at most (the first call that checks the account, the walk and
    the discovery sensor's tick, which takes the campaigns from the walk)."""
    walk = Counter(p for p in paths if re.fullmatch(r"/v3/emails(/activities)?/[^/]+", p))
    assert walk and max(walk.values()) == 1, walk.most_common(3)
    assert 1 <= paths.count("/v3/emails") <= 3


@dataclass
class Refreshed:
    """One whole `cc-assets refresh` on a fresh lake, shared by the tests that only read it."""

    server: SandboxServer
    home: Path
    done: subprocess.CompletedProcess[str]
    paths: list[str]

    @property
    def lake(self) -> Path:
        return self.home / "lake"


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refreshed]:
    """A refresh after the access token expired (the token refresh is the most secret-laden
    path) with a small quota: the contact backlog reads only what the refresh leaves of it."""
    home = tmp_path_factory.mktemp("refreshed")
    with SandboxServer.start(**SMALL_ACCOUNT) as server:
        env = environment(server, home, CONSTANT_CONTACT_DAILY_QUOTA="300")
        server.expire_tokens()
        server.reset_requests()
        done = refresh(env)
        # what was read: an expired token's refused first call is not a second read
        paths = [path for _, path, code in server.requests()["log"] if code != 401]
        yield Refreshed(server, home, done, paths)


def test_refresh_lands_everything_exactly(refreshed: Refreshed) -> None:
    done = refreshed.done
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refresh complete" in done.stdout
    assert_one_campaign_walk(refreshed.paths)
    lake = refreshed.lake
    assert_tracking_equals_truth(lake, refreshed.server)
    truth = refreshed.server.ground_truth()
    stats = pq.read_table(
        next((lake / "constant_contact" / "email_campaign_activity_stats").glob("*/part-0.parquet"))
    )
    for row in stats.to_pylist():
        expected = truth.activity_stats(row["campaign_activity_id"])
        assert {k: row[k] for k in expected} == expected
    details = pq.read_table(
        next((lake / "constant_contact" / "contact_activity_details").glob("*/part-0.parquet"))
    )
    contacts = set(details["contact_id"].to_pylist())
    assert contacts, "the engaged contacts' landing-page activity was read"
    for contact in sorted(contacts)[:5]:
        expected = truth.contact_activity(contact)
        expected = expected.filter(pc.starts_with(expected["tracking_activity_type"], "p_"))
        got = details.filter(pc.equal(details["contact_id"], contact))
        assert got.select(expected.column_names).equals(expected)
    assert_no_partial_files(lake)


def test_no_secret_in_any_output_or_log(refreshed: Refreshed) -> None:
    done, server = refreshed.done, refreshed.server
    assert done.returncode == 0, done.stderr[-3000:]
    store = next((refreshed.home / "state").glob("tokens-*.json")).read_text()
    secrets = [server.access_token, server.refresh_token, server.client_secret]
    secrets += [value for value in store.split('"') if len(value) > 30]
    logs = done.stdout + done.stderr
    for path in (refreshed.home / "dagster_home").rglob("*"):
        if path.is_file():
            logs += path.read_bytes().decode("utf-8", "replace")
    for path in refreshed.lake.rglob("*.parquet"):
        logs += path.read_bytes().decode("latin-1")
    for secret in secrets:
        assert secret not in logs


def test_past_date_is_refused_with_a_reason(sandbox: SandboxServer, tmp_path: Path) -> None:
    done = refresh(environment(sandbox, tmp_path), "--date", "2025-03-01")
    assert done.returncode == 2
    assert "keeps no history" in done.stderr
    assert not (tmp_path / "lake").exists()


def test_bad_date_and_wrong_token(sandbox: SandboxServer, tmp_path: Path) -> None:
    assert refresh(environment(sandbox, tmp_path), "--date", "yesterday").returncode == 2
    env = environment(sandbox, tmp_path, CONSTANT_CONTACT_ACCESS_TOKEN="wrong-token")
    for name in ("CONSTANT_CONTACT_CLIENT_ID", "CONSTANT_CONTACT_REFRESH_TOKEN"):
        env.pop(name)
    done = refresh(env)
    assert done.returncode == 1
    assert "401" in done.stderr and "wrong-token" not in done.stderr + done.stdout
    assert (
        not list((tmp_path / "lake").rglob("*.parquet")) if (tmp_path / "lake").exists() else True
    )


def test_exhausted_quota_stops_cleanly(sandbox_factory, tmp_path: Path) -> None:
    server = sandbox_factory(daily_quota=12)
    done = refresh(environment(server, tmp_path))
    assert done.returncode == 1
    assert "quota" in done.stderr.lower() and "00:00 UTC" in done.stderr
    if (tmp_path / "lake").exists():
        assert_no_partial_files(tmp_path / "lake")


@pytest.mark.slow
def test_killed_refresh_then_rerun_equals_ground_truth(sandbox_factory, tmp_path: Path) -> None:
    server = sandbox_factory(latency_ms=15)
    env = environment(server, tmp_path)
    lake = tmp_path / "lake"
    rng = random.Random(20261124)
    for _trial in range(3):
        kill_refresh_after(env, rng.uniform(2.0, 9.0))
        if lake.exists():
            assert_no_partial_files(lake)
    done = refresh(env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_tracking_equals_truth(lake, server)
    assert_no_partial_files(lake)


@pytest.mark.parametrize("report", ["opens"])
def test_empty_report_is_an_empty_partition(
    sandbox: SandboxServer, tmp_path: Path, report: str
) -> None:
    """A sent activity with no opens yet still gets a (zero-row) partition with the schema."""

    settings = ClientSettings(
        base_url=sandbox.base_url, access_token=sandbox.access_token, requests_per_second=0
    )
    truth = sandbox.ground_truth()
    scheduled = next(a for a in truth.all_activities() if a["current_status"] == "SCHEDULED")
    os.environ["CC_ASSETS_STATE_DIR"] = str(tmp_path / "state")
    with ConstantContactClient(settings) as client:
        result = refresh_tracking(
            client,
            scheduled["campaign_activity_id"],
            report,
            captured_at=datetime.now(UTC),
            root=lake_root(tmp_path / "lake"),
        )
    table = pq.read_table(result.path)
    assert table.num_rows == 0 and table.schema.equals(TRACKING_TABLES[report].schema)


@pytest.mark.slow
def test_four_concurrent_refreshes_share_the_rate_limit(sandbox_factory, tmp_path: Path) -> None:
    """Four deployments' worth of runs on one machine and one API key: together they stay
    within the key's 4 requests/second, and each lands exactly the ground truth."""
    server = sandbox_factory(seed=5, contacts=150, campaigns=3, requests_per_second=4)
    shared_state = str(tmp_path / "shared-state")
    runs = []
    for index in range(4):
        home = tmp_path / f"run{index}"
        home.mkdir()
        env = environment(
            server, home, CONSTANT_CONTACT_REQUESTS_PER_SECOND="4", CC_ASSETS_STATE_DIR=shared_state
        )
        runs.append(
            (
                home,
                subprocess.Popen(  # the contact backlog is no part of what is compared
                    [CLI, "refresh", "--contact-calls", "0"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    for home, process in runs:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-2000:]
        assert_tracking_equals_truth(home / "lake", server)
    assert_key_rate_kept(server, rate=4)


def test_invalid_partition_key_is_refused(sandbox, lake, monkeypatch) -> None:
    point_at(sandbox, monkeypatch)
    with dg.instance_for_test() as instance, pytest.raises(dg.DagsterError):
        dg.materialize(
            [campaign_activity_reports],
            instance=instance,
            resources=RESOURCES,
            partition_key="not-added",
        )
    assert not lake.exists() or not list(lake.rglob("*.parquet"))
