"""`make demo` and the built-in account: the same commands give the same numbers, and the
demo, `make ui` and a credential-less `cc-assets refresh` serve one account into one lake."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from cc_assets.defs.ingestion.resources import ConstantContactResource
from cc_assets.pipeline.reports import sandbox_environment
from cc_assets.sandbox.builtin import BUILTIN_ACCOUNT, BUILTIN_FINGERPRINT
from cc_assets.sandbox.ground_truth import GroundTruth
from cc_assets.sandbox.process import SandboxServer, ensure_local_sandbox
from cc_assets.settings import load_settings
from cc_assets_tests.ingestion.test_refresh_cli import assert_tracking_equals_truth

DEMO = [sys.executable, "-m", "cc_assets.demo"]  # what `make demo` runs
RATE = "40"  # requests/second for client and sandbox alike: the demo honours the setting


def _demo(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*DEMO, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def _table(output: str) -> str:
    return _between(output, "Campaign performance", "Parquet lake:")


def _clock(output: str) -> str:
    return _between(output, "Its clock: ", "\n")


def _clock_time(output: str) -> datetime:
    return datetime.strptime(_clock(output), "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)


def _places(folder: Path) -> dict[str, str]:
    """A lake, warehouse, state and Dagster instance of the demo's own under `folder`."""
    return {
        "CC_ASSETS_STORAGE": str(folder / "lake"),
        "CC_ASSETS_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "CC_ASSETS_STATE_DIR": str(folder / "state"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
    }


def _rows(table: str) -> dict[str, list[str]]:
    """The campaign table's rows by campaign name, below its title, header and rule (columns
    are two or more spaces apart)."""
    lines = [re.split(r"\s{2,}", line.strip()) for line in table.strip().splitlines()[3:]]
    return {line[0]: line[1:] for line in lines}


# the whole pipeline, twice, at 40 requests/second
pytestmark = [pytest.mark.timeout(2400), pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str, str]:
    """`make demo` twice on one lake and instance: the environment and both outputs."""
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSTANT_CONTACT_")}
    env |= {"CONSTANT_CONTACT_REQUESTS_PER_SECOND": RATE, **_places(folder)}
    first, second = _demo(env), _demo(env)
    if _clock(first) != _clock(second):  # the runs straddled 00:00 UTC: a new day's account
        first, second = second, _demo(env)
    return env, first, second


def test_make_demo_twice_prints_the_same_table(demo_runs) -> None:
    _, first, second = demo_runs
    assert f"Sandbox account {BUILTIN_FINGERPRINT}:" in first
    assert _table(first) == _table(second)
    assert len(_table(first).strip().splitlines()) >= 6  # header, rule and the sent campaigns


def test_the_ui_and_a_credential_less_refresh_serve_the_account_of_the_demo_lake(
    demo_runs, local_sandbox_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make ui` and `cc-assets refresh` without credentials reach the sandbox through
    `ensure_local_sandbox`: it serves exactly what the demo's lake holds (two accounts in one
    lake once left mart rows of one account's activities without the other's campaigns)."""
    env, first, _ = demo_runs
    for name in [k for k in os.environ if k.startswith("CONSTANT_CONTACT_")]:
        monkeypatch.delenv(name)
    info = ensure_local_sandbox()  # what `make ui` calls, and exports (`sandbox_environment`)
    for name, value in sandbox_environment(load_settings().client(), info).items():
        monkeypatch.setenv(name, value)
    settings = ConstantContactResource().client_settings()  # what a refresh's assets call
    assert settings.base_url == info["base_url"]
    assert f"Sandbox account {info['fingerprint']}:" in first
    demo_clock = _clock_time(first)
    with SandboxServer.attach(local_sandbox_port) as server:
        assert server.config == BUILTIN_ACCOUNT and server.now() >= demo_clock
        truth = GroundTruth(server.config, as_of=demo_clock)  # what it served on the demo's day
    assert_tracking_equals_truth(Path(env["CC_ASSETS_STORAGE"]), truth)
    with duckdb.connect(env["CC_ASSETS_WAREHOUSE"], read_only=True) as warehouse:
        (schema,) = warehouse.execute(
            "SELECT table_schema FROM information_schema.tables "
            "WHERE table_name = 'fct_campaign_activity_performance'"
        ).fetchone()
        rows, orphans = warehouse.execute(
            "SELECT count(*), count(*) FILTER (WHERE campaign_id IS NULL OR role IS NULL) "
            f"FROM {schema}.fct_campaign_activity_performance"
        ).fetchone()
    assert rows == len(truth.reportable_activities()) and orphans == 0


def test_make_demo_v2_prints_the_same_table_through_the_v2_api(demo_runs, tmp_path: Path) -> None:
    """`make demo API_VERSION=v2`: the built-in account read through its v2 endpoints prints the
    v3 demo's campaigns, sends and rates. What v2 cannot give shows as such: no device types
    (n/a, never 0) and no resends (a resent campaign counts its first send only)."""
    env, v3_output, _ = demo_runs
    v2_output = _demo(env | _places(tmp_path), "--api-version", "v2")
    if _clock(v2_output) != _clock(v3_output):  # straddled 00:00 UTC: compare the same day
        v3_output = _demo(env)
    v3, v2 = _rows(_table(v3_output)), _rows(_table(v2_output))
    truth = GroundTruth(BUILTIN_ACCOUNT, as_of=_clock_time(v2_output))
    sent = truth.reportable_activities()
    names = {c.campaign_id: c.name for c in truth.account.campaigns}
    resent = {names[a["campaign_id"]] for a in sent if a["role"] == "resend"}
    primary = {
        names[a["campaign_id"]]: a["campaign_activity_id"]
        for a in sent
        if a["role"] == "primary_email"
    }
    assert resent and resent < set(v2) == set(v3)
    for name, (sends, open_rate, click_rate, mobile) in v2.items():
        assert mobile == "n/a"
        if name in resent:
            expected = truth.tracking(primary[name], "sends").num_rows
            assert int(sends) == expected < int(v3[name][0])
        else:
            assert [sends, open_rate, click_rate] == v3[name][:3]
